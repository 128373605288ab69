"""params.yaml's sections as pydantic v2 models, derived from the project's dataclasses.

A project declares its params as frozen dataclasses (project.params): they import nothing heavy,
so its `--help` stays instant. Here, imported only when a params.yaml is loaded, each dataclass
becomes a strict pydantic model (one per class, made once): unknown keys refused, `1` is not
`true`, `"42"` is not 42, an int is a float, and YAML's empty value (`key:`) is the empty
section, list, mapping or text. Validated models become the dataclasses again, children first,
and a dataclass's `check()` runs once it is built (ranges and rules across keys).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
import warnings
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from ..core import schema_errors
from .params import ConfigError, Generated

_STRICT = ConfigDict(extra="forbid", strict=True, protected_namespaces=())
# The dataclass each derived model stands for (to build the project's tree back).
_DATACLASS: dict[type[BaseModel], type] = {}


def validate(schema: type, raw: dict[str, Any], generated: Generated) -> Any:
    """The project's params tree, or a ConfigError of one line naming the key and the reason."""
    root = model(schema)
    try:
        checked = root.model_validate(raw)
    except ValidationError as error:
        line = _generation_answer(error, generated) or schema_errors.first_error(error, root)
        raise ConfigError(line) from None
    return _built(checked)


def _generation_answer(error: ValidationError, generated: Generated) -> str:
    """An unknown key that was a generation answer (model.task): say where it was chosen."""
    for detail in schema_errors.unknown_keys(error):
        key = schema_errors.path(tuple(detail["loc"]))
        if key in generated:
            answer, value = generated[key]
            return (
                f"{key} is not a params.yaml key: it was chosen when the project was "
                f"generated (answer {answer}: {value}, in .cruft.json); remove it"
            )
    return ""


@functools.cache
def model(cls: type) -> type[BaseModel]:
    """The strict model of one dataclass: its fields, types and defaults, nothing else."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if spec.default is not dataclasses.MISSING:
            default = Field(default=spec.default)
        elif spec.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=spec.default_factory)
        else:
            default = ...
        fields[spec.name] = (_annotation(hints[spec.name]), default)
    with warnings.catch_warnings():  # a key named `json` or `copy` shadows BaseModel's method
        warnings.filterwarnings("ignore", "Field name .* shadows", UserWarning)
        derived = create_model(cls.__name__, __config__=_STRICT, **fields)
    _DATACLASS[derived] = cls
    return derived


def _annotation(kind: Any) -> Any:
    """A dataclass field's type as pydantic reads it: sections become models, `key:` is empty."""
    if dataclasses.is_dataclass(kind):
        return Annotated[model(kind), BeforeValidator(_empty(dict))]
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list and args:
        return Annotated[list[_annotation(args[0])], BeforeValidator(_empty(list))]
    if origin is dict and args:
        return Annotated[dict[args[0], _annotation(args[1])], BeforeValidator(_empty(dict))]
    if kind in (list, dict, str):
        return Annotated[kind, BeforeValidator(_empty(kind))]
    return kind


def _empty(kind: type) -> Any:
    def empty(value: Any) -> Any:
        return kind() if value is None else value

    return empty


def _built(value: Any) -> Any:
    """Derived models back to the project's dataclasses, children first, each one checked."""
    if isinstance(value, BaseModel):
        built = _DATACLASS[type(value)](**{name: _built(v) for name, v in value})
        if hasattr(built, "check"):
            built.check()
        return built
    if isinstance(value, list):
        return [_built(v) for v in value]
    if isinstance(value, dict):
        return {k: _built(v) for k, v in value.items()}
    return value
