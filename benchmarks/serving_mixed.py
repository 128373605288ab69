"""Throughput of our scoring server on a mixed-type model against the same server on a numeric one.

Both models are scikit-learn Pipelines ending in the same LogisticRegression, saved by
mlflow.sklearn as a generated project's `train` step saves them (skops, the signature inferred
from the whole training frame, an input example):
- numeric: StandardScaler + LogisticRegression on breast cancer (30 float columns), the model of
  benchmarks/serving.py, served through the ndarray fast path;
- mixed: the project's own preprocessing step (models/features.py of the template: median
  imputation and scaling, one-hot categories with unseen ones ignored, a yes/no column) +
  LogisticRegression on palmerpenguins: strings (island, sex), missing values (optional columns
  in the signature), an integer year. Its payloads carry strings and nulls.
Same load generator (wrk, closed loop, keep-alive, 127.0.0.1), same connections and duration;
the server is pinned to CPU 0 and wrk to CPU 1 when there are two CPUs; the two servers run at
once and take turns, round after round, so background load hits both alike; medians.

    python benchmarks/serving_mixed.py [--rounds 5] [--duration 4] [--connections 4] [--check]

Needs wrk (apt-get install wrk) unless --check (serve both, compare answers, no load). Exits 1
unless, for single rows and for batches of 100, the mixed model's throughput is at least 1/1.5
of the numeric one's, and unless both servers answer exactly as the Pipelines do in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import _project  # noqa: F401  (first: the repository's import paths)
import serving  # benchmarks/serving.py: server start/stop, wrk, the numeric model
from _project import ROOT, tests_module

GOAL = 1 / 1.5  # mixed throughput / numeric throughput, at least
TARGET = "species"
# The roles `init-data` infers for palmerpenguins (tests/template/test_own_data.py checks them).
ROLES = {
    "numeric": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"],
    "categorical": ["island"],
    "boolean": ["sex"],
    "date": [],
}


def penguins() -> Any:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    return frame[[*ROLES["numeric"], *ROLES["categorical"], *ROLES["boolean"], TARGET]]


def save_mixed_model(path: Path) -> tuple[Path, Any]:
    """The mixed-type model, logged as the project's train step logs it; with its Pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    frame = penguins()
    X, y = frame.drop(columns=TARGET), frame[TARGET]
    features = tests_module("support/project.py").template_features()  # the template's own
    preprocess = features.build_preprocessor(ROLES, scale=True, impute=True)
    model = Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=1000))])
    model.fit(X, y)
    return serving.save_pipeline(model, path, X), model


def mixed_bodies(work: Path) -> tuple[dict[str, bytes], dict[str, Path], dict[str, Any]]:
    """1 and 100 penguins as dataframe_split, NaN sent as null: strings and nulls in both."""
    X = penguins().drop(columns=TARGET)
    bodies, scripts, frames = {}, {}, {}
    for name, rows in (("1 row", X.iloc[[3]]), ("100 rows", X.head(100))):
        data = rows.astype(object).where(rows.notna(), None).values.tolist()
        body = json.dumps({"dataframe_split": {"columns": list(rows.columns), "data": data}})
        assert "null" in body and '"Torgersen"' in body
        (work / f"mixed-{len(rows)}.json").write_text(body)
        script = work / f"mixed-{len(rows)}.lua"
        script.write_text(serving.LUA.format(body=work / f"mixed-{len(rows)}.json"))
        bodies[name], scripts[name], frames[name] = body.encode(), script, rows
    return bodies, scripts, frames


def our_server(model: Path) -> tuple[list[str], int, str]:
    port = serving.free_port()
    command = [sys.executable, "-m", "mlops_toolkit.serving", "--model-dir", str(model)]
    return [*command, "--port", str(port)], port, "/health"


def check_answers(ports: dict[str, int], bodies: dict[str, dict[str, bytes]], expected) -> None:
    """Each server answers exactly what its Pipeline predicts in-process."""
    for kind, port in ports.items():
        for name, body in bodies[kind].items():
            if serving.predict(port, body) != expected[kind][name]:
                raise SystemExit(f"the {kind} server's answer for {name} differs from predict()")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--check", action="store_true", help="serve both models and compare answers; no load"
    )
    args = parser.parse_args()
    if not args.check and shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    # This checkout's toolkit, whatever the interpreter has installed.
    path = os.pathsep.join(
        filter(None, [str(ROOT / "actions" / "src"), os.environ.get("PYTHONPATH")])
    )
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    with tempfile.TemporaryDirectory(prefix="serving-mixed-bench-") as tmp:
        work = Path(tmp)
        results = measure(work, env, args)
    if args.check:
        print("both servers answer as their Pipelines do in-process")
        return 0
    return report(results, args)


def measure(work: Path, env: dict[str, str], args: argparse.Namespace) -> dict:
    import pandas as pd

    (work / "numeric").mkdir()
    numeric_model = serving.save_model(work / "numeric" / "model")
    numeric_bodies, numeric_scripts = serving.bodies_and_scripts(work / "numeric")
    mixed_model, pipeline = save_mixed_model(work / "mixed-model")
    mixed, mixed_scripts, frames = mixed_bodies(work)
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer(as_frame=True).data
    expected = {
        # Each row as the Pipeline scores it among the training rows: a lone null in a string
        # column is its missing category there, as the server scores it.
        "mixed": {n: in_context(pipeline, f) for n, f in frames.items()},
        "numeric": {
            n: _numeric_predictions(numeric_model, pd.DataFrame(cancer.head(k)))
            for n, k in (("1 row", 1), ("100 rows", 100))
        },
    }
    chosen = {"numeric": our_server(numeric_model), "mixed": our_server(mixed_model)}
    scripts = {"numeric": numeric_scripts, "mixed": mixed_scripts}
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        n: {kind: [] for kind in chosen} for n in ("1 row", "100 rows")
    }
    procs = {}
    try:
        for kind, (cmd, port, health) in chosen.items():
            procs[kind] = serving.start(cmd, port, health, env)
        ports = {kind: port for kind, (_, port, _) in chosen.items()}
        check_answers(ports, {"numeric": numeric_bodies, "mixed": mixed}, expected)
        if args.check:
            return results
        for kind, port in ports.items():
            for script in scripts[kind].values():
                serving.wrk(port, script, 2, args.connections)  # warm up
        for _ in range(args.rounds):
            for name in results:
                for kind, port in ports.items():
                    run = serving.wrk(port, scripts[kind][name], args.duration, args.connections)
                    results[name][kind].append(run)
    finally:
        for proc in procs.values():
            serving.stop(proc)
    return results


def in_context(pipeline: Any, rows: Any) -> list[Any]:
    import pandas as pd

    every = pd.concat([rows, penguins().drop(columns=TARGET)])
    return pipeline.predict(every)[: len(rows)].tolist()


def _numeric_predictions(model_dir: Path, frame: Any) -> list[Any]:
    from mlops_toolkit.registry.mlmodel import load_model

    return load_model(str(model_dir)).estimator.predict(frame).tolist()


def report(results: dict[str, dict[str, list[dict[str, float]]]], args: argparse.Namespace) -> int:
    print(
        f"{args.rounds} rounds x {args.duration} s, {args.connections} connections, wrk on "
        f"127.0.0.1; medians; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'payload':<9} {'model':<8} {'req/s':>9} {'p99 ms':>8}")
    ok, summary = True, {}
    for name, by_kind in results.items():
        med = {
            kind: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p99_ms")}
            for kind, runs in by_kind.items()
        }
        for kind, m in med.items():
            print(f"{name:<9} {kind:<8} {m['rps']:>9.0f} {m['p99_ms']:>8.2f}")
        ratio = med["mixed"]["rps"] / med["numeric"]["rps"]
        print(f"{name:<9} mixed/numeric throughput x{ratio:.2f} (goal >= {GOAL:.2f})")
        ok = ok and ratio >= GOAL
        summary[name] = {"throughput_ratio": round(ratio, 3), **med}
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
