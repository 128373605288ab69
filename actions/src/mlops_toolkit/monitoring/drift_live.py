"""Drift on real traffic: the prediction store's window, per environment, two kinds apart.

- Data drift: the window's inputs (and predictions) against the training reference, the
  statistics of drift.py (PSI and KS / chi-squared per column).
- Concept drift: the inputs may look the same, but the answers are wrong. The labelled
  predictions of each model version are measured as the `monitor` command measures them
  (quality.window_figures: the gate's metrics and bootstrap interval); a version whose whole
  interval is past the production holdout figure minus the gate's margin, on enough labels,
  has drifted.

Staging and production are judged apart (their traffic differs: a load test on staging is not
production's drift). Reports: drift.json (contracts.LiveDriftReport) / drift.md (both
environments, the kinds found) at the top of the report directory, and each environment's
data-drift reports (drift.json: contracts.DataDriftReport, .md, .html, .prom, the format the
scoring server exposes on /metrics) in a folder of its own. With a Pushgateway, each
environment's data-drift metrics are pushed there too (`push`), so Prometheus judges them
(ModelDriftDetected) without a scoring server holding the report; a push that fails is
recorded in drift.json (`pushgateway.error`), after the reports are written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import names
from .drift import PREDICTION_COLUMN, Thresholds, detect, write_reports
from .pushgateway import PushError, Target
from .pushgateway import push as put
from .store import Joined, PredictionStore

DATA = "data"
CONCEPT = "concept"
KINDS = (DATA, CONCEPT)


@dataclass(frozen=True)
class Window:
    label: str  # as given ("7d"), for reports
    seconds: float
    until: float = field(default_factory=time.time)

    @property
    def since(self) -> float:
        return self.until - self.seconds


def current_frame(rows: Sequence[Joined]) -> Any:
    """The window's inputs as a frame, with the model's answer in `prediction`."""
    import pandas as pd

    frame = pd.DataFrame([r.prediction.inputs for r in rows])
    frame[PREDICTION_COLUMN] = [r.prediction.prediction for r in rows]
    return frame


def concept_settings(
    gate_path: str | Path,
    window: Window,
    *,
    min_labels: int,
    holdout: dict[str, float],
) -> Any:
    """quality.Settings for one window: the gate's metrics, margins and bootstrap."""
    from ..gate import config as gate_config
    from .quality import Settings

    gate = gate_config.load(gate_path)
    margins = {
        rule.metric: float(rule.max_regression)
        for rule in (gate.primary, *gate.guards)
        if rule.max_regression is not None
    }
    return Settings(
        windows=((window.label, window.seconds),),
        task=gate.task,
        resamples=gate.resamples,
        confidence=gate.confidence,
        seed=gate.seed,
        min_labels=min_labels,
        margins=margins,
        holdout=holdout,
    )


def concept(rows: Sequence[Joined], settings: Any, window: Window) -> dict[str, Any]:
    """Live quality per model version of one environment's window; `drifted` when a version's
    interval is past its limit (quality.degraded)."""
    from .quality import window_figures

    by_version: dict[tuple[str, str], list[Joined]] = {}
    for r in rows:
        by_version.setdefault((r.prediction.model_name, r.prediction.model_version), []).append(r)
    versions = []
    for (name, version), group in sorted(by_version.items()):
        env = group[0].prediction.environment
        figures = window_figures(group, settings, name, version, env, window.label)
        versions.append(
            {
                "model_version": version,
                "predictions": figures.predictions,
                "labelled": figures.labelled,
                "measured": {
                    m: {"value": v.value, "lower": v.lower, "upper": v.upper}
                    for m, v in figures.measured.items()
                },
                "limits": {m: settings.threshold(m) for m in figures.measured},
                "degraded": figures.degraded,
            }
        )
    judged = bool(settings.holdout)
    return {
        "judged": judged,
        "why_not": "" if judged else "no production holdout figure to compare with",
        "min_labels": settings.min_labels,
        "versions": versions,
        "drifted": any(v["degraded"] for v in versions),
    }


def environment_report(
    reference: Any,
    rows: Sequence[Joined],
    thresholds: Thresholds,
    settings: Any,
    window: Window,
    reference_preds: Any = None,
    categorical_prediction: bool | None = None,
) -> dict[str, Any]:
    """Both kinds for one environment's window (no rows: nothing judged, no drift)."""
    if not rows:
        return {"rows": 0, "data": None, "concept": None, "kinds": []}
    current = current_frame(rows)
    # The store holds what the model received: training columns it never sees (IDs, excluded
    # columns, by params.yaml or found at train time) are not part of the comparison.
    served = [c for c in reference.columns if c in current.columns]
    if not served:
        from .drift import DriftInputError

        raise DriftInputError(
            "the stored predictions share no column with the reference data "
            f"(stored: {', '.join(map(str, current.columns[:5]))}, ...)"
        )
    data = detect(reference[served], current, thresholds, reference_preds, categorical_prediction)
    data["not_served"] = [str(c) for c in reference.columns if c not in current.columns]
    quality = concept(rows, settings, window)
    kinds = [
        k
        for k, found in zip(KINDS, (data["drift_detected"], quality["drifted"]), strict=True)
        if found
    ]
    return {"rows": len(rows), "data": data, "concept": quality, "kinds": kinds}


def run(
    store: PredictionStore,
    model_name: str,
    reference: Any,
    thresholds: Thresholds,
    settings: Any,
    window: Window,
    out_dir: str | Path,
    *,
    environments: Sequence[str] = names.STAGES,
    reference_preds: Any = None,
    categorical_prediction: bool | None = None,
    pushgateway: Target | None = None,
) -> dict[str, Any]:
    """Read each environment's window from the store, judge both kinds, write the reports and,
    given a pushgateway.Target, push each environment's metrics (report["pushgateway"])."""
    out = Path(out_dir)
    report: dict[str, Any] = {
        "source": "prediction store",
        "model_name": model_name,
        "window": window.label,
        "since": window.since,
        "until": window.until,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(window.until)),
        "timestamp": window.until,
        "environments": {},
    }
    for env in environments:
        rows = store.read_joined(
            model_name, environment=env, since=window.since, until=window.until
        )
        found = environment_report(
            reference, rows, thresholds, settings, window, reference_preds, categorical_prediction
        )
        if found["data"] is not None:
            paths = write_reports(found["data"], out / env)
            found["paths"] = {k: str(v) for k, v in paths.items()}
        report["environments"][env] = found
    kinds = {k for e in report["environments"].values() for k in e["kinds"]}
    report["kinds"] = [k for k in KINDS if k in kinds]
    report["drift_detected"] = bool(kinds)
    report["rows"] = {env: e["rows"] for env, e in report["environments"].items()}
    if pushgateway is not None:
        report["pushgateway"] = push(report, thresholds, pushgateway)
    write_summary(report, out)
    return report


def pushed_metrics(report: dict[str, Any], environment: str, thresholds: Thresholds) -> str:
    """One environment's group: its data-drift report's metrics, as the scoring server exposes
    them (driftmetrics). No traffic in the window: the thresholds, `model_drift_detected 0` and
    the time only, so the PUT clears the scores an earlier push left there."""
    from ..contracts import DataDriftReport
    from . import driftmetrics

    data = report["environments"][environment]["data"]
    if data is None:  # nothing compared
        data = {
            "generated_at": report["generated_at"],
            "timestamp": report["timestamp"],
            "rows": {"reference": 0, "current": 0},
            "thresholds": {"psi": thresholds.psi, "p_value": thresholds.p_value},
            "bins": thresholds.bins,
            "features": {},
            "drifted_features": [],
            "drift_detected": False,
        }
    return driftmetrics.exposition(DataDriftReport.build(data))


def push(report: dict[str, Any], thresholds: Thresholds, target: Target) -> dict[str, Any]:
    """PUT each environment's group (job="model-drift", model_name, environment); stops at the
    first failure. What was pushed, and the failure's one line, for drift.json."""
    from . import driftmetrics

    outcome: dict[str, Any] = {"url": target.url, "job": driftmetrics.PUSH_JOB, "pushed": []}
    outcome["error"] = None
    for env in report["environments"]:
        labels = {"model_name": report["model_name"], "environment": env}
        try:
            put(target, driftmetrics.PUSH_JOB, labels, pushed_metrics(report, env, thresholds))
        except PushError as exc:
            outcome["error"] = str(exc)
            break
        outcome["pushed"].append(env)
    return outcome


def write_summary(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """drift.json (contracts.LiveDriftReport) and drift.md; the report gains their `paths`."""
    from ..contracts import LiveDriftReport

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "drift.json", "md": out_dir / "drift.md"}
    LiveDriftReport.build(report).write(paths["json"])
    paths["md"].write_text(to_markdown(report), encoding="utf-8")
    report["paths"] = {k: str(v) for k, v in paths.items()}
    return paths


def kinds_title(kinds: Sequence[str]) -> str:
    """'Data drift', 'Concept drift', 'Data and concept drift'."""
    return (" and ".join(kinds) or "no").capitalize() + " drift"


def to_markdown(report: dict[str, Any]) -> str:
    from ..core import templates
    from .drift import TEMPLATES, _fmt, _rows

    env = templates.environment(TEMPLATES)
    env.filters["fmt"] = _fmt
    template = env.get_template("drift_live.md.j2")
    return template.render(
        report=report,
        title=kinds_title(report["kinds"]),
        summary=[_summary(name, e) for name, e in report["environments"].items()],
        feature_rows=_rows,
    )


def _summary(environment: str, e: dict[str, Any]) -> dict[str, Any]:
    """One environment's table row and sections, worded."""
    if e["data"] is None:
        return {"environment": environment, "rows": 0, "data": "-", "concept": "-", "report": None}
    data = e["data"]
    moved = data["drifted_features"] + (
        ["(prediction)"] if (data["prediction"] or {}).get("drifted") else []
    )
    quality = e["concept"]
    if CONCEPT in e["kinds"]:
        worse = [f"{v['model_version']} ({', '.join(v['degraded'])})" for v in quality["versions"]
                 if v["degraded"]]  # fmt: skip
        concept_text = "**yes**: version " + ", ".join(worse)
    elif not quality["judged"]:
        concept_text = f"not judged: {quality['why_not']}"
    else:
        labelled = sum(v["labelled"] for v in quality["versions"])
        needed = quality["min_labels"]
        concept_text = (
            f"no ({labelled} labelled)"
            if any(v["labelled"] >= needed for v in quality["versions"])
            else f"not judged: {labelled} labelled, {needed} needed"
        )
    return {
        "environment": environment,
        "rows": e["rows"],
        "data": ("**yes**: " + ", ".join(moved)) if DATA in e["kinds"] else "no",
        "concept": concept_text,
        "report": data,
        "versions": quality["versions"],
    }


def parse_holdout(items: Sequence[str], task: str) -> dict[str, float]:
    """`--holdout METRIC=VALUE` options: the production holdout figures, one line if wrong."""
    from .. import metrics as registry
    from ..errors import InputError

    known = registry.names(task, gate=True)
    found = {}
    for item in items:
        metric, sep, value = (part.strip() for part in item.partition("="))
        try:
            number = float(value) if sep else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or metric not in known:
            raise InputError(
                f"--holdout {item!r} is not METRIC=NUMBER with a metric of the task "
                f"({', '.join(known)})"
            )
        found[metric] = number
    return found
