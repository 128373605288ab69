"""The embedded store: one SQLite file (WAL, so readers never wait for the server's writes)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from . import ScoredBatch, StoreError
from ._sql import SQLStore

TABLES = (
    """CREATE TABLE IF NOT EXISTS prediction_batches (
        batch_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        environment TEXT NOT NULL,
        ts REAL NOT NULL,
        n INTEGER NOT NULL,
        inputs BLOB NOT NULL,
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
    spelling, so one URL serves both)."""
    rest = url.split("://", 1)[1]
    if not rest.startswith("/") or rest == "/":
        raise StoreError(f"a SQLite store URL is sqlite:///PATH, got {url!r}")
    return rest[1:].split("?", 1)[0]


class SQLiteStore(SQLStore):
    placeholder = "?"
    errors = (sqlite3.Error,)

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        super().__init__(url)
        path = self._path = path_of(url)
        try:
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE below, so a writer
            # takes the lock at the start and never fails half-way on an upgrade.
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            # 64 KiB pages (a new file only; before WAL, which fixes the size): a request's
            # inputs fit one page instead of a chain of overflow pages, and the scoring server's
            # writer spends about half the CPU per row (WAL frames and checksums are per page).
            self._conn.execute("PRAGMA page_size=65536")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # The WAL is truncated back to this after a checkpoint (it grows to ~64 MB between).
            self._conn.execute(f"PRAGMA journal_size_limit={64 << 20}")
            with self._transaction() as cur:
                for statement in TABLES:
                    cur.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise self._fail("open the database", exc) from None

    @contextmanager
    def writing_batches(self) -> Iterator[Callable[[Sequence[ScoredBatch]], int]]:
        """As every store's, and the WAL flushed to disk after each call: the commit's
        checkpoint syncs the WAL before it copies it into the database, and a batch job's
        transaction holds a hundred megabytes or more. Flushed while the job scores its next
        chunk (the caller's writer thread waits, not the scoring), the commit has only the
        last chunk left to wait for. Best effort: a flush that fails is the commit's to do."""
        with super().writing_batches() as write, _Flusher(self._path + "-wal") as flush:

            def write_and_flush(batches: Sequence[ScoredBatch]) -> int:
                written = write(batches)
                flush()
                return written

            yield write_and_flush

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")


class _Flusher:
    """fdatasync of one file, opened once (missing or failing: nothing done)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> Callable[[], None]:
        return self.flush

    def flush(self) -> None:
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDONLY)
            os.fdatasync(self.fd)
        except OSError:
            pass

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
