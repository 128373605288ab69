"""Batch scoring throughput: `score`'s job against the floor, pandas.read_parquet plus predict.

The data: vega_datasets' cars (shipped in the package, no download) tiled to --rows rows, mixed
types as a team's export has them: a name per car (the id column), the make (a string feature),
missing values (horsepower, miles per gallon), integers (cylinders, weight) and the model year as
ISO date text, written once as Parquet. The model: the template's own preprocessing
(models/features.py: imputation and scaling, one-hot makes, date parts) and a LogisticRegression
predicting the origin (three classes), saved as a generated project's `train` saves it.

Each round times, on the same file and the same machine, one after the other:
- floor: `pandas.read_parquet` then the Pipeline's own `predict` (no checks, no output);
- score: the `score` command's job (serving/batch_job.py: read in chunks, check every value
  against the signature, score through the server's path with class probabilities, write the
  Parquet output with prediction ids), without the prediction store;
- score + store: the same, logging every row to a SQLite prediction store (what `score` does
  by default; every row checked to be there), unless --no-store.
The registry download and model load are left out of both sides (once per run, not per row).
Medians over the rounds, of wall time and of the process's CPU seconds (less disturbed by other
load on a shared machine); the answers of `score` must equal the floor's predictions.

    python benchmarks/batch_score.py [--rows 1000000] [--rounds 3] [--chunk-rows 100000]

Exits 1 unless score's throughput, with the store and without, is at least 0.8x the floor's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _project  # noqa: F401  (first: the repository's import paths)
from support.cars import FEATURE_NAMES, TARGET, cars, fitted_pipeline

GOAL = 0.8  # score's throughput / the floor's, at least


def save_model(path: Path) -> Any:
    """The Pipeline, saved as the project's train step saves it; returned too."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    frame = cars()
    X = frame[FEATURE_NAMES]
    model = fitted_pipeline(frame)
    mlflow.sklearn.save_model(
        model,
        str(path),
        serialization_format="cloudpickle",  # the date step by value: loaded by path here
        signature=infer_signature(X, model.predict(X.head())),
        input_example=X.head(5),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],  # no inference subprocess
    )
    return model


def write_data(path: Path, rows: int) -> None:
    import pandas as pd

    frame = cars().drop(columns=[TARGET])
    tiled = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).iloc[:rows]
    tiled.to_parquet(path, index=False)


CPU: dict[str, list[float]] = {}  # CPU seconds of this process (all its threads) per run


def cpu_of(name: str, cpu_start: float) -> None:
    CPU.setdefault(name, []).append(time.process_time() - cpu_start)


def floor(data: Path, pipeline: Any) -> tuple[float, Any]:
    import pandas as pd

    start, cpu = time.perf_counter(), time.process_time()
    predictions = pipeline.predict(pd.read_parquet(data))
    cpu_of("floor", cpu)
    return time.perf_counter() - start, predictions


def score(data: Path, model: Any, out: Path, chunk_rows: int, store: str | None) -> float:
    from mlops_toolkit.serving import batch, batch_job

    source = batch.open_source(data)
    job = batch_job.Job(
        model=model,
        model_name="cars",
        model_version="1",
        source=source,
        output=out,
        id_columns=["Name"],
        chunk_rows=chunk_rows,
        store_url=store,
        progress=False,
    )
    start, cpu = time.perf_counter(), time.process_time()
    batch_job.run(job)
    cpu_of("score" if store is None else "score + store", cpu)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--no-store", action="store_true", help="skip the store measurement")
    args = parser.parse_args()
    import warnings

    import numpy as np
    import pandas as pd
    from mlops_toolkit.serving.model import load_for_serving

    warnings.filterwarnings("ignore")
    times: dict[str, list[float]] = {"floor": [], "score": [], "score + store": []}
    with tempfile.TemporaryDirectory(prefix="batch-score-bench-") as tmp:
        work = Path(tmp)
        pipeline = save_model(work / "model")
        model = load_for_serving(str(work / "model"))
        data = work / "cars.parquet"
        write_data(data, args.rows)
        for round_ in range(args.rounds):
            seconds, expected = floor(data, pipeline)
            times["floor"].append(seconds)
            times["score"].append(score(data, model, work / "out.parquet", args.chunk_rows, None))
            got = pd.read_parquet(work / "out.parquet", columns=["prediction"])["prediction"]
            if not np.array_equal(got.to_numpy(dtype=object), expected.astype(object)):
                raise SystemExit("score's predictions differ from the Pipeline's own predict")
            if not args.no_store:
                store = f"sqlite:///{work / f'store-{round_}.sqlite3'}"
                out = work / "out-logged.parquet"
                times["score + store"].append(score(data, model, out, args.chunk_rows, store))
                stored = stored_rows(store)
                if stored != args.rows:  # a ratio bought by logging fewer rows is no ratio
                    raise SystemExit(f"the store holds {stored} rows of {args.rows}")
    return report(times, args.rows)


def stored_rows(url: str) -> int:
    import sqlite3

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        return conn.execute("SELECT sum(n) FROM prediction_batches").fetchone()[0] or 0


def report(times: dict[str, list[float]], rows: int) -> int:
    floor_rate = rows / statistics.median(times["floor"])
    print(f"{rows:,} mixed-type rows (vega_datasets cars, tiled), medians of the rounds")
    print(f"{'':16}{'rows/s':>12}{'of the floor':>14}")
    ratios = {}
    for name, seconds in times.items():
        if not seconds:
            continue
        rate = rows / statistics.median(seconds)
        ratios[name] = rate / floor_rate
        print(f"{name:16}{rate:12,.0f}{'x':>9}{ratios[name]:.2f}")
    if "score + store" in ratios:
        logged = ratios["score + store"] / ratios["score"]
        print(f"logging to the store: x{logged:.2f} of score's rate")
    # Wall time swings with other load on a shared machine; CPU seconds much less (they count
    # work, not waiting, and every thread's: the Parquet and store writers too).
    cpu = {name: statistics.median(seconds) for name, seconds in CPU.items()}
    for name in ("score", "score + store"):
        if name in cpu:
            print(f"CPU seconds: {name} x{cpu[name] / cpu['floor']:.2f} of the floor's")
    # `score` logs to the store unless told --no-log: that is the figure the goal is about.
    ok = True
    for name in ("score", "score + store"):
        if name in ratios:
            met = ratios[name] >= GOAL
            print(f"goal: {name} >= {GOAL}x the floor: {'met' if met else 'NOT met'}")
            ok = ok and met
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
