"""gate.yaml's structure as pydantic v2 models, and its errors as one line about the file.

Imported only when a gate.yaml is parsed (gate_config.parse), so `--help` loads no pydantic.
The models say which keys exist, their types and their bounds; the metrics registry says which
metrics a gate may judge and which way each is better. What they refuse becomes one line:
the first error's path in the team's file (`primary.max_regression`, `guards[1].metric`) and a
reason in the file's words, never pydantic's class names or its documentation URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import metrics as registry
from ..errors import ToolkitError
from ..metrics import MAXIMIZE

# Numbers as YAML gives them: int or float, never a bool or "0.5", never .inf or .nan.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Integer = Annotated[int, Field(strict=True)]


def _refuse(reason: str) -> PydanticCustomError:
    # No context: the reason is printed as given (a brace in a team's value stays a brace).
    return PydanticCustomError("gate", reason)


def _bounded(test: Callable[[Any], bool], reason: str) -> AfterValidator:
    def check(value: Any) -> Any:
        if not test(value):
            raise _refuse(reason)
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
            raise _refuse(f"must be one of {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _follows_the_metric(self) -> Rule:
        direction = registry.direction(self.metric)
        if self.direction is not None and self.direction != direction:
            raise _refuse(f"direction {self.direction!r} contradicts {self.metric} ({direction})")
        right, wrong = ("min_value", "max_value")[:: 1 if direction == MAXIMIZE else -1]
        if wrong in self.model_fields_set:  # even `max_value: null`: the key says the wrong way
            raise _refuse(f"{self.metric} is {direction}d; use {right}, not {wrong}")
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


class Gate(Section):
    primary: Rule
    guards: list[Rule] | None = None
    bootstrap: Bootstrap | None = None
    baseline: Baseline | None = None
    target: str | None = None  # the holdout's label column
    task: str | None = None  # optional; must be the primary metric's

    @model_validator(mode="after")
    def _one_task(self) -> Gate:
        expected = registry.task_of(self.primary.metric)
        family = registry.names(expected, gate=True)
        for i, guard in enumerate(self.guards or ()):
            if guard.metric not in family:
                raise _refuse(
                    f"guards[{i}].metric: {guard.metric} does not fit a gate on "
                    f"{self.primary.metric} (use {', '.join(family)})"
                )
        if self.task is not None and self.task != expected:
            raise _refuse(f"task: {self.task!r} does not match metric {self.primary.metric}")
        return self


def validate(data: object) -> Gate:
    """The validated model, or a ToolkitError of one line naming the path and the reason."""
    try:
        return Gate.model_validate(data)
    except ValidationError as error:
        raise ToolkitError(f"gate config: {first_error(error)}") from None


# --- one line from pydantic's errors --------------------------------------------------------

# Reasons for pydantic's own error types, in the file's words; a type not listed keeps
# pydantic's message (its `msg`, which carries no URL).
_REASONS = {
    "float_type": "must be a finite number",
    "finite_number": "must be a finite number",
    "int_type": "must be an integer",
    "string_type": "must be text",
    "model_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
}


def first_error(error: ValidationError) -> str:
    """`path: reason, got value` for the first error (unknown and missing keys say so).

    An unknown key comes before everything else: `min_improvment:` is also a missing
    `min_improvement`, and the typo is what the team must see.
    """
    details = error.errors(include_url=False)
    unknown = [d for d in details if d["type"] == "extra_forbidden"]
    detail = (unknown or details)[0]
    kind, loc = detail["type"], tuple(detail["loc"])
    if kind == "extra_forbidden":
        known = ", ".join(_section(loc[:-1]).model_fields)
        return f"unknown key {_path((*loc[:-1], str(loc[-1])))} (known: {known})"
    if kind == "invalid_key":  # the key itself is the loc's last part: not a path to print
        return f"{_path(loc[:-1]) or 'the file'}: keys must be text, got {loc[-1]!r}"
    if kind == "missing":
        return f"{_path(loc)} is required"
    if kind == "gate" and not loc:  # a check across sections names its own path
        return detail["msg"]
    where = _path(loc) or "the file"
    if kind == "gate" and isinstance(detail["input"], dict):  # a check of a whole section
        return f"{where}: {detail['msg']}"
    reason = _REASONS.get(kind, detail["msg"])
    return f"{where}: {reason}, got {_shown(detail['input'])}"


def _path(loc: tuple) -> str:
    """('guards', 0, 'metric') -> guards[0].metric: the path as the team reads its file."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _section(loc: tuple) -> type[BaseModel]:
    """The model that reads the mapping at `loc` (for the keys it knows)."""
    model: type[BaseModel] = Gate
    for part in loc:
        if isinstance(part, str):
            model = _model_in(model.model_fields[part].annotation) or model
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, get_args(annotation))), None)


def _shown(value: Any) -> str:
    """A value for the line: containers by kind, scalars as written, long text cut."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
