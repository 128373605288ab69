"""Prediction stores for tests (monitoring/store): a fresh SQLite file, or a database of its own
on the real PostgreSQL of .ci/postgres-up; `store_url` is parametrized over both.

Import the fixtures into a test module: `from support.stores import pg_url, store_url  # noqa`.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_PORT = int(os.environ.get("MLOPS_PG_PORT", "5433"))
PG_ADMIN = f"postgresql://mlflow:mlflow@127.0.0.1:{PG_PORT}/postgres"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A new database on the suite's PostgreSQL, dropped at the end of the session."""
    result = subprocess.run([str(REPO / ".ci" / "postgres-up")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    import psycopg

    name = f"store_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://mlflow:mlflow@127.0.0.1:{PG_PORT}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test runs against both adapters (model names unique per test: a shared database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'predictions.sqlite3'}"
    return request.getfixturevalue("pg_url")
