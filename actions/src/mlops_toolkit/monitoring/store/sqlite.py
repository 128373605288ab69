"""The embedded store: one SQLite file (WAL, so readers never wait for the server's writes) and,
beside it, the folder of its inputs' bytes (segments.py).

A batch's inputs are in `<database>-inputs/`, its row saying where (`inputs_file`,
`inputs_offset`, `inputs_length`; `inputs` is empty). Rows written before that folder existed
keep their bytes in `inputs` (a database from then gains the three columns when opened).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from ...core import sqlite_url
from . import ScoredBatch, StoreError
from ._sql import SQLStore
from .segments import Segments

# Where a row's inputs are (segments.py): in a new table, and added to a database made before the
# inputs moved out of the rows.
INPUT_REFS = ("inputs_file TEXT", "inputs_offset INTEGER", "inputs_length INTEGER")

TABLES = (
    f"""CREATE TABLE IF NOT EXISTS prediction_batches (
        batch_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        environment TEXT NOT NULL,
        ts REAL NOT NULL,
        n INTEGER NOT NULL,
        inputs BLOB NOT NULL,
        {", ".join(INPUT_REFS)},
        predictions TEXT NOT NULL,
        classes TEXT,
        scores TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS prediction_batches_model_ts "
    "ON prediction_batches (model_name, model_version, ts)",
    """CREATE TABLE IF NOT EXISTS labels (
        prediction_id TEXT PRIMARY KEY,
        batch_id TEXT NOT NULL,
        label TEXT NOT NULL,
        labelled_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS labels_batch ON labels (batch_id)",
    """CREATE TABLE IF NOT EXISTS evaluations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        environment TEXT NOT NULL,
        "window" TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL NOT NULL,
        lower REAL,
        upper REAL,
        n INTEGER NOT NULL,
        estimated INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS evaluations_model_ts ON evaluations (model_name, ts)",
    # One row per prediction with its label, for people who query the file in SQL.
    """CREATE VIEW IF NOT EXISTS predictions AS
    SELECT b.batch_id || printf('%06x', p.key) AS prediction_id, b.model_name, b.model_version,
        b.environment, b.ts, p.value AS prediction, l.label, l.labelled_at
    FROM prediction_batches b, json_each(b.predictions) p
    LEFT JOIN labels l ON l.prediction_id = b.batch_id || printf('%06x', p.key)""",
)


def path_of(url: str) -> str:
    """`sqlite:///rel/path` -> `rel/path`, `sqlite:////abs/path` -> `/abs/path` (SQLAlchemy's
    spelling, core/sqlite_url.py, so one URL serves both); a store is always a file."""
    path = sqlite_url.file_of(url)
    if path is None:
        raise StoreError(f"a SQLite store URL is sqlite:///PATH (a file), got {url!r}")
    return path


class SQLiteStore(SQLStore):
    placeholder = "?"
    errors = (sqlite3.Error,)
    input_columns = ("inputs", "inputs_file", "inputs_offset", "inputs_length")

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        super().__init__(url)
        path = self._path = path_of(url)
        self._segments = Segments(path)
        try:
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE below, so a writer
            # takes the lock at the start and never fails half-way on an upgrade.
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            # Small pages (a new file only; before WAL, which fixes the size): the rows hold
            # no inputs now (segments.py), and a commit writes each page it touched in full to
            # the WAL: 64 KiB pages, right while the inputs were in the rows, cost the server's
            # writer ~10 µs more per 100-row request. Files made then keep theirs.
            self._conn.execute("PRAGMA page_size=4096")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # The WAL is truncated back to this after a checkpoint (it grows to ~64 MB between).
            self._conn.execute(f"PRAGMA journal_size_limit={64 << 20}")
            with self._transaction() as cur:
                for statement in TABLES:
                    cur.execute(statement)
                _add_missing(cur, "prediction_batches", INPUT_REFS)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise self._fail("open the database", exc) from None

    def _place_inputs(self, encoded: list[list[Any]]) -> list[tuple[Any, ...]]:
        return [(b"", *where) for where in self._segments.append(encoded)]

    def _inputs_of(self, stored: tuple[Any, ...]) -> bytes:
        inputs, name, offset, length = stored
        return inputs if name is None else self._segments.read(name, offset, length)

    @contextmanager
    def writing_batches(self) -> Iterator[Callable[[Sequence[ScoredBatch]], int]]:
        """As every store's, and the inputs flushed to disk after each call: a batch job's
        transaction holds a hundred megabytes or more, and the commit must find them on disk.
        Flushed while the job scores its next chunk (the caller's writer thread waits, not the
        scoring), the commit has only the last chunk left to wait for."""
        with super().writing_batches() as write:

            def write_and_flush(batches: Sequence[ScoredBatch]) -> int:
                written = write(batches)
                try:
                    self._segments.flush()
                except OSError as exc:
                    raise self._fail("write predictions", exc) from None
                return written

            yield write_and_flush

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
            self._segments.flush()  # before the COMMIT that refers to what was appended
            cur.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):  # a failed COMMIT may have ended the transaction
                cur.execute("ROLLBACK")
            self._segments.rolled_back()
            raise
        self._segments.ended()

    def close(self) -> None:
        super().close()
        self._segments.close()


def _add_missing(cur: Any, table: str, columns: tuple[str, ...]) -> None:
    """`ALTER TABLE table ADD COLUMN` for each of `columns` ("name TYPE") the table lacks."""
    have = {row[1] for row in cur.execute(f"PRAGMA table_info({table})").fetchall()}
    for column in columns:
        if column.split()[0] not in have:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
