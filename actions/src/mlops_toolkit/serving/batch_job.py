"""The batch scoring job: the production model, a file in, Parquet out, every row in the store.

One pass, chunk by chunk: read, check against the signature, score, and hand the chunk to two
threads of their own, one writing it to a temporary Parquet file beside the output, one to the
prediction store (ids, inputs, prediction, probabilities) inside ONE transaction. Only when every
row is checked, scored and written is the transaction committed and the file renamed into
place; bad input anywhere in the file rolls the store back and removes the temporary file, so
it writes nothing anywhere. The store's writes (encoding, then the database, which sqlite3 and
psycopg wait for without the GIL) run beside the next chunk's reading and scoring instead of in
a second pass that read the input and the output again. While it runs, a SQLite store is
locked for other writers (PostgreSQL is not).
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import progress
from ..registry.mlmodel import ServedModel
from . import batch

ENVIRONMENT = "batch"  # what the store records for a batch job unless told otherwise


@dataclass
class Job:
    model: ServedModel
    model_name: str
    model_version: str
    source: batch.Source
    output: Path
    id_columns: list[str]
    chunk_rows: int = batch.DEFAULT_CHUNK_ROWS
    probabilities: bool = True
    store_url: str | None = None  # None: do not log
    environment: str = ENVIRONMENT
    progress: bool = True


@dataclass
class Result:
    rows: int = 0
    output: str = ""
    logged: int = 0
    classes: list[Any] = field(default_factory=list)
    seconds: float = 0.0


def run(job: Job) -> Result:
    """Score the file, write the output whole, log the rows; see the module's docstring."""
    start = time.perf_counter()
    batch.check_columns(job.source, job.model, job.id_columns)
    job.output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{job.output.name}.", suffix=".tmp", dir=job.output.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    result = Result(output=str(job.output))
    try:
        scorer = batch.Scorer(job.model, job.probabilities)
        result.classes = scorer.classes
        with _store(job, scorer.classes) as store:
            result.rows = _score(job, scorer, tmp, store)
            if result.rows == 0:
                raise batch.BatchInputError(
                    f"input {job.source.path.name} is empty: no rows to score"
                )
        result.logged = store.written if store is not None else 0
        os.replace(tmp, job.output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    result.seconds = time.perf_counter() - start
    return result


# -- pass 1: score -------------------------------------------------------------------------------
@dataclass
class _Chunk:
    """A chunk's place in the store: its batch id (the prefix of its rows' ids) and time."""

    batch_id: str
    rows: int
    ts: float


def _score(job: Job, scorer: batch.Scorer, tmp: Path, store: _StoreThread | None) -> int:
    import pyarrow as pa

    from ..monitoring.store.ids import new_batch

    done = 0
    ids = _Ids()
    with _progress(job, "scoring") as advance, _Writer(tmp) as writer:
        for record in batch.chunks(job.source, job.model, job.id_columns, job.chunk_rows):
            scored = batch.to_batch(record, job.model, done)
            predictions, proba = scorer.score(scored)
            now = time.time()
            chunk = _Chunk(new_batch(now), record.num_rows, now)
            table = _output_table(job, record, ids.new(chunk.batch_id, chunk.rows), now, scorer)
            table = table.append_column("prediction", pa.array(predictions.tolist()))
            for i, name in enumerate(_proba_names(scorer.classes)):
                table = table.append_column(name, pa.array(proba[:, i]))
            writer.put(table)
            if store is not None:
                store.put((chunk, record, predictions, proba))
            done += record.num_rows
            advance(record.num_rows)
    return done


class _Thread:
    """Chunks handed to a thread of its own while the next chunk is read and scored.

    At most two chunks wait (the memory bound); an error in the thread is raised in the caller,
    at the next `put` or at the end.
    """

    name = "score-thread"

    def __init__(self) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def put(self, item: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def handle(self, item: Any) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """In the thread, after the last item (or an error)."""

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                self.handle(item)
        except BaseException as exc:  # handed to the caller
            self.error = exc
            while self.queue.get() is not None:  # unblock put() until the end
                pass
        finally:
            self.finish()

    def __exit__(self, *exc: object) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


class _Writer(_Thread):
    """Parquet written beside the scoring: pyarrow encodes and compresses without the GIL, so on
    two cores the writing hides behind the scoring."""

    name = "score-writer"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.writer: Any = None

    def handle(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _Ids:
    """The store's prediction ids (monitoring/store/ids.py: a batch id, then the row in 6 hex
    digits), one batch per chunk, made by arrow: the row suffixes are the same in every chunk."""

    def __init__(self) -> None:
        self._suffixes: Any = None

    def new(self, batch_id: str, n: int) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        from ..monitoring.store.ids import MAX_ROWS

        if n > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} ids in one batch, asked for {n}")
        if self._suffixes is None or len(self._suffixes) < n:
            self._suffixes = pa.array([f"{i:06x}" for i in range(n)], pa.string())
        return pc.binary_join_element_wise(batch_id, self._suffixes.slice(0, n), "")


def _output_table(job: Job, record: Any, ids: Any, now: float, scorer: batch.Scorer) -> Any:
    import pyarrow as pa

    n = record.num_rows
    columns = {name: record.column(name) for name in job.id_columns}
    columns["prediction_id"] = ids
    # Constant columns: one dictionary value, a byte per row (and run-length encoded on disk).
    zeros = pa.array(np.zeros(n, dtype=np.int8))
    columns["model_name"] = pa.DictionaryArray.from_arrays(zeros, [job.model_name])
    columns["model_version"] = pa.DictionaryArray.from_arrays(zeros, [job.model_version])
    columns["scored_at"] = pa.array(np.full(n, int(now * 1e6)), pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


def _proba_names(classes: list[Any]) -> list[str]:
    return [f"probability_{c}" for c in classes]


# -- the store -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _store(job: Job, classes: list[Any]) -> Iterator[_StoreThread | None]:
    """The store's transaction and its writer thread (None without a store): committed when
    the block ends without an error, after the thread wrote every chunk."""
    if job.store_url is None:
        yield None
        return
    from ..monitoring.store import open_store

    with (
        open_store(job.store_url) as store,
        store.writing_batches() as write,
        _StoreThread(job, write, classes) as thread,
    ):
        yield thread


class _StoreThread(_Thread):
    """Each chunk as one scored batch (the server's form: numbers as their bytes, text as one
    JSON list per column, no Python object per row or value), inserted beside the scoring."""

    name = "score-store"

    def __init__(self, job: Job, write: Callable[[Any], int], classes: list[Any]) -> None:
        super().__init__()
        self.job, self.write = job, write
        self.labels = [str(c) for c in classes] or None  # JSON object keys
        self.written = 0

    def handle(self, item: Any) -> None:
        from ..monitoring.store import ScoredBatch

        chunk, record, predictions, proba = item
        names = [n for n in record.schema.names if n in self.job.model.names]
        scored = ScoredBatch(
            chunk.batch_id,
            self.job.model_name,
            self.job.model_version,
            self.job.environment,
            chunk.ts,
            names,
            _inputs(record, names),
            _values(predictions),
            self.labels,
            proba if self.labels else None,
        )
        self.written += self.write([scored])


def _values(predictions: np.ndarray) -> Any:
    """Predictions for the store: numbers as the numpy array (JSON straight from it), else a
    list of plain values."""
    return predictions if predictions.dtype.kind in "biuf" else predictions.tolist()


def _inputs(record: Any, names: list[str]) -> dict[str, Any]:
    """The chunk's columns for codec.py: numbers as numpy arrays (missing as NaN), bools and
    text as lists (missing as None), dates as ISO text, as the server receives them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Any] = {}
    for name in names:
        values = record.column(name)
        kind = values.type
        if pa.types.is_dictionary(kind):
            values, kind = values.dictionary_decode(), kind.value_type
        if pa.types.is_integer(kind) and not values.null_count:
            columns[name] = values.to_numpy()
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            columns[name] = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            columns[name] = _json_text(pc.strftime(values, "%Y-%m-%dT%H:%M:%S"))
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            columns[name] = _json_text(values)
        else:
            columns[name] = values.to_pylist()
    return columns


def _json_text(values: Any) -> Any:
    """A string column as the JSON list orjson would write, made by arrow (no Python string per
    value, and without the GIL, so beside the scoring); control characters, rare, go through
    Python as before."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..monitoring.store.codec import JSONList

    data = values.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    if len(values) == 0 or (raw < 0x20).any():
        return values.to_pylist()
    if ((raw == ord('"')) | (raw == ord("\\"))).any():
        values = pc.replace_substring(values, "\\", "\\\\")
        values = pc.replace_substring(values, '"', '\\"')
    kind = values.type
    quoted = pc.binary_join_element_wise(
        pa.scalar('"', kind), values, pa.scalar('",', kind), pa.scalar("", kind)
    ).fill_null(pa.scalar("null,", kind))
    offsets = np.frombuffer(
        quoted.buffers()[1], np.int64 if pa.types.is_large_string(kind) else np.int32
    )
    start, end = offsets[quoted.offset], offsets[quoted.offset + len(quoted)]
    return JSONList(b"[" + memoryview(quoted.buffers()[2])[start : end - 1] + b"]")


# -- progress ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _progress(job: Job, what: str) -> Iterator[Callable[[int], None]]:
    """A bar on stderr on a terminal; none in CI logs, one line when the work was long."""
    with progress.bar(job.source.rows, what, " rows", enabled=job.progress) as shown:
        yield shown.advance
