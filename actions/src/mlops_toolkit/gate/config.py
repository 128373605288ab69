"""The gate's thresholds, read from the project's gate.yaml and checked strictly (gate_schema).

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
slices:                      # optional: the candidate per slice (fairlearn's MetricFrame)
  columns: [student]         # sensitive or segment columns, each judged on its own
  metric: f1                 # optional: default the primary metric
  min_value: 0.5             # the worst slice (max_value for minimized metrics)
  evidence: estimate         # or interval: fail only when the worst slice's whole CI misses
  max_gap: 0.10              # largest difference between two slices
  min_rows: 30               # smaller slices are shown, never judged
  bins: 4                    # a numeric column with more values: quantile bins
robustness:                  # optional: the candidate's predictions under perturbations
  noise: 0.05                # noise on numeric features: 5 % of each column's SD
  missing: true              # also set the optional columns to missing
  max_changed: 0.05          # share of predictions that may change
  max_drop: 0.02             # optional: drop of the primary metric, in its units
  numeric: [balance]         # optional: default params.yaml's data.roles (else inferred)
  optional: [income]         # optional: default the columns the suite lets be missing
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import metrics as registry
from ..core import strictyaml
from ..errors import ToolkitError
from ..metrics import MAXIMIZE

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
class SliceRule:
    """gate.yaml's slices: the candidate's metric on each value of each column."""

    columns: tuple[str, ...]
    metric: str
    threshold: float | None = None  # the worst slice: min_value (maximize) or max_value
    evidence: str = "estimate"  # or "interval": the worst slice's whole CI must miss
    max_gap: float | None = None
    min_rows: int = 30
    bins: int = 4

    @property
    def rule(self) -> MetricRule:
        return MetricRule(self.metric, registry.direction(self.metric), self.threshold, None)


@dataclass(frozen=True)
class RobustnessRule:
    """gate.yaml's robustness: predictions under numeric noise and missing optional values."""

    noise: float = 0.05
    missing: bool = True
    max_changed: float | None = 0.05
    max_drop: float | None = None
    regression_change: float = 0.1
    numeric: tuple[str, ...] | None = None  # None: the data contract's
    optional: tuple[str, ...] | None = None
    params: str = "params.yaml"


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
    slices: SliceRule | None = None
    robustness: RobustnessRule | None = None
    extra: dict = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        return [self.primary.metric] + [g.metric for g in self.guards]

    @property
    def task(self) -> str:
        return registry.task_of(self.primary.metric)

    @property
    def resampling(self) -> dict[str, Any]:
        """The bootstrap's settings, as stats.evaluate takes them (one resampling for every
        interval the gate shows: verdict, baseline, slices, robustness)."""
        return {
            "resamples": self.resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "blocks": self.blocks,
            "auc_bins": self.auc_bins,
        }


def parse(data: object) -> GateConfig:
    """gate.yaml's content (as YAML gives it) checked by gate_schema's models: one line if not."""
    from . import schema as gate_schema  # pydantic: loaded when a gate is read, never for --help

    model = gate_schema.validate(data)
    boot = model.bootstrap or gate_schema.Bootstrap()
    return GateConfig(
        primary=_rule(model.primary),
        guards=tuple(_rule(g) for g in model.guards or ()),
        resamples=int(boot.resamples),
        confidence=boot.confidence,
        seed=boot.seed,
        target=model.target,
        blocks=int(boot.blocks) or 1,
        auc_bins=max(2, int(boot.auc_bins)),
        baseline=BaselineRule(model.baseline.min_improvement) if model.baseline else None,
        slices=_slices(model.slices, model.primary.metric) if model.slices else None,
        robustness=_robustness(model.robustness) if model.robustness else None,
    )


def _slices(raw: Any, primary: str) -> SliceRule:
    metric = raw.metric or primary
    bound = raw.min_value if registry.higher_is_better(metric) else raw.max_value
    return SliceRule(
        tuple(raw.columns), metric, bound, raw.evidence, raw.max_gap, raw.min_rows, raw.bins
    )


def _robustness(raw: Any) -> RobustnessRule:
    return RobustnessRule(
        noise=raw.noise,
        missing=raw.missing,
        max_changed=raw.max_changed,
        max_drop=raw.max_drop,
        regression_change=raw.regression_change,
        numeric=None if raw.numeric is None else tuple(raw.numeric),
        optional=None if raw.optional is None else tuple(raw.optional),
        params=raw.params,
    )


def _rule(raw: Any) -> MetricRule:
    direction = METRIC_DIRECTIONS[raw.metric]
    threshold = raw.min_value if direction == MAXIMIZE else raw.max_value
    return MetricRule(raw.metric, direction, threshold, raw.max_regression)


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
