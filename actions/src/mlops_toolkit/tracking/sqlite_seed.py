"""A new SQLite tracking store starts as a copy of an empty one at MLflow's current schema.

MLflow builds a new SQLite store by creating its first tables and then running every Alembic
migration since its early releases, one after another: 2-3 s of CPU for each new store (a
project's first `train`, each test's private store, a tracking server's first start). That
schema is the same for every store of one MLflow version, so it is built once per machine and
version, in the user's cache (by MLflow's own function, the one its stores call), and a store
file that does not exist yet starts as a copy of it. MLflow then finds every table at its head
revision, skips the migrations and adds its Default experiment itself, with this store's
artifact location, as it would have. Anything unexpected (a cache that cannot be written, a
file system without hard links, MLflow's helper moved in a later version) leaves the new store
to MLflow, as before: seeding only ever saves time.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..core import sqlite_url

log = logging.getLogger(__name__)

CACHE_DIR = "mlops-toolkit"


def store_path(uri: str) -> Path | None:
    """The file of a `sqlite:///PATH` URI (core/sqlite_url.py); None otherwise."""
    path = sqlite_url.file_of(uri)
    return None if path is None else Path(path)


def seed(uri: str) -> bool:
    """Create the store file of a SQLite URI from the cached empty schema, when it does not
    exist yet; True when this call created it. Never replaces a file that exists."""
    path = store_path(uri)
    if path is None or path.exists():
        return False
    copy = path.with_name(f".{path.name}.{os.getpid()}.seed")
    try:
        schema = _schema()
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(schema, copy)
        # A hard link never replaces a store another process created meanwhile.
        os.link(copy, path)
        return True
    except FileExistsError:
        return False
    except Exception as error:  # only ever an optimisation: MLflow builds the store instead
        log.debug("the SQLite store %s is left to MLflow: %s", path, error)
        return False
    finally:
        copy.unlink(missing_ok=True)


def _schema() -> Path:
    """The cached empty store of this MLflow version, built on first use."""
    import mlflow

    cache = _cache_dir() / f"mlflow-{mlflow.__version__}-empty.db"
    if cache.is_file():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    building = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    building.unlink(missing_ok=True)
    try:
        _initialize(building)
        os.replace(building, cache)  # whole or not at all, whoever builds it at the same time
    finally:
        building.unlink(missing_ok=True)
    return cache


def _initialize(path: Path) -> None:
    """MLflow's own schema set-up, the one `SqlAlchemyStore` runs on an empty database."""
    from mlflow.store.db.utils import _initialize_tables, create_sqlalchemy_engine_with_retry

    engine = create_sqlalchemy_engine_with_retry(f"{sqlite_url.PREFIX}{path}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / CACHE_DIR
