"""`monitor`: live quality of the served model versions, from the prediction store's labels.

Joins predictions with labels per model version and window, measures the task's metrics with the
gate's bootstrap intervals, reports label coverage and delay and, for classifiers, an estimate
from the model's probabilities while labels are pending (monitoring/quality.py). Records every
figure in the store's evaluation history, writes reports/monitor/quality.{json,md,prom} and pushes
the latest figures to a Pushgateway (monitoring/pushgateway.py: basic auth or a bearer token from
the environment), which Prometheus scrapes and alerts.yml judges. A push that fails is one line
and exit 1, after the history, the reports and the outputs are written.
"""

from __future__ import annotations

import argparse
import os

from .. import names
from . import options
from .options import flag

DEFAULT_WINDOWS = ("1d", "7d")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("monitor", help="live quality per model version from the labels")
    p.add_argument("--model-name", required=True, help="the registered model's name")
    options.prediction_store(p)
    p.add_argument("--environment", default="", help="only this environment (default: all)")
    p.add_argument(
        "--window",
        action="append",
        default=[],
        help="a window to evaluate, e.g. 1h, 1d, 7d (repeatable; default: "
        f"{' '.join(DEFAULT_WINDOWS)})",
    )
    p.add_argument("--gate-config", default=names.GATE_CONFIG, help="metrics, margins, bootstrap")
    p.add_argument("--min-labels", type=int, default=50, help="labels before an alert may fire")
    p.add_argument("--label-delay", default="7d", help="longest expected wait for labels")
    p.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="the production holdout figure (repeatable); default: the registry's tags",
    )
    flag(p, "--registry", True, "read the production version's holdout figures from MLflow")
    p.add_argument(
        "--pushgateway",
        default=os.environ.get(names.ENV_PUSHGATEWAY_URL, ""),
        help=f"Pushgateway URL to push to (default: ${names.ENV_PUSHGATEWAY_URL}; empty: none; "
        "credentials: $MLOPS_PUSHGATEWAY_USERNAME/_PASSWORD or $MLOPS_PUSHGATEWAY_TOKEN)",
    )
    p.add_argument("--reports", default="reports/monitor", help="where quality.* are written")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import actions as gha
    from ..monitoring import pushgateway, quality
    from ..monitoring.store import open_store

    target = pushgateway.Target.resolve(args.pushgateway)  # a wrong setting fails before the work
    settings = _settings(args)
    with open_store(args.store or None) as store:
        report = quality.evaluate(
            store, args.model_name, settings, environment=args.environment or None
        )
        store.record_evaluations(quality.history_rows(report))
    paths = quality.write_reports(report, args.reports)
    failed = None
    for model_name, environment in quality.groups(report) if target else ():
        try:
            text = quality.exposition(report, model_name, environment)
            quality.push(target, model_name, environment, text)
        except pushgateway.PushError as exc:
            failed = exc  # the figures are in the reports and the history: say so, at the end
            break
    degraded = []
    for f in report.figures:
        worse = f.degraded
        degraded += worse
        coverage = f"{f.labelled}/{f.predictions} labelled"
        figures = ", ".join(
            f"{m} {v.value:.4f} [{v.lower:.4f}, {v.upper:.4f}]" for m, v in f.measured.items()
        )
        estimates = ", ".join(f"{m} ~{v:.4f}" for m, v in f.estimated.items())
        print(
            f"{f.model_name} {f.model_version} ({f.environment}) {f.window}: {coverage}"
            + (f"; measured {figures}" if figures else "; measured: labels pending")
            + (f"; estimate (CBPE) {estimates}" if estimates else "")
            + (f"; BELOW THE GATE: {', '.join(worse)}" if worse else "")
        )
    if not report.figures:
        print(f"{args.model_name}: no predictions in the last {settings.windows[-1][0]}")
    if target and report.figures and failed is None:
        print(f"pushed {len(quality.groups(report))} group(s) to {target.url}")
    gha.set_outputs(
        {
            "report": str(paths["md"]),
            "degraded": bool(degraded),
            "evaluated": len(report.figures),
        }
    )
    gha.add_summary(paths["md"].read_text(encoding="utf-8"))
    if failed is not None:
        raise pushgateway.PushError(f"{failed} (the figures are in {paths['md'].parent})")
    return 0


def _settings(args: argparse.Namespace):
    import math

    from .. import metrics as registry
    from ..errors import InputError
    from ..gate import config as gate_config
    from ..monitoring import durations, quality

    given = args.window or list(DEFAULT_WINDOWS)
    windows = sorted(
        {durations.label(w, "--window"): durations.seconds(w) for w in given}.items(),
        key=lambda w: w[1],
    )
    if args.min_labels < 1:
        raise InputError(f"--min-labels {args.min_labels} must be at least 1")
    delay = durations.seconds(args.label_delay, "--label-delay")
    if delay > windows[-1][1]:
        # Labels that take the whole delay come for predictions no window holds any more: they
        # are never measured (LabelsStale still counts over the whole store). Said, not refused:
        # labels that mostly come early with a long limit are a fair set-up.
        print(
            f"warning: --label-delay {args.label_delay} is longer than the longest --window "
            f"{windows[-1][0]}: labels that take that long belong to predictions no window "
            f"holds and are never measured; add --window {args.label_delay} to measure them"
        )  # on stdout, with the run's other notes: stderr is kept for the one-line error
    gate = gate_config.load(args.gate_config)
    margins = {
        rule.metric: float(rule.max_regression)
        for rule in (gate.primary, *gate.guards)
        if rule.max_regression is not None
    }
    holdout = {}
    for item in args.holdout:
        metric, sep, value = item.partition("=")
        try:
            holdout[metric.strip()] = float(value) if sep else math.nan
        except ValueError:
            holdout[metric.strip()] = math.nan
        if not math.isfinite(holdout[metric.strip()]) or metric.strip() not in registry.names(
            gate.task, gate=True
        ):
            raise InputError(
                f"--holdout {item!r} is not METRIC=NUMBER with a metric of the task "
                f"({', '.join(registry.names(gate.task, gate=True))})"
            )
    if not holdout and args.registry:
        version, holdout = quality.holdout_figures(args.model_name, list(margins))
        where = f"production version {version}" if version else "no production version"
        print(f"holdout figures: {where} {holdout or '(none: no alert threshold)'}")
    return quality.Settings(
        windows=tuple(windows),
        task=gate.task,
        resamples=gate.resamples,
        confidence=gate.confidence,
        seed=gate.seed,
        min_labels=args.min_labels,
        label_delay=delay,
        margins=margins,
        holdout=holdout,
    )
