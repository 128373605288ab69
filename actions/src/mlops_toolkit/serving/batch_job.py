"""The batch scoring job: the production model, a file in, Parquet out, every row in the store.

Two passes, so that bad input writes nothing anywhere:
1. read, check and score chunk by chunk into a temporary file beside the output (every row
   checked before the store sees one);
2. read the input again beside that file and log each chunk's rows to the prediction store
   (ids, inputs, prediction, probabilities), then rename the file into place.
A failure in either pass removes the temporary file; the output appears whole or not at all.
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
    import pyarrow.parquet as pq

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
        result.rows = _score(job, scorer, tmp)
        if result.rows == 0:
            raise batch.BatchInputError(f"input {job.source.path.name} is empty: no rows to score")
        if job.store_url is not None:
            result.logged = _log(job, tmp, pq, scorer.classes)
        os.replace(tmp, job.output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    result.seconds = time.perf_counter() - start
    return result


# -- pass 1: score -------------------------------------------------------------------------------
def _score(job: Job, scorer: batch.Scorer, tmp: Path) -> int:
    import pyarrow as pa

    done = 0
    ids = _Ids()
    with _progress(job, "scoring") as advance, _Writer(tmp) as writer:
        for record in batch.chunks(job.source, job.model, job.id_columns, job.chunk_rows):
            scored = batch.to_batch(record, job.model, done)
            predictions, proba = scorer.score(scored)
            now = time.time()
            table = _output_table(job, record, ids.new(record.num_rows, now), now, scorer)
            table = table.append_column("prediction", pa.array(predictions.tolist()))
            for i, name in enumerate(_proba_names(scorer.classes)):
                table = table.append_column(name, pa.array(proba[:, i]))
            writer.put(table)
            done += record.num_rows
            advance(record.num_rows)
    return done


class _Writer:
    """Parquet written by a thread of its own while the next chunk is read and scored.

    pyarrow encodes and compresses without the GIL, so on two cores the writing hides behind the
    scoring. At most two chunks wait (the memory bound); an error in the thread is raised here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="score-writer", daemon=True)

    def __enter__(self) -> _Writer:
        self.thread.start()
        return self

    def put(self, table: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(table)

    def _run(self) -> None:
        import pyarrow.parquet as pq

        writer = None
        try:
            while (table := self.queue.get()) is not None:
                if writer is None:
                    writer = pq.ParquetWriter(self.path, table.schema)
                writer.write_table(table.cast(writer.schema))
        except BaseException as exc:  # handed to the scoring thread
            self.error = exc
            while self.queue.get() is not None:  # unblock put() until the end
                pass
        finally:
            if writer is not None:
                writer.close()

    def __exit__(self, *exc: object) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


class _Ids:
    """The store's prediction ids (monitoring/store/ids.py: a batch id, then the row in 6 hex
    digits), one batch per chunk, made by arrow: the row suffixes are the same in every chunk."""

    def __init__(self) -> None:
        self._suffixes: Any = None

    def new(self, n: int, now: float) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        from ..monitoring.store.ids import MAX_ROWS, new_batch

        if n > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} ids in one batch, asked for {n}")
        if self._suffixes is None or len(self._suffixes) < n:
            self._suffixes = pa.array([f"{i:06x}" for i in range(n)], pa.string())
        return pc.binary_join_element_wise(new_batch(now), self._suffixes.slice(0, n), "")


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


# -- pass 2: log ---------------------------------------------------------------------------------
def _log(job: Job, tmp: Path, pq: Any, classes: list[Any]) -> int:
    """Each chunk to the store as one scored batch (the server's form): numbers as their bytes,
    text as one JSON list per column, no Python object per row or value."""
    from ..monitoring.store import open_store

    scored = _rows(pq.ParquetFile(tmp).iter_batches(batch_size=job.chunk_rows))
    proba_names = _proba_names(classes)
    labels = [str(c) for c in classes]  # JSON object keys
    logged = 0
    with open_store(job.store_url) as store, _progress(job, "logging") as advance:
        for record in batch.chunks(job.source, job.model, [], job.chunk_rows):
            out = scored(record.num_rows)
            logged += store.write_batches([_scored_batch(job, record, out, proba_names, labels)])
            advance(record.num_rows)
    return logged


def _scored_batch(
    job: Job, record: Any, out: Any, proba_names: list[str], labels: list[str]
) -> Any:
    from ..monitoring.store import ScoredBatch

    n = record.num_rows
    batch_id = _batch_id(out.column("prediction_id"), n)
    ts = out.column("scored_at")[0].as_py().timestamp()
    scores = (
        np.column_stack([out.column(name).to_numpy() for name in proba_names])
        if proba_names
        else None
    )
    return ScoredBatch(
        batch_id,
        job.model_name,
        job.model_version,
        job.environment,
        ts,
        record.schema.names,
        _inputs(record),
        _values(out.column("prediction")),
        labels or None,
        scores,
    )


def _rows(batches: Iterator[Any]) -> Callable[[int], Any]:
    """A function taking the next `n` rows of the scored file as one table."""
    import pyarrow as pa

    pending: list[Any] = []
    held = 0

    def take(n: int) -> Any:
        nonlocal held
        while held < n:
            nxt = next(batches)
            pending.append(nxt)
            held += nxt.num_rows
        table = pa.Table.from_batches(pending).combine_chunks()
        pending.clear()
        rest = table.slice(n)
        if rest.num_rows:
            pending.extend(rest.to_batches())
        held = rest.num_rows
        return table.slice(0, n)

    return take


def _batch_id(ids: Any, n: int) -> str:
    """The batch the chunk's ids share: pass 1 made one batch per chunk, row 0 to n-1, and pass
    2 reads the same chunks; anything else would store rows under the wrong ids."""
    import pyarrow.compute as pc

    from ..monitoring.store.ids import BATCH_DIGITS

    first, last = ids[0].as_py(), ids[n - 1].as_py()
    batch_id = first[:BATCH_DIGITS]
    aligned = first == f"{batch_id}{0:06x}" and last == f"{batch_id}{n - 1:06x}"
    if not aligned or not pc.all(pc.starts_with(ids, batch_id)).as_py():
        raise RuntimeError(f"scored rows and input chunks out of step at batch {batch_id}")
    return batch_id


def _values(column: Any) -> Any:
    """A column for the store: numbers as a numpy array (JSON straight from it), else a list."""
    import pyarrow as pa

    kind = column.type
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and not column.null_count:
        return column.to_numpy()
    return column.to_pylist()


def _inputs(record: Any) -> dict[str, Any]:
    """The chunk's columns for codec.py: numbers as numpy arrays (missing as NaN), bools and
    text as lists (missing as None), dates as ISO text, as the server receives them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Any] = {}
    for name, values in zip(record.schema.names, record.columns, strict=True):
        kind = values.type
        if pa.types.is_dictionary(kind):
            values, kind = values.dictionary_decode(), kind.value_type
        if pa.types.is_integer(kind) and not values.null_count:
            columns[name] = values.to_numpy()
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            columns[name] = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            columns[name] = pc.strftime(values, "%Y-%m-%dT%H:%M:%S").to_pylist()
        else:
            columns[name] = values.to_pylist()
    return columns


# -- progress ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _progress(job: Job, what: str) -> Iterator[Callable[[int], None]]:
    """A bar on stderr on a terminal; none in CI logs, one line when the work was long."""
    with progress.bar(job.source.rows, what, " rows", enabled=job.progress) as shown:
        yield shown.advance
