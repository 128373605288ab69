"""What both SQL adapters share: the tables, the queries and the label checks.

The adapters differ in the driver, the placeholder, where the tables live (`mlops.` in
PostgreSQL) and how a JSON column is written and read (TEXT in SQLite, jsonb in PostgreSQL, read
back as text so both decode the same way).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from ...core.redact import redact
from ...errors import one_line
from . import Evaluation, Joined, Label, LabelCounts, Prediction, PredictionStore, StoreError
from . import labels as checks

try:  # the serving image has orjson (several times faster); the CI installs may not
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - depends on the install
    _orjson = None  # type: ignore[assignment]
    _ORJSON_OPTIONS = 0

CHUNK = 500  # ids per `IN (...)` query: below every driver's parameter limit

PREDICTION_COLUMNS = (
    "prediction_id, model_name, model_version, environment, ts, inputs, prediction, scores"
)
JSON_COLUMNS = ("inputs", "prediction", "scores")
EVALUATION_COLUMNS = (
    'ts, model_name, model_version, environment, "window", metric, value, lower, upper, n, '
    "estimated"
)


def dumps(value: Any) -> str:
    """JSON text; NaN and infinities as null (a missing input value), numpy values as Python's."""
    if _orjson is not None:
        return _orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS).decode()
    return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False, default=_default)


def _default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return _finite(item())
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return _finite(tolist())
    return str(value)  # dates and the like: as the server received them


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SQLStore(PredictionStore):
    """The queries, written once with `{t}` (table prefix) and `{p}` (placeholder)."""

    placeholder = "?"
    prefix = ""
    json_in = "{p}"  # how a JSON value is bound
    json_out = "{c}"  # how a JSON column is selected as text
    errors: tuple[type[BaseException], ...] = ()

    def __init__(self, url: str) -> None:
        self.url = redact(url)
        self._conn: Any = None

    # -- the adapter's part -----------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction, committed on success, rolled back on error."""
        raise NotImplementedError
        yield

    # -- helpers ---------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("{t}", self.prefix).replace("{p}", self.placeholder)

    def _json(self, column: str) -> str:
        return self.json_out.replace("{c}", column)

    def _fail(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"prediction store {self.url}: cannot {action}: {redact(one_line(str(exc)))}"
        )

    @contextmanager
    def _doing(self, action: str) -> Iterator[Any]:
        try:
            with self._transaction() as cur:
                yield cur
        except self.errors as exc:
            raise self._fail(action, exc) from None

    # -- predictions -----------------------------------------------------------------------
    def write_predictions(self, rows: Sequence[Prediction]) -> int:
        if not rows:
            return 0
        j = self.json_in
        sql = self._sql(
            f"INSERT INTO {{t}}predictions ({PREDICTION_COLUMNS}) VALUES "
            f"({{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {j}, {j}, {j}) "
            "ON CONFLICT (prediction_id) DO NOTHING"
        )
        values = [
            (
                r.prediction_id,
                r.model_name,
                r.model_version,
                r.environment,
                r.ts,
                dumps(r.inputs),
                dumps(r.prediction),
                None if r.scores is None else dumps(r.scores),
            )
            for r in rows
        ]
        with self._doing("write predictions") as cur:
            cur.executemany(sql, values)
        return len(rows)

    def _predictions_of(self, cur: Any, ids: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            marks = ", ".join([self.placeholder] * len(chunk))
            cur.execute(
                self._sql(
                    f"SELECT prediction_id, {self._json('prediction')} FROM {{t}}predictions "
                    f"WHERE prediction_id IN ({marks})"
                ),
                chunk,
            )
            found.update((pid, loads(pred)) for pid, pred in cur.fetchall())
        return found

    def _labels_of(self, cur: Any, ids: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            marks = ", ".join([self.placeholder] * len(chunk))
            cur.execute(
                self._sql(
                    f"SELECT prediction_id, {self._json('label')} FROM {{t}}labels "
                    f"WHERE prediction_id IN ({marks})"
                ),
                chunk,
            )
            found.update((pid, loads(label)) for pid, label in cur.fetchall())
        return found

    # -- labels ----------------------------------------------------------------------------
    def write_labels(self, labels: Sequence[Label]) -> LabelCounts:
        if not labels:
            return LabelCounts()
        checks.check_duplicates(labels)
        ids = [label.prediction_id for label in labels]
        with self._doing("write labels") as cur:
            predictions = self._predictions_of(cur, ids)
            checks.check_known(labels, predictions)
            labels = checks.coerce_all(labels, predictions)
            existing = self._labels_of(cur, ids)
            new = [x for x in labels if x.prediction_id not in existing]
            changed = [
                x
                for x in labels
                if x.prediction_id in existing and not _same(existing[x.prediction_id], x.label)
            ]
            upsert = self._sql(
                "INSERT INTO {t}labels (prediction_id, label, labelled_at) VALUES "
                f"({{p}}, {self.json_in}, {{p}}) ON CONFLICT (prediction_id) DO UPDATE SET "
                "label = excluded.label, labelled_at = excluded.labelled_at"
            )
            if new or changed:
                cur.executemany(
                    upsert,
                    [(x.prediction_id, dumps(x.label), x.labelled_at) for x in new + changed],
                )
        return LabelCounts(
            loaded=len(new), unchanged=len(labels) - len(new) - len(changed), updated=len(changed)
        )

    # -- reads -----------------------------------------------------------------------------
    def read_joined(
        self,
        model_name: str,
        model_version: str | None = None,
        *,
        environment: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Joined]:
        where, params = _filters(
            self.placeholder,
            ("p.model_name = ", model_name),
            ("p.model_version = ", model_version),
            ("p.environment = ", environment),
            ("p.ts >= ", since),
            ("p.ts < ", until),
        )
        columns = ", ".join(
            self._json(f"p.{c}") if c in JSON_COLUMNS else f"p.{c}"
            for c in PREDICTION_COLUMNS.split(", ")
        )
        sql = self._sql(
            f"SELECT {columns}, {self._json('l.label')}, l.labelled_at FROM {{t}}predictions p "
            f"LEFT JOIN {{t}}labels l ON l.prediction_id = p.prediction_id WHERE {where} "
            "ORDER BY p.ts, p.prediction_id"
        )
        with self._doing("read predictions") as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [
            Joined(
                Prediction(pid, name, version, env, ts, loads(inputs), loads(pred), loads(scores)),
                loads(label),
                labelled_at,
            )
            for pid, name, version, env, ts, inputs, pred, scores, label, labelled_at in rows
        ]

    def model_versions(
        self, model_name: str | None = None, *, since: float | None = None
    ) -> list[tuple[str, str, str]]:
        where, params = _filters(self.placeholder, ("model_name = ", model_name), ("ts >= ", since))
        sql = self._sql(
            "SELECT DISTINCT model_name, model_version, environment FROM {t}predictions "
            f"WHERE {where} ORDER BY model_name, model_version, environment"
        )
        with self._doing("read model versions") as cur:
            cur.execute(sql, params)
            return [tuple(row) for row in cur.fetchall()]  # type: ignore[misc]

    # -- evaluation history ----------------------------------------------------------------
    def record_evaluations(self, rows: Iterable[Evaluation]) -> None:
        values = [
            (
                e.ts,
                e.model_name,
                e.model_version,
                e.environment,
                e.window,
                e.metric,
                float(e.value),
                e.lower,
                e.upper,
                int(e.n),
                bool(e.estimated),
            )
            for e in rows
        ]
        if not values:
            return
        marks = ", ".join([self.placeholder] * 11)
        sql = self._sql(f"INSERT INTO {{t}}evaluations ({EVALUATION_COLUMNS}) VALUES ({marks})")
        with self._doing("record evaluations") as cur:
            cur.executemany(sql, values)

    def read_evaluations(
        self,
        model_name: str,
        model_version: str | None = None,
        *,
        environment: str | None = None,
        metric: str | None = None,
        since: float | None = None,
    ) -> list[Evaluation]:
        where, params = _filters(
            self.placeholder,
            ("model_name = ", model_name),
            ("model_version = ", model_version),
            ("environment = ", environment),
            ("metric = ", metric),
            ("ts >= ", since),
        )
        sql = self._sql(
            f"SELECT {EVALUATION_COLUMNS} FROM {{t}}evaluations WHERE {where} ORDER BY ts, id"
        )
        with self._doing("read evaluations") as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [
            Evaluation(ts, name, version, env, window, metric_, value, lo, hi, n, bool(est))
            for ts, name, version, env, window, metric_, value, lo, hi, n, est in rows
        ]

    def close(self) -> None:
        if self._conn is not None:
            with suppress(*self.errors):  # closing a connection to a server that went away
                self._conn.close()
            self._conn = None


def _filters(placeholder: str, *pairs: tuple[str, Any]) -> tuple[str, list[Any]]:
    clauses = [f"{sql}{placeholder}" for sql, value in pairs if value is not None]
    return " AND ".join(clauses) or "1 = 1", [value for _, value in pairs if value is not None]


def _same(a: Any, b: Any) -> bool:
    return dumps(a) == dumps(b)
