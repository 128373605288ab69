"""Prediction ids, the prediction store behind the server, and POST /feedback, over real HTTP
with a real SQLite store (the PostgreSQL adapter answers the same tests in tests/toolkit)."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from mlops_toolkit.monitoring.store import open_store

from serving.test_server import _metric, _serve, _split
from serving.test_server import clf as clf  # the module's fixture: a real MLflow classifier

TOKEN = "feedback-token-for-tests"


def _post(server: Any, path: str, payload: Any, token: str | None = None) -> tuple[int, Any, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(server.url + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'predictions.sqlite3'}"


@pytest.fixture(scope="module")
def served(clf, store_url) -> Iterator[Any]:
    with _serve(
        clf[0],
        model_name="cancer",
        model_version="4",
        environment="staging",
        store_url=store_url,
        store_scores=True,
        feedback_token=TOKEN,
    ) as server:
        server.wait_ready()
        yield server


def test_each_row_gets_an_id_in_the_answer_and_in_the_store(clf, served, store_url) -> None:
    _, X = clf
    status, body, headers = _post(served, "/invocations", {"dataframe_split": _split(X.iloc[:7])})
    assert status == 200 and len(body["predictions"]) == 7
    ids = body["prediction_ids"]
    batch = headers["X-Prediction-Batch"]
    assert ids == [f"{batch}{i:06x}" for i in range(7)]
    assert served.app.store.flush(10)
    with open_store(store_url) as store:
        stored = store.read_joined("cancer", "4", environment="staging")
    assert [j.prediction.prediction_id for j in stored] == ids
    assert [j.prediction.prediction for j in stored] == body["predictions"]
    assert stored[0].prediction.inputs == X.iloc[0].to_dict()
    scores = stored[0].prediction.scores
    assert set(scores) == {"0", "1"} and sum(scores.values()) == pytest.approx(1)
    assert _metric(served, "model_serving_prediction_store_written_total") == 7


def test_feedback_needs_the_token_and_loads_labels_once(served) -> None:
    body = _post(served, "/invocations", {"dataframe_split": _split(_rows(3))})[1]
    ids, predicted = body["prediction_ids"], body["predictions"]
    assert served.app.store.flush(10)
    scoring = _metric(served, "model_serving_requests_total")
    labels = {
        "labels": [{"prediction_id": i, "label": p} for i, p in zip(ids, predicted, strict=True)]
    }
    assert _post(served, "/feedback", labels)[0] == 401
    assert _post(served, "/feedback", labels, token="wrong")[0] == 401
    assert _post(served, "/feedback", labels, token=TOKEN)[:2] == (
        200,
        {"loaded": 3, "unchanged": 0, "updated": 0},
    )
    assert _post(served, "/feedback", labels, token=TOKEN)[:2] == (
        200,
        {"loaded": 0, "unchanged": 3, "updated": 0},
    )
    one = {"prediction_id": ids[0], "label": 1 - predicted[0]}
    assert _post(served, "/feedback", one, token=TOKEN)[1]["updated"] == 1
    # Label requests are counted apart: the scoring error rate never sees a labeller's 401s.
    assert _metric(served, "model_serving_requests_total") == scoring
    assert _metric(served, "model_serving_feedback_requests_total", code="401") == 2
    assert _metric(served, "model_serving_feedback_requests_total", code="200") == 3


@pytest.mark.parametrize(
    "label, status, words",
    [
        ({"prediction_id": "f" * 32, "label": 1}, 404, "not in the store"),
        ({"prediction_id": "ID", "label": "malignant"}, 422, "wrong type"),
        ([{"prediction_id": "ID", "label": 1}, {"prediction_id": "ID", "label": 1}], 422, "once"),
        ({"label": 1}, 422, "prediction_id"),
        (b"{not json", 400, "malformed"),
    ],
)
def test_bad_feedback_is_one_clear_answer(served, label, status, words) -> None:
    _, body, _ = _post(served, "/invocations", {"dataframe_split": _split(_rows(1))})
    assert served.app.store.flush(10)
    if not isinstance(label, bytes):
        label = json.loads(json.dumps(label).replace('"ID"', json.dumps(body["prediction_ids"][0])))
    answer = _post(served, "/feedback", label, token=TOKEN)
    assert answer[0] == status and words in answer[1]["message"], answer[1]


def test_feedback_with_every_kind_of_problem_names_them_all(served, store_url) -> None:
    """One 422 answer lists duplicates, unknown ids and a wrong type (MLflow's error_code and
    message kept, `problems` added) and stores none of the body's labels."""
    body = _post(served, "/invocations", {"dataframe_split": _split(_rows(2))})[1]
    ids, predicted = body["prediction_ids"], body["predictions"]
    assert served.app.store.flush(10)
    labels = [
        {"prediction_id": ids[0], "label": predicted[0]},
        {"prediction_id": ids[0], "label": predicted[0]},
        {"prediction_id": "f" * 32, "label": 1},
        {"prediction_id": ids[1], "label": "malignant"},
    ]
    status, answer, _ = _post(served, "/feedback", labels, token=TOKEN)
    assert status == 422 and answer["error_code"] == "BAD_REQUEST", answer
    lines = answer["message"].splitlines()
    assert len(lines) == 3, lines
    words = ["more than once", "not in the store", "wrong type"]
    assert all(w in line for w, line in zip(words, lines, strict=True)), lines
    assert [(p["kind"], p["rows"], p["examples"]) for p in answer["problems"]] == [
        ("duplicate_ids", 2, [ids[0]]),
        ("unknown_ids", 1, ["f" * 32]),
        ("wrong_type", 1, [ids[1]]),
    ]
    assert [p["message"] for p in answer["problems"]] == lines
    with open_store(store_url) as store:
        joined = store.read_joined("cancer", "4", environment="staging")
    assert not any(j.labelled for j in joined if j.prediction.prediction_id in ids)


def test_a_locked_store_drops_counted_rows_and_never_holds_a_request(clf, tmp_path) -> None:
    """Another connection holds the SQLite file's write lock: the server answers every request,
    keeps at most `store_queue_rows` rows, counts the rest as dropped, and writes what it kept
    once the lock is gone."""
    path = tmp_path / "locked.sqlite3"
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    with _serve(
        clf[0], model_name="cancer", store_url=f"sqlite:///{path}", store_queue_rows=20
    ) as server:
        server.wait_ready()
        for _ in range(5):  # 50 rows: 20 kept, 30 dropped
            status, body, _ = _post(server, "/invocations", {"dataframe_split": _split(_rows(10))})
            assert status == 200 and len(body["prediction_ids"]) == 10
        dropped = _metric(
            server, "model_serving_prediction_store_dropped_total", reason="queue_full"
        )
        assert dropped == 30
        assert _metric(server, "model_serving_prediction_store_queue_rows") == 20
        assert _metric(server, "model_serving_prediction_store_written_total") == 0
        locker.execute("ROLLBACK")
        assert server.app.store.flush(30)
        assert _metric(server, "model_serving_prediction_store_written_total") == 20
    locker.close()
    with open_store(f"sqlite:///{path}") as store:
        assert len(store.read_joined("cancer")) == 20


def test_feedback_is_off_without_a_token(clf, store_url) -> None:
    with _serve(clf[0], store_url=store_url) as server:
        server.wait_ready()
        status, body, _ = _post(server, "/feedback", {"prediction_id": "x", "label": 1}, "x")
    assert status == 404 and "MLOPS_FEEDBACK_TOKEN" in body["message"]


def _rows(n: int) -> Any:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).data.iloc[:n]


def test_the_json_lines_log_carries_the_ids_without_a_store(clf, tmp_path) -> None:
    with _serve(clf[0], log_dir=str(tmp_path), log_sample_rate=1.0) as server:
        server.wait_ready()
        status, body, headers = _post(server, "/invocations", {"dataframe_split": _split(_rows(2))})
    lines = [
        json.loads(line) for f in tmp_path.glob("*.jsonl") for line in f.read_text().splitlines()
    ]
    assert status == 200 and [line["prediction_id"] for line in lines] == body["prediction_ids"]
    assert body["prediction_ids"][0].startswith(headers["X-Prediction-Batch"])
