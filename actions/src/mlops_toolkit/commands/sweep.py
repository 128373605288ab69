"""`sweep`: search the model family's hyper-parameters with Optuna, in the project's directory.

The search space is params.yaml's `sweep.space`; each trial cross-validates the project's own
model factory on the training split (folds as steps, pruned by the median rule); the metric is
`sweep.metric` or `evaluate.primary_metric`, its direction the metrics registry's. One MLflow
parent run per study, a child run per trial. The study is stored beside the tracking store and
resumed by name: run it again after an interruption and it continues to `--trials`. The best
trial's values go into params.yaml's `model.params` (comments kept), and with `--propose` the
change is opened as a pull request, which then goes through the normal gate. See tuning/.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import names
from . import options

if TYPE_CHECKING:
    from ..tuning.study import Outcome


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="search hyper-parameters (Optuna) and write the best into params.yaml"
    )
    p.add_argument("--trials", type=int, default=20, help="trials the study ends with (total)")
    p.add_argument("--parallel", type=int, default=1, help="trials run at once (threads)")
    p.add_argument(
        "--timeout-minutes",
        type=float,
        default=0,
        help="start no trial after this long (0: no limit); the best so far is kept",
    )
    p.add_argument("--params", default="params.yaml", help="the project's params file")
    p.add_argument(
        "--package", default="", help="the project's package; default: its <package>.cli:main"
    )
    p.add_argument(
        "--metric", default="", help="default: sweep.metric, else evaluate.primary_metric"
    )
    p.add_argument("--study", default="", help="study name; default <experiment>-<metric>")
    p.add_argument(
        "--storage",
        default="",
        help="the study's database URL (postgresql://..., sqlite:///PATH) or journal file; "
        f"default ${names.ENV_SWEEP_STORAGE}, else sweeps.journal beside the embedded mlflow.db",
    )
    p.add_argument(
        "--experiment", default="", help="MLflow experiment; default <experiment>-sweeps"
    )
    options.flag(p, "--write-params", True, "write the best trial's values into params.yaml")
    options.flag(p, "--propose", False, "open a pull request with the new params.yaml")
    p.add_argument(
        "--base", default="", help="the pull request's base branch; default: the repository's"
    )
    options.flag(p, "--progress", True, "a progress bar on a terminal")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import logging

    from ..ci import actions as ghactions
    from ..errors import InputError
    from ..project import runs
    from ..tuning import factory, paramsfile, study

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.trials < 1:
        raise InputError(f"--trials must be at least 1, got {args.trials}")
    if args.parallel < 1:
        raise InputError(f"--parallel must be at least 1, got {args.parallel}")
    if args.timeout_minutes < 0:
        raise InputError(f"--timeout-minutes must be 0 or more, got {args.timeout_minutes}")
    package = args.package or factory.find_package()
    _importable(package)
    params_path = Path(args.params)
    project = factory.load(package, params_path, args.metric)
    uri = runs.connect(project.params.mlflow.tracking_uri)
    settings = study.Settings(
        trials=args.trials,
        parallel=args.parallel,
        study=args.study,
        storage=args.storage,
        experiment=args.experiment,
        progress=args.progress,
        timeout_s=options.minutes(args.timeout_minutes),
    )
    outcome = study.run(project, settings, uri, project.params.mlflow.experiment)
    if args.write_params or args.propose:
        paramsfile.update(params_path, outcome.best_params)
    pull = _propose(args, params_path, outcome) if args.propose else ""
    best = json.dumps(outcome.best_params, sort_keys=True)
    logging.getLogger(__name__).info(
        "best: trial %d, %s %.4f, %s%s",
        outcome.best_trial,
        outcome.metric,
        outcome.best_value,
        best,
        f"; proposed {pull}" if pull else "",
    )
    ghactions.set_outputs(
        {
            "best-value": f"{outcome.best_value:.6g}",
            "best-params": best,
            "best-trial": str(outcome.best_trial),
            "parent-run-id": outcome.parent_run_id,
            "study": outcome.study,
            "trials-run": str(outcome.ran),
            "pull-request": pull,
        }
    )
    ghactions.add_summary(_summary(outcome, best, pull))
    return 0


def _importable(package: str) -> None:
    """A project checkout not installed in this interpreter still imports from src/."""
    import importlib.util
    import sys

    if importlib.util.find_spec(package) is None and (Path("src") / package).is_dir():
        sys.path.insert(0, str(Path("src").resolve()))


def _propose(args: argparse.Namespace, params_path: Path, outcome: Outcome) -> str:
    from ..tuning import propose

    return propose.pull_request(params_path, outcome, base=args.base)


def _summary(o: Outcome, best: str, pull: str) -> str:
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(o.counts.items()))
    lines = [
        "## Sweep",
        "",
        f"- Study: `{o.study}` ({states}; {o.ran} run now)",
        f"- Best: trial {o.best_trial}, {o.metric} {o.best_value:.4f} ({o.direction})",
        f"- Params: `{best}`",
        f"- Parent run: `{o.parent_run_id}`",
    ]
    if pull:
        lines.append(f"- Pull request: {pull}")
    return "\n".join(lines) + "\n"
