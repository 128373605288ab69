"""The file behind a `sqlite:///PATH` URL, one reading for every store that takes one: MLflow's
tracking store, the prediction store, Optuna's study database.

SQLAlchemy's spelling: `sqlite:///rel/path` is relative to the working folder,
`sqlite:////abs/path` absolute, a `?query` is the driver's options and not part of the name.
`sqlite://` and `sqlite:///:memory:` name no file, nor does `sqlite:///` with no path (SQLite
would open a private temporary database). Callers that need a file say so in their own words.
"""

from __future__ import annotations

PREFIX = "sqlite:///"
MEMORY = ":memory:"


def file_of(url: str) -> str | None:
    """The path of the database file a SQLite URL names; None for any other URL, and for a
    SQLite URL that names no file."""
    if not url.startswith(PREFIX):
        return None
    path = url[len(PREFIX) :].split("?", 1)[0]
    return path if path and path != MEMORY else None


def is_sqlite(url: str) -> bool:
    """A SQLite URL, whether or not it names a file."""
    return url.startswith("sqlite:")
