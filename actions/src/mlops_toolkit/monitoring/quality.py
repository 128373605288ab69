"""Live quality: predictions joined with their labels, per model version and window.

For every (model version, environment) with predictions in the longest window, and every window:
- the task's metrics on the labelled predictions, with the gate's bootstrap interval (the same
  statistics, resamples, confidence and seed as gate.yaml: `gate.stats.evaluate`);
- label coverage (labelled / scored) and label delay (label time - prediction time, p50, p90);
- for classifiers, an ESTIMATE from the model's own probabilities while labels are pending
  (confidence-based performance estimation, as NannyML's CBPE): each row counts as class c with
  the probability the model gave c, which fills an expected confusion matrix (accuracy, F1) and an
  expected Mann-Whitney count (ROC AUC). It assumes calibrated probabilities; the same estimate
  on the labelled rows, minus the measured value, says how far it is off where truth is known.
The reference is the production version's holdout figure (registry tags of `register`) minus the
gate's margin (gate.yaml max_regression): the threshold the alert compares the interval with.
Every figure goes to the store's evaluation history, to a Prometheus textfile and, when asked,
to a Pushgateway (one group per model and environment, replaced on each push); the reports are
quality.json (contracts.QualityReport) and quality.md (templates/quality.md.j2).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import metrics as registry
from .. import names
from ..contracts import MeasuredMetric, QualityFigures, QualityReport
from ..errors import ToolkitError
from . import pushgateway
from .store import Evaluation, Joined, PredictionStore

TEMPLATES = Path(__file__).with_name("templates")
PUSH_JOB = "model-quality"
PREFIX = "model_quality_"


@dataclass(frozen=True)
class Settings:
    windows: tuple[tuple[str, float], ...]  # (label as given, seconds), shortest first
    task: str
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 42
    min_labels: int = 50
    label_delay: float = 7 * 86400.0  # seconds without a label before LabelsStale
    margins: dict[str, float] = field(default_factory=dict)  # metric -> gate's max_regression
    holdout: dict[str, float] = field(default_factory=dict)  # metric -> production's figure

    def threshold(self, metric: str) -> float | None:
        """The production holdout figure moved by the gate's margin, in the worse direction."""
        if metric not in self.holdout or metric not in self.margins:
            return None
        sign = -1.0 if registry.higher_is_better(metric) else 1.0
        return self.holdout[metric] + sign * self.margins[metric]


def figures(
    settings: Settings,
    name: str,
    version: str,
    env: str,
    window: str,
    predictions: int,
    labelled: int,
    *,
    delays: tuple[float, float] | None = None,
    measured: dict[str, MeasuredMetric] | None = None,
    estimated: dict[str, float] | None = None,
    estimate_error: dict[str, float] | None = None,
) -> QualityFigures:
    """One model version, environment and window, as quality.json records it
    (contracts.QualityFigures), judged against `settings` once, here."""
    measured = measured or {}
    return QualityFigures(
        name,
        version,
        env,
        window,
        predictions,
        labelled,
        labelled / predictions if predictions else 0.0,
        *(delays or (None, None)),
        measured=measured,
        estimated=estimated or {},
        estimate_error=estimate_error or {},
        degraded=degraded(measured, labelled, settings),
    )


def degraded(measured: dict[str, MeasuredMetric], labelled: int, settings: Settings) -> list[str]:
    """Metrics whose whole interval is beyond the threshold, on enough labels."""
    if labelled < settings.min_labels:
        return []
    worse = []
    for metric, m in measured.items():
        limit = settings.threshold(metric)
        if limit is None:
            continue
        hib = registry.higher_is_better(metric)
        if (hib and m.upper < limit) or (not hib and m.lower > limit):
            worse.append(metric)
    return worse


@dataclass
class Report:
    ts: float
    settings: Settings
    figures: list[QualityFigures]
    last_label: dict[tuple[str, str], float]  # (model, environment) -> newest label time
    first_prediction: dict[tuple[str, str], float]  # (model, environment) -> oldest prediction


# --- the evaluation ------------------------------------------------------------------------------


def evaluate(
    store: PredictionStore,
    model_name: str,
    settings: Settings,
    *,
    environment: str | None = None,
    now: float | None = None,
) -> Report:
    now = time.time() if now is None else now
    longest = max(seconds for _, seconds in settings.windows)
    report = Report(now, settings, [], {}, {})
    fresh: dict[str, dict[str, tuple[float, float | None]]] = {}
    for name, version, env in store.model_versions(model_name, since=now - longest):
        if environment and env != environment:
            continue
        rows = store.read_joined(name, version, environment=env, since=now - longest, until=now)
        if not rows:
            continue
        key = (name, env)
        # Over the whole store, not the window: a label may come weeks after its prediction,
        # and with the window's own first prediction LabelsStale could never pass its limit.
        if name not in fresh:
            fresh[name] = store.freshness(name)
        first, last_label = fresh[name].get(env, (min(r.prediction.ts for r in rows), None))
        report.first_prediction[key] = first
        if last_label is not None:
            report.last_label[key] = last_label
        for label, seconds in settings.windows:
            inside = [r for r in rows if r.prediction.ts >= now - seconds]
            if inside:
                report.figures.append(window_figures(inside, settings, name, version, env, label))
    return report


def window_figures(
    rows: list[Joined], settings: Settings, name: str, version: str, env: str, window: str
) -> QualityFigures:
    labelled = [r for r in rows if r.labelled]
    delays, measured, estimated, estimate_error = None, {}, {}, {}
    if labelled:
        import numpy as np

        waited = np.maximum([r.labelled_at - r.prediction.ts for r in labelled], 0.0)
        p50, p90 = (float(q) for q in np.quantile(waited, [0.5, 0.9]))
        delays = (p50, p90)
        measured = measure(labelled, settings)
    if settings.task == registry.CLASSIFICATION:
        estimated = estimate(rows)
        on_labelled = estimate(labelled) if labelled else {}
        estimate_error = {
            m: on_labelled[m] - measured[m].value
            for m in on_labelled
            if m in measured and math.isfinite(measured[m].value)
        }
    return figures(
        settings,
        name,
        version,
        env,
        window,
        len(rows),
        len(labelled),
        delays=delays,
        measured=measured,
        estimated=estimated,
        estimate_error=estimate_error,
    )


def measure(labelled: list[Joined], settings: Settings) -> dict[str, MeasuredMetric]:
    """The task's metrics with the gate's bootstrap interval, on labelled rows."""
    import numpy as np

    from ..gate import stats

    y = np.asarray([r.label for r in labelled])
    pred = np.asarray([r.prediction.prediction for r in labelled])
    wanted = list(registry.names(settings.task, gate=True))
    scores = None
    if settings.task == registry.CLASSIFICATION:
        if len(np.unique(np.concatenate([y.astype(str), pred.astype(str)]))) < 2:
            wanted = []  # one class seen: no metric means anything yet
        scores = _positive_scores(labelled)
        sources = {m: registry.get(m).source for m in wanted}
        if scores is None or len(np.unique(y.astype(str))) != 2:
            wanted = [m for m in wanted if sources[m] != registry.SCORES]
    if not wanted:
        return {}
    try:
        results = stats.evaluate(
            wanted,
            y,
            [stats.Predictions(labels=pred, scores=scores)],
            resamples=settings.resamples,
            confidence=settings.confidence,
            seed=settings.seed,
        )
    except ToolkitError as exc:
        raise ToolkitError(f"cannot measure {', '.join(wanted)}: {exc}") from None
    return {
        m: MeasuredMetric(r.values[0], r.ci[0][0], r.ci[0][1])
        for m, r in results.items()
        if math.isfinite(r.values[0])
    }


# --- confidence-based performance estimation (classifiers) -------------------------------------


def _classes(rows: list[Joined]) -> list[str] | None:
    """Class names in sorted order (numbers numerically), from the scores' keys and predictions;
    None when a row has no probabilities."""
    keys: set[str] = set()
    for r in rows:
        if not r.prediction.scores:
            return None
        keys |= set(r.prediction.scores)
    keys |= {str(r.prediction.prediction) for r in rows}

    def order(key: str) -> tuple[int, float, str]:
        try:
            return (0, float(key), key)
        except ValueError:
            return (1, 0.0, key)

    return sorted(keys, key=order)


def _probabilities(rows: list[Joined], classes: list[str]):
    import numpy as np

    index = {c: i for i, c in enumerate(classes)}
    probs = np.zeros((len(rows), len(classes)))
    for i, r in enumerate(rows):
        for c, p in (r.prediction.scores or {}).items():
            probs[i, index[c]] = float(p)
    return probs


def _positive_scores(rows: list[Joined]):
    """The larger class's probability per row (binary), as the gate's ROC AUC reads it."""
    classes = _classes(rows)
    if classes is None or len(classes) != 2:
        return None
    return _probabilities(rows, classes)[:, 1]


def estimate(rows: list[Joined]) -> dict[str, float]:
    """Expected metrics from the predicted probabilities alone (no label is read)."""
    import numpy as np

    classes = _classes(rows)
    if not rows or classes is None or len(classes) < 2:
        return {}
    probs = _probabilities(rows, classes)
    k = len(classes)
    predicted = np.asarray([classes.index(str(r.prediction.prediction)) for r in rows])
    # Expected confusion: row i adds probs[i, c] to (true c, predicted ŷ_i).
    confusion = np.zeros((k, k))
    np.add.at(confusion.T, predicted, probs)
    positive = k - 1 if k == 2 else None
    out = {}
    for m in registry.names(registry.CLASSIFICATION, gate=True):
        metric = registry.get(m)
        if metric.source == registry.LABELS:
            out[m] = float(metric.from_blocks(confusion, positive))
        elif metric.source == registry.SCORES and k == 2:
            out[m] = expected_auc(probs[:, 1])
    return {m: v for m, v in out.items() if math.isfinite(v)}


def expected_auc(p) -> float:
    """Mann-Whitney AUC expected when row i is positive with probability p_i (its own score):
    every ordered pair (i, j), i != j, counts p_i (1 - p_j) for s_i > s_j, half of it for a tie."""
    import numpy as np

    p = np.asarray(p, dtype=float)
    values, groups = np.unique(p, return_inverse=True)
    pos = np.bincount(groups, weights=p, minlength=len(values))
    neg = np.bincount(groups, weights=1 - p, minlength=len(values))
    below = np.cumsum(neg) - neg
    self_pairs = float((p * (1 - p)).sum())  # a row paired with itself is no pair
    u = float((pos * (below + 0.5 * neg)).sum()) - 0.5 * self_pairs
    total = float(pos.sum() * neg.sum()) - self_pairs
    return u / total if total > 0 else float("nan")


# --- outputs ---------------------------------------------------------------------------------


# History rows beside the metrics' own: how much was labelled and how late, and how far the
# estimate was off where labels arrived (`<metric>` + ESTIMATE_ERROR, estimate - measured).
COVERAGE = "label_coverage"
DELAY_P50 = "label_delay_p50_seconds"
DELAY_P90 = "label_delay_p90_seconds"
ESTIMATE_ERROR = ":estimate_error"


def history_rows(report: Report) -> list[Evaluation]:
    rows = []
    for f in report.figures:
        base = dict(
            ts=report.ts,
            model_name=f.model_name,
            model_version=f.model_version,
            environment=f.environment,
            window=f.window,
        )
        rows.append(Evaluation(**base, metric=COVERAGE, value=f.coverage, n=f.predictions))
        for name, delay in ((DELAY_P50, f.delay_p50), (DELAY_P90, f.delay_p90)):
            if delay is not None:
                rows.append(Evaluation(**base, metric=name, value=delay, n=f.labelled))
        for metric, m in f.measured.items():
            rows.append(Evaluation(**base, metric=metric, value=m.value, lower=m.lower,
                                   upper=m.upper, n=f.labelled))  # fmt: skip
        for metric, value in f.estimated.items():
            rows.append(
                Evaluation(**base, metric=metric, value=value, n=f.predictions, estimated=True)
            )
        for metric, error in f.estimate_error.items():
            rows.append(
                Evaluation(**base, metric=metric + ESTIMATE_ERROR, value=error, n=f.labelled)
            )
    return rows


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, labels: dict[str, str], value: float) -> str:
    inside = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{PREFIX}{name}{{{inside}}} {value!r}"


HELP = {
    "value": "live metric measured on labelled predictions (point estimate)",
    "lower": "lower bound of the live metric's bootstrap confidence interval",
    "upper": "upper bound of the live metric's bootstrap confidence interval",
    "estimated": "ESTIMATE, not a measurement: expected metric from the model's own "
    "probabilities (confidence-based performance estimation), over every prediction",
    "estimate_error": "estimate minus measured value, on the labelled predictions",
    "predictions": "predictions scored in the window",
    "labels": "predictions of the window with a label",
    "label_coverage": "share of the window's predictions with a label",
    "label_delay_seconds": "label time minus prediction time",
    "holdout": "the production version's holdout figure (registry)",
    "threshold": "holdout figure moved by the gate's margin (max_regression): the alert's limit",
    "min_labels": "labels a window needs before its interval may raise an alert",
    "label_delay_limit_seconds": "longest expected wait for a label (LabelsStale)",
    "last_label_timestamp_seconds": "when the newest label arrived",
    "first_prediction_timestamp_seconds": "the oldest prediction of the longest window",
    "last_run_timestamp_seconds": "when the monitor last evaluated",
}
GAUGE_ORDER = tuple(HELP)


def exposition(report: Report, model_name: str, environment: str) -> str:
    """The Prometheus text of one (model, environment) group: what is pushed or written."""
    s = report.settings
    series: dict[str, list[str]] = {k: [] for k in GAUGE_ORDER}
    versions = set()
    for f in report.figures:
        if (f.model_name, f.environment) != (model_name, environment):
            continue
        versions.add(f.model_version)
        base = {"model_name": model_name, "model_version": f.model_version}
        base |= {"environment": environment, "window": f.window}
        for metric, m in f.measured.items():
            for kind, value in (("value", m.value), ("lower", m.lower), ("upper", m.upper)):
                series[kind].append(_line(kind, {**base, "metric": metric}, value))
        for metric, value in f.estimated.items():
            series["estimated"].append(_line("estimated", {**base, "metric": metric}, value))
        for metric, value in f.estimate_error.items():
            labels = {**base, "metric": metric}
            series["estimate_error"].append(_line("estimate_error", labels, value))
        series["predictions"].append(_line("predictions", base, f.predictions))
        series["labels"].append(_line("labels", base, f.labelled))
        series["label_coverage"].append(_line("label_coverage", base, f.coverage))
        for q, value in (("0.5", f.delay_p50), ("0.9", f.delay_p90)):
            if value is not None:
                labels = {**base, "quantile": q}
                series["label_delay_seconds"].append(_line("label_delay_seconds", labels, value))
    group = {"model_name": model_name, "environment": environment}
    for version in sorted(versions):
        for metric, figure in s.holdout.items():
            labels = {**group, "model_version": version, "metric": metric}
            series["holdout"].append(_line("holdout", labels, figure))
            limit = s.threshold(metric)
            if limit is not None:
                labels |= {"direction": registry.direction(metric)}
                series["threshold"].append(_line("threshold", labels, limit))
    series["min_labels"].append(_line("min_labels", group, s.min_labels))
    series["label_delay_limit_seconds"].append(
        _line("label_delay_limit_seconds", group, s.label_delay)
    )
    key = (model_name, environment)
    if key in report.last_label:
        series["last_label_timestamp_seconds"].append(
            _line("last_label_timestamp_seconds", group, report.last_label[key])
        )
    if key in report.first_prediction:
        series["first_prediction_timestamp_seconds"].append(
            _line("first_prediction_timestamp_seconds", group, report.first_prediction[key])
        )
    series["last_run_timestamp_seconds"].append(
        _line("last_run_timestamp_seconds", group, report.ts)
    )
    out = []
    for kind in GAUGE_ORDER:
        if series[kind]:
            out += [f"# HELP {PREFIX}{kind} {HELP[kind]}", f"# TYPE {PREFIX}{kind} gauge"]
            out += series[kind]
    return "\n".join(out) + "\n"


def groups(report: Report) -> list[tuple[str, str]]:
    return sorted({(f.model_name, f.environment) for f in report.figures})


def push(
    target: pushgateway.Target, model_name: str, environment: str, text: str, timeout: float = 10
) -> None:
    """PUT one (model, environment) group to the Pushgateway: it replaces what the last push of
    the group held."""
    labels = {"model_name": model_name, "environment": environment}
    pushgateway.push(target, PUSH_JOB, labels, text, timeout=timeout)


def to_json(report: Report) -> dict[str, Any]:
    """quality.json's content (contracts.QualityReport), without its schema."""
    return {
        "ts": report.ts,
        "settings": {
            **asdict(report.settings),
            "windows": [w for w, _ in report.settings.windows],
            "thresholds": {m: report.settings.threshold(m) for m in report.settings.holdout},
        },
        "figures": [asdict(f) for f in report.figures],
        "last_label": {f"{m}/{e}": t for (m, e), t in report.last_label.items()},
    }


def to_markdown(report: Report) -> str:
    """quality.md, from templates/quality.md.j2 (core/templates.py)."""
    from ..core import templates

    env = templates.environment(TEMPLATES)
    env.filters["formatted"] = format
    env.filters["duration"] = _duration
    template = env.get_template("quality.md.j2")
    return template.render(settings=report.settings, rows=_rows(report))


def _rows(report: Report) -> list[dict[str, Any]]:
    """One table row per figures and metric (measured or estimated; "-" for neither)."""
    rows = []
    for f in report.figures:
        for metric in list(dict.fromkeys([*f.measured, *f.estimated])) or ["-"]:
            rows.append(
                {
                    "figures": f,
                    "metric": metric,
                    "measured": f.measured.get(metric),
                    "degraded": metric in f.degraded,
                    "estimate": f.estimated.get(metric),
                    "off": f.estimate_error.get(metric),
                    "limit": report.settings.threshold(metric),
                }
            )
    return rows


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def write_reports(report: Report, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"quality.{kind}" for kind in ("json", "md", "prom")}
    QualityReport.build(to_json(report)).write(paths["json"])
    paths["md"].write_text(to_markdown(report), encoding="utf-8")
    text = "".join(exposition(report, m, e) for m, e in groups(report))
    paths["prom"].write_text(_merge_help(text), encoding="utf-8")
    return paths


def _merge_help(text: str) -> str:
    """One HELP/TYPE per metric in a textfile that holds several groups (node-exporter's rule)."""
    seen: set[str] = set()
    by_name: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        by_name.setdefault(line.split("{", 1)[0], []).append(line)
    out = []
    for name, lines in by_name.items():
        if name not in seen:
            kind = name[len(PREFIX) :]
            out += [f"# HELP {name} {HELP[kind]}", f"# TYPE {name} gauge"]
            seen.add(name)
        out += lines
    return "\n".join(out) + "\n"


# --- the reference: the production version's holdout figures ------------------------------------


def holdout_figures(model_name: str, metrics: list[str]) -> tuple[str, dict[str, float]]:
    """(production version, {metric: holdout figure}) from the registry: the tags `register`
    copies from the evaluation run (`mlops.metric.holdout_<metric>`). ("", {}) without one."""
    from ..tracking import client as tracking

    mlflow_client = tracking.client()
    version = tracking.version_by_alias(mlflow_client, model_name, names.PRODUCTION)
    if version is None:
        return "", {}
    found = {}
    for metric in metrics:
        raw = version.tags.get(f"{names.TAG_METRIC_PREFIX}holdout_{metric}")
        try:
            found[metric] = float(raw) if raw is not None else math.nan
        except ValueError:
            found[metric] = math.nan
    return version.version, {m: v for m, v in found.items() if math.isfinite(v)}
