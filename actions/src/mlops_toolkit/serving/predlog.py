"""Where scored rows go: sampled JSON lines (the drift job's input) and the prediction store.

JSON lines: one file per UTC day and process, `<dir>/predictions-YYYYMMDD-<host>-<pid>.jsonl`;
each line is one row, a `contracts.PredictionRecord` (`{"schema": "mlops.prediction-log/1",
"prediction_id": ..., "model_name": ..., "model_version": ..., "environment": ..., "ts": epoch
seconds, "inputs": {...}, "prediction": ...}`). Whole requests are sampled (rate in [0, 1]) so a
batch is never split.

The store (`StoreWriter`) gets every row: a label can only come back for a row it holds. The
request path only appends a reference to a bounded queue; a thread of its own turns rows into
records and writes them in batches. When the store is slow or down the queue fills, and rows
that find it full are dropped, counted (the `model_serving_prediction_store_dropped` counter)
and logged: memory stays bounded, and no loss goes unseen.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import orjson

from ..contracts import PredictionRecord
from ..monitoring.store import PredictionStore, ScoredBatch, StoreError, open_store
from ..monitoring.store.ids import new_batch, row_ids
from ..registry.mlmodel import Batch, ServedModel

log = logging.getLogger(__name__)


class PredictionLogger:
    def __init__(
        self,
        directory: str,
        sample_rate: float,
        model_name: str,
        model_version: str,
        environment: str = "unknown",
    ) -> None:
        self.directory = directory
        self.sample_rate = sample_rate
        self.model = (model_name, model_version, environment)
        self._day = ""
        self._fh: IO[bytes] | None = None
        self._random = random.Random()
        # Large batches are scored in worker threads: one writer at a time keeps lines whole.
        self._lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)

    def maybe_log(
        self,
        names: list[str],
        batch: Batch,
        predictions: list[Any],
        batch_id: str | None = None,
    ) -> None:
        """Log the request with probability `sample_rate`; never fail the request.

        `batch_id`: the request's (its rows' ids are it + row, `ids.new_ids`); default a new one."""
        if self.sample_rate <= 0 or self._random.random() >= self.sample_rate:
            return
        try:
            rows = input_rows(names, batch)
            ts = time.time()
            batch_id = batch_id or new_batch(ts)
            ids = row_ids(batch_id, len(predictions))
            lines = [
                orjson.dumps(
                    PredictionRecord(
                        ids[i], *self.model, ts, dict(zip(names, row, strict=True)), pred
                    ).to_dict(),
                    option=orjson.OPT_SERIALIZE_NUMPY,
                )
                for i, (row, pred) in enumerate(zip(rows, predictions, strict=True))
            ]
            with self._lock:
                fh = self._file(ts)
                fh.write(b"\n".join(lines) + b"\n")
                fh.flush()
        except (OSError, TypeError, ValueError) as exc:
            log.warning("prediction log write failed: %s", exc)

    def _file(self, ts: float) -> IO[bytes]:
        day = time.strftime("%Y%m%d", time.gmtime(ts))
        if self._fh is None or day != self._day:
            self.close()
            name = f"predictions-{day}-{socket.gethostname()}-{os.getpid()}.jsonl"
            self._fh = open(os.path.join(self.directory, name), "ab")  # noqa: SIM115
            self._day = day
        return self._fh

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def input_rows(names: list[str], batch: Batch) -> Any:
    """The batch's rows as sequences of plain values, in `names` order."""
    if batch.matrix is not None:
        return batch.matrix.tolist()
    return zip(*(batch.columns[n].tolist() for n in names), strict=False)


@dataclass
class _Item:
    batch_id: str  # the request's rows' ids are it + row (ids.py): no list of ids is kept
    n: int
    ts: float
    model: ServedModel
    batch: Batch
    predictions: list[Any]


class StoreWriter:
    """Every scored row into the prediction store, off the request path, in bounded memory.

    `submit` (the request path) never waits on the store: it appends or, with `max_rows` rows
    already waiting, drops the request's rows and counts them. The writer thread opens the store
    itself (a server may start while the database is down) and retries a failed write with a
    growing pause; the rows it holds meanwhile still count against `max_rows`.
    """

    def __init__(
        self,
        url: str,
        *,
        model_name: str,
        model_version: str,
        environment: str,
        max_rows: int,
        timeout: float = 5.0,
        batch_rows: int = 10_000,
        linger: float = 0.3,
        scores: bool = True,
        on_written: Callable[[int], None] = lambda n: None,
        on_dropped: Callable[[int, str], None] = lambda n, why: None,
        on_failed: Callable[[], None] = lambda: None,
    ) -> None:
        self.url = url
        self.labels = (model_name, model_version, environment)
        self.max_rows = max_rows
        self.timeout = timeout
        self.batch_rows = batch_rows
        self.linger = linger
        self._idle = False
        self.scores = scores
        self.on_written, self.on_dropped, self.on_failed = on_written, on_dropped, on_failed
        self.queued = 0  # rows waiting or being written
        self._waiting = 0  # rows waiting (in _items)
        self.dropped = 0
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._abandoned = False
        self._last_warning = 0.0
        self._model_names: tuple[Any, list[str]] = (None, [])
        self._thread = threading.Thread(target=self._run, name="prediction-store", daemon=True)
        self._thread.start()

    # -- request path ------------------------------------------------------------------------
    def submit(
        self, batch_id: str, ts: float, model: ServedModel, batch: Batch, predictions: list[Any]
    ) -> None:
        """Queue a request: its batch id (`ids.new_batch`) and references, nothing per row."""
        n = len(predictions)
        with self._cond:
            if self.queued + n > self.max_rows or self._stopping:
                self._drop_locked(n, "queue_full" if not self._stopping else "shutdown")
                return
            self.queued += n
            self._items.append(_Item(batch_id, n, ts, model, batch, predictions))
            self._waiting += n
            if self._idle:  # wake the writer only when it waits for work, not per request
                self._cond.notify()

    # -- writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        store: PredictionStore | None = None
        while True:
            items = self._take()
            if items is None:
                break
            store = self._write(store, self._batches(items))
        if store is not None:
            store.close()

    def _take(self) -> list[_Item] | None:
        with self._cond:
            self._idle = True
            while not self._items and not self._stopping:
                self._cond.wait()
            self._idle = False
            if not self._items:
                return None
            # Let requests gather: one transaction per `linger` instead of one per request (a
            # commit costs more than the rows of a small request). Few and large: each time
            # this thread comes back from the store's I/O it wants the GIL while the request
            # thread holds it, and on another core each GIL release of the request thread's
            # numpy calls then becomes a hand-over. At 2,000 rows (~60 transactions a second
            # under load) a server free on two cores answered x0.75 as many 100-row requests
            # as without the store; at 10,000, x0.90. More rows per transaction hold the GIL
            # longer at a time (20,000 rows: p99 +40 %) for no more throughput.
            deadline = time.monotonic() + self.linger
            while not self._stopping and self._waiting < self.batch_rows:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            items, rows = [], 0
            while self._items and (not items or rows + self._items[0].n <= self.batch_rows):
                item = self._items.popleft()
                self._waiting -= item.n
                items.append(item)
                rows += item.n
            return items

    def _batches(self, items: list[_Item]) -> list[ScoredBatch]:
        name, version, environment = self.labels
        out = []
        scored = _scores_of(items) if self.scores else [(None, None)] * len(items)
        for item, (classes, scores) in zip(items, scored, strict=True):
            model, batch = item.model, item.batch
            names = self._names(model)
            # Stored from numpy as it is (store/codec.py): no per-row or per-value Python here.
            rows: Any = batch.matrix if batch.matrix is not None else batch.columns
            out.append(
                ScoredBatch(
                    item.batch_id,
                    name,
                    version,
                    environment,
                    item.ts,
                    names,
                    rows,
                    item.predictions,
                    classes,
                    scores,
                )
            )
        return out

    def _names(self, model: ServedModel) -> list[str]:
        """The model's column names, one list per model (built once, not once per request;
        the same list each time also lets codec.py reuse its header)."""
        if self._model_names[0] is not model:
            self._model_names = (model, model.names)
        return self._model_names[1]

    def _write(self, store: PredictionStore | None, batches: list[ScoredBatch]) -> Any:
        pause = 0.5
        rows = sum(len(b.predictions) for b in batches)
        while True:
            try:
                if store is None:
                    store = open_store(self.url, timeout=self.timeout)
                store.write_batches(batches)
                self._done(rows)
                self.on_written(rows)
                return store
            except StoreError as exc:
                self.on_failed()
                self._warn(f"prediction store write failed (will retry): {exc}")
                if store is not None:
                    store.close()
                    store = None
            except Exception:  # rows the store cannot take (not JSON-able): never retried
                log.exception("prediction store: %d row(s) cannot be written", rows)
                with self._cond:
                    self.queued -= rows
                    self._last_warning = 0.0
                    self._drop_locked(rows, "unwritable")
                return store
            with self._cond:
                if self._abandoned:  # shutdown gave up on the store: these rows are lost, said so
                    self.queued -= rows
                    self._last_warning = 0.0
                    self._drop_locked(rows, "shutdown")
                    return store
                self._cond.wait(pause)
            pause = min(pause * 2, 30.0)

    def _done(self, n: int) -> None:
        with self._cond:
            self.queued -= n

    def _drop_locked(self, n: int, why: str) -> None:
        self.dropped += n
        self.on_dropped(n, why)
        self._warn(
            f"prediction store: dropped {n} row(s) ({why}; {self.dropped} in all, "
            f"{self.queued} waiting, limit {self.max_rows})"
        )

    def _warn(self, message: str) -> None:
        # Once per 10 s: a store down under load would otherwise log a line per request.
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            log.warning(message)

    # -- shutdown ----------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued within `timeout`; rows still waiting then are dropped, counted."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            if self._thread.is_alive():
                self._abandoned = True
                self._cond.notify_all()
            left, self._waiting = self._waiting, 0
            self._items.clear()
            if left:
                self.queued -= left
                self._last_warning = 0.0  # the last word is always logged
                self._drop_locked(left, "shutdown")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted row is written (tests, batch jobs); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if self.queued == 0:
                    return True
            time.sleep(0.01)
        return False


def _scores_of(items: list[_Item]) -> list[tuple[list[str] | None, Any]]:
    """Each item's (classes, probabilities), from ONE `predict_proba` per run of items of the
    same model: a Pipeline's fixed cost per call (each step's checks) is most of a small
    request's, and the writer gathers many requests (predictions are row by row, so the rows of
    several requests scored together score as they would alone)."""
    out: list[tuple[list[str] | None, Any]] = []
    start = 0
    while start < len(items):
        model = items[start].model
        end = start + 1
        while end < len(items) and items[end].model is model:
            end += 1
        run = items[start:end]
        joined = _joined([item.batch for item in run]) if len(run) > 1 else None
        classes, matrix = class_scores(model, joined) if joined is not None else (None, None)
        if matrix is None:  # one request, or rows that only fail together: one call each
            out.extend(class_scores(model, item.batch) for item in run)
        else:
            cuts = np.cumsum([item.batch.n_rows for item in run])[:-1]
            out.extend((classes, part) for part in np.split(np.asarray(matrix), cuts))
        start = end
    return out


def _joined(batches: list[Batch]) -> Batch | None:
    """The batches' rows as one Batch (all matrices, or all the same columns); else None."""
    n = sum(b.n_rows for b in batches)
    if all(b.matrix is not None for b in batches):
        return Batch(n, matrix=np.vstack([b.matrix for b in batches]))
    first = batches[0].columns
    kinds = [(name, array.dtype) for name, array in first.items()]
    if not kinds or any(
        b.matrix is not None or [(c, a.dtype) for c, a in b.columns.items()] != kinds
        for b in batches
    ):
        return None  # the same columns of the same types only: never a type the model never saw
    names = list(first)
    return Batch(n, columns={c: np.concatenate([b.columns[c] for b in batches]) for c in names})


def class_scores(model: ServedModel, batch: Batch) -> tuple[list[str] | None, Any]:
    """(classes, probabilities: n x classes) when the model is a classifier that gives them."""
    from .model import FiniteChecked

    estimator = model.estimator
    if isinstance(estimator, FiniteChecked):  # the matrix path's wrapper: only predict
        estimator = estimator.estimator
    proba = getattr(estimator, "predict_proba", None)
    classes = getattr(estimator, "classes_", None)
    if proba is None or classes is None:
        return None, None
    try:
        data = model._frame(batch) if model.use_frame else batch.matrix
        matrix = proba(data)
    except Exception:  # a model whose predict_proba fails still has its predictions stored
        return None, None
    return [str(c.item() if hasattr(c, "item") else c) for c in classes], matrix
