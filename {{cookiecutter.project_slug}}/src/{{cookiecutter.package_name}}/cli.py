"""The project's command line: one subcommand per pipeline step.

Options left out fall back to params.yaml. Heavy libraries are imported inside the commands, so
`--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__, logs

PROG = "{{ cookiecutter.project_slug }}"
log = logging.getLogger(__name__)
Command = Callable[[argparse.Namespace, Path], int]
# What prepare-data dropped, for train to count in MLflow.
PREPARE_REPORT = Path("reports") / "prepare.json"
# init-data lists this many suite changes, then counts the rest.
SHOWN_CHANGES = 25
KINDS = ("added", "removed", "changed")


class ValidationFailed(RuntimeError):
    """The data did not meet its expectations (the reports say which)."""


def _params(args: argparse.Namespace, **overrides: Any) -> Any:
    from .config import load_params

    chosen = {key: value for key, value in overrides.items() if value is not None}
    return load_params(args.params, chosen)


def cmd_prepare_data(args: argparse.Namespace, log_file: Path) -> int:
    import json

    from .data.load import drop_missing_target, load_source, write_csv
    from .data.split import split

    params = _params(
        args,
        **{
            "data.source": args.source,
            "split.holdout_fraction": args.holdout_fraction,
            "split.seed": args.seed,
        },
    )
    frame, dropped = drop_missing_target(
        load_source(params.data.source, params.data.target), params.data.target
    )
    if dropped:
        log.warning("dropped %d row(s) whose target %s is missing", dropped, params.data.target)
    PREPARE_REPORT.parent.mkdir(parents=True, exist_ok=True)
    PREPARE_REPORT.write_text(
        json.dumps({"rows": len(frame), "dropped_missing_target": dropped}, indent=2) + "\n"
    )
    write_csv(frame, params.data.raw)
    train, holdout = split(
        frame,
        params.data.target,
        params.split.holdout_fraction,
        params.split.seed,
        params.split.stratify,
    )
    write_csv(train, params.data.train)
    write_csv(holdout, params.data.holdout)
    log.info(
        "wrote %s (%d rows): %d train, %d holdout",
        params.data.raw,
        len(frame),
        len(train),
        len(holdout),
    )
    return 0


def cmd_init_data(args: argparse.Namespace, log_file: Path) -> int:
    from .data.init_data import run

    outcome = run(args.source, args.target, args.exclude)
    if outcome.dropped:
        log.warning("%d row(s) have no %s: prepare-data drops them", outcome.dropped, args.target)
    for role, columns in outcome.roles.items():
        if columns:
            log.info("%-11s %s", role, ", ".join(columns))
    for line in outcome.changes[:SHOWN_CHANGES]:
        log.info("suite %s", line)
    if len(outcome.changes) > SHOWN_CHANGES:
        counts = {kind: sum(c.startswith(kind) for c in outcome.changes) for kind in KINDS}
        log.info(
            "suite: %d more change(s); in all %s",
            len(outcome.changes) - SHOWN_CHANGES,
            ", ".join(f"{n} {kind}" for kind, n in counts.items()),
        )
    if outcome.changes == [] and Path("expectations/dataset.json").is_file():
        log.info("suite: derived from %d rows (expectations/dataset.json)", outcome.rows)
    if outcome.tracked:
        log.info("tracked %s with dvc add (commit %s.dvc)", args.source, args.source)
        if outcome.pushed_to:
            log.info("pushed %s to the DVC remote %s", args.source, outcome.pushed_to)
        else:
            log.info("no DVC remote: the data stays here (make remote, docs/setup.md)")
    log.info("next: edit data.roles in params.yaml if a role is wrong, then make pipeline")
    return 0


def cmd_validate_data(args: argparse.Namespace, log_file: Path) -> int:
    from .data.validate import describe, validate

    params = _params(args)
    data = args.data or params.data.raw
    summary = validate(
        data, args.suite or params.validation.suite, args.report_dir or params.validation.report_dir
    )
    log.info(
        "%s: %d/%d expectations met; report %s",
        data,
        summary["successful"],
        summary["evaluated"],
        summary["html"],
    )
    if not summary["success"]:
        for failure in summary["failures"]:
            log.error("failed: %s", describe(failure))
        raise ValidationFailed(f"{data}: {summary['failed']} expectation(s) failed")
    return 0


def cmd_check_gate(args: argparse.Namespace, log_file: Path) -> int:
    from .config import check_gate

    check_gate(_params(args), args.config)
    log.info("%s: fit for the gate", args.config)
    return 0


def cmd_train(args: argparse.Namespace, log_file: Path) -> int:
    from .config import GATE_FILE, check_gate
    from .pipelines.train import train

    overrides = {f"model.params.{key}": value for key, value in args.param}
    params = _params(args, **{"train.seed": args.seed}, **overrides)
    if GATE_FILE.is_file():  # a broken gate would only be found after the training it judges
        check_gate(params)
    result = train(params, log_file=log_file, run_name=args.run_name)
    log.info("run %s: %s", result.run_id, _format(result.metrics))
    return 0


def cmd_evaluate(args: argparse.Namespace, log_file: Path) -> int:
    from .pipelines.evaluate import evaluate

    result = evaluate(_params(args), run_id=args.run_id, register=args.register, log_file=log_file)
    registered = f"; registered version {result.model_version}" if result.model_version else ""
    log.info("holdout: %s%s", _format(result.metrics), registered)
    return 0


def cmd_predict(args: argparse.Namespace, log_file: Path) -> int:
    from . import tracking
    from .pipelines.predict import predict

    params = _params(args)
    tracking.connect(params)
    model_uri = args.model_uri or tracking.read_run_info().model_uri
    written = predict(model_uri, args.input, args.output, params.data.target)
    log.info("wrote %s", written)
    return 0


def cmd_serve(args: argparse.Namespace, log_file: Path) -> int:
    """The platform's scoring server (mlops_toolkit.serving) on this project's model."""
    from mlops_toolkit.serving.__main__ import serve
    from mlops_toolkit.serving.settings import ENV_MODEL_DIR, Settings

    model = args.model or os.environ.get(ENV_MODEL_DIR) or ""
    model_dir, name, version = _local_model(args, model)
    settings = Settings.from_env(
        model_dir=model_dir,
        model_name=name,
        model_version=version,
        host=args.host,
        port=args.port,
        log_dir=args.log_dir,
        log_sample_rate=args.log_sample_rate,
        drift_report=args.drift_report,
    )
    log.info(
        "serving %s %s from %s on http://%s:%d",
        settings.model_name,
        settings.model_version,
        settings.model_dir,
        settings.host,
        settings.port,
    )
    return serve(settings)


def cmd_drift(args: argparse.Namespace, log_file: Path) -> int:
    """The platform's drift job (mlops_toolkit.monitoring) with this project's params."""
    from mlops_toolkit.monitoring.drift import DRIFT_EXIT_CODE, Thresholds, run

    from .config import TASK

    params = _params(args)
    thresholds = Thresholds(
        psi=params.drift.psi_threshold, p_value=params.drift.p_value, bins=params.drift.bins
    )
    model_dir = _local_model(args, args.model)[0] if args.model else None
    report = run(
        args.reference or params.data.train,
        args.current,
        args.report_dir,
        thresholds,
        target=params.data.target,
        model_dir=model_dir,
        task=TASK,
    )
    log.info(
        "%d current rows vs %d reference rows; report %s",
        report["rows"]["current"],
        report["rows"]["reference"],
        report["paths"]["md"],
    )
    if report["drift_detected"]:
        prediction = report["prediction"] or {}
        drifted = report["drifted_features"] + (
            ["(prediction)"] if prediction.get("drifted") else []
        )
        log.warning("drift detected: %s", ", ".join(drifted))
        return DRIFT_EXIT_CODE
    return 0


def _local_model(args: argparse.Namespace, model: str) -> tuple[str, str | None, str | None]:
    """A local MLflow model directory, with the registered name and version when known.

    As given (a directory: name and version from the environment, if any), or downloaded from
    a URI (models:/name/3, models:/name@alias: resolved in the registry; runs:/ or the last
    trained run: the project's registered name and the version `evaluate` registered).
    """
    if model and Path(model).is_dir():
        return model, None, None
    if model and ":" not in model:
        raise FileNotFoundError(f"{model}: no such model directory (or give an MLflow URI)")
    import mlflow

    from . import tracking

    params = _params(args)
    tracking.connect(params)
    uri = model or tracking.read_run_info().model_uri
    name, version = tracking.model_identity(uri, params.mlflow.registered_model_name)
    log.info("downloading %s", uri)
    return mlflow.artifacts.download_artifacts(artifact_uri=uri), name, version


def _format(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items()))


def _key_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE with a YAML-typed value (0.1 is a float, true a bool)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="parameters file (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=f"log level (default: ${logs.LEVEL_ENV} or INFO)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        return sub

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

    sub = add(
        "init-data",
        cmd_init_data,
        "Use your own CSV or Parquet file: roles in params.yaml, a derived expectation suite.",
    )
    sub.add_argument("--source", required=True, help="CSV or Parquet file (.parquet)")
    sub.add_argument("--target", required=True, help="the column to predict")
    sub.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="columns the model must not see (IDs are found on their own)",
    )

    sub = add(
        "validate-data", cmd_validate_data, "Check a dataset against the Great Expectations suite."
    )
    sub.add_argument("--data", type=Path, help="CSV to validate (default: data.raw)")
    sub.add_argument("--suite", type=Path, help="expectation suite (default: validation.suite)")
    sub.add_argument(
        "--report-dir", type=Path, help="where the reports go (default: validation.report_dir)"
    )

    sub = add("check-gate", cmd_check_gate, "Check gate.yaml as the platform's gate will read it.")
    sub.add_argument(
        "--config", type=Path, default=Path("gate.yaml"), help="gate file (default: %(default)s)"
    )

    sub = add("train", cmd_train, "Train on the training split and log the model to MLflow.")
    sub.add_argument("--seed", type=int, help="training seed (default: train.seed)")
    sub.add_argument(
        "--param",
        type=_key_value,
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

    sub = add("serve", cmd_serve, "Serve a model over HTTP (MLflow-compatible /invocations).")
    sub.add_argument(
        "--model",
        help="MLflow model directory or URI (runs:/..., models:/name@alias;"
        " default: $MODEL_DIR, else the last trained run)",
    )
    sub.add_argument("--host", help="address to bind (default: $SERVING_HOST or 127.0.0.1)")
    sub.add_argument("--port", type=int, help="port (default: $SERVING_PORT or 8080)")
    sub.add_argument(
        "--log-dir",
        help="write sampled inputs and predictions here as JSON lines "
        "(default: $PREDICTION_LOG_DIR; off when empty)",
    )
    sub.add_argument(
        "--log-sample-rate",
        type=float,
        help="share of requests logged, 0..1 (default: $PREDICTION_LOG_SAMPLE_RATE)",
    )
    sub.add_argument(
        "--drift-report", help="expose this drift.json on /metrics (default: $DRIFT_REPORT_PATH)"
    )

    sub = add(
        "drift",
        cmd_drift,
        "Compare logged predictions with the training data; exit 3 when drift is found.",
    )
    sub.add_argument(
        "--current",
        default="logs/predictions",
        help="prediction logs (*.jsonl: a file, directory or glob) or a CSV (default: %(default)s)",
    )
    sub.add_argument("--reference", type=Path, help="reference CSV (default: data.train)")
    sub.add_argument(
        "--model",
        help="model (directory or URI) to predict the reference with, for "
        "prediction drift (default: compare with the reference target)",
    )
    sub.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/drift"),
        help="where drift.json/.md/.html/.prom go (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_file = logs.configure(args.log_level, args.command)
    try:
        return args.run(args, log_file)
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as error:  # one line for people, the traceback for the log file
        with open(log_file, "a", encoding="utf-8") as handle:
            handle.write(_scrub(traceback.format_exc()))
        line = _scrub(_one_line(error))
        log.error("%s", line)
        _record_failure(args.command, line)
        return 1


# What MLflow's HTTP errors say once its bounded retries against a vanished server are spent.
LOST_SERVER = ("Max retries exceeded", "Connection refused", "Connection broken", "reset by peer")


def _one_line(error: Exception) -> str:
    known = ("ConfigError", "DataError", "ValidationFailed", "ConnectionError", "FileNotFoundError")
    text = " ".join(str(error).split()) or type(error).__name__
    if type(error).__name__ in known:
        return text
    if type(error).__name__ == "MlflowException" and any(m in text for m in LOST_SERVER):
        return (
            "the MLflow tracking server stopped answering (an open run is marked FAILED by the"
            f" next command that reaches it): {text[:200]}"
        )
    return f"{type(error).__name__}: {text[:300]}"


def _scrub(text: str) -> str:
    """Without the tracking password or token: a library's error may quote the URI."""
    from mlops_toolkit.tracking.probe import scrub_known_secrets

    return scrub_known_secrets(text)


def _record_failure(command: str, line: str) -> None:
    """Append the failure to the file CI names (the pull-request report quotes the first)."""
    from mlops_toolkit.names import ENV_FAILURE_LOG

    path = os.environ.get(ENV_FAILURE_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{PROG} {command}: {line}\n")


if __name__ == "__main__":
    sys.exit(main())
