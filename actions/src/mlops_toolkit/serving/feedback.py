"""`POST /feedback`: ground truth for served predictions, sent by the team's systems.

Authenticated by a bearer token from the environment (`MLOPS_FEEDBACK_TOKEN`; unset: the route
is off). The body is one label or several:
`{"prediction_id": "...", "label": 1}`, `{"labels": [{...}, ...]}` or `[{...}, ...]`, each with
an optional `labelled_at` (epoch seconds; default: now). All or nothing, as the `labels`
command: 200 with the counts, 401 without the right token, 404 when the only problem is ids the
store does not hold, 422 for a duplicate, an empty label or one of the wrong type (with or
without unknown ids), 503 when the store is down. A refused body's answer names every kind of
problem found: `message` has one line each, and `problems` one entry each (`kind`, `rows`,
`examples`: the first few ids, `message`: that kind's line).
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Any

import orjson

from ..monitoring.store import (
    Label,
    LabelError,
    PredictionStore,
    StoreError,
    UnknownPredictions,
    open_store,
)
from ..monitoring.store.label_checks import LabelProblems
from .settings import ENV_FEEDBACK_TOKEN, ENV_STORE, Settings


class FeedbackError(Exception):
    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}  # entries the answer carries beside error_code and message


class Feedback:
    """The route's state: the token, and a store connection of its own (opened on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.token = settings.feedback_token.encode()
        self.url = settings.store_url
        self._store: PredictionStore | None = None
        self._lock = threading.Lock()  # requests run in worker threads: one store user at a time

    def check(self, authorization: bytes) -> None:
        """FeedbackError unless the route is on and `authorization` carries its token."""
        if not self.token:
            raise FeedbackError(404, f"POST /feedback is off: set {ENV_FEEDBACK_TOKEN}")
        scheme, _, given = authorization.partition(b" ")
        # compare_digest: the time taken says nothing about how much of a guess was right.
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            raise FeedbackError(401, "POST /feedback needs the header Authorization: Bearer TOKEN")
        if not self.url:
            raise FeedbackError(503, f"no prediction store: set {ENV_STORE}")

    def load(self, raw: bytes) -> dict[str, int]:
        """Store the labels in `raw` (blocking: run it in a worker thread)."""
        labels = parse(raw)
        with self._lock:
            try:
                if self._store is None:
                    self._store = open_store(self.url, timeout=10.0)
                counts = self._store.write_labels(labels)
            except LabelError as exc:
                raise _refused(exc) from None
            except StoreError as exc:
                if self._store is not None:
                    self._store.close()
                    self._store = None
                raise FeedbackError(503, str(exc)) from None
        return {"loaded": counts.loaded, "unchanged": counts.unchanged, "updated": counts.updated}

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _refused(exc: LabelError) -> FeedbackError:
    """The answer to labels the store refused: 404 for unknown ids alone (sent again once the
    predictions are stored, they pass), 422 when anything else is wrong too."""
    status = 404 if isinstance(exc, UnknownPredictions) else 422
    if not isinstance(exc, LabelProblems):
        return FeedbackError(status, str(exc))
    return FeedbackError(status, str(exc), {"problems": [p.as_json() for p in exc.problems]})


def parse(raw: bytes) -> list[Label]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FeedbackError(400, f"malformed JSON: {exc}") from None
    if isinstance(body, dict) and "labels" in body:
        body = body["labels"]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise FeedbackError(422, "no labels in the body")
    now = time.time()
    return [_label(i, item, now) for i, item in enumerate(items)]


def _label(i: int, item: Any, now: float) -> Label:
    where = f"labels[{i}]"
    if not isinstance(item, dict):
        raise FeedbackError(422, f"{where} is not an object with prediction_id and label")
    pid, label = item.get("prediction_id"), item.get("label")
    if not isinstance(pid, str) or not pid:
        raise FeedbackError(422, f"{where}: prediction_id must be a non-empty string")
    if "label" not in item:
        raise FeedbackError(422, f"{where}: no label")
    at = item.get("labelled_at", now)
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise FeedbackError(422, f"{where}: labelled_at must be epoch seconds")
    return Label(pid, label, float(at))
