"""tracking/sqlite_seed.py: a new SQLite tracking store starts as a copy of the empty schema that
MLflow's own set-up builds once per version, MLflow then uses it as its own, and nothing that
exists is ever replaced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlops_toolkit.project import runs
from mlops_toolkit.tracking import sqlite_seed


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One schema cache for the module: it is built once, as on a machine."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cached(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def _schema(path: Path) -> dict[str, object]:
    """Each table's columns and indexes, and the Alembic revision. Not the CREATE text: Alembic
    rebuilds SQLite tables to alter them, and the order of their constraints there varies from
    one process to the next (string hashing), for MLflow's own stores too."""
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        schema: dict[str, object] = {
            "revision": db.execute("SELECT version_num FROM alembic_version").fetchall()
        }
        for table in tables:
            indexes = {
                name: (unique, db.execute(f"PRAGMA index_info('{name}')").fetchall())
                for _, name, unique, *_ in db.execute(f"PRAGMA index_list('{table}')")
            }
            columns = sorted(db.execute(f"PRAGMA table_info('{table}')").fetchall())
            foreign = sorted(row[2:] for row in db.execute(f"PRAGMA foreign_key_list('{table}')"))
            schema[table] = (columns, sorted(indexes.items()), foreign)
    return schema


def _experiments(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT name, artifact_location FROM experiments").fetchall()


def test_a_new_store_is_the_schema_mlflow_builds_and_mlflow_uses_it(cached, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    seeded, own = tmp_path / "seeded" / "mlflow.db", tmp_path / "own" / "mlflow.db"
    assert sqlite_seed.seed(f"sqlite:///{seeded}")
    assert _experiments(seeded) == []  # MLflow adds its Default experiment on first use
    own.parent.mkdir()
    mlflow.MlflowClient(f"sqlite:///{own}").search_experiments()  # MLflow's migrations
    assert _schema(seeded) == _schema(own)

    client = mlflow.MlflowClient(f"sqlite:///{seeded}")
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    client.create_registered_model("model")
    assert _experiments(seeded) == _experiments(own) == [("Default", str(tmp_path / "mlruns/0"))]
    assert client.get_run(run.info.run_id).data.metrics == {"accuracy": 0.9}
    assert list(cached.glob("mlops-toolkit/*")) == [
        cached / "mlops-toolkit" / f"mlflow-{mlflow.__version__}-empty.db"
    ]


def test_a_store_that_exists_is_never_replaced(cached, tmp_path):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"a team's store")
    assert not sqlite_seed.seed(f"sqlite:///{store}")
    assert store.read_bytes() == b"a team's store"


def test_a_store_created_meanwhile_by_another_process_is_kept(cached, tmp_path, monkeypatch):
    store = tmp_path / "mlflow.db"
    copyfile = sqlite_seed.shutil.copyfile

    def racing(source, target):
        store.write_bytes(b"the other process's store")
        return copyfile(source, target)

    monkeypatch.setattr(sqlite_seed.shutil, "copyfile", racing)
    assert not sqlite_seed.seed(f"sqlite:///{store}")
    assert store.read_bytes() == b"the other process's store"
    assert [p.name for p in tmp_path.iterdir()] == ["mlflow.db"]  # no copy left behind


def test_without_a_usable_cache_the_store_is_left_to_mlflow(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_folder))
    store = tmp_path / "store" / "mlflow.db"
    assert not sqlite_seed.seed(f"sqlite:///{store}")
    assert not store.parent.exists()


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:5000", "postgresql://u@h/db", "sqlite:///:memory:", "sqlite://", "mlruns"],
)
def test_other_stores_are_not_touched(uri):
    assert sqlite_seed.store_path(uri) is None
    assert not sqlite_seed.seed(uri)


def test_a_projects_command_seeds_its_new_store(cached, tmp_path, monkeypatch):
    """connect() (every project command that tracks) starts a new SQLite store from the copy."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "private" / "mlflow.db"
    monkeypatch.setenv(runs.TRACKING_URI_ENV, f"sqlite:///{store}")
    runs.connect()
    assert _experiments(store) == []  # the copy, not yet opened by MLflow
