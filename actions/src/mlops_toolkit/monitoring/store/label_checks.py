"""Checking labels against their predictions: one line per kind of problem, nothing half-done.

Every check runs before anything is written, and a refusal names every kind found (duplicated
ids, ids the store does not hold, empty labels, labels of the wrong type), one line each: a team
fixing a file learns all that is wrong with it in one run, not one kind per run.

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
from dataclasses import dataclass
from typing import Any

from . import Label, LabelError, UnknownPredictions

EXAMPLES = 3  # ids quoted in a message, then "..."

# The kinds of problem, in the order their lines come (the names are the HTTP answer's `kind`).
DUPLICATE_IDS = "duplicate_ids"
UNKNOWN_IDS = "unknown_ids"
EMPTY_LABELS = "empty_labels"
WRONG_TYPE = "wrong_type"


@dataclass(frozen=True)
class Problem:
    """One kind of problem in a set of labels: one line of the refusal."""

    kind: str
    rows: int  # rows of the input with this problem
    examples: tuple[str, ...]  # the first few prediction ids concerned
    line: str  # the whole line, fit for a CI annotation

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "examples": list(self.examples),
            "message": self.line,
        }


class LabelProblems(LabelError):
    """Labels refused for every kind of problem in `problems` (message: their lines)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(problem.line for problem in problems))
        self.problems = tuple(problems)

    def lines(self) -> list[str]:
        """One line for each kind (errors.ToolkitError.lines): the CLI reports them all."""
        return [problem.line for problem in self.problems]


class UnknownOnly(LabelProblems, UnknownPredictions):
    """Unknown ids and nothing else wrong: still an UnknownPredictions (HTTP 404), the one
    refusal that the same labels sent again may pass, once their predictions are stored."""


def checked(labels: Sequence[Label], predictions: Mapping[str, Any]) -> list[Label]:
    """`labels` with each value turned into its prediction's kind (`predictions`: id -> the
    stored prediction, for the ids the store holds). LabelProblems naming every kind found."""
    coerced, wrong = _coerce_known(labels, predictions)
    found = [_duplicates(labels), _unknown(labels, predictions), _empty(labels), wrong]
    problems = [problem for problem in found if problem is not None]
    if [problem.kind for problem in problems] == [UNKNOWN_IDS]:
        raise UnknownOnly(problems)
    if problems:
        raise LabelProblems(problems)
    return coerced


def _duplicates(labels: Sequence[Label]) -> Problem | None:
    counts = Counter(label.prediction_id for label in labels)
    duplicated = [pid for pid, n in counts.items() if n > 1]
    if not duplicated:
        return None
    rows = sum(counts[pid] for pid in duplicated)
    return Problem(
        DUPLICATE_IDS,
        rows,
        _first(duplicated),
        f"{len(duplicated)} prediction id(s) appear more than once, in {rows} rows "
        f"({_quote(duplicated)}): give each prediction one label; nothing was loaded",
    )


def _unknown(labels: Sequence[Label], predictions: Mapping[str, Any]) -> Problem | None:
    unknown = [label.prediction_id for label in labels if label.prediction_id not in predictions]
    if not unknown:
        return None
    ids = list(dict.fromkeys(unknown))  # a duplicated unknown id is quoted once
    return Problem(
        UNKNOWN_IDS,
        len(unknown),
        _first(ids),
        f"{len(unknown)} of {len(labels)} prediction id(s) are not in the store "
        f"({_quote(ids)}): nothing was loaded",
    )


def _empty(labels: Sequence[Label]) -> Problem | None:
    # Every row, its id known or not: an empty cell is its own thing to fix in the file.
    empty = [label.prediction_id for label in labels if _missing(label.label)]
    if not empty:
        return None
    return Problem(
        EMPTY_LABELS,
        len(empty),
        _first(empty),
        f"{len(empty)} label(s) are empty ({_quote(empty)}): nothing was loaded",
    )


def _coerce_known(
    labels: Sequence[Label], predictions: Mapping[str, Any]
) -> tuple[list[Label], Problem | None]:
    """The labels of known ids as their prediction's kind, and the wrong-type problem if any.
    Unknown ids and empty labels are left out: they have lines of their own."""
    out: list[Label] = []
    wrong: list[tuple[str, Any, str]] = []
    for label in labels:
        if label.prediction_id not in predictions or _missing(label.label):
            continue
        expected = kind_of(predictions[label.prediction_id])
        value = coerce(label.label, expected)
        if value is None:
            wrong.append((label.prediction_id, label.label, expected))
        else:
            out.append(Label(label.prediction_id, value, label.labelled_at))
    return out, _wrong_type(wrong)


def _wrong_type(wrong: Sequence[tuple[str, Any, str]]) -> Problem | None:
    if not wrong:
        return None
    kinds = list(dict.fromkeys(expected for _, _, expected in wrong))
    shown = ", ".join(
        f"{pid} has {value!r}" + ("" if len(kinds) == 1 else f" (not {expected})")
        for pid, value, expected in wrong[:EXAMPLES]
    ) + (", ..." if len(wrong) > EXAMPLES else "")
    predicts = (
        f"the model predicts {kinds[0]} values"
        if len(kinds) == 1
        else f"the models predict {' or '.join(kinds)} values"
    )
    return Problem(
        WRONG_TYPE,
        len(wrong),
        _first([pid for pid, _, _ in wrong]),
        f"{len(wrong)} label(s) of the wrong type: {predicts}, but prediction {shown}; "
        "nothing was loaded",
    )


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


def _first(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(i) for i in ids[:EXAMPLES])


def _quote(ids: Sequence[str]) -> str:
    shown = ", ".join(str(i) for i in ids[:EXAMPLES])
    return shown + (", ..." if len(ids) > EXAMPLES else "")
