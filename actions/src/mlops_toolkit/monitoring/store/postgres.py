"""The team's store: PostgreSQL (the MLflow backend's server), tables in the schema `mlops`.

Driver: psycopg 3 (`pip install 'mlops-toolkit[store]'`), imported only here. JSON columns are
jsonb (a team can query them in SQL); times are epoch seconds (double precision) as in SQLite,
so both adapters share every query (`to_timestamp(ts)` in SQL for a readable time). A broken
connection (the server restarted) is opened again on the next call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import SCHEMA, StoreError
from ._sql import SQLStore

# Any number: the advisory lock that serializes `CREATE ... IF NOT EXISTS` of two processes
# opening a new database at once (the catalog would otherwise refuse one of them).
DDL_LOCK = 0x6D6C6F7073

TABLES = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.prediction_batches (
        batch_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        environment TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        n INTEGER NOT NULL,
        inputs BYTEA NOT NULL,
        predictions JSONB NOT NULL,
        classes JSONB,
        scores JSONB
    )""",
    f"CREATE INDEX IF NOT EXISTS prediction_batches_model_ts "
    f"ON {SCHEMA}.prediction_batches (model_name, model_version, ts)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.labels (
        prediction_id TEXT PRIMARY KEY,
        batch_id TEXT NOT NULL,
        label JSONB NOT NULL,
        labelled_at DOUBLE PRECISION NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS labels_batch ON {SCHEMA}.labels (batch_id)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.evaluations (
        id BIGSERIAL PRIMARY KEY,
        ts DOUBLE PRECISION NOT NULL,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        environment TEXT NOT NULL,
        "window" TEXT NOT NULL,
        metric TEXT NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        lower DOUBLE PRECISION,
        upper DOUBLE PRECISION,
        n BIGINT NOT NULL,
        estimated BOOLEAN NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS evaluations_model_ts ON {SCHEMA}.evaluations (model_name, ts)",
    # One row per prediction with its label, for people who query the database in SQL.
    f"""CREATE OR REPLACE VIEW {SCHEMA}.predictions AS
    SELECT p.prediction_id, b.model_name, b.model_version, b.environment,
        to_timestamp(b.ts) AS scored_at, p.value AS prediction, l.label,
        to_timestamp(l.labelled_at) AS labelled_at
    FROM {SCHEMA}.prediction_batches b
    CROSS JOIN LATERAL (
        SELECT b.batch_id || lpad(to_hex(e.ord::int - 1), 6, '0') AS prediction_id, e.value
        FROM jsonb_array_elements(b.predictions) WITH ORDINALITY AS e(value, ord)
    ) p
    LEFT JOIN {SCHEMA}.labels l ON l.prediction_id = p.prediction_id""",
)


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "a postgresql:// prediction store needs psycopg 3: pip install 'mlops-toolkit[store]'"
        ) from None
    return psycopg


class PostgresStore(SQLStore):
    placeholder = "%s"
    prefix = f"{SCHEMA}."
    json_in = "%s::jsonb"
    json_out = "{c}::text"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        super().__init__(url)
        self._psycopg = _driver()
        self.errors = (self._psycopg.Error,)
        # postgresql+psycopg2://... (SQLAlchemy's spelling, as MLflow's backend URI) works too.
        self._conninfo = "postgresql://" + url.split("://", 1)[1]
        self._timeout = timeout
        try:
            with self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
                # A schema made for the store's own login (infra/tracking's initdb script) is
                # used as it is: CREATE SCHEMA, even IF NOT EXISTS, needs CREATE on the database.
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
                made = cur.fetchone() is not None
                for statement in TABLES[1:] if made else TABLES:
                    cur.execute(statement)
        except self.errors as exc:
            self.close()
            raise self._fail("open the database", exc) from None

    def _connect(self) -> Any:
        ms = int(self._timeout * 1000)
        return self._psycopg.connect(
            self._conninfo,
            connect_timeout=max(1, int(self._timeout)),
            options=f"-c statement_timeout={ms} -c lock_timeout={ms}",
        )

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.close()
            self._conn = self._connect()
        with self._conn.transaction(), self._conn.cursor() as cur:
            yield cur
