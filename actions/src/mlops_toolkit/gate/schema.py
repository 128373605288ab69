"""gate.yaml's structure as pydantic v2 models, and its errors as one line about the file.

Imported only when a gate.yaml is parsed (gate_config.parse), so `--help` loads no pydantic.
The models say which keys exist, their types and their bounds; the metrics registry says which
metrics a gate may judge and which way each is better. What they refuse becomes one line
(core.schema_errors, shared with params.yaml): the first error's path in the team's file
(`primary.max_regression`, `guards[1].metric`) and a reason in the file's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .. import metrics as registry
from ..core.schema_errors import first_error, refuse
from ..errors import ToolkitError
from ..metrics import MAXIMIZE

# Numbers as YAML gives them: int or float, never a bool or "0.5", never .inf or .nan.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Integer = Annotated[int, Field(strict=True)]


def _bounded(test: Callable[[Any], bool], reason: str) -> AfterValidator:
    def check(value: Any) -> Any:
        if not test(value):
            raise refuse(reason)
        return value

    return AfterValidator(check)


NonNegative = Annotated[Number, _bounded(lambda v: v >= 0, "must be a finite number >= 0")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rule(Section):
    """The primary metric or a guard: its threshold key follows the metric's direction."""

    metric: str
    direction: str | None = None  # optional; must agree with the registry when given
    min_value: Number | None = None  # maximized metrics
    max_value: Number | None = None  # minimized metrics
    max_regression: NonNegative | None = None

    @field_validator("metric")
    @classmethod
    def _known(cls, name: str) -> str:
        known = registry.names(gate=True)
        if name not in known:
            raise refuse(f"must be one of {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _follows_the_metric(self) -> Rule:
        direction = registry.direction(self.metric)
        if self.direction is not None and self.direction != direction:
            raise refuse(f"direction {self.direction!r} contradicts {self.metric} ({direction})")
        right, wrong = ("min_value", "max_value")[:: 1 if direction == MAXIMIZE else -1]
        if wrong in self.model_fields_set:  # even `max_value: null`: the key says the wrong way
            raise refuse(f"{self.metric} is {direction}d; use {right}, not {wrong}")
        return self


class Bootstrap(Section):
    resamples: Annotated[
        Number, _bounded(lambda v: 10 <= v <= 100_000, "must be between 10 and 100000")
    ] = 1000
    confidence: Annotated[Number, _bounded(lambda v: 0.5 <= v < 1, "must be in [0.5, 1)")] = 0.95
    # numpy seeds are integers in [0, 2**32): -1 or 1.5 would fail deep inside the bootstrap.
    seed: Annotated[
        Integer, _bounded(lambda v: 0 <= v < 2**32, "must be an integer in [0, 2**32)")
    ] = 42
    blocks: NonNegative = 1000
    auc_bins: Number = 256


class Baseline(Section):
    """Beat the naive model by this margin: metric points, or a share of its error."""

    min_improvement: Annotated[
        NonNegative, _bounded(lambda v: v < 1, "must be below 1 (a share or metric points)")
    ]


Share = Annotated[Number, _bounded(lambda v: 0 <= v <= 1, "must be a share between 0 and 1")]
Columns = list[Annotated[str, Field(min_length=1)]]


class Slices(Section):
    """Per-slice metrics of the candidate (fairlearn's MetricFrame), and rules on them."""

    columns: Annotated[Columns, Field(min_length=1)]  # sensitive or segment columns
    metric: str | None = None  # default: the primary metric
    min_value: Number | None = None  # the worst slice (maximized metrics)
    max_value: Number | None = None  # the worst slice (minimized metrics)
    # estimate: judge the worst slice's point value; interval: fail only when its whole
    # interval is on the wrong side of the threshold (sure the slice is below the bar).
    evidence: str = "estimate"
    max_gap: NonNegative | None = None  # largest difference between two judged slices
    min_rows: Annotated[Integer, _bounded(lambda v: v >= 1, "must be an integer >= 1")] = 30
    bins: Annotated[Integer, _bounded(lambda v: 2 <= v <= 20, "must be between 2 and 20")] = 4

    @field_validator("metric")
    @classmethod
    def _known(cls, name: str | None) -> str | None:
        known = registry.names(gate=True)
        if name is not None and name not in known:
            raise refuse(f"must be one of {', '.join(known)}")
        return name

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, value: str) -> str:
        if value not in ("estimate", "interval"):
            raise refuse("must be estimate or interval")
        return value


class Robustness(Section):
    """Predictions under small numeric noise and under missing optional values."""

    noise: Annotated[Number, _bounded(lambda v: 0 < v <= 1, "must be in (0, 1]")] = 0.05
    missing: Annotated[bool, Field(strict=True)] = True  # also set the optional columns to missing
    max_changed: Share | None = 0.05  # share of the holdout's predictions that may change
    max_drop: NonNegative | None = None  # drop of the primary metric, in its units
    regression_change: NonNegative = 0.1  # a regression value moved by > this many SDs of y
    numeric: Columns | None = None  # default: the data contract (params.yaml's roles)
    optional: Columns | None = None  # default: columns the expectation suite lets be missing
    params: str = "params.yaml"  # where the data contract is read from


class Gate(Section):
    primary: Rule
    guards: list[Rule] | None = None
    bootstrap: Bootstrap | None = None
    baseline: Baseline | None = None
    slices: Slices | None = None
    robustness: Robustness | None = None
    target: str | None = None  # the holdout's label column
    task: str | None = None  # optional; must be the primary metric's

    @model_validator(mode="after")
    def _one_task(self) -> Gate:
        expected = registry.task_of(self.primary.metric)
        family = registry.names(expected, gate=True)
        for i, guard in enumerate(self.guards or ()):
            if guard.metric not in family:
                raise refuse(
                    f"guards[{i}].metric: {guard.metric} does not fit a gate on "
                    f"{self.primary.metric} (use {', '.join(family)})"
                )
        if self.task is not None and self.task != expected:
            raise refuse(f"task: {self.task!r} does not match metric {self.primary.metric}")
        if self.slices is not None:
            self._slices_fit(self.slices, expected, family)
        return self

    def _slices_fit(self, slices: Slices, task: str, family: tuple[str, ...]) -> None:
        metric = slices.metric or self.primary.metric
        if metric not in family:
            raise refuse(
                f"slices.metric: {metric} does not fit a gate on {self.primary.metric} "
                f"(use {', '.join(family)})"
            )
        right, wrong = ("min_value", "max_value")[:: 1 if registry.higher_is_better(metric) else -1]
        if wrong in slices.model_fields_set:
            raise refuse(f"slices: {metric} is {registry.direction(metric)}d; use {right}")


def validate(data: object) -> Gate:
    """The validated model, or a ToolkitError of one line naming the path and the reason."""
    try:
        return Gate.model_validate(data)
    except ValidationError as error:
        raise ToolkitError(f"gate config: {first_error(error, Gate)}") from None
