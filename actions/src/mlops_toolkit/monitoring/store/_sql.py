"""What both SQL adapters share: the tables, the queries and the label checks.

The adapters differ in the driver, the placeholder, where the tables live (`mlops.` in
PostgreSQL) and how a JSON column is written and read (TEXT in SQLite, jsonb in PostgreSQL, read
back as text so both decode the same way).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from ...core.redact import redact
from ...errors import one_line
from . import (
    Evaluation,
    Joined,
    Label,
    LabelCounts,
    Prediction,
    PredictionStore,
    ScoredBatch,
    StoreError,
    codec,
)
from . import label_checks as checks
from .ids import BATCH_DIGITS

try:  # the serving image has orjson (several times faster); the CI installs may not
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - depends on the install
    _orjson = None  # type: ignore[assignment]
    _ORJSON_OPTIONS = 0

CHUNK = 500  # batch ids per `IN (...)` query: below every driver's parameter limit

# A stored batch's columns: these, then the adapter's `input_columns`, then the JSON ones.
META_COLUMNS = ("batch_id", "model_name", "model_version", "environment", "ts", "n")
JSON_COLUMNS = ("predictions", "classes", "scores")
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
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
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


def split_id(prediction_id: str) -> tuple[str, int] | None:
    """(batch id, row) of a prediction id; None for what no `new_ids` call makes."""
    if len(prediction_id) != 32:
        return None
    try:
        return prediction_id[:BATCH_DIGITS], int(prediction_id[BATCH_DIGITS:], 16)
    except ValueError:
        return None


def batches_of(rows: Sequence[Prediction]) -> list[ScoredBatch]:
    """Prediction rows regrouped as the batches their ids name (ValueError if they are not)."""
    groups: dict[str, list[Prediction]] = {}
    for row in rows:
        parts = split_id(row.prediction_id)
        if parts is None:
            raise ValueError(f"{row.prediction_id!r} is not a prediction id made by new_ids")
        groups.setdefault(parts[0], []).append(row)
    return [_batch(batch_id, group) for batch_id, group in groups.items()]


def _batch(batch_id: str, group: list[Prediction]) -> ScoredBatch:
    if [int(r.prediction_id[BATCH_DIGITS:], 16) for r in group] != list(range(len(group))):
        raise ValueError(f"batch {batch_id}: its rows must be written together, in order")
    first = group[0]
    columns = list(first.inputs)
    classes = list(first.scores) if all(r.scores for r in group) and first.scores else None
    return ScoredBatch(
        batch_id,
        first.model_name,
        first.model_version,
        first.environment,
        first.ts,
        columns,
        [[r.inputs.get(c) for c in columns] for r in group],
        [r.prediction for r in group],
        classes,
        [[r.scores.get(c) for c in classes] for r in group] if classes else None,  # type: ignore[union-attr]
    )


ROWS_PER_INSERT = 64  # x 10 parameters: below every driver's limit


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    """(start, size) covering n rows: full statements of ROWS_PER_INSERT, then the rest in
    powers of two, so a store prepares at most 7 statement sizes however the rows fall."""
    start = 0
    while n - start >= ROWS_PER_INSERT:
        yield start, ROWS_PER_INSERT
        start += ROWS_PER_INSERT
    size = ROWS_PER_INSERT // 2
    while start < n:
        if n - start >= size:
            yield start, size
            start += size
        size //= 2


def _compact(scores: Any) -> Any:
    """Class probabilities as float32: JSON of ~35 bytes a row of three instead of ~60 (the
    shortest text that reads back as the float32), so the store writes (and a batch job's
    transaction carries) nearly half less, and formats faster. Seven significant digits are
    plenty for the monitor's estimate and ROC AUC; a list of lists is stored as given."""
    dtype = getattr(scores, "dtype", None)
    return scores.astype("<f4") if dtype is not None and dtype.kind == "f" else scores


class SQLStore(PredictionStore):
    """The queries, written once with `{t}` (table prefix) and `{p}` (placeholder).

    Predictions are stored a batch to a row (`prediction_batches`: inputs as bytes, see
    codec.py; predictions, classes and probabilities as JSON arrays):
    the server's writer then costs one SQL row per request whatever its size. Labels are one row
    per prediction id, with its batch id for the join.
    """

    placeholder = "?"
    prefix = ""
    # Where a batch's encoded inputs (codec.py) are stored: the bytes in the row here; SQLite
    # keeps them in files beside the database, the row saying where (sqlite.py, segments.py).
    input_columns: tuple[str, ...] = ("inputs",)
    json_in = "{p}"  # how a JSON value is bound
    json_out = "{c}"  # how a JSON column is selected as text
    errors: tuple[type[BaseException], ...] = ()

    def __init__(self, url: str) -> None:
        self.url = redact(url)
        self._conn: Any = None
        self._insert_statements: dict[int, str] = {}

    # -- the adapter's part -----------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction, committed on success, rolled back on error."""
        raise NotImplementedError
        yield

    # -- helpers ---------------------------------------------------------------------------
    def _place_inputs(self, encoded: list[list[Any]]) -> list[tuple[Any, ...]]:
        """Each batch's `input_columns` values for its encoded inputs (`codec.encode_parts`),
        inside the write transaction."""
        return [(b"".join(parts),) for parts in encoded]

    def _inputs_of(self, stored: tuple[Any, ...]) -> bytes:
        """A read row's encoded inputs from its `input_columns` values."""
        return stored[0]

    def _sql(self, text: str) -> str:
        return text.replace("{t}", self.prefix).replace("{p}", self.placeholder)

    def _json(self, column: str) -> str:
        return self.json_out.replace("{c}", column)

    def _marks(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def _fail(self, action: str, exc: BaseException) -> StoreError:
        reason = redact(one_line(str(exc))) or type(exc).__name__
        return StoreError(f"prediction store {self.url}: cannot {action}: {reason}")

    @contextmanager
    def _doing(self, action: str) -> Iterator[Any]:
        try:
            with self._transaction() as cur:
                yield cur
        except self.errors as exc:
            raise self._fail(action, exc) from None

    # -- predictions -----------------------------------------------------------------------
    def write_predictions(self, rows: Sequence[Prediction]) -> int:
        self.write_batches(batches_of(rows))
        return len(rows)

    def write_batches(self, batches: Sequence[ScoredBatch]) -> int:
        if not batches:
            return 0
        with self._doing("write predictions") as cur:
            return self._insert_batches(cur, batches)

    @contextmanager
    def writing_batches(self) -> Iterator[Callable[[Sequence[ScoredBatch]], int]]:
        with self._doing("write predictions") as cur:
            yield lambda batches: self._insert_batches(cur, batches)

    def _insert_batches(self, cur: Any, batches: Sequence[ScoredBatch]) -> int:
        try:
            placed = self._place_inputs(
                [codec.encode_parts(b.columns, b.rows, dumps) for b in batches]
            )
            values = [
                (
                    b.batch_id,
                    b.model_name,
                    b.model_version,
                    b.environment,
                    b.ts,
                    len(b.predictions),
                    *inputs,
                    dumps(b.predictions),
                    None if b.classes is None else dumps(b.classes),
                    None if b.scores is None else dumps(_compact(b.scores)),
                )
                for b, inputs in zip(batches, placed, strict=True)
            ]
            for start, size in _chunks(len(values)):
                chunk = values[start : start + size]
                cur.execute(self._insert_sql(size), [v for row in chunk for v in row])
        except (*self.errors, OSError) as exc:  # the caller sees a StoreError (OSError: segments)
            raise self._fail("write predictions", exc) from None
        return sum(len(b.predictions) for b in batches)

    def _insert_sql(self, rows: int) -> str:
        """INSERT of `rows` batches in one statement. The server's writer stores one batch per
        request, a few hundred per transaction: one statement per row (executemany) cost a
        driver call and, in SQLite, a release and take of the GIL each, which the request
        thread pays for too on a shared core. Few sizes (see `_chunks`): cached statements."""
        sql = self._insert_statements.get(rows)
        if sql is None:
            marks = ["{p}"] * (len(META_COLUMNS) + len(self.input_columns))
            row = f"({', '.join(marks + [self.json_in] * len(JSON_COLUMNS))})"
            columns = ", ".join(META_COLUMNS + self.input_columns + JSON_COLUMNS)
            sql = self._sql(
                f"INSERT INTO {{t}}prediction_batches ({columns}) VALUES "
                f"{', '.join([row] * rows)} ON CONFLICT (batch_id) DO NOTHING"
            )
            self._insert_statements[rows] = sql
        return sql

    def _predictions_of(self, cur: Any, ids: Sequence[str]) -> dict[str, Any]:
        """prediction id -> its prediction, for the ids the store holds."""
        wanted: dict[str, list[tuple[str, int]]] = {}
        for pid in ids:
            parts = split_id(pid)
            if parts is not None:
                wanted.setdefault(parts[0], []).append((pid, parts[1]))
        batch_ids = list(wanted)
        found: dict[str, Any] = {}
        for start in range(0, len(batch_ids), CHUNK):
            chunk = batch_ids[start : start + CHUNK]
            cur.execute(
                self._sql(
                    f"SELECT batch_id, {self._json('predictions')} FROM {{t}}prediction_batches "
                    f"WHERE batch_id IN ({self._marks(len(chunk))})"
                ),
                chunk,
            )
            for batch_id, text in cur.fetchall():
                predictions = loads(text)
                for pid, row in wanted[batch_id]:
                    if row < len(predictions):
                        found[pid] = predictions[row]
        return found

    def _labels_of(self, cur: Any, ids: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            cur.execute(
                self._sql(
                    f"SELECT prediction_id, {self._json('label')} FROM {{t}}labels "
                    f"WHERE prediction_id IN ({self._marks(len(chunk))})"
                ),
                chunk,
            )
            found.update((pid, loads(label)) for pid, label in cur.fetchall())
        return found

    # -- labels ----------------------------------------------------------------------------
    def write_labels(self, labels: Sequence[Label]) -> LabelCounts:
        if not labels:
            return LabelCounts()
        ids = [label.prediction_id for label in labels]
        with self._doing("write labels") as cur:
            predictions = self._predictions_of(cur, ids)
            # Every check at once, before any write: a refusal names each kind of problem.
            labels = checks.checked(labels, predictions)
            existing = self._labels_of(cur, ids)
            new = [x for x in labels if x.prediction_id not in existing]
            changed = [
                x
                for x in labels
                if x.prediction_id in existing and not _same(existing[x.prediction_id], x.label)
            ]
            upsert = self._sql(
                "INSERT INTO {t}labels (prediction_id, batch_id, label, labelled_at) VALUES "
                f"({{p}}, {{p}}, {self.json_in}, {{p}}) ON CONFLICT (prediction_id) DO UPDATE "
                "SET label = excluded.label, labelled_at = excluded.labelled_at"
            )
            if new or changed:
                cur.executemany(
                    upsert,
                    [
                        (
                            x.prediction_id,
                            x.prediction_id[:BATCH_DIGITS],
                            dumps(x.label),
                            x.labelled_at,
                        )
                        for x in new + changed
                    ],
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
            ("b.model_name = ", model_name),
            ("b.model_version = ", model_version),
            ("b.environment = ", environment),
            ("b.ts >= ", since),
            ("b.ts < ", until),
        )
        columns = ", ".join(
            [f"b.{c}" for c in META_COLUMNS + self.input_columns]
            + [self._json(f"b.{c}") for c in JSON_COLUMNS]
        )
        with self._doing("read predictions") as cur:
            cur.execute(
                self._sql(
                    f"SELECT {columns} FROM {{t}}prediction_batches b WHERE {where} "
                    "ORDER BY b.ts, b.batch_id"
                ),
                params,
            )
            batches = cur.fetchall()
            cur.execute(
                self._sql(
                    f"SELECT l.prediction_id, {self._json('l.label')}, l.labelled_at "
                    "FROM {t}labels l JOIN {t}prediction_batches b ON b.batch_id = l.batch_id "
                    f"WHERE {where}"
                ),
                params,
            )
            labels = {pid: (loads(label), at) for pid, label, at in cur.fetchall()}
        meta, stored = len(META_COLUMNS), len(META_COLUMNS) + len(self.input_columns)
        return [
            joined
            for row in batches
            for joined in _explode(
                row[:meta], self._inputs_of(row[meta:stored]), row[stored:], labels
            )
        ]

    def model_versions(
        self, model_name: str | None = None, *, since: float | None = None
    ) -> list[tuple[str, str, str]]:
        where, params = _filters(self.placeholder, ("model_name = ", model_name), ("ts >= ", since))
        sql = self._sql(
            "SELECT DISTINCT model_name, model_version, environment FROM {t}prediction_batches "
            f"WHERE {where} ORDER BY model_name, model_version, environment"
        )
        with self._doing("read model versions") as cur:
            cur.execute(sql, params)
            return [tuple(row) for row in cur.fetchall()]  # type: ignore[misc]

    def freshness(self, model_name: str) -> dict[str, tuple[float, float | None]]:
        first = self._sql(
            "SELECT environment, MIN(ts) FROM {t}prediction_batches WHERE model_name = "
            f"{self.placeholder} GROUP BY environment"
        )
        newest = self._sql(
            "SELECT b.environment, MAX(l.labelled_at) FROM {t}labels l "
            "JOIN {t}prediction_batches b ON b.batch_id = l.batch_id "
            f"WHERE b.model_name = {self.placeholder} GROUP BY b.environment"
        )
        with self._doing("read label freshness") as cur:
            cur.execute(first, (model_name,))
            firsts = {env: float(ts) for env, ts in cur.fetchall()}
            cur.execute(newest, (model_name,))
            labelled = {env: float(ts) for env, ts in cur.fetchall()}
        return {env: (ts, labelled.get(env)) for env, ts in firsts.items()}

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


def _explode(
    meta: tuple, inputs: bytes, json_values: tuple, labels: dict[str, tuple[Any, float]]
) -> Iterator[Joined]:
    """One stored batch (META_COLUMNS' values, its encoded inputs, JSON_COLUMNS' values) as its
    Joined rows."""
    batch_id, name, version, env, ts, _n = meta
    predictions, classes, scores = json_values
    columns, data = codec.decode(inputs)
    predictions, classes, scores = loads(predictions), loads(classes), loads(scores)
    for i, (values, prediction) in enumerate(zip(data, predictions, strict=True)):
        pid = f"{batch_id}{i:06x}"
        label, at = labels.get(pid, (None, None))
        probabilities = dict(zip(classes, scores[i], strict=True)) if classes and scores else None
        inputs_row = dict(zip(columns, values, strict=True))
        yield Joined(
            Prediction(pid, name, version, env, ts, inputs_row, prediction, probabilities),
            label,
            at,
        )
