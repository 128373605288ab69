"""Sweep throughput: `mlops-toolkit sweep`'s study against the same trials run with Optuna directly.

The project: the template's default (sklearn classification, the breast-cancer sample; or
--family xgboost), generated and split by its own prepare-data; the search space is its
params.yaml's `sweep.space`, the metric its primary metric, 5 folds.

Each round runs, one after the other, in this process:
- direct: `optuna.create_study` (in memory) and `study.optimize` over a plain objective: the
  project's own `build_model`/`fit`, the same seeded folds, the registry's metric, the fold
  means reported for the same median pruner: what a team would write by hand in one loop;
- ours: tuning.study.run, as the command runs it: the study in its journal file beside the
  tracking store (resumable), an MLflow parent run and a child run per trial (the embedded
  SQLite store), pruning, the best trial found.
Both use the same seeded TPE sampler, so they run the same trials (the script checks that
the sequences of values agree). Wall-clock trials per minute decide; CPU seconds of this
process (all threads) are reported beside them, since on a shared machine the wall clock also
measures the neighbours' load. The tracking store is created before the first round (its
schema migrations are a one-off per project, not per sweep). Trials per minute are medians
over the rounds; the ratio is ours / direct.

    python benchmarks/sweep.py [--trials 30] [--rounds 3] [--family sklearn|xgboost]

Exits 1 unless ours is at least 0.9x direct.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import _project  # noqa: F401  (first: the repository's import paths)

GOAL = 0.9


def prepared(root: Path, family: str) -> Path:
    from support.project import bake

    project = bake(root, model_family=family)
    result = subprocess.run(
        [sys.executable, "-m", project.name.replace("-", "_"), "prepare-data"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(result.stderr)
    return project


class Clock:
    """Wall-clock and this process's CPU seconds (every thread) since it started."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def direct(project: Any, trials: int) -> tuple[tuple[float, float], list[dict]]:
    """The same trials with Optuna alone: in-memory study, one plain loop."""
    import optuna
    from mlops_toolkit import metrics
    from sklearn.model_selection import StratifiedKFold

    splits = list(
        StratifiedKFold(project.sweep.folds, shuffle=True, random_state=project.seed).split(
            project.features, project.target
        )
    )
    X, y = project.features, project.target

    def objective(trial: optuna.Trial) -> float:
        values = {d.name: d.suggest(trial) for d in project.dimensions}
        found = []
        for step, (fit_rows, check_rows) in enumerate(splits):
            model, spec = project.build(values)
            project.fit(model, X.iloc[fit_rows], y.iloc[fit_rows], spec)
            scores = metrics.compute(
                project.task,
                y.iloc[check_rows],
                model.predict(X.iloc[check_rows]),
                None,
                project.average,
            )
            found.append(scores[project.metric])
            trial.report(sum(found) / len(found), step)
            if step + 1 < len(splits) and trial.should_prune():
                raise optuna.TrialPruned()
        return sum(found) / len(found)

    study = optuna.create_study(
        direction=project.direction,
        sampler=optuna.samplers.TPESampler(seed=project.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    clock = Clock()
    study.optimize(objective, n_trials=trials)
    return clock.stop(), [t.params for t in study.trials]


def ours(project: Any, trials: int, uri: str) -> tuple[tuple[float, float], list[dict]]:
    from mlops_toolkit.tuning import study

    settings = study.Settings(trials=trials, study=f"bench-{uuid.uuid4().hex[:8]}")
    clock = Clock()
    outcome = study.run(project, settings, uri, "bench")
    seconds = clock.stop()
    import optuna

    stored = study.open_storage(study.storage_url(uri, settings.storage))
    loaded = optuna.load_study(study_name=outcome.study, storage=stored)
    return seconds, [t.params for t in loaded.trials]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--family", choices=["sklearn", "xgboost"], default="sklearn")
    args = parser.parse_args()
    import logging

    import optuna

    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        project_dir = prepared(Path(tmp), args.family)
        os.chdir(project_dir)
        sys.path.insert(0, str(project_dir / "src"))
        from mlops_toolkit.project import runs
        from mlops_toolkit.tuning import factory

        project = factory.load(factory.find_package(), Path("params.yaml"))
        uri = runs.connect("")  # the embedded store, created (migrated) once, here
        import mlflow

        mlflow.MlflowClient(uri).search_experiments()
        times: dict[str, list[tuple[float, float]]] = {"direct": [], "ours": []}
        same = True
        for _ in range(args.rounds):  # alternating, so a change in the machine's load hits both
            d_seconds, d_trials = direct(project, args.trials)
            o_seconds, o_trials = ours(project, args.trials, uri)
            times["direct"].append(d_seconds)
            times["ours"].append(o_seconds)
            same = same and d_trials == o_trials
    print(
        f"{args.family}, {args.trials} trials x {args.rounds} rounds, {project.sweep.folds} folds"
    )
    ratios = {}
    for index, clock in enumerate(("wall", "cpu")):
        rate = {
            name: 60 * args.trials / statistics.median(t[index] for t in runs_)
            for name, runs_ in times.items()
        }
        ratios[clock] = rate["ours"] / rate["direct"]
        for name in ("direct", "ours"):
            spread = ", ".join(f"{t[index]:.1f}" for t in times[name])
            print(f"  {clock:4s} {name:6s} {rate[name]:7.1f} trials/min  (s per round: {spread})")
        print(f"  {clock:4s} ratio  x{ratios[clock]:.3f}")
    print(f"goal: wall-clock ratio >= {GOAL}; same trials in both: {same}")
    return 0 if ratios["wall"] >= GOAL and same else 1


if __name__ == "__main__":
    sys.exit(main())
