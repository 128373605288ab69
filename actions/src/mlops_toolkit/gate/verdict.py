"""The gate: candidate against production, on the same holdout, in the same process."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import contracts, names
from .. import metrics as registry
from ..errors import Rejected, ToolkitError
from ..tracking import client as tracking
from . import responsible, stats
from .config import GateConfig, MetricRule

COMPARE = "compare"
BOOTSTRAP = "bootstrap"  # no production model yet: absolute thresholds only


@dataclass
class Candidate:
    uri: str
    run_id: str | None
    name: str | None = None
    version: str | None = None


def candidate_from(uri: str | None, run_json: str | None) -> Candidate:
    """The candidate model, given directly as a URI or through the project's reports/run.json."""
    run_from_file = None
    if not uri and run_json:
        path = Path(run_json)
        if not path.is_file():
            raise ToolkitError(f"{path} not found: run `train` first or pass the candidate URI")
        run_file = contracts.RunFile.read(path)
        uri, run_from_file = run_file.model_uri, run_file.run_id
    if not uri:
        raise ToolkitError("no candidate model: give a model URI or a run.json")
    run_id = None
    name = version = None
    if uri.startswith("runs:/"):
        run_id = uri[len("runs:/") :].split("/", 1)[0]
    elif uri.startswith("models:/"):
        parts = uri[len("models:/") :].split("/")
        if len(parts) == 2 and parts[1].isdigit():
            name, version = parts
    return Candidate(uri, run_id or run_from_file, name, version)


def load_holdout(path: str, target: str) -> tuple[Any, Any]:
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ToolkitError(f"holdout {p} not found")
    try:
        frame = pd.read_csv(p) if p.suffix != ".parquet" else pd.read_parquet(p)
    except Exception as exc:
        raise ToolkitError(f"cannot read holdout {p}: {tracking.one_line(exc)}") from exc
    if target not in frame.columns:
        raise ToolkitError(f"holdout {p} has no target column '{target}'")
    if len(frame) == 0:
        raise ToolkitError(f"holdout {p} has no rows")
    missing = int(frame[target].isna().sum())
    if missing:  # sklearn's metrics would raise a ValueError about NaN deep in the bootstrap
        raise ToolkitError(
            f"holdout {p}: target column '{target}' has {missing} missing value(s): "
            "drop or label those rows"
        )
    return frame.drop(columns=[target]), frame[target].to_numpy()


def predictions(model: tracking.LoadedModel, features: Any, cfg: GateConfig) -> stats.Predictions:
    """Labels, and positive-class scores when ROC AUC is asked for (one model call either way)."""
    import numpy as np

    scored = _score_metric(cfg)
    if scored is None:
        return stats.Predictions(labels=model.predict(features))
    if model.linear_binary():
        # ROC AUC depends only on the ranking, and decision values rank as the probabilities
        # do (without their saturation at 0 and 1); labels are exactly what predict() returns.
        values, classes = model.decision(features)
        return stats.Predictions(labels=classes[(values > 0).astype(np.intp)], scores=values)
    if not model.has_proba():
        raise ToolkitError(f"{scored} needs predict_proba, which {model.uri} does not offer")
    proba, classes = model.predict_proba(features)
    if proba.ndim != 2 or proba.shape[1] != 2:
        raise ToolkitError(f"{scored} needs a binary classifier")
    # predict() of scikit-learn classifiers is the argmax of predict_proba.
    return stats.Predictions(labels=classes[np.argmax(proba, axis=1)], scores=proba[:, 1])


def _score_metric(cfg: GateConfig) -> str | None:
    """The first metric of the gate read from positive-class scores (ROC AUC), if any."""
    return next((m for m in cfg.metrics if registry.get(m).source == registry.SCORES), None)


def decision_rule(cfg: GateConfig, mode: str) -> str:
    p = cfg.primary
    level = f"{cfg.confidence:.0%}"
    rule = f"candidate {p.metric} {p.threshold_text()}" if p.threshold is not None else ""
    if mode == COMPARE and p.max_regression is not None:
        clause = (
            f"the lower bound of the {level} paired-bootstrap interval of the improvement "
            f"in {p.metric} over production ≥ -{p.max_regression:g}"
        )
        rule = f"{rule} and {clause}" if rule else clause
    if cfg.baseline is not None:
        clause = (
            f"it beats the naive model (majority class or mean) by the lower bound of the "
            f"{level} interval of its improvement ≥ {cfg.baseline.min_improvement:g}"
            + (" of the naive error" if registry.get(p.metric).relative_margin else "")
        )
        rule = f"{rule} and {clause}" if rule else clause
    guards = [g.metric for g in cfg.guards]
    if guards:
        rule += f"; guards ({', '.join(guards)}) on point estimates"
    asked = [name for name, on in (("slices", cfg.slices), ("robustness", cfg.robustness)) if on]
    if asked:
        rule += f"; the {' and '.join(asked)} rules of gate.yaml hold"
    if mode == BOOTSTRAP:
        also = " and the naive model" if cfg.baseline is not None else ""
        rule += f" (first model: no production model yet, absolute thresholds{also} only)"
    return rule or "no thresholds configured"


def _check(rule: MetricRule, result: stats.MetricResult, mode: str, primary: bool) -> list[dict]:
    checks = []
    cand = result.values[0]
    if rule.threshold is not None:
        checks.append(
            {
                "name": f"{rule.metric} {rule.threshold_text()}",
                "passed": rule.meets_threshold(cand),
                "value": cand,
            }
        )
    if mode == COMPARE and rule.max_regression is not None:
        measured = result.diff_ci[0] if primary else result.diff
        ok = measured is not None and not math.isnan(measured) and measured >= -rule.max_regression
        what = "CI lower bound of improvement" if primary else "improvement"
        checks.append(
            {
                "name": f"{rule.metric} {what} ≥ -{rule.max_regression:g}",
                "passed": bool(ok),
                "value": measured,
            }
        )
    return checks


def decide(cfg: GateConfig, results: dict[str, stats.MetricResult], mode: str) -> list[dict]:
    checks = _check(cfg.primary, results[cfg.primary.metric], mode, primary=True)
    for guard in cfg.guards:
        checks += _check(guard, results[guard.metric], mode, primary=False)
    return checks


def score(
    cfg: GateConfig,
    features: Any,
    cand: tracking.LoadedModel,
    prod: tracking.LoadedModel | None,
) -> tuple[list[stats.Predictions], dict[str, float]]:
    """Both models' predictions on the holdout (candidate first) and their timings (seconds)."""
    timings = {}
    start = time.perf_counter()
    preds = [predictions(cand, features, cfg)]
    timings["predict_candidate"] = time.perf_counter() - start
    if prod is not None:
        start = time.perf_counter()
        preds.append(predictions(prod, features, cfg))
        timings["predict_production"] = time.perf_counter() - start
    return preds, timings


def evaluate(
    cfg: GateConfig,
    features: Any,
    y: Any,
    cand: tracking.LoadedModel,
    prod: tracking.LoadedModel | None,
) -> tuple[dict[str, stats.MetricResult], dict[str, float]]:
    """Score both models and run the bootstrap; returns results and timings (seconds)."""
    preds, timings = score(cfg, features, cand, prod)
    return bootstrap(cfg, y, preds, timings), timings


def bootstrap(
    cfg: GateConfig, y: Any, preds: list[stats.Predictions], timings: dict[str, float]
) -> dict[str, stats.MetricResult]:
    start = time.perf_counter()
    results = stats.evaluate(
        cfg.metrics,
        y,
        preds,
        **cfg.resampling,
    )
    timings["metrics_and_bootstrap"] = time.perf_counter() - start
    return results


def naive(cfg: GateConfig, y: Any) -> tuple[stats.Predictions, str]:
    """The model that ignores the features: the majority class, or the mean of the target.

    Taken from the holdout itself, it is the strongest constant model there, so beating it is
    a statement about the features, in whatever units the target has.
    """
    import numpy as np

    y = np.asarray(y)
    if cfg.task == "classification":
        values, counts = np.unique(y, return_counts=True)
        majority = values[np.argmax(counts)]
        scores = np.full(len(y), 0.5) if _score_metric(cfg) else None
        return stats.Predictions(
            labels=np.repeat(values[[np.argmax(counts)]], len(y)), scores=scores
        ), f"majority class {_plain(majority)!r}"
    mean = float(np.mean(y))
    return stats.Predictions(labels=np.full(len(y), mean)), f"mean {mean:.6g}"


def _plain(value: Any) -> Any:
    """A numpy scalar as Python's own (1, not np.int64(1)); strings stay as they are."""
    return value.item() if hasattr(value, "item") else value


def against_baseline(cfg: GateConfig, y: Any, candidate: stats.Predictions) -> dict | None:
    """The candidate against the naive model, paired on the same resamples; None when off."""
    if cfg.baseline is None:
        return None
    metric = cfg.primary.metric
    baseline, what = naive(cfg, y)
    result = stats.evaluate(
        [metric],
        y,
        [candidate, baseline],
        **cfg.resampling,
    )[metric]
    required = cfg.baseline.required(metric, result.values[1])
    lower = result.diff_ci[0]
    return {
        "model": what,
        "value": result.values[1],
        "improvement": result.diff,
        "improvement_ci": list(result.diff_ci),
        "required": required,
        "check": {
            "name": f"{metric} CI lower bound of improvement over the naive model ({what}) "
            f"≥ {required:g}",
            "passed": bool(not math.isnan(lower) and lower >= required),
            "value": lower,
        },
    }


def verdict_dict(
    cfg: GateConfig,
    mode: str,
    candidate: Candidate,
    production: tracking.Version | None,
    results: dict[str, stats.MetricResult] | None,
    checks: list[dict],
    rows: int,
    reason: str | None = None,
) -> dict:
    passed = reason is None and all(c["passed"] for c in checks)
    out = {
        "passed": passed,
        "mode": mode,
        "decision_rule": decision_rule(cfg, mode),
        "reason": reason,
        "candidate": {
            "uri": candidate.uri,
            "run_id": candidate.run_id,
            "version": candidate.version,
        },
        "production": None
        if production is None
        else {"uri": production.uri, "version": production.version, "run_id": production.run_id},
        "rows": rows,
        "primary_metric": cfg.primary.metric,
        "direction": cfg.primary.direction,
        "bootstrap": {"resamples": cfg.resamples, "confidence": cfg.confidence, "seed": cfg.seed},
        "checks": checks,
        "metrics": {},
    }
    for name, r in (results or {}).items():
        entry = {"candidate": r.values[0], "candidate_ci": list(r.ci[0])}
        if len(r.values) > 1:
            entry.update(
                production=r.values[1],
                production_ci=list(r.ci[1]),
                improvement=r.diff,
                improvement_ci=list(r.diff_ci),
            )
        out["metrics"][name] = entry
    return out


def record(mlflow_client: Any, candidate: Candidate, verdict: dict) -> None:
    """The verdict as tags on the candidate run and, when it is registered, its version."""
    primary = verdict["metrics"].get(verdict["primary_metric"], {})
    tags = {
        names.TAG_GATE_PASSED: str(verdict["passed"]).lower(),
        names.TAG_GATE_MODE: verdict["mode"],
        names.TAG_GATE_BASELINE: (verdict["production"] or {}).get("version") or "none",
        names.TAG_GATE_SUMMARY: summary_line(verdict)[:4000],
    }
    for key in ("candidate", "production", "improvement"):
        if key in primary and primary[key] is not None:
            key_name = f"{names.TAG_GATE_PREFIX}{verdict['primary_metric']}.{key}"
            tags[key_name] = f"{primary[key]:.6g}"
    if "improvement_ci" in primary:
        lo, hi = primary["improvement_ci"]
        tags[f"{names.TAG_GATE_PREFIX}{verdict['primary_metric']}.improvement_ci"] = (
            f"[{lo:.6g}, {hi:.6g}]"
        )
    try:
        if candidate.run_id:
            for key, value in tags.items():
                mlflow_client.set_tag(candidate.run_id, key, value)
        if candidate.name and candidate.version:
            for key, value in tags.items():
                mlflow_client.set_model_version_tag(candidate.name, candidate.version, key, value)
    except Exception as exc:
        raise ToolkitError(f"cannot record the gate verdict: {tracking.one_line(exc)}") from exc


def summary_line(verdict: dict) -> str:
    state = "PASSED" if verdict["passed"] else "FAILED"
    if verdict.get("reason"):
        return f"gate {state}: {verdict['reason']}"
    m = verdict["metrics"].get(verdict["primary_metric"], {})
    text = f"gate {state} ({verdict['mode']}): {verdict['primary_metric']}="
    text += f"{m.get('candidate', float('nan')):.4f}"
    if "production" in m:
        lo, hi = m["improvement_ci"]
        text += (
            f" vs production {m['production']:.4f}, improvement {m['improvement']:+.4f}"
            f" CI [{lo:+.4f}, {hi:+.4f}]"
        )
    return "; ".join([text, *responsible.failures(verdict)])


def run(
    *,
    config: str,
    holdout: str,
    model_name: str,
    candidate: Candidate,
    target: str | None = None,
) -> dict:
    """The whole gate. Returns the verdict; raises ToolkitError when it cannot judge at all."""
    cfg = load_config(config)
    mlflow_client = tracking.client()
    features, y = load_holdout(holdout, target or cfg.target or "target")
    try:
        cand = tracking.LoadedModel(candidate.uri)
    except ToolkitError:
        raise
    except Exception as exc:
        raise ToolkitError(
            f"cannot load candidate {candidate.uri}: {tracking.one_line(exc)}"
        ) from exc
    if candidate.run_id is None:
        candidate.run_id = tracking.source_run(mlflow_client, candidate.uri)
    production = tracking.version_by_alias(mlflow_client, model_name, names.PRODUCTION)
    prod = None
    mode = BOOTSTRAP if production is None else COMPARE
    if production is not None:
        try:
            prod = tracking.LoadedModel(production.uri)
        except Exception as exc:
            reason = (
                f"production model {production.uri} could not be loaded "
                f"({tracking.one_line(exc)}); failing closed"
            )
            verdict = verdict_dict(cfg, mode, candidate, production, None, [], len(y), reason)
            record(mlflow_client, candidate, verdict)
            return verdict
    preds, timings = score(cfg, features, cand, prod)
    results = bootstrap(cfg, y, preds, timings)
    checks = decide(cfg, results, mode)
    baseline = against_baseline(cfg, y, preds[0])
    if baseline is not None:
        checks.append(baseline.pop("check"))
    section = responsible.evaluate(cfg, features, y, preds[0], lambda f: predictions(cand, f, cfg))
    checks += responsible.verdict_checks(section)
    verdict = verdict_dict(cfg, mode, candidate, production, results, checks, len(y))
    verdict["baseline"] = baseline
    verdict["responsible"] = responsible.as_dict(section)
    verdict["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    record(mlflow_client, candidate, verdict)
    return verdict


def load_config(path: str) -> GateConfig:
    from . import config as gate_config

    return gate_config.load(path)


def reject_if_failed(verdict: dict) -> None:
    if not verdict["passed"]:
        raise Rejected(summary_line(verdict))
