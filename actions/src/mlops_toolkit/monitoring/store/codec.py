"""The stored form of a batch's inputs: a JSON header line, then the values, numbers in binary.
The header names the prediction log's schema (contracts.PREDICTION_LOG): a reader refuses a
newer major in one line instead of misreading it.

Writing numbers as JSON text costs more than scoring them (formatting 3,000 floats takes longer
than a 100-row request spends in the model), so numeric columns are kept as their raw
little-endian bytes and only strings (and other objects) as JSON. Three layouts:

- `matrix`: a 2-D float array (the server's all-numeric signatures), `shape` in the header;
- `columns`: one array per column (the server's typed arrays), each numeric one as bytes of its
  dtype, any other as a JSON list; the header gives each column's dtype and byte length;
- `rows`: a list of row sequences, as JSON (what `write_predictions` regroups).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...contracts import PREDICTION_LOG, check_schema

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float: stored as raw bytes


def encode(columns: list[str], rows: Any, dumps: Any) -> bytes:
    """`rows` (2-D array, {column: array}, or list of rows) as bytes; `dumps` makes JSON text."""
    return b"".join(encode_parts(columns, rows, dumps))


def encode_parts(columns: list[str], rows: Any, dumps: Any) -> list[Any]:
    """What `encode` joins: the header, then the values, numeric ones as the arrays themselves
    (C-contiguous, little-endian: buffers a file write takes as they are). The scoring server's
    writer hands them to one `pwritev` (segments.py): a 100-row request's 24 KB matrix is then
    never copied in Python, where `tobytes` and the join copied it twice into fresh memory."""
    if isinstance(rows, Mapping):
        return _encode_columns(columns, rows, dumps)
    if hasattr(rows, "ndim") and rows.ndim == 2 and rows.dtype.kind in NUMERIC_KINDS:
        import numpy as np

        data = np.ascontiguousarray(rows, dtype="<f8")
        return [_matrix_header(columns, data.shape, dumps), data]
    header = {"schema": PREDICTION_LOG, "layout": "rows", "columns": columns}
    return [dumps(header).encode() + b"\n" + dumps(rows).encode()]


# The scoring server writes one batch per request, most of the same shape: the header line is
# made once per (columns, shape), not once per request. Keyed by the list's identity (the
# writer passes the model's own list), checked against it; bounded.
_headers: dict[tuple[int, tuple[int, ...]], tuple[list[str], bytes]] = {}


def _matrix_header(columns: list[str], shape: tuple[int, ...], dumps: Any) -> bytes:
    key = (id(columns), shape)
    hit = _headers.get(key)
    if hit is not None and hit[0] is columns:
        return hit[1]
    header = {"schema": PREDICTION_LOG, "layout": "matrix", "columns": columns}
    line = dumps({**header, "shape": list(shape)}).encode() + b"\n"
    if len(_headers) >= 1024:
        _headers.clear()
    _headers[key] = (columns, line)
    return line


class JSONList(bytes):
    """A column already written as a JSON list (by arrow, say: no Python object per value)."""


def _encode_columns(columns: list[str], arrays: Mapping[str, Any], dumps: Any) -> list[Any]:
    import numpy as np

    parts, specs = [], []
    for name in columns:
        array = arrays[name]
        kind = getattr(getattr(array, "dtype", None), "kind", "O")
        if isinstance(array, JSONList):
            raw: Any = bytes(array)
            specs.append({"dtype": "json", "bytes": len(raw)})
        elif kind in NUMERIC_KINDS:
            array = _narrowest(array)
            raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            specs.append({"dtype": raw.dtype.str, "bytes": raw.nbytes})
        else:
            raw = dumps(array.tolist() if hasattr(array, "tolist") else list(array)).encode()
            specs.append({"dtype": "json", "bytes": len(raw)})
        parts.append(raw)
    header = {"schema": PREDICTION_LOG, "layout": "columns", "columns": columns, "specs": specs}
    return [dumps(header).encode() + b"\n", *parts]


def _narrowest(array: Any) -> Any:
    """The array in fewer bytes when every value reads back the same: integers in the smallest
    type holding their range, floats as float32 when each is one exactly (NaN included). A
    batch job's store then writes (and its commit copies) a fifth less for typical data."""
    import numpy as np

    if array.size == 0 or array.dtype.itemsize == 1:
        return array
    if array.dtype.kind in "iu":
        smallest = np.result_type(np.min_scalar_type(array.min()), np.min_scalar_type(array.max()))
        return array.astype(smallest) if smallest.itemsize < array.dtype.itemsize else array
    if array.dtype == np.float64:
        with np.errstate(over="ignore"):  # beyond float32: inf, unequal, kept as it is
            single = array.astype(np.float32)
        if np.array_equal(single, array, equal_nan=True):
            return single
    return array


def decode(blob: bytes) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows as lists of plain values; NaN as None)."""
    blob = bytes(blob)  # PostgreSQL's bytea arrives as memoryview
    newline = blob.index(b"\n")
    header, body = json.loads(blob[:newline]), memoryview(blob)[newline + 1 :]
    # Batches stored before the header was versioned have no schema: version 1's layout.
    check_schema(PREDICTION_LOG, header.get("schema"), "the prediction store")
    columns = header["columns"]
    if header["layout"] == "rows":
        return columns, json.loads(bytes(body))
    import numpy as np

    if header["layout"] == "matrix":
        matrix = np.frombuffer(body, dtype="<f8").reshape(header["shape"])
        return columns, [[_plain(v) for v in row] for row in matrix.tolist()]
    values, offset = [], 0
    for spec in header["specs"]:
        chunk = body[offset : offset + spec["bytes"]]
        offset += spec["bytes"]
        if spec["dtype"] == "json":
            values.append(json.loads(bytes(chunk)))
        else:
            values.append([_plain(v) for v in np.frombuffer(chunk, dtype=spec["dtype"]).tolist()])
    return columns, [list(row) for row in zip(*values, strict=True)]


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value  # NaN: missing
