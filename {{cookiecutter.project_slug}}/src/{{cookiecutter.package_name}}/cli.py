"""The project's command line: the platform's frame (mlops_toolkit.project.frame) with this
project's commands: prepare-data, train, evaluate, predict.

The frame adds init-data, validate-data, check-gate, serve and drift. Options left out fall back
to params.yaml. Heavy libraries are imported inside the commands, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mlops_toolkit.project import frame
from mlops_toolkit.project.frame import params

from . import __version__
from .config import TASK, load_params

log = logging.getLogger(__name__)
PROJECT = frame.Project(
    prog="{{ cookiecutter.project_slug }}",
    version=__version__,
    task=TASK,
    load_params=load_params,
    level_env="{{ cookiecutter.package_name | upper }}_LOG_LEVEL",
)


def cmd_prepare_data(args: argparse.Namespace, log_file: Path) -> int:
    from mlops_toolkit import contracts

    from .data.load import drop_missing_target, load_source, write_csv
    from .data.split import split

    config = params(
        args,
        **{
            "data.source": args.source,
            "split.holdout_fraction": args.holdout_fraction,
            "split.seed": args.seed,
        },
    )
    data, target = config.data, config.data.target
    frame_, dropped = drop_missing_target(load_source(data.source, target), target)
    if dropped:
        log.warning("dropped %d row(s) whose target %s is missing", dropped, target)
    # What prepare-data dropped, for train to count in MLflow (contracts.PrepareFile).
    contracts.PrepareFile.build({"rows": len(frame_), "dropped_missing_target": dropped}).write()
    write_csv(frame_, data.raw)
    split_ = config.split
    train, holdout = split(frame_, target, split_.holdout_fraction, split_.seed, split_.stratify)
    write_csv(train, data.train)
    write_csv(holdout, data.holdout)
    log.info(
        "wrote %s (%d rows): %d train, %d holdout", data.raw, len(frame_), len(train), len(holdout)
    )
    return 0


def cmd_train(args: argparse.Namespace, log_file: Path) -> int:
    from .config import GATE_FILE, check_gate
    from .pipelines.train import train

    overrides = {f"model.params.{key}": value for key, value in args.param}
    config = params(args, **{"train.seed": args.seed}, **overrides)
    if GATE_FILE.is_file():  # a broken gate would only be found after the training it judges
        check_gate(config)
    result = train(config, log_file=log_file, run_name=args.run_name)
    log.info("run %s: %s", result.run_id, _format(result.metrics))
    return 0


def cmd_evaluate(args: argparse.Namespace, log_file: Path) -> int:
    from .pipelines.evaluate import evaluate

    result = evaluate(params(args), run_id=args.run_id, register=args.register, log_file=log_file)
    registered = f"; registered version {result.model_version}" if result.model_version else ""
    log.info("holdout: %s%s", _format(result.metrics), registered)
    return 0


def cmd_predict(args: argparse.Namespace, log_file: Path) -> int:
    from mlops_toolkit.project import runs

    from .pipelines.predict import predict

    config = params(args)
    runs.connect(config.mlflow.tracking_uri)
    model_uri = args.model_uri or runs.read_run_info().model_uri
    log.info("wrote %s", predict(model_uri, args.input, args.output, config.data.target))
    return 0


def _format(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items()))


def add_commands(add: frame.Adder) -> None:
    """This project's commands, added to the frame's (see `--help`)."""
    sub = add(
        "prepare-data", cmd_prepare_data, "Write the raw dataset and its train/holdout split."
    )
    sub.add_argument(
        "--source", help="sklearn:<name>, a CSV or Parquet path (default: data.source)"
    )
    sub.add_argument(
        "--holdout-fraction",
        type=float,
        help="share of rows held out (default: split.holdout_fraction)",
    )
    sub.add_argument("--seed", type=int, help="split seed (default: split.seed)")

    sub = add("train", cmd_train, "Train on the training split and log the model to MLflow.")
    sub.add_argument("--seed", type=int, help="training seed (default: train.seed)")
    sub.add_argument(
        "--param",
        type=frame.key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model hyper-parameter (default: model.params)",
    )
    sub.add_argument("--run-name", help="MLflow run name (default: generated)")

    sub = add(
        "evaluate", cmd_evaluate, "Score the trained model on the holdout, log plots, register it."
    )
    sub.add_argument("--run-id", help="MLflow run to evaluate (default: reports/run.json)")
    sub.add_argument(
        "--register",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="register the model (default: mlflow.register)",
    )

    sub = add("predict", cmd_predict, "Predict a CSV with a logged or registered model.")
    sub.add_argument("--input", type=Path, required=True, help="CSV of feature rows")
    sub.add_argument(
        "--output",
        type=Path,
        default=Path("predictions.csv"),
        help="where predictions go (default: %(default)s)",
    )
    sub.add_argument(
        "--model-uri", help="runs:/..., models:/name@alias ... (default: the last trained run)"
    )


def build_parser() -> argparse.ArgumentParser:
    return frame.build_parser(PROJECT, add_commands)


def main(argv: list[str] | None = None) -> int:
    return frame.main(PROJECT, add_commands, argv)


if __name__ == "__main__":
    sys.exit(main())
