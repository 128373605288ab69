"""One reading of `sqlite:///PATH` (core/sqlite_url.py) for the three stores that take one: the
tracking store's seed, the prediction store and the sweep's study database."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlops_toolkit.core import sqlite_url
from mlops_toolkit.errors import InputError
from mlops_toolkit.monitoring.store import StoreError, open_store
from mlops_toolkit.tracking import sqlite_seed
from mlops_toolkit.tuning import study

pytestmark = pytest.mark.fast

NO_FILE = ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///?mode=memory"]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///mlflow.db", "mlflow.db"),
        ("sqlite:///.mlops/predictions.sqlite3", ".mlops/predictions.sqlite3"),
        ("sqlite:////abs/p.db", "/abs/p.db"),
        ("sqlite:////abs/p.db?timeout=30", "/abs/p.db"),
        *[(url, None) for url in NO_FILE],
        ("postgresql://u@h/db", None),
        ("http://127.0.0.1:5000", None),
        ("mlruns", None),
        ("/a/path.sqlite3", None),
    ],
)
def test_the_file_a_url_names(url: str, path: str | None) -> None:
    assert sqlite_url.file_of(url) == path


@pytest.mark.parametrize("url", NO_FILE)
def test_every_store_reads_a_url_without_a_file_alike(url: str, tmp_path: Path) -> None:
    """No store opens SQLite's private temporary database for a URL without a file: the seed
    leaves it, the prediction store and the study refuse it in one line."""
    assert sqlite_seed.store_path(url) is None and not sqlite_seed.seed(url)
    with pytest.raises(StoreError, match=r"sqlite:///PATH \(a file\)"):
        open_store(url)
    with pytest.raises(InputError, match="the tracking store has no file: name the study's"):
        study.storage_url(url, "")
    with pytest.raises(InputError, match="names no file"):
        study.storage_url("http://mlflow:5000", url)
    assert study._engine_kwargs(url) == {}


@pytest.mark.parametrize("url", ["sqlite:///rel/p.db?timeout=5", "sqlite:////abs/p.db?x=1"])
def test_every_store_finds_the_same_file(url: str) -> None:
    path = sqlite_url.file_of(url)
    assert str(sqlite_seed.store_path(url)) == path
    assert Path(study.storage_url(url, "")) == Path(path).parent / study.STORE_FILE
    from mlops_toolkit.monitoring.store.sqlite import path_of

    assert path_of(url) == path
