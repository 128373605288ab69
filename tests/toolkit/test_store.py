"""The prediction store's two adapters (SQLite, PostgreSQL) through the same tests."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest
from mlops_toolkit.monitoring.store import (
    Evaluation,
    Label,
    LabelError,
    Prediction,
    StoreError,
    UnknownPredictions,
    new_ids,
    open_store,
)
from mlops_toolkit.monitoring.store.ids import batch_of, id_time, ids_json

pytest_plugins = ["support.stores"]  # the store_url fixture: SQLite and PostgreSQL


@pytest.fixture
def model() -> str:
    return f"churn-{uuid.uuid4().hex[:8]}"


def _predictions(model: str, n: int, version: str = "1", env: str = "production", ts=None):
    ts = time.time() if ts is None else ts
    ids = new_ids(n, ts)
    return [
        Prediction(
            pid,
            model,
            version,
            env,
            ts,
            {"age": 30 + i, "plan": "gold" if i % 2 else None, "score": float("nan")},
            i % 2,
            {"0": 0.25, "1": 0.75},
        )
        for i, pid in enumerate(ids)
    ]


def test_predictions_and_labels_join(store_url, model) -> None:
    rows = _predictions(model, 4)
    with open_store(store_url) as store:
        assert store.write_predictions(rows) == 4
        assert store.write_predictions(rows[:1]) == 1  # the same id again: kept as it was
        counts = store.write_labels(
            [Label(rows[0].prediction_id, 0, 100.0), Label(rows[1].prediction_id, "1", 101.0)]
        )
        assert (counts.loaded, counts.unchanged, counts.updated) == (2, 0, 0)
        joined = store.read_joined(model, "1")
    assert [j.prediction.prediction_id for j in joined] == [r.prediction_id for r in rows]
    first = joined[0]
    assert first.prediction.inputs == {"age": 30, "plan": None, "score": None}  # NaN: missing
    assert first.prediction.scores == {"0": 0.25, "1": 0.75}
    assert (first.label, first.labelled_at, first.labelled) == (0, 100.0, True)
    assert joined[1].label == 1  # "1" from a CSV, stored as the integer the model predicts
    assert [j.labelled for j in joined[2:]] == [False, False]


def test_many_batches_in_one_write_are_all_stored(store_url, model) -> None:
    """135 batches: two full multi-row INSERTs and the rest in smaller ones (_sql._chunks),
    one batch written twice (kept once); every row comes back, in order, once."""
    rows = [row for i in range(135) for row in _predictions(model, 1 + i % 3, ts=1000.0 + i)]
    with open_store(store_url) as store:
        assert store.write_predictions(rows) == len(rows)
        assert store.write_predictions(rows[:1]) == 1
        joined = store.read_joined(model, "1")
    assert [j.prediction.prediction_id for j in joined] == [r.prediction_id for r in rows]
    assert [j.prediction.inputs["age"] for j in joined] == [r.inputs["age"] for r in rows]


def test_relabelling_is_idempotent_and_corrections_count(store_url, model) -> None:
    rows = _predictions(model, 3)
    labels = [Label(r.prediction_id, 1) for r in rows]
    with open_store(store_url) as store:
        store.write_predictions(rows)
        assert store.write_labels(labels).loaded == 3
        again = store.write_labels(labels)
        assert (again.loaded, again.unchanged, again.updated) == (0, 3, 0)
        fixed = store.write_labels([Label(rows[0].prediction_id, 0)])
        assert (fixed.loaded, fixed.unchanged, fixed.updated) == (0, 0, 1)
        assert store.read_joined(model)[0].label == 0


@pytest.mark.parametrize(
    "bad, error, words",
    [
        ("unknown", UnknownPredictions, "not in the store"),
        ("duplicate", LabelError, "more than once"),
        ("wrong_type", LabelError, "wrong type"),
        ("empty", LabelError, "empty"),
    ],
)
def test_bad_labels_are_refused_whole(store_url, model, bad, error, words) -> None:
    rows = _predictions(model, 2)
    good = Label(rows[0].prediction_id, 1)
    wrong = {
        "unknown": Label("0" * 32, 1),
        "duplicate": Label(rows[0].prediction_id, 1),
        "wrong_type": Label(rows[1].prediction_id, "churned"),
        "empty": Label(rows[1].prediction_id, None),
    }[bad]
    with open_store(store_url) as store:
        store.write_predictions(rows)
        with pytest.raises(error, match=words) as caught:
            store.write_labels([good, wrong])
        assert "\n" not in str(caught.value)
        assert not any(j.labelled for j in store.read_joined(model))  # nothing half-done


def test_every_kind_of_bad_label_is_named_at_once(store_url, model) -> None:
    """One refusal, one line per kind, in a fixed order; nothing written, the label already
    there kept. Unknown ids among other problems are no longer UnknownPredictions (HTTP 404)."""
    rows = _predictions(model, 4)
    first, second, third, fourth = (r.prediction_id for r in rows)
    bad = [
        Label(first, 1),
        Label(first, 1),
        Label("0" * 32, 1),
        Label(second, "churned"),
        Label(third, None),
        Label(fourth, 0),  # a correction of the label below, which must not happen
    ]
    with open_store(store_url) as store:
        store.write_predictions(rows)
        store.write_labels([Label(fourth, 1)])
        with pytest.raises(LabelError) as caught:
            store.write_labels(bad)
        assert [j.label for j in store.read_joined(model)] == [None, None, None, 1]
    assert not isinstance(caught.value, UnknownPredictions)
    lines = str(caught.value).splitlines()
    assert [p.line for p in caught.value.problems] == lines
    assert [(p.kind, p.rows) for p in caught.value.problems] == [
        ("duplicate_ids", 2),
        ("unknown_ids", 1),
        ("empty_labels", 1),
        ("wrong_type", 1),
    ]
    assert "more than once" in lines[0] and "not in the store" in lines[1], lines
    assert "empty" in lines[2] and "wrong type" in lines[3], lines


def test_reads_filter_by_version_environment_and_window(store_url, model) -> None:
    with open_store(store_url) as store:
        store.write_predictions(_predictions(model, 2, "1", "staging", ts=1000.0))
        store.write_predictions(_predictions(model, 3, "2", "production", ts=2000.0))
        assert len(store.read_joined(model)) == 5
        assert len(store.read_joined(model, "2")) == 3
        assert len(store.read_joined(model, environment="staging")) == 2
        assert len(store.read_joined(model, since=1500.0)) == 3
        assert len(store.read_joined(model, until=2000.0)) == 2
        assert store.model_versions(model) == [(model, "1", "staging"), (model, "2", "production")]
        assert store.model_versions(model, since=1500.0) == [(model, "2", "production")]


def test_evaluation_history(store_url, model) -> None:
    rows = [
        Evaluation(10.0, model, "2", "production", "7d", "f1", 0.8, 0.7, 0.9, 120, False),
        Evaluation(11.0, model, "2", "production", "7d", "f1", 0.82, None, None, 400, True),
        Evaluation(12.0, model, "2", "staging", "1d", "accuracy", 0.9, 0.85, 0.95, 50, False),
    ]
    with open_store(store_url) as store:
        store.record_evaluations(rows)
        assert store.read_evaluations(model) == rows
        assert store.read_evaluations(model, "2", metric="f1", since=10.5) == rows[1:2]
        assert store.read_evaluations(model, environment="staging") == rows[2:]


def test_ids_sort_by_time_then_row_and_share_the_batch() -> None:
    early, late = new_ids(3, 1000.0), new_ids(2, 1000.002)
    assert early == sorted(early) and max(early) < min(late)
    assert {batch_of(i) for i in early} == {batch_of(early[0])}
    assert early[2] == batch_of(early[0]) + "000002"
    assert id_time(early[0]) == 1000.0 and len(set(new_ids(1000))) == 1000


@pytest.mark.fast
@pytest.mark.parametrize("n", [0, 1, 2, 100, 1500])  # 1500: past the cached sizes
def test_ids_json_is_the_batchs_ids_as_new_ids_spells_them(n: int) -> None:
    """The server answers with `ids_json` and the store keeps only the batch id: the two must
    name the same rows (a label for answer row i joins stored row i)."""
    batch = batch_of(new_ids(1)[0])
    expected = [batch + f"{i:06x}" for i in range(n)]
    assert json.loads(ids_json(batch, n)) == expected
    assert json.loads(ids_json(batch, n)) == expected  # again: from the cached pieces


def test_unreachable_store_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://team:s3cret-pw@127.0.0.1:1/mlflow", timeout=2)
    message = str(caught.value)
    assert "s3cret-pw" not in message and "\n" not in message and "127.0.0.1:1" in message
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://team:s3cret-pw@db/x")


def test_the_predictions_view_has_a_row_per_prediction(store_url, model) -> None:
    """The view people query in SQL: one row per prediction id, with its label."""
    rows = _predictions(model, 3)
    with open_store(store_url) as store:
        store.write_predictions(rows)
        store.write_labels([Label(rows[1].prediction_id, 0)])
    query = "SELECT prediction_id, prediction, label FROM {}predictions WHERE model_name = {}"
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            found = conn.execute(query.format("", "?"), (model,)).fetchall()
        # SQLite's json_each gives SQL values; the label column holds JSON text.
        found = [(pid, p, None if lab is None else json.loads(lab)) for pid, p, lab in found]
    else:
        import psycopg

        with psycopg.connect(store_url) as conn:
            found = conn.execute(query.format("mlops.", "%s"), (model,)).fetchall()
    assert sorted(found) == [
        (r.prediction_id, r.prediction, 0 if i == 1 else None) for i, r in enumerate(rows)
    ]


def test_scored_batches_keep_mixed_types_and_missing_values(store_url, model) -> None:
    """The server's and batch scoring's path: numpy columns in, plain values out."""
    import numpy as np
    from mlops_toolkit.monitoring.store import ScoredBatch, new_batch

    columns = {
        "tenure": np.array([1.5, np.nan, 3.0]),
        "visits": np.array([1, 2, 3], dtype=np.int64),
        "plan": np.array(["gold", None, "basic"], dtype=object),
        "active": np.array([True, False, True]),
    }
    typed = ScoredBatch(
        new_batch(),
        model,
        "1",
        "batch",
        50.0,
        list(columns),
        columns,
        ["a", "b", "a"],
        ["a", "b"],
        np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]),
    )
    matrix = ScoredBatch(
        new_batch(), model, "1", "batch", 60.0, ["x", "y"], np.array([[1.0, np.nan]]), ["b"]
    )
    with open_store(store_url) as store:
        assert store.write_batches([typed, matrix]) == 4
        joined = store.read_joined(model)
    assert [j.prediction.prediction_id for j in joined] == typed.ids + matrix.ids
    assert joined[1].prediction.inputs == {
        "tenure": None,
        "visits": 2,
        "plan": None,
        "active": False,
    }
    assert joined[2].prediction.inputs == {
        "tenure": 3.0,
        "visits": 3,
        "plan": "basic",
        "active": True,
    }
    assert joined[1].prediction.scores == {"a": 0.2, "b": 0.8}
    assert joined[3].prediction.inputs == {"x": 1.0, "y": None}
    assert joined[3].prediction.scores is None


def test_writing_batches_is_one_transaction_all_or_nothing(store_url, model) -> None:
    """A batch job's chunks: none stored when the job fails part-way, all when it ends well."""
    import numpy as np
    from mlops_toolkit.monitoring.store import ScoredBatch, new_batch

    def chunk(ts: float) -> ScoredBatch:
        return ScoredBatch(
            new_batch(ts), model, "1", "batch", ts, ["x"], np.array([[1.0], [2.0]]), [0, 1]
        )

    with open_store(store_url) as store:
        with pytest.raises(RuntimeError), store.writing_batches() as write:
            assert write([chunk(50.0)]) == write([chunk(51.0)]) == 2
            raise RuntimeError("a bad value in the third chunk")
        assert store.read_joined(model) == []
        with store.writing_batches() as write:
            write([chunk(52.0)])
            write([chunk(53.0)])
        assert [j.prediction.ts for j in store.read_joined(model)] == [52.0, 52.0, 53.0, 53.0]


def test_batch_job_columns_read_back_as_the_file_holds_them(store_url, model) -> None:
    """`score`'s chunk columns (text as JSON made by arrow, numbers narrowed where exact) come
    back value for value: quotes, backslashes, control characters, non-ASCII, nulls, integers
    beyond 32 bits, floats float32 cannot hold, dictionary text and dates."""
    import pyarrow as pa
    from mlops_toolkit.monitoring.store import ScoredBatch, codec, new_batch
    from mlops_toolkit.serving.batch_job import _inputs

    text = ['say "hi"', "C:\\dir", "tab\there", None, "café ✓", ""]
    record = pa.record_batch(
        {
            "text": pa.array(text, pa.large_string()),
            "plain": pa.array(["a", "b", None, "d", "e", "f"]),
            "quoted": pa.array(['"', "\\", "x", "y", None, "z"]),
            "make": pa.array(["ford", "amc", "ford", None, "ford", "amc"]).dictionary_encode(),
            "small": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "wide": pa.array([1, -(2**40), 3, 4, 5, 2**40], pa.int64()),
            "exact": pa.array([130.0, None, 95.5, 1.0, -0.0, 2.0]),
            "inexact": pa.array([0.1, 14.7, None, 1e300, 2.0, 3.0]),
            "day": pa.array([0, 1, 2, 3, 4, None], pa.date32()),
        }
    )
    names = record.schema.names
    columns = _inputs(record, names)
    assert isinstance(columns["plain"], codec.JSONList)  # the arrow path, not to_pylist
    blob = codec.encode(names, columns, lambda v: json.dumps(v))
    specs = json.loads(blob[: blob.index(b"\n")])["specs"]
    assert [s["dtype"] for s in specs[4:8]] == ["|u1", "<i8", "<f4", "<f8"]
    batch = ScoredBatch(
        new_batch(), model, "1", "batch", 50.0, names, columns, list(range(6)), None, None
    )
    with open_store(store_url) as store:
        with store.writing_batches() as write:
            assert write([batch]) == 6
        joined = store.read_joined(model)
    expected = record.to_pylist()
    for row, j in zip(expected, joined, strict=True):
        day = row.pop("day")
        assert j.prediction.inputs.pop("day") == (day and f"{day.isoformat()}T00:00:00")
        assert j.prediction.inputs == row


def test_the_infra_store_login_reaches_its_schema_and_nothing_of_mlflows(tmp_path) -> None:
    """infra/tracking/initdb/20-prediction-store.sh, run as PostgreSQL's entrypoint runs it, on
    the suite's real server: its login writes and reads the store and cannot read MLflow's
    tables in the same database."""
    import os
    import subprocess
    import uuid

    import psycopg
    from support.project import ROOT
    from support.stores import PG_ADMIN, PG_PORT

    script = ROOT / "{{cookiecutter.project_slug}}" / "infra" / "tracking" / "initdb"
    script = script / "20-prediction-store.sh"
    database, user = f"infra_{uuid.uuid4().hex[:8]}", f"store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}") as mlflow_db:
            mlflow_db.execute("CREATE TABLE experiments (name text)")  # as MLflow's own
        # As the image's entrypoint runs it: the superuser (here PostgreSQL's own, on its socket).
        env = {
            **os.environ,
            "PGHOST": "/tmp",
            "PGPORT": str(PG_PORT),
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": database,
            "PREDICTION_STORE_USER": user,
            "PREDICTION_STORE_PASSWORD": "store-pw",
        }
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", "sh", "-s"],
            stdin=script.open(),
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        url = f"postgresql://{user}:store-pw@127.0.0.1:{PG_PORT}/{database}"
        ids = new_ids(2)
        with open_store(url) as store:
            store.write_predictions(
                [Prediction(i, "m", "1", "production", 1.0, {"x": 1}, 1) for i in ids]
            )
            assert [j.prediction.prediction_id for j in store.read_joined("m")] == ids
        with psycopg.connect(url) as login, pytest.raises(psycopg.errors.InsufficientPrivilege):
            login.execute("SELECT * FROM public.experiments")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        drop = f"DROP ROLE IF EXISTS {user}"
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                "psql",
                "-h",
                "/tmp",
                "-p",
                str(PG_PORT),
                "-c",
                drop,
            ],
            capture_output=True,
            check=True,
        )
