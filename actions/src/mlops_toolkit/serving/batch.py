"""Batch scoring: a CSV or Parquet file through the scoring server's own path, chunk by chunk.

Here, beside the server, because batch and online answers must be the same: each chunk of rows
becomes the server's `Batch` (typed column arrays, or the float matrix of a numeric signature),
is checked against the model's signature and date columns as a request is, and is scored by the
model `load_for_serving` returns (the compiled mixed-type path when it is exact). Classifiers
also get their class probabilities, from the same features the prediction is made from.

Reading is pyarrow's (Parquet row groups, CSV blocks, typed from the signature), so memory holds
one chunk at a time. Checks that the schema alone decides (a missing column, a column of the
wrong type, no rows) fail before anything is written; checks of values name the file's row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..registry.mlmodel import NUMERIC_TYPES, Batch, Column, ServedModel
from .payload import PayloadError

DEFAULT_CHUNK_ROWS = 100_000
# How pandas.read_csv reads a missing value (its default na_values): a CSV scores as the
# project's own pandas-based steps read it, not by pyarrow's slightly different list.
PANDAS_NA = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
# Column names the default `--id-columns` picks up from the input (when the model ignores them).
ID_NAME = re.compile(r"(^|[_\- ])(id|key|uuid)$", re.IGNORECASE)
_INT_RANGE = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}


class BatchInputError(InputError):
    """The file cannot be scored: nothing was written."""


@dataclass
class Source:
    """An input file, its format, and what is known of its size before reading it."""

    path: Path
    kind: str  # "parquet" | "csv"
    rows: int | None  # Parquet: from the footer; CSV: unknown until read
    size: int  # bytes, for the progress of a CSV
    columns: list[str]


def open_source(path: Path) -> Source:
    """The file as a Source, or one line: missing, unreadable, not CSV or Parquet, empty."""
    if not path.is_file():
        raise BatchInputError(f"input {str(path)!r} does not exist (or is not a file)")
    suffix = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise BatchInputError(
                f"input {str(path)!r} is not a readable Parquet file: {exc}"
            ) from None
        source = Source(path, "parquet", meta.metadata.num_rows, path.stat().st_size, [])
        source.columns = list(meta.schema_arrow.names)
    elif path.suffix.lower() == ".csv" or suffix == ".csv.gz":
        source = Source(path, "csv", None, path.stat().st_size, _csv_header(path))
    else:
        raise BatchInputError(f"input {str(path)!r}: expected a .csv or .parquet file")
    if source.rows == 0 or not source.columns:
        raise BatchInputError(f"input {str(path)!r} is empty: no rows to score")
    return source


def _csv_header(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return []
        raise BatchInputError(f"input {str(path)!r} is not a readable CSV file: {exc}") from None
    return list(reader.schema.names)


def check_columns(source: Source, model: ServedModel, id_columns: list[str]) -> None:
    """Every required feature and every id column asked for is in the file (one line)."""
    present = set(source.columns)
    missing = [c.name for c in model.columns if c.required and c.name not in present]
    if missing:
        raise BatchInputError(
            f"input {source.path.name} lacks the model's required column(s): {', '.join(missing)}"
        )
    absent = [name for name in id_columns if name not in present]
    if absent:
        raise BatchInputError(f"input {source.path.name} has no id column(s): {', '.join(absent)}")


def default_id_columns(source: Source, model: ServedModel) -> list[str]:
    """Columns the model does not use whose name says id (`id`, `customer_id`, `order key`)."""
    features = set(model.names)
    return [n for n in source.columns if n not in features and ID_NAME.search(n)]


def chunks(source: Source, model: ServedModel, id_columns: list[str], rows: int) -> Iterator[Any]:
    """pyarrow RecordBatches of at most `rows` rows: the features present, then the id columns."""
    import pyarrow as pa

    wanted = [n for n in model.names if n in source.columns]
    wanted += [n for n in id_columns if n not in wanted]
    try:
        if source.kind == "parquet":
            import pyarrow.parquet as pq

            for record in pq.ParquetFile(source.path).iter_batches(batch_size=rows, columns=wanted):
                if record.num_rows:  # an empty row group
                    yield record
        else:
            yield from _csv_chunks(source, model, wanted, id_columns, rows)
    except pa.ArrowInvalid as exc:  # a CSV value that is not of its column's type
        message = _arrow_message(exc, source.columns)
        raise BatchInputError(f"input {source.path.name}: {message}") from None


def _csv_chunks(
    source: Source, model: ServedModel, wanted: list[str], ids: list[str], rows: int
) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrow_type = {
        "double": pa.float64(),
        "float": pa.float64(),
        "long": pa.int64(),
        "integer": pa.int64(),  # its 32-bit range is checked with the values
        "boolean": pa.bool_(),
        "string": pa.string(),
    }
    # Ids are copied as written ("007" stays "007"), whatever a later block holds.
    types = {name: pa.string() for name in ids}
    types.update({c.name: arrow_type[c.type] for c in model.columns if c.name in wanted})
    convert = pacsv.ConvertOptions(
        column_types=types,
        include_columns=wanted,
        null_values=PANDAS_NA,
        strings_can_be_null=True,
        true_values=["True", "true", "TRUE"],
        false_values=["False", "false", "FALSE"],
    )
    # Blocks of about `rows` rows: a block is what the reader holds, whatever its row count.
    block = max(1 << 20, min(1 << 28, source.size // max(1, _estimated_rows(source)) * rows))
    reader = pacsv.open_csv(
        source.path, read_options=pacsv.ReadOptions(block_size=block), convert_options=convert
    )
    for batch in reader:
        for start in range(0, batch.num_rows, rows):  # a block may hold more rows than asked
            yield batch.slice(start, rows)


def _estimated_rows(source: Source) -> int:
    with open(source.path, "rb") as fh:
        head = fh.read(1 << 20)
    return max(1, head.count(b"\n") * max(1, source.size // max(1, len(head))))


def _arrow_message(exc: Exception, header: list[str]) -> str:
    """pyarrow's "In CSV column #3: CSV conversion error to int64: invalid value 'x'", with the
    column's name."""
    text = " ".join(str(exc).split())
    text = text.replace("CSV conversion error to", "a value is not of type")

    def name(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"column {header[index]!r}" if index < len(header) else match.group(0)

    return re.sub(r"In CSV column #(\d+)", name, text)


# -- a chunk as the server's Batch ---------------------------------------------------------------
def to_batch(record: Any, model: ServedModel, first_row: int) -> Batch:
    """The chunk as the server's Batch, every value checked against the signature."""
    n = record.num_rows
    names = record.schema.names
    arrays: dict[str, np.ndarray] = {}
    for column in model.columns:
        if column.name in names:
            arrays[column.name] = _column(column, record.column(column.name), first_row)
        else:  # an optional column the file does not have: missing in every row
            arrays[column.name] = (
                np.full(n, math.nan) if column.type in NUMERIC_TYPES else np.full(n, None)
            )
    if model.numeric:
        matrix = np.column_stack([arrays[c.name] for c in model.columns]) if n else None
        return Batch(n, matrix=matrix)
    batch = Batch(n, columns=arrays)
    if model.date_columns:
        parse_dates(batch, model.date_columns, first_row)
    return batch


def _column(column: Column, values: Any, first_row: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if column.required and values.null_count:
        row = first_row + pc.index(values.is_null(), True).as_py()
        raise BatchInputError(f"column {column.name!r} is required, row {row} has no value")
    if pa.types.is_dictionary(kind):
        values, kind = values.dictionary_decode(), kind.value_type
    if column.type in NUMERIC_TYPES:
        if pa.types.is_null(kind):
            return np.full(len(values), math.nan)
        if column.type in _INT_RANGE:
            _check_integers(column, values, first_row)
        elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            _wrong_type(column, values, first_row)
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if column.type == "boolean" and not (pa.types.is_boolean(kind) or pa.types.is_null(kind)):
        _wrong_type(column, values, first_row)
    if column.type == "string":
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return _wall_clock(values)  # a date column written as dates: the model parses it
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if not (text or pa.types.is_null(kind)):
            _wrong_type(column, values, first_row)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


def _check_integers(column: Column, values: Any, first_row: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if pa.types.is_floating(kind):  # an integer column with missing values, as pandas writes it
        whole = pc.equal(values, pc.floor(values))
        if pc.all(whole).as_py() not in (True, None):
            row = pc.index(whole, False).as_py()
            raise BatchInputError(
                f"column {column.name!r} expects {column.type}, row {first_row + row} has "
                f"{values[row].as_py()!r}"
            )
    elif not pa.types.is_integer(kind):
        _wrong_type(column, values, first_row)
    low, high = _INT_RANGE[column.type]
    bounds = pc.min_max(values).as_py() if len(values) else {}
    if bounds.get("min") is not None and not low <= bounds["min"] <= bounds["max"] <= high:
        outside = pc.or_(pc.less(values, low), pc.greater(values, high))
        row = pc.index(outside, True).as_py()
        raise BatchInputError(
            f"column {column.name!r} expects {column.type}, row {first_row + row} has "
            f"{values[row].as_py()}, beyond its range [{low}, {high}]"
        )


def _wrong_type(column: Column, values: Any, first_row: int) -> None:
    import pyarrow.compute as pc

    present = pc.index(values.is_valid(), True).as_py()
    example = f", row {first_row + present} has {values[present].as_py()!r}" if present >= 0 else ""
    raise BatchInputError(
        f"column {column.name!r} expects {column.type}, the file holds {values.type}{example}"
    )


def _wall_clock(values: Any) -> np.ndarray:
    """Dates or timestamps as naive datetime64: each at its own wall-clock time (dates.py)."""
    import pandas as pd

    series = pd.Series(values.to_pandas())
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]")


def parse_dates(batch: Batch, names: list[str], first_row: int) -> None:
    """The server's date check (serving/dates.py), with the parsed values kept for the model.

    The check parses as the model's date step does (`pd.to_datetime(errors="coerce",
    format="mixed")`); a value that is not a date is refused with the server's message. The
    parsed values then replace the text, so the model's step gets what it would have made
    itself and the column is parsed once, not twice.
    """
    import warnings

    import pandas as pd

    for name in names:
        values = batch.columns[name]
        if values.dtype != object:
            continue  # written as dates in the file (_wall_clock)
        series = pd.Series(values, dtype=object)
        # Each distinct text parsed once (a chunk of dates repeats a few values): what
        # to_datetime's own cache does, without its pandas 3 detour through string arrays.
        codes, distinct = pd.factorize(values, use_na_sentinel=False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(
                    pd.Series(distinct, dtype=object), errors="coerce", format="mixed"
                )
        except (ValueError, TypeError):  # offsets mixed: the server's value-by-value path
            _checked_by_server(batch, name, first_row)
            continue
        parsed = pd.Series(parsed.array.take(codes))
        bad = parsed.isna().to_numpy() & series.notna().to_numpy()
        if bad.any():
            _checked_by_server(batch, name, first_row, int(np.flatnonzero(bad)[0]))
        if parsed.dt.tz is None:
            batch.columns[name] = parsed.to_numpy()
        # else one offset throughout: left as text, the model's step parses it as in a request


def _checked_by_server(batch: Batch, name: str, first_row: int, bad_row: int = -1) -> None:
    """dates.py's own check and message (the row made the file's)."""
    from . import dates

    try:
        if bad_row >= 0:
            dates._reject(name, bad_row, batch.columns[name])
        dates.check_dates(batch, [name])
    except PayloadError as exc:
        raise BatchInputError(_rows_from(exc.message, first_row)) from None


def _rows_from(message: str, first_row: int) -> str:
    """The server's message about a row of its batch, about the row of the file instead."""
    return re.sub(r"\brow (\d+)", lambda m: f"row {first_row + int(m.group(1))}", message)


# -- scoring -------------------------------------------------------------------------------------
class Scorer:
    """Predictions as the server makes them; for a classifier, its probabilities beside them.

    Only a classifier's last step runs twice (predict, predict_proba), on the features the
    preprocessing made once: what `Pipeline.predict` itself does, step by step.
    """

    def __init__(self, model: ServedModel, probabilities: bool = True) -> None:
        self.model = model
        self.features, self.head = _split(model)
        self.classes: list[Any] = []
        if probabilities and hasattr(self.head, "predict_proba") and hasattr(self.head, "classes_"):
            self.classes = np.asarray(self.head.classes_).tolist()

    def score(self, batch: Batch) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.classes:
            return np.asarray(self.model.predict(batch)), None
        X = self.features(batch)
        predictions = np.asarray(self.head.predict(X))
        if predictions.ndim > 1 and predictions.shape[1] == 1:
            predictions = predictions.ravel()
        return predictions, np.asarray(self.head.predict_proba(X), dtype=np.float64)


def _split(model: ServedModel) -> tuple[Any, Any]:
    """(the function making the last step's input from a Batch, the last step)."""
    from sklearn.pipeline import Pipeline

    from .compiled import CompiledModel
    from .model import FiniteChecked

    if isinstance(model, CompiledModel):

        def compiled(batch: Batch) -> Any:
            X = model.transform(batch.columns, batch.n_rows)
            for step in model.rest[:-1]:
                X = step.transform(X)
            return X

        return compiled, model.rest[-1]
    estimator = model.estimator
    if isinstance(estimator, FiniteChecked):  # the numeric path's wrapper: the Pipeline inside
        estimator = estimator.estimator

    def data(batch: Batch) -> Any:
        return model._frame(batch) if model.use_frame else batch.matrix

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        head = estimator.steps[-1][1]
        body = estimator[:-1]
        return (lambda batch: body.transform(data(batch))), head
    return data, estimator
