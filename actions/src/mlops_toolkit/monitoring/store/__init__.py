"""The prediction store: every scored row, its ground truth when it comes back, and the history
of live evaluations, behind one interface with two adapters.

- `sqlite:///relative/path.sqlite3` (or `sqlite:////absolute/path`): the embedded default, one
  file under the project and its `-inputs` folder beside it (sqlite.py), stdlib `sqlite3`, no
  server.
- `postgresql://user:password@host:port/db`: the team's option, the MLflow backend's server, in
  a schema of its own (`mlops`); driver psycopg (v3), imported only when such a URL is opened.

The URL comes from `--store` or the environment (`names.ENV_PREDICTION_STORE`). A store object
is used by one thread at a time (the scoring server's writer thread owns its own). Times are
UTC epoch seconds (float) everywhere in this interface. Nothing here prints a URL unredacted.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ... import names
from ...contracts import PredictionBatch, PredictionRecord
from ...core.redact import redact
from ...errors import InputError, ToolkitError

DEFAULT_URL = "sqlite:///.mlops/predictions.sqlite3"
SCHEMA = "mlops"  # PostgreSQL: every table of the store lives in this schema


class StoreError(ToolkitError):
    """The store cannot be opened, read or written (a server down, a locked file, a bad URL)."""


class LabelError(InputError):
    """Labels refused as a whole (unknown ids, duplicates, a wrong type): nothing was written."""


class UnknownPredictions(LabelError):
    """Labels for prediction ids the store does not hold (the HTTP answer is 404, not 422)."""


# The prediction log's records are a contract (contracts.py, `mlops.prediction-log/1`): a row as
# the store gives it back, and the batch form the server and `score` write.
Prediction = PredictionRecord
ScoredBatch = PredictionBatch


@dataclass(frozen=True)
class Label:
    """Ground truth for one prediction."""

    prediction_id: str
    label: Any  # JSON-able, of the prediction's kind (checked: see write_labels)
    labelled_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class LabelCounts:
    """What `write_labels` did: new labels, labels already there with the same value, and
    labels that replaced another value (a correction)."""

    loaded: int = 0
    unchanged: int = 0
    updated: int = 0


@dataclass(frozen=True)
class Joined:
    """A prediction with its label (None, None while the label is pending)."""

    prediction: Prediction
    label: Any = None
    labelled_at: float | None = None

    @property
    def labelled(self) -> bool:
        return self.labelled_at is not None


@dataclass(frozen=True)
class Evaluation:
    """One row of the evaluation history: a metric of a model version over a window."""

    ts: float  # when it was evaluated
    model_name: str
    model_version: str
    environment: str
    window: str  # the window evaluated, as configured (e.g. "1h", "7d")
    metric: str
    value: float
    lower: float | None = None  # confidence interval, if computed
    upper: float | None = None
    n: int = 0  # rows the value rests on (labelled rows; all rows for an estimate)
    estimated: bool = False  # True: estimated without labels (CBPE), never a measurement


class PredictionStore(ABC):
    """The interface both adapters implement. Writes are batched; each call is one transaction."""

    url: str  # redacted: safe to print

    @abstractmethod
    def write_predictions(self, rows: Sequence[Prediction]) -> int:
        """Insert predictions (a batch already stored is kept as it was); returns rows given.
        Ids must come from `new_ids`, each batch's rows together and in order (row 0, 1, ...):
        ValueError otherwise."""

    @abstractmethod
    def write_batches(self, batches: Sequence[ScoredBatch]) -> int:
        """Insert scored batches in one transaction (the server's path); returns the rows
        written."""

    @abstractmethod
    def writing_batches(self) -> AbstractContextManager[Callable[[Sequence[ScoredBatch]], int]]:
        """One transaction for many calls (a batch job): a function that inserts scored batches
        and returns the rows given; all of them are committed when the block ends without an
        error, none otherwise. The connection is busy meanwhile (a SQLite file is locked for
        other writers)."""

    @abstractmethod
    def write_labels(self, labels: Sequence[Label]) -> LabelCounts:
        """Store labels, all or nothing. Raises LabelError (nothing written; one line for each
        kind found, label_checks.LabelProblems) for a duplicate id in `labels`, an id the store
        does not hold, an empty label, or a label whose type does not match its prediction's (a
        string for a model that predicts numbers, ...). Idempotent: the same label again counts
        as unchanged."""

    @abstractmethod
    def read_joined(
        self,
        model_name: str,
        model_version: str | None = None,
        *,
        environment: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Joined]:
        """Predictions scored in [since, until) with their labels, oldest first."""

    @abstractmethod
    def model_versions(
        self, model_name: str | None = None, *, since: float | None = None
    ) -> list[tuple[str, str, str]]:
        """(model_name, model_version, environment) that have predictions since `since`."""

    @abstractmethod
    def freshness(self, model_name: str) -> dict[str, tuple[float, float | None]]:
        """Per environment of the model: (its first prediction's time, its newest label's time
        or None), over every prediction the store holds, not a window: a label may arrive
        weeks after its prediction, and staleness counts from the first prediction on."""

    @abstractmethod
    def record_evaluations(self, rows: Iterable[Evaluation]) -> None:
        """Append rows to the evaluation history."""

    @abstractmethod
    def read_evaluations(
        self,
        model_name: str,
        model_version: str | None = None,
        *,
        environment: str | None = None,
        metric: str | None = None,
        since: float | None = None,
    ) -> list[Evaluation]:
        """Evaluation history rows, oldest first."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> PredictionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_url(url: str | None = None) -> str:
    """The URL given, else the environment's, else the embedded default."""
    return url or os.environ.get(names.ENV_PREDICTION_STORE) or DEFAULT_URL


def open_store(url: str | None = None, *, timeout: float = 30.0) -> PredictionStore:
    """The adapter for `url` (see store_url), its tables created if missing. `timeout`: seconds
    to wait for a connection, a lock or a statement before StoreError."""
    url = store_url(url)
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(url, timeout)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url, timeout)
    raise StoreError(
        f"unsupported prediction store URL {redact(url)!r}: use sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DB"
    )


from .ids import new_batch, new_ids  # noqa: E402  (re-exported: the one way ids are made)

__all__ = [
    "DEFAULT_URL",
    "Evaluation",
    "Joined",
    "Label",
    "LabelCounts",
    "LabelError",
    "Prediction",
    "PredictionStore",
    "ScoredBatch",
    "StoreError",
    "UnknownPredictions",
    "new_batch",
    "new_ids",
    "open_store",
    "store_url",
]
