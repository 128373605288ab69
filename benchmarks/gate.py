"""Benchmark: the gate on a 1,000,000-row holdout against its floor, in one run.

Floor: one `predict` call on the holdout for each of the two models (the least any gate that
scores both models must do). Gate: what `mlops-toolkit gate` does once data and models are
loaded (score both models, every configured metric, the paired bootstrap with 1,000
resamples). The figure of merit is gate / floor (target: <= 2).

    python benchmarks/gate.py [--rows 1000000] [--resamples 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _project  # noqa: F401 - first: the repository's import paths
import pandas as pd
from mlops_toolkit.gate import config as gate_config
from mlops_toolkit.gate import verdict as gate
from mlops_toolkit.tracking import client as tracking


def loaded(model, columns) -> tracking.LoadedModel:
    """The toolkit's model wrapper around an in-memory pipeline (same predict path)."""
    wrapper = tracking.LoadedModel.__new__(tracking.LoadedModel)
    wrapper.uri, wrapper.flavor, wrapper.model, wrapper.input_columns = (
        "memory",
        "sklearn",
        model,
        list(columns),
    )
    return wrapper


def data(task: str, rows: int, seed: int = 0):
    from sklearn.datasets import make_classification, make_regression

    if task == "classification":
        x, y = make_classification(
            n_samples=rows + 20_000, n_features=30, n_informative=12, random_state=seed
        )
    else:
        x, y = make_regression(n_samples=rows + 20_000, n_features=30, noise=5.0, random_state=seed)
    cols = [f"f{i}" for i in range(x.shape[1])]
    train = pd.DataFrame(x[:20_000], columns=cols), y[:20_000]
    hold = pd.DataFrame(x[20_000:], columns=cols), y[20_000:]
    return train, hold


def models(task: str, train):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = train
    if task == "classification":
        a = Pipeline([("s", StandardScaler()), ("m", LogisticRegression(C=1.0, max_iter=500))])
        b = Pipeline([("s", StandardScaler()), ("m", LogisticRegression(C=0.01, max_iter=500))])
    else:
        a = Pipeline([("s", StandardScaler()), ("m", Ridge(alpha=1.0))])
        b = Pipeline([("s", StandardScaler()), ("m", Ridge(alpha=1000.0))])
    return a.fit(x, y), b.fit(x, y)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def case(name: str, task: str, config: dict, rows: int, repeats: int) -> dict:
    train, (features, y) = data(task, rows)
    cand_model, prod_model = models(task, train)
    cfg = gate_config.parse(config)
    cand, prod = loaded(cand_model, features.columns), loaded(prod_model, features.columns)

    floor = best_of(lambda: (cand.predict(features), prod.predict(features)), repeats)
    result = {}

    def run_gate():
        result["r"], result["t"] = gate.evaluate(cfg, features, y, cand, prod)

    total = best_of(run_gate, repeats)
    preds = [gate.predictions(m, features, cfg) for m in (cand, prod)]
    boot = best_of(lambda: gate.bootstrap(cfg, y, preds, {}), repeats)
    primary = result["r"][cfg.primary.metric]
    return {
        "case": name,
        "rows": rows,
        "resamples": cfg.resamples,
        "metrics": cfg.metrics,
        "floor_s": round(floor, 4),
        "gate_s": round(total, 4),
        "ratio": round(total / floor, 3),
        "metrics_and_bootstrap_s": round(boot, 4),
        "bootstrap_share": round(boot / total, 3),
        "primary": {"improvement": primary.diff, "ci": primary.diff_ci},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/gate.json")
    args = parser.parse_args()
    boot = {"resamples": args.resamples, "confidence": 0.95, "seed": 1}
    cases = [
        (
            "classification: f1 + accuracy guard",
            "classification",
            {
                "primary": {"metric": "f1", "min_value": 0.5, "max_regression": 0.01},
                "guards": [{"metric": "accuracy", "min_value": 0.5}],
                "bootstrap": boot,
            },
        ),
        (
            "classification: roc_auc + f1, accuracy guards",
            "classification",
            {
                "primary": {"metric": "roc_auc", "min_value": 0.5, "max_regression": 0.01},
                "guards": [{"metric": "f1"}, {"metric": "accuracy"}],
                "bootstrap": boot,
            },
        ),
        (
            "regression: rmse + mae, r2 guards",
            "regression",
            {
                "primary": {"metric": "rmse", "max_regression": 1.0},
                "guards": [{"metric": "mae"}, {"metric": "r2", "min_value": 0.0}],
                "bootstrap": boot,
            },
        ),
    ]
    results = [case(n, t, c, args.rows, args.repeats) for n, t, c in cases]
    print(f"{'case':48} {'floor s':>8} {'gate s':>8} {'ratio':>6} {'boot s':>8} {'boot %':>6}")
    for r in results:
        print(
            f"{r['case']:48} {r['floor_s']:8.3f} {r['gate_s']:8.3f} {r['ratio']:6.2f} "
            f"{r['metrics_and_bootstrap_s']:8.3f} {100 * r['bootstrap_share']:5.1f}%"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    worst = max(r["ratio"] for r in results)
    print(f"worst gate/floor ratio: {worst:.2f} (target <= 2)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
