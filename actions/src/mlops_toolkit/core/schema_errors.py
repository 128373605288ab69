"""One line from pydantic's errors, for every file the toolkit validates with pydantic models.

gate.yaml (gate.schema) and params.yaml (project.params_schema) are read by pydantic v2 models;
what they refuse becomes one line: the first error's path in the team's file
(`primary.max_regression`, `guards[1].metric`, `split.seed`) and a reason in the file's words,
never pydantic's class names or its documentation URLs. Imports pydantic: import this module
only where a file is being validated (never at a command's import, so `--help` stays instant).
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

# The error type of a model's own checks (`refuse`): its message is printed as written.
RULE = "rule"

# Reasons for pydantic's own error types, in the file's words; a type not listed keeps
# pydantic's message (its `msg`, which carries no URL).
_REASONS = {
    "float_type": "must be a finite number",
    "finite_number": "must be a finite number",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "model_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
}


def refuse(reason: str) -> PydanticCustomError:
    """A model's own check failed; no context, so a brace in a team's value stays a brace."""
    return PydanticCustomError(RULE, reason)


def first_error(error: ValidationError, root: type[BaseModel]) -> str:
    """`path: reason, got value` for the first error (unknown and missing keys say so).

    An unknown key comes before everything else: `min_improvment:` is also a missing
    `min_improvement`, and the typo is what the team must see. `root` is the model that read
    the whole file (for the keys a section knows).
    """
    details = error.errors(include_url=False)
    detail = (unknown_keys(error) or details)[0]
    kind, loc = detail["type"], tuple(detail["loc"])
    if kind == "extra_forbidden":
        known = ", ".join(section(root, loc[:-1]).model_fields)
        return f"unknown key {path((*loc[:-1], str(loc[-1])))} (known: {known})"
    if kind == "invalid_key":  # the key itself is the loc's last part: not a path to print
        return f"{path(loc[:-1]) or 'the file'}: keys must be text, got {loc[-1]!r}"
    if loc[-1:] == ("[key]",):  # a mapping's key of the wrong type: (..., key, '[key]')
        return f"{path(loc[:-2]) or 'the file'}: keys must be text, got {loc[-2]!r}"
    if kind == "missing":
        return f"{path(loc)} is required"
    if kind == RULE and not loc:  # a check across sections names its own path
        return detail["msg"]
    where = path(loc) or "the file"
    if kind == RULE and isinstance(detail["input"], dict):  # a check of a whole section
        return f"{where}: {detail['msg']}"
    reason = _REASONS.get(kind, detail["msg"])
    if kind == "literal_error":
        reason = f"must be {detail['ctx']['expected']}"
    return f"{where}: {reason}, got {_shown(detail['input'])}"


def unknown_keys(error: ValidationError) -> list[dict[str, Any]]:
    """The errors that are keys no model knows, in the order pydantic met them."""
    return [d for d in error.errors(include_url=False) if d["type"] == "extra_forbidden"]


def path(loc: tuple) -> str:
    """('guards', 0, 'metric') -> guards[0].metric: the path as the team reads its file."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def section(root: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The model that reads the mapping at `loc` (for the keys it knows)."""
    model = root
    for part in loc:
        if isinstance(part, str) and part in model.model_fields:
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
