"""The gate's thresholds, read from the project's gate.yaml and checked strictly.

```yaml
primary:
  metric: f1                 # f1 | roc_auc | accuracy | rmse | mae | r2
  direction: maximize        # optional; must agree with the metric when given
  min_value: 0.80            # maximize metrics: the candidate must reach at least this
  # max_value: 3.0           # minimize metrics: the candidate must stay at or below this
  max_regression: 0.01       # largest allowed drop against production, in metric units
guards:                      # optional, judged on point estimates
  - {metric: accuracy, min_value: 0.8, max_regression: 0.02}
bootstrap: {resamples: 1000, confidence: 0.95, seed: 42}
baseline:                    # optional: beat the naive model (majority class / mean) by a margin
  min_improvement: 0.05      # lower bound of the interval of the improvement over it: metric
                             # points for f1/accuracy/roc_auc/r2, a share of the naive model's
                             # error for rmse/mae (0.05: at least 5 % less error), so no units
target: target               # optional: the label column of the holdout
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import metrics as registry
from . import strictyaml
from .errors import ToolkitError
from .metrics import MAXIMIZE

# The metrics a gate may judge, with their direction (the metrics registry is the one source).
METRIC_DIRECTIONS = {name: registry.direction(name) for name in registry.names(gate=True)}


@dataclass(frozen=True)
class MetricRule:
    metric: str
    direction: str
    threshold: float | None  # min_value (maximize) or max_value (minimize)
    max_regression: float | None

    @property
    def bigger_is_better(self) -> bool:
        return self.direction == MAXIMIZE

    def meets_threshold(self, value: float) -> bool:
        if self.threshold is None:
            return True
        if math.isnan(value):
            return False
        return value >= self.threshold if self.bigger_is_better else value <= self.threshold

    def threshold_text(self) -> str:
        if self.threshold is None:
            return "none"
        return f"{'≥' if self.bigger_is_better else '≤'} {self.threshold:g}"


@dataclass(frozen=True)
class BaselineRule:
    """The candidate must beat the naive model scored on the same holdout by this margin."""

    min_improvement: float

    def required(self, metric: str, baseline_value: float) -> float:
        """The margin in the metric's units: relative for error metrics, points otherwise."""
        if registry.get(metric).relative_margin:
            return self.min_improvement * abs(baseline_value)
        return self.min_improvement


@dataclass(frozen=True)
class GateConfig:
    primary: MetricRule
    guards: tuple[MetricRule, ...] = ()
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 42
    target: str | None = None
    blocks: int = 1000
    auc_bins: int = 256
    baseline: BaselineRule | None = None
    extra: dict = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        return [self.primary.metric] + [g.metric for g in self.guards]

    @property
    def task(self) -> str:
        return registry.task_of(self.primary.metric)


def _number(where: str, value: object, *, positive: bool = False) -> float:
    # .inf passes isinstance and would end in OverflowError at int(): refused here, one line
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ToolkitError(f"gate config: {where} must be a finite number, got {value!r}")
    if positive and value < 0:
        raise ToolkitError(f"gate config: {where} must be >= 0, got {value!r}")
    return float(value)


def _rule(where: str, raw: object) -> MetricRule:
    if not isinstance(raw, dict):
        raise ToolkitError(f"gate config: {where} must be a mapping")
    allowed = {"metric", "direction", "min_value", "max_value", "max_regression"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ToolkitError(f"gate config: unknown key(s) in {where}: {', '.join(unknown)}")
    metric = raw.get("metric")
    if metric not in METRIC_DIRECTIONS:
        raise ToolkitError(
            f"gate config: {where}.metric must be one of {', '.join(METRIC_DIRECTIONS)}, "
            f"got {metric!r}"
        )
    direction = METRIC_DIRECTIONS[metric]
    if raw.get("direction", direction) != direction:
        raise ToolkitError(
            f"gate config: {where}.direction {raw['direction']!r} contradicts {metric} "
            f"({direction})"
        )
    wrong = "max_value" if direction == MAXIMIZE else "min_value"
    if wrong in raw:
        raise ToolkitError(
            f"gate config: {where}: {metric} is {direction}d; use "
            f"{'min_value' if wrong == 'max_value' else 'max_value'}, not {wrong}"
        )
    key = "min_value" if direction == MAXIMIZE else "max_value"
    threshold = _number(f"{where}.{key}", raw[key]) if raw.get(key) is not None else None
    regression = raw.get("max_regression")
    if regression is not None:
        regression = _number(f"{where}.max_regression", regression, positive=True)
    return MetricRule(metric, direction, threshold, regression)


def parse(data: object) -> GateConfig:
    if not isinstance(data, dict):
        raise ToolkitError("gate config: the file must hold a mapping")
    allowed = {"primary", "guards", "bootstrap", "target", "task", "baseline"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ToolkitError(f"gate config: unknown key(s): {', '.join(unknown)}")
    if "primary" not in data:
        raise ToolkitError("gate config: 'primary' is required")
    primary = _rule("primary", data["primary"])
    guards_raw = data.get("guards") or []
    if not isinstance(guards_raw, list):
        raise ToolkitError("gate config: 'guards' must be a list")
    guards = tuple(_rule(f"guards[{i}]", g) for i, g in enumerate(guards_raw))
    expected = registry.task_of(primary.metric)
    family = registry.names(expected, gate=True)
    for g in guards:
        if g.metric not in family:
            raise ToolkitError(
                f"gate config: guard {g.metric} does not fit a "
                f"{primary.metric} gate (use {', '.join(family)})"
            )
    task = data.get("task")
    if task is not None and task != expected:
        raise ToolkitError(f"gate config: task {task!r} does not match metric {primary.metric}")
    boot = data.get("bootstrap") or {}
    if not isinstance(boot, dict):
        raise ToolkitError("gate config: 'bootstrap' must be a mapping")
    unknown = sorted(set(boot) - {"resamples", "confidence", "seed", "blocks", "auc_bins"})
    if unknown:
        raise ToolkitError(f"gate config: unknown key(s) in bootstrap: {', '.join(unknown)}")
    resamples = int(_number("bootstrap.resamples", boot.get("resamples", 1000)))
    confidence = _number("bootstrap.confidence", boot.get("confidence", 0.95))
    if not 10 <= resamples <= 100_000:
        raise ToolkitError("gate config: bootstrap.resamples must be between 10 and 100000")
    if not 0.5 <= confidence < 1:
        raise ToolkitError("gate config: bootstrap.confidence must be in [0.5, 1)")
    target = data.get("target")
    if target is not None and not isinstance(target, str):
        raise ToolkitError("gate config: 'target' must be a column name")
    return GateConfig(
        baseline=_baseline(data.get("baseline")),
        primary=primary,
        guards=guards,
        resamples=resamples,
        confidence=confidence,
        seed=_seed(boot.get("seed", 42)),
        target=target,
        blocks=int(_number("bootstrap.blocks", boot.get("blocks", 1000), positive=True)) or 1,
        auc_bins=max(2, int(_number("bootstrap.auc_bins", boot.get("auc_bins", 256)))),
    )


def _seed(raw: object) -> int:
    """numpy seeds are integers in [0, 2**32): -1 or 1.5 would fail deep inside the bootstrap."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 2**32:
        raise ToolkitError(
            f"gate config: bootstrap.seed must be an integer in [0, 2**32), got {raw!r}"
        )
    return raw


def _baseline(raw: object) -> BaselineRule | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ToolkitError("gate config: 'baseline' must be a mapping")
    unknown = sorted(set(raw) - {"min_improvement"})
    if unknown:
        raise ToolkitError(f"gate config: unknown key(s) in baseline: {', '.join(unknown)}")
    if "min_improvement" not in raw:
        raise ToolkitError("gate config: baseline.min_improvement is required")
    margin = _number("baseline.min_improvement", raw["min_improvement"], positive=True)
    if margin >= 1:
        raise ToolkitError(
            "gate config: baseline.min_improvement must be below 1 (a share or metric points)"
        )
    return BaselineRule(margin)


def load(path: str | Path) -> GateConfig:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ToolkitError(f"gate config {p} not found")
    try:
        data = strictyaml.load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ToolkitError(f"gate config {p} is not UTF-8 text (byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if isinstance(exc, yaml.constructor.ConstructorError):  # e.g. a duplicate key
            raise ToolkitError(f"gate config {p}: {exc.problem}{where}") from exc
        raise ToolkitError(f"gate config {p} is not valid YAML{where}") from exc
    return parse(data)
