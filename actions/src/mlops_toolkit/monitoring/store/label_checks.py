"""Checking labels against their predictions: one line per kind of problem, nothing half-done.

A label must be of its prediction's kind: a number for a model that predicts numbers (a whole
number for one that predicts integers, as classifiers' 0/1 do), a string for one that predicts
strings, true/false for booleans. CSV has no types, so a string that reads as the right kind is
taken ("1" for an integer); a Parquet or JSON label must already be of the right kind, except an
integer for a float.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from . import Label, LabelError, UnknownPredictions

EXAMPLES = 3  # ids quoted in a message, then "..."


def check_duplicates(labels: Sequence[Label]) -> None:
    counts = Counter(label.prediction_id for label in labels)
    duplicated = [pid for pid, n in counts.items() if n > 1]
    if duplicated:
        raise LabelError(
            f"{len(duplicated)} prediction id(s) appear more than once ({_quote(duplicated)}): "
            "give each prediction one label; nothing was loaded"
        )


def check_known(labels: Sequence[Label], predictions: Mapping[str, Any]) -> None:
    unknown = [label.prediction_id for label in labels if label.prediction_id not in predictions]
    if unknown:
        raise UnknownPredictions(
            f"{len(unknown)} of {len(labels)} prediction id(s) are not in the store "
            f"({_quote(unknown)}): nothing was loaded"
        )


def coerce_all(labels: Sequence[Label], predictions: Mapping[str, Any]) -> list[Label]:
    """`labels` with each value turned into its prediction's kind; LabelError if any cannot."""
    out: list[Label] = []
    missing: list[str] = []
    wrong: list[tuple[str, Any, str]] = []
    for label in labels:
        if _missing(label.label):
            missing.append(label.prediction_id)
            continue
        expected = kind_of(predictions[label.prediction_id])
        value = coerce(label.label, expected)
        if value is None:
            wrong.append((label.prediction_id, label.label, expected))
        else:
            out.append(Label(label.prediction_id, value, label.labelled_at))
    if missing:
        raise LabelError(
            f"{len(missing)} label(s) are empty ({_quote(missing)}): nothing was loaded"
        )
    if wrong:
        pid, value, expected = wrong[0]
        raise LabelError(
            f"{len(wrong)} label(s) of the wrong type: the model predicts {expected} values, "
            f"but prediction {pid} has label {value!r}"
            f"{' and more' if len(wrong) > 1 else ''}; nothing was loaded"
        )
    return out


def kind_of(prediction: Any) -> str:
    if isinstance(prediction, bool):
        return "boolean"
    if isinstance(prediction, int):
        return "integer"
    if isinstance(prediction, float):
        # Never "integer" for a whole float: a regressor's 152.0 takes the label 151.5 (a
        # classifier whose classes are floats takes "1" as 1.0 all the same).
        return "number"
    if isinstance(prediction, str):
        return "string"
    return type(prediction).__name__  # lists (multi-output), objects: taken as they are


def coerce(value: Any, expected: str) -> Any:
    """`value` as a label of kind `expected`, or None when it is not one."""
    value = _plain(value)
    if expected == "string":
        return value if isinstance(value, str) else None
    if expected == "boolean":
        return _boolean(value)
    if expected in ("integer", "number"):
        number = _number(value)
        if number is None or not math.isfinite(number):
            return None
        if expected == "integer":
            return int(number) if float(number).is_integer() else None
        return float(number)
    return value if kind_of(value) == expected else None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return float(value.strip())
            except ValueError:
                return None
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    return {"true": True, "1": True, "false": False, "0": False}.get(text or "")


def _plain(value: Any) -> Any:
    """numpy/pandas scalars as Python values (Parquet columns hand those over)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value


def _missing(value: Any) -> bool:
    value = _plain(value)
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _quote(ids: Sequence[str]) -> str:
    shown = ", ".join(str(i) for i in ids[:EXAMPLES])
    return shown + (", ..." if len(ids) > EXAMPLES else "")
