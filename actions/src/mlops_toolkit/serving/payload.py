"""Parse MLflow scoring payloads into a checked `Batch`, cheaply.

Accepted (as `mlflow models serve` accepts them): `dataframe_split`, `dataframe_records`,
`instances`, `inputs` (JSON) and CSV with a header. Columns are matched by name against the model
signature (extra columns are ignored, as MLflow does). As in MLflow, rows without column names,
duplicated column names and batches without rows are 400. Values are checked by type: numbers
for numeric columns (integers within 64 or 32 bits for long/integer columns), booleans for boolean
and strings for string columns; null only where a column is optional. An empty CSV field is a
missing value in every column, as pandas (and so MLflow) reads it. Where this is stricter than
MLflow, docs/architecture.md has the table (asserted by tests/serving/test_differential.py).
"""

from __future__ import annotations

import csv
import io
import math
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np

from ..errors import ToolkitError
from ..registry.mlmodel import NUMERIC_TYPES, Batch, Column

_TYPE_OF = attrgetter("type")
PAYLOAD_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_NUMBER_TYPES = frozenset({int, float})
_FLOAT_TYPES = frozenset({"double", "float"})
_INT_RANGE = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
_ACCEPTED: dict[str, frozenset[type]] = {
    "double": _NUMBER_TYPES,
    "float": _NUMBER_TYPES,
    "long": frozenset({int}),
    "integer": frozenset({int}),
    "boolean": frozenset({bool}),
    "string": frozenset({str}),
}
_JSON_NAMES = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    type(None): "null",
    list: "array",
    dict: "object",
}


class PayloadError(ToolkitError):
    """Bad input: `status` 400 for a malformed request, 422 for one that breaks the signature."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def bad_payload(message: str) -> PayloadError:
    return PayloadError(400, "bad_payload", message)


def parse_payload(payload: Any, columns: list[Column], raw: bytes | None = None) -> Batch:
    """Turn a decoded JSON payload into a Batch in signature order, or raise PayloadError."""
    if not isinstance(payload, dict):
        raise bad_payload(f"the body must be a JSON object with one of the keys {_keys()}")
    found = [k for k in PAYLOAD_KEYS if k in payload]
    if len(found) != 1:
        raise bad_payload(
            f"the body must have exactly one of the keys {_keys()}, got {sorted(payload)}"
        )
    key = found[0]
    body = payload[key]
    if key == "dataframe_split":
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise bad_payload('dataframe_split must be an object with a "data" list of rows')
        data, names = body["data"], body.get("columns")
        if data and _numbers_only(raw):
            matrix = _numeric_matrix(data, names, columns)
            if matrix is not None:
                return Batch(len(data), matrix=matrix)
        return _from_rows(data, names, columns)
    if key == "dataframe_records":
        return _from_records(body, columns)
    if isinstance(body, dict):  # `inputs`/`instances` as {column: [values]}
        return _from_mapping(body, columns)
    if not isinstance(body, list):
        raise bad_payload(f"{key} must be a list of rows or an object of columns")
    if body and all(isinstance(r, dict) for r in body):
        return _from_records(body, columns)
    if not body:
        return _empty(columns)
    raise _nameless()


def parse_csv(text: str, columns: list[Column]) -> Batch:
    """CSV with a header row, as `mlflow models serve` takes it (`Content-Type: text/csv`)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise bad_payload("the CSV body is empty: expected a header row and data rows")
    _check_unique(header)
    by_name = {c.name: c for c in columns}
    rows = []
    for line, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise bad_payload(
                f"CSV line {line} has {len(row)} fields, the header has {len(header)}"
            )
        rows.append([_csv_value(v, by_name.get(h), line) for h, v in zip(header, row, strict=True)])
    return _from_rows(rows, header, columns)


def _csv_value(raw: str, column: Column | None, line: int) -> Any:
    if raw == "":
        return None  # an empty field is a missing value in every column, as pandas reads it
    if column is None or column.type == "string":
        return raw
    if column.type == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    word = raw.strip().lower().lstrip("+-")
    if word == "nan":
        return None  # as JSON null: allowed where the signature makes the column optional
    if word in ("inf", "infinity"):
        return raw  # JSON has no infinity either: the type check names its column and row
    try:
        return int(raw) if column.type in ("long", "integer") else float(raw)
    except ValueError:
        return raw  # reported by the type check with its column and row


def _keys() -> str:
    return ", ".join(PAYLOAD_KEYS)


def _from_rows(data: Any, names: Any, columns: list[Column]) -> Batch:
    if not isinstance(data, list):
        raise bad_payload("data must be a list of rows")
    if not data:
        return _empty(columns)
    if names is None:
        raise _nameless()
    if type(names) is not list or not set(map(type, names)) <= {str}:
        raise bad_payload("columns must be a list of column names")
    _check_unique(names)
    width_msg = f"each row must have {len(names)} values, one per column"
    try:
        widths = set(map(len, data))
    except TypeError:
        raise bad_payload("data must be a list of rows, each a list of values") from None
    # C-level scans (map, set): a Python generator per row costs more than the rest of a check.
    if widths - {len(names)} or set(map(type, data)) != {list}:
        raise bad_payload(width_msg)
    index = {n: i for i, n in enumerate(names)}
    _check_columns(index, columns)
    n_rows = len(data)
    # A rectangular list of numbers in signature order becomes the matrix as is.
    if (
        names == [c.name for c in columns]
        and _signature(columns)[0]
        and set(map(type, chain.from_iterable(data))) <= _NUMBER_TYPES
    ):
        return Batch(n_rows, matrix=_floats(data).reshape(n_rows, -1))
    values = {
        c.name: [r[index[c.name]] for r in data] if c.name in index else None for c in columns
    }
    return _build(values, n_rows, columns)


def _numbers_only(raw: bytes | None) -> bool:
    """True when the JSON body's `"data"` part cannot hold true, false or null.

    Each of the three literals has a `u` or an `a` in it and no JSON number has either, so two
    single-byte searches (memchr) from the first `"data"` key to the end of the body rule them
    out. The first key: the real one is there or after it, so it is always searched. Letters in
    column names listed after the data only send the request down the checked path.
    """
    if raw is None:
        return False
    start = raw.find(b'"data"')
    return start >= 0 and raw.find(b"u", start + 6) < 0 and raw.find(b"a", start + 6) < 0


def _numeric_matrix(data: Any, names: Any, columns: list[Column]) -> np.ndarray | None:
    """The hot path: rows of numbers in signature order, for a numeric signature, as a matrix.

    With no JSON literal possible (`_numbers_only`), every value is a number, a string, a list
    or an object, and numpy's own type and shape inference (one pass in C) tells them apart:
    no Python-level look at each row or value, otherwise the largest cost of a 100-row request.
    Anything else (None) goes through the checks, which name the problem.
    """
    numeric, signature = _signature(columns)
    if not numeric or names != signature or type(data) is not list:
        return None
    try:
        matrix = np.array(data)
    except (ValueError, OverflowError):
        return None  # ragged or odd rows
    if matrix.ndim != 2 or matrix.shape[1] != len(signature) or matrix.dtype.kind not in "fi":
        return None  # strings, nested values, or integers beyond int64 (objects)
    return matrix.astype(np.float64, copy=False)


_LAST_SIGNATURE: tuple[list[Column], bool, list[str]] | None = None


def _signature(columns: list[Column]) -> tuple[bool, list[str]]:
    """(all floating point, names) of a signature, once per served model, not per request.

    Integer columns take the checks: 1.5 or 2**63 there is a 422, not a float in the matrix.
    """
    global _LAST_SIGNATURE
    last = _LAST_SIGNATURE
    if last is None or last[0] is not columns:  # holding the list keeps its identity unique
        floats = set(map(_TYPE_OF, columns)) <= _FLOAT_TYPES
        last = _LAST_SIGNATURE = (columns, floats, [c.name for c in columns])
    return last[1], last[2]


def _from_records(records: Any, columns: list[Column]) -> Batch:
    if not isinstance(records, list) or not all(type(r) is dict for r in records):
        raise bad_payload("records must be a list of objects, one per row")
    if not records:
        return _empty(columns)
    present: set[str] = set().union(*records)
    _check_columns(present, columns)
    values = {
        c.name: [r.get(c.name) for r in records] if c.name in present else None for c in columns
    }
    return _build(values, len(records), columns)


def _from_mapping(mapping: dict[str, Any], columns: list[Column]) -> Batch:
    if all(isinstance(v, list) and not v for v in mapping.values()):
        return _empty(columns)  # {} or every column an empty list
    _check_columns(mapping, columns)
    lengths = {len(v) if isinstance(v, list) else -1 for k, v in mapping.items()}
    if -1 in lengths or len(lengths) > 1:
        raise bad_payload("columns given as an object must all be lists of the same length")
    n_rows = lengths.pop() if lengths else 0
    values = {c.name: mapping.get(c.name) for c in columns}
    return _build(values, n_rows, columns)


def _empty(columns: list[Column]) -> Batch:
    """Every empty-batch form answers the same, a 400 as in MLflow (whose schema check fails)."""
    raise bad_payload("the request holds no rows: send at least one row")


def _nameless() -> PayloadError:
    # MLflow takes such rows as columns 0, 1, ... and fails its schema check: a 400 as well.
    return bad_payload(
        'rows need column names: use dataframe_split with "columns", dataframe_records, '
        "or inputs/instances as objects"
    )


def _check_unique(names: list[str]) -> None:
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = next(n for n in names if n in seen or seen.add(n))  # type: ignore[func-returns-value]
        raise bad_payload(f"column {twice!r} is given twice: each column name once")


def _check_columns(present: Any, columns: list[Column]) -> None:
    missing = [c.name for c in columns if c.required and c.name not in present]
    if missing:
        raise PayloadError(
            422, "missing_column", f"missing required column(s): {', '.join(missing)}"
        )


def _all_numeric(columns: list[Column]) -> bool:
    return set(map(_TYPE_OF, columns)) <= NUMERIC_TYPES


def _build(values: dict[str, list[Any] | None], n_rows: int, columns: list[Column]) -> Batch:
    """Check every column's values against its type, then assemble the batch."""
    arrays: dict[str, np.ndarray] = {}
    for column in columns:
        col = values[column.name]
        if col is None:  # an optional column that was not sent
            col = [None] * n_rows
        arrays[column.name] = _column_array(column, col)
    if _all_numeric(columns):
        if not columns:
            return Batch(n_rows, matrix=np.empty((n_rows, 0)))
        matrix = (
            np.column_stack([arrays[c.name] for c in columns])
            if n_rows
            else np.empty((0, len(columns)))
        )
        return Batch(n_rows, matrix=matrix.astype(np.float64, copy=False))
    return Batch(n_rows, columns=arrays)


def _column_array(column: Column, col: list[Any]) -> np.ndarray:
    accepted = _ACCEPTED[column.type]
    kinds = set(map(type, col))
    if not kinds <= accepted:
        _raise_type_error(column, col, accepted)
    if column.type in _INT_RANGE:
        _check_range(column, col)
    if column.type in NUMERIC_TYPES:
        return _floats([math.nan if v is None else v for v in col] if type(None) in kinds else col)
    return np.array(col, dtype=object)


def _check_range(column: Column, col: list[Any]) -> None:
    """A long column holds 64-bit integers (an integer column 32-bit), as MLflow types them."""
    low, high = _INT_RANGE[column.type]
    values = [v for v in col if v is not None]
    if values and low <= min(values) and max(values) <= high:
        return
    row = next(i for i, v in enumerate(col) if v is not None and not low <= v <= high)
    raise PayloadError(
        422,
        "wrong_type",
        f"column {column.name!r} expects {column.type}, row {row} has {col[row]}, "
        f"beyond its range [{low}, {high}]",
    )


def _raise_type_error(column: Column, col: list[Any], accepted: frozenset[type]) -> None:
    for row, value in enumerate(col):
        kind = type(value)
        if kind in accepted:
            continue
        if value is None and not column.required:
            continue
        if value is None:
            raise PayloadError(
                422,
                "null_value",
                f"column {column.name!r} is required, row {row} has no value (null or missing)",
            )
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise PayloadError(
            422,
            "wrong_type",
            f"column {column.name!r} expects {column.type}, "
            f"row {row} has {_JSON_NAMES.get(kind, kind.__name__)} {shown}",
        )


def _floats(values: list[Any]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        raise PayloadError(422, "wrong_type", "a number is too large for a 64-bit float") from None
