"""The commands every project has, the same everywhere: init-data, validate-data, check-gate,
serve and drift. `frame.build_parser` adds them around the project's own."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# A command: (parsed options, this run's log file) -> exit code.
Command = Callable[[argparse.Namespace, Path], int]
# add(name, command, help) -> its sub-parser, to add the command's options to.
Adder = Callable[[str, Command, str], argparse.ArgumentParser]
GATE_FILE = Path("gate.yaml")
SUITE_FILE = Path("expectations") / "dataset.json"
# init-data lists this many suite changes, then counts the rest.
SHOWN_CHANGES = 25
KINDS = ("added", "removed", "changed")


def params(args: argparse.Namespace, **overrides: Any) -> Any:
    """params.yaml (--params) with the options given (None: not given) as dotted overrides."""
    chosen = {key: value for key, value in overrides.items() if value is not None}
    return args.project.load_params(args.params, chosen)


def cmd_init_data(args: argparse.Namespace, log_file: Path) -> int:
    from .init_data import run

    outcome = run(args.source, args.target, args.exclude, task=args.project.task)
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
    if outcome.changes == [] and SUITE_FILE.is_file():
        log.info("suite: derived from %d rows (%s)", outcome.rows, SUITE_FILE)
    if outcome.tracked:
        log.info("tracked %s with dvc add (commit %s.dvc)", args.source, args.source)
        if outcome.pushed_to:
            log.info("pushed %s to the DVC remote %s", args.source, outcome.pushed_to)
        else:
            log.info("no DVC remote: the data stays here (make remote, docs/setup.md)")
    log.info("next: edit data.roles in params.yaml if a role is wrong, then make pipeline")
    return 0


def cmd_validate_data(args: argparse.Namespace, log_file: Path) -> int:
    from .expectations import ValidationFailed, describe, validate

    config = params(args)
    data = args.data or config.data.raw
    summary = validate(
        data, args.suite or config.validation.suite, args.report_dir or config.validation.report_dir
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
    from .params import check_gate

    check_gate(args.config, args.project.task, params(args).data.target)
    log.info("%s: fit for the gate", args.config)
    return 0


def cmd_serve(args: argparse.Namespace, log_file: Path) -> int:
    """The platform's scoring server (mlops_toolkit.serving) on this project's model."""
    from ..serving.__main__ import serve
    from ..serving.settings import ENV_MODEL_DIR, Settings

    model = args.model or os.environ.get(ENV_MODEL_DIR) or ""
    model_dir, name, version = local_model(args, model)
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
    from ..monitoring.drift import DRIFT_EXIT_CODE, Thresholds, run

    config = params(args)
    thresholds = Thresholds(
        psi=config.drift.psi_threshold, p_value=config.drift.p_value, bins=config.drift.bins
    )
    model_dir = local_model(args, args.model)[0] if args.model else None
    if args.current is None:  # the prediction store's window: data and concept drift apart
        return _drift_store(args, config, thresholds, model_dir)
    if args.pushgateway:
        log.info("not pushed to the Pushgateway: prediction logs carry no environment")
    report = run(
        args.reference or config.data.train,
        args.current,
        args.report_dir,
        thresholds,
        target=config.data.target,
        model_dir=model_dir,
        task=args.project.task,
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


def _drift_store(args: argparse.Namespace, config: Any, thresholds: Any, model: Any) -> int:
    from ..monitoring import drift, drift_live, durations, pushgateway, quality
    from ..monitoring.store import open_store

    target = pushgateway.Target.resolve(args.pushgateway)  # a wrong setting fails before the work
    window = drift_live.Window(
        durations.label(args.window, "--window"), durations.seconds(args.window, "--window")
    )
    if args.min_labels < 1:
        raise drift.DriftInputError(f"--min-labels {args.min_labels} must be at least 1")
    task = args.project.task
    settings = drift_live.concept_settings(
        GATE_FILE,
        window,
        min_labels=args.min_labels,
        holdout=drift_live.parse_holdout(args.holdout, task),
    )
    if not settings.holdout and args.registry:  # production's figures, as `register` tagged them
        from dataclasses import replace

        from . import runs

        runs.connect(config.mlflow.tracking_uri)
        name = config.mlflow.registered_model_name
        version, holdout = quality.holdout_figures(name, list(settings.margins))
        log.info("holdout figures: production version %s %s", version or "(none)", holdout)
        settings = replace(settings, holdout=holdout)
    reference, labels = drift.read_reference(
        args.reference or config.data.train, config.data.target
    )
    with open_store(args.store or None) as store:
        report = drift_live.run(
            store,
            args.model_name or config.mlflow.registered_model_name,
            reference,
            thresholds,
            settings,
            window,
            args.report_dir,
            environments=args.environment or ("staging", "production"),
            reference_preds=drift.reference_predictions(model, reference, labels),
            categorical_prediction=task == "classification",
            pushgateway=target,
        )
    for env, rows in report["rows"].items():
        found = report["environments"][env]["kinds"]
        log.info(
            "%s: %d predictions in the last %s; drift: %s",
            env,
            rows,
            window.label,
            ", ".join(found) or "none",
        )
    log.info("report %s", report["paths"]["md"])
    pushed = report.get("pushgateway") or {}
    if pushed.get("pushed"):
        log.info(
            "pushed %s to %s (job %s)", ", ".join(pushed["pushed"]), pushed["url"], pushed["job"]
        )
    failed = pushed.get("error")
    if report["drift_detected"]:
        log.warning("%s detected", drift_live.kinds_title(report["kinds"]).lower())
        if failed:  # drift first: exit 3 lets the drift issue be opened; the job fails anyway
            log.error("push failed (Prometheus misses this run's drift): %s", failed)
        return drift.DRIFT_EXIT_CODE
    if failed:  # the reports are written: the push's failure is the one error
        raise pushgateway.PushError(f"push failed (the reports are written): {failed}")
    return 0


def local_model(args: argparse.Namespace, model: str) -> tuple[str, str | None, str | None]:
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

    from . import runs

    config = params(args)
    runs.connect(config.mlflow.tracking_uri)
    uri = model or runs.read_run_info().model_uri
    name, version = runs.model_identity(uri, config.mlflow.registered_model_name)
    log.info("downloading %s", uri)
    return mlflow.artifacts.download_artifacts(artifact_uri=uri), name, version


def add_data_commands(add: Adder) -> None:
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
        "--config", type=Path, default=GATE_FILE, help="gate file (default: %(default)s)"
    )


def add_model_commands(add: Adder) -> None:
    from ..names import ENV_PUSHGATEWAY_URL

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
        help="prediction logs (*.jsonl: a file, directory or glob) or a CSV, instead of the "
        "prediction store",
    )
    sub.add_argument(
        "--store",
        help="prediction store URL (default: $MLOPS_PREDICTION_STORE, else the SQLite file)",
    )
    sub.add_argument("--window", default="7d", help="the store's window (default: %(default)s)")
    sub.add_argument(
        "--environment",
        action="append",
        default=[],
        help="environment to judge, repeatable (default: staging and production)",
    )
    sub.add_argument("--model-name", help="default: mlflow.registered_model_name")
    sub.add_argument(
        "--min-labels", type=int, default=50, help="labels before concept drift is judged"
    )
    sub.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="production's holdout figure (repeatable; default: the registry's)",
    )
    sub.add_argument(
        "--registry",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read the production holdout figures from MLflow when --holdout is not given",
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
    sub.add_argument(
        "--pushgateway",
        default=os.environ.get(ENV_PUSHGATEWAY_URL, ""),
        help="push each environment's drift metrics there, job model-drift (default: "
        f"${ENV_PUSHGATEWAY_URL}; empty: none; credentials: $MLOPS_PUSHGATEWAY_USERNAME/_PASSWORD "
        "or $MLOPS_PUSHGATEWAY_TOKEN)",
    )
