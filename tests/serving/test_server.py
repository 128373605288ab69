"""The scoring server over real HTTP on 127.0.0.1, with real MLflow-saved sklearn Pipelines."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import sklearn
from mlops_toolkit.serving.app import ScoringApp
from mlops_toolkit.serving.compiled import CompiledModel
from mlops_toolkit.serving.protocol import guarded
from mlops_toolkit.serving.settings import Settings

from .conftest import write_drift_report


def _save(model: Any, X: Any, path: Path) -> Path:
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(X, model.predict(X)),
        input_example=X.head(5),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    return path


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    return _save(model, X, tmp_path_factory.mktemp("clf") / "model"), X


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), Ridge()).fit(X, y)
    return _save(model, X, tmp_path_factory.mktemp("reg") / "model"), X


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """Columns selected by name (needs a DataFrame), with double, long and string columns."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "b": rng.integers(0, 5, size=200),
            "c": rng.choice(["x", "y", "z"], size=200).astype(object),
        }
    )
    y = (X["a"] + (X["c"] == "x") > 0.5).astype(int)
    pre = ColumnTransformer(
        [("num", "passthrough", ["a", "b"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])]
    )
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    return _save(model, X, tmp_path_factory.mktemp("mixed") / "model"), X


class Server:
    """A real uvicorn server in a thread, on a free loopback port."""

    def __init__(self, app: ScoringApp) -> None:
        import uvicorn

        self.app = app
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            http=guarded(app.settings.header_timeout),  # as __main__ runs it
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not (self.server.started and self.server.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/health")[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy: {self.get('/health')}")
            time.sleep(0.05)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers["Content-Type"]
        except urllib.error.HTTPError as err:
            status, raw, ctype = err.code, err.read(), err.headers["Content-Type"]
        return status, json.loads(raw) if ctype == "application/json" else raw.decode()

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, payload: Any, content_type: str = "application/json") -> tuple[int, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", "/invocations", body, content_type)


def _env() -> dict[str, str]:
    """A child process's environment: the toolkit is installed (tests/requirements.txt)."""
    import os

    return dict(os.environ)


def _serve(model_dir: Path, **settings: Any) -> Server:
    return Server(ScoringApp(Settings.from_env({}, model_dir=str(model_dir), **settings)))


@pytest.fixture(scope="module")
def clf_server(clf: tuple[Path, Any]) -> Iterator[Server]:
    with _serve(
        clf[0],
        model_name="cancer",
        model_version="7",
        git_commit="abc123",
        image_tag="registry/cancer:7",
    ) as server:
        server.wait_ready()
        yield server


def _split(X: Any) -> dict[str, Any]:
    return {"columns": list(X.columns), "data": X.values.tolist()}


def _expected(model_dir: Path, X: Any) -> list[Any]:
    return mlflow.pyfunc.load_model(str(model_dir)).predict(X).tolist()


def test_every_mlflow_payload_format_gives_mlflows_answer(clf, clf_server) -> None:
    model_dir, X = clf
    rows = X.iloc[:60]
    expected = _expected(model_dir, rows)
    assert 0 in expected and 1 in expected
    records = rows.to_dict(orient="records")
    payloads = {
        "split": {"dataframe_split": _split(rows)},
        "records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs as columns": {"inputs": rows.to_dict(orient="list")},
        "reordered columns": {"dataframe_split": _split(rows[list(reversed(X.columns))])},
        "extra column": {"dataframe_split": _split(rows.assign(extra="ignored"))},
    }
    for name, payload in payloads.items():
        assert clf_server.post(payload) == (200, {"predictions": expected}), name
    csv_body = rows.to_csv(index=False).encode()
    assert clf_server.post(csv_body, "text/csv") == (200, {"predictions": expected})
    # As MLflow: rows without names (taken by position before) and a column twice are 400.
    for payload in (
        {"instances": rows.values.tolist()},
        {"dataframe_split": {"data": rows.values.tolist()}},
        {"dataframe_split": _split(rows.assign(extra=1).rename(columns={"extra": X.columns[0]}))},
    ):
        status, body = clf_server.post(payload)
        assert status == 400 and ("column names" in body["message"] or "twice" in body["message"])


def test_the_models_own_serving_example_works(clf, clf_server) -> None:
    example = json.loads((clf[0] / "serving_input_example.json").read_text())
    status, body = clf_server.post(example)
    assert status == 200 and len(body["predictions"]) == 5


def test_regression_answers_mlflows_floats(reg) -> None:
    model_dir, X = reg
    with _serve(model_dir) as server:
        server.wait_ready()
        status, body = server.post({"dataframe_split": _split(X.iloc[:50])})
    assert status == 200
    assert body["predictions"] == pytest.approx(_expected(model_dir, X.iloc[:50]), rel=1e-12)
    assert all(isinstance(p, float) for p in body["predictions"])


def test_columns_selected_by_name_use_a_dataframe_and_check_every_type(mixed) -> None:
    model_dir, X = mixed
    rows = X.iloc[:40]
    with _serve(model_dir) as server:
        server.wait_ready()
        # Typed arrays through the replayed ColumnTransformer: an ndarray would break it.
        assert isinstance(server.app.model, CompiledModel)
        records = rows.to_dict(orient="records")
        assert server.post({"dataframe_records": records}) == (
            200,
            {"predictions": _expected(model_dir, rows)},
        )
        bad_long = [dict(records[0], b=1.5)]
        status, body = server.post({"dataframe_records": bad_long})
        assert status == 422 and "'b'" in body["message"] and "long" in body["message"]
        status, body = server.post({"dataframe_records": [dict(records[0], c=3)]})
        assert status == 422 and "'c'" in body["message"] and "string" in body["message"]


BAD_INPUTS = [
    # (name, body, content type, status, kind, words the message must contain)
    (
        "malformed JSON",
        b'{"dataframe_split": ',
        "application/json",
        400,
        "malformed_json",
        ["malformed JSON"],
    ),
    ("no known key", {"data": [[1.0]]}, None, 400, "bad_payload", ["dataframe_split"]),
    ("two keys", {"instances": [], "inputs": []}, None, 400, "bad_payload", ["exactly one"]),
    ("not an object", [1, 2], None, 400, "bad_payload", ["JSON object"]),
    (
        "rows not lists",
        {"dataframe_split": {"columns": ["a"], "data": [1.0]}},
        None,
        400,
        "bad_payload",
        ["list of rows"],
    ),
    (
        "number beyond float64",
        b'{"dataframe_split": {"columns": ["mean radius"], "data": [[1e999999]]}}',
        "application/json",
        400,
        "malformed_json",
        ["infinity"],
    ),
    (
        "ragged CSV",
        b"mean radius,mean texture\n1.0\n",
        "text/csv",
        400,
        "bad_payload",
        ["CSV line 2 has 1 fields"],
    ),
    (
        "wrong content type",
        b"a=1",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
        ["Content-Type"],
    ),
]


@pytest.mark.parametrize(
    "name,body,ctype,status,kind,words", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_malformed_requests_are_400_with_a_message(
    clf_server, name, body, ctype, status, kind, words
) -> None:
    before = _metric(clf_server, "model_serving_errors_total", kind=kind)
    got_status, got = clf_server.post(body, ctype or "application/json")
    assert got_status == status
    assert all(w in got["message"] for w in words), got["message"]
    assert _metric(clf_server, "model_serving_errors_total", kind=kind) == before + 1


def test_signature_violations_are_422_naming_the_column(clf, clf_server) -> None:
    _, X = clf
    rows = X.iloc[:3]
    records = rows.to_dict(orient="records")
    missing = [{k: v for k, v in r.items() if k != "mean area"} for r in records]
    status, body = clf_server.post({"dataframe_records": missing})
    assert status == 422 and "mean area" in body["message"]

    for value, word in (
        ("12.5", "string"),
        (True, "boolean"),
        (None, "no value"),
        ([1.0], "array"),
    ):
        split = _split(rows)
        split["data"][2][3] = value
        status, body = clf_server.post({"dataframe_split": split})
        assert status == 422, value
        assert "'mean area'" in body["message"] and "row 2" in body["message"], body
        assert word in body["message"]

    csv_body = rows.to_csv(index=False).replace("mean area", "area", 1).encode()
    status, body = clf_server.post(csv_body, "text/csv")
    assert status == 422 and "mean area" in body["message"]

    ragged = _split(rows)
    ragged["data"][1] = ragged["data"][1][:-1]
    status, body = clf_server.post({"dataframe_split": ragged})
    assert status == 400 and "30 values" in body["message"]


def test_routes_and_limits(clf_server) -> None:
    model = {"model_name": "cancer", "model_version": "7"}
    before = {
        code: _metric(clf_server, "model_serving_requests_total", code=code, **model)
        for code in ("404", "405")
    }
    assert clf_server.get("/invocations")[0] == 405
    assert clf_server.get("/nope")[0] == 404
    assert clf_server.get("/ping") == (200, {"status": "ok"})
    # Wrong routes and methods are counted too: a client hammering a bad URL shows on dashboards.
    for code in ("404", "405"):
        after = _metric(clf_server, "model_serving_requests_total", code=code, **model)
        assert after == before[code] + 1, code


def test_a_large_batch_does_not_hold_health_checks(clf) -> None:
    """While a big batch is being scored, /health still answers (the loop is not blocked)."""
    model_dir, X = clf
    scoring, release = threading.Event(), threading.Event()
    app = ScoringApp(Settings.from_env({}, model_dir=str(model_dir)))
    with Server(app) as server:
        server.wait_ready()
        estimator = app.model.estimator
        original = estimator.predict

        def held_predict(data: Any) -> Any:
            if len(data) > 1000:  # only the big batch waits, until /health has answered
                scoring.set()
                release.wait(30)
            return original(data)

        estimator.predict = held_predict
        big = X.sample(5000, replace=True, random_state=0)
        result: list[Any] = []
        worker = threading.Thread(
            target=lambda: result.append(server.post({"dataframe_split": _split(big)}))
        )
        worker.start()
        try:
            assert scoring.wait(30), "the big batch never reached the model"
            assert server.get("/health") == (200, {"status": "ok"})
        finally:
            release.set()
            worker.join(30)
        assert result[0][0] == 200 and len(result[0][1]["predictions"]) == 5000


def test_too_large_body_is_413(clf) -> None:
    with _serve(clf[0], max_body_bytes=1000) as server:
        server.wait_ready()
        status, body = server.post({"dataframe_split": _split(clf[1].iloc[:20])})
    assert status == 413 and "1000 bytes" in body["message"]


def _raw(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    start, data = time.monotonic(), b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - start


@pytest.fixture(scope="module")
def limited(clf: tuple[Path, Any]) -> Iterator[Server]:
    with _serve(clf[0], header_timeout=1, body_timeout=1, max_body_bytes=1000) as server:
        server.wait_ready()
        yield server


def test_a_slowloris_client_is_cut_at_the_header_deadline(limited) -> None:
    """A header line every 0.3 s kept uvicorn's connection open for ever (no header timeout)."""
    with _raw(limited) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        try:
            for i in range(20):  # 6 s of trickling, unless the server closes first
                time.sleep(0.3)
                sock.sendall(b"X-Slow-%d: y\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, _ = _read_until_closed(sock)
        elapsed = time.monotonic() - start
    assert elapsed < 4, f"still open after {elapsed:.1f} s"
    assert data.startswith(b"HTTP/1.1 408"), data


def test_an_idle_connection_and_a_slow_body_are_cut(limited) -> None:
    with _raw(limited) as idle:
        data, elapsed = _read_until_closed(idle)
    assert data == b"" and elapsed < 3, (data, elapsed)
    with _raw(limited) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 500\r\n\r\n{"dataframe_split"'
        )
        data, elapsed = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408") and b"within 1 s" in data, data
    assert elapsed < 4, elapsed


def test_an_oversized_content_length_is_413_before_the_body_is_read(limited) -> None:
    with _raw(limited) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        data, elapsed = _read_until_closed(sock)  # not a byte of the body was sent
    assert data.startswith(b"HTTP/1.1 413") and b"1000 bytes" in data, data
    assert elapsed < 0.9, elapsed  # before the body deadline of 1 s


@pytest.mark.parametrize(
    "content_type",
    ["application/jsonx", "application/json-patch+json", "text/csvx", "application/json; x=1"],
)
def test_content_types_that_only_look_like_json_or_csv_are_415(clf_server, content_type) -> None:
    status, body = clf_server.post({"dataframe_split": {"columns": [], "data": [[]]}}, content_type)
    assert status == 415 and content_type in body["message"], body


def test_version_names_model_commit_and_image(clf_server) -> None:
    assert clf_server.get("/version") == (
        200,
        {
            "model_name": "cancer",
            "model_version": "7",
            "git_commit": "abc123",
            "image_tag": "registry/cancer:7",
        },
    )


def _metric(server: Server, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    status, text = server.get("/metrics")
    assert status == 200
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_count_rows_latency_errors_and_version(clf, clf_server) -> None:
    X = clf[1]
    model = {"model_name": "cancer", "model_version": "7"}
    rows_before = _metric(clf_server, "model_serving_predictions_total", **model)
    ok_before = _metric(clf_server, "model_serving_requests_total", code="200", **model)
    lat_before = _metric(clf_server, "model_serving_request_duration_seconds_count", **model)
    for n in (1, 10, 100):
        assert clf_server.post({"dataframe_split": _split(X.iloc[:n])})[0] == 200
    assert _metric(clf_server, "model_serving_predictions_total", **model) == rows_before + 111
    assert _metric(clf_server, "model_serving_requests_total", code="200", **model) == ok_before + 3
    assert (
        _metric(clf_server, "model_serving_request_duration_seconds_count", **model)
        == lat_before + 3
    )
    assert _metric(clf_server, "model_serving_rows_per_request_bucket", le="10.0", **model) >= 2
    assert (
        _metric(
            clf_server,
            "model_serving_model_info",
            git_commit="abc123",
            image_tag="registry/cancer:7",
            **model,
        )
        == 1
    )
    assert _metric(clf_server, "model_serving_ready") == 1


def test_sampled_prediction_log_has_inputs_and_predictions(clf, tmp_path: Path) -> None:
    model_dir, X = clf
    with _serve(
        model_dir, log_dir=str(tmp_path / "all"), log_sample_rate=1.0, model_version="3"
    ) as server:
        server.wait_ready()
        status, body = server.post({"dataframe_split": _split(X.iloc[:7])})
    lines = [
        json.loads(line)
        for f in (tmp_path / "all").glob("predictions-*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert status == 200 and len(lines) == 7
    assert [line["prediction"] for line in lines] == body["predictions"]
    assert lines[0]["inputs"] == X.iloc[0].to_dict() and lines[0]["model_version"] == "3"
    with _serve(model_dir, log_dir=str(tmp_path / "none"), log_sample_rate=0.0) as server:
        server.wait_ready()
        server.post({"dataframe_split": _split(X.iloc[:7])})
    assert not list((tmp_path / "none").glob("*.jsonl"))


def test_last_drift_report_is_exposed_as_metrics(clf, tmp_path: Path) -> None:
    report = tmp_path / "drift.json"
    with _serve(clf[0], drift_report=str(report)) as server:
        server.wait_ready()
        assert _metric(server, "model_drift_detected") == 0  # no report yet: no series
        write_drift_report(
            report,
            {"mean area": (0.7, 0.001)},
            prediction=("categorical", 0.05, 0.4),
            timestamp=1700000000,
        )
        assert _metric(server, "model_drift_score", feature="mean area") == 0.7
        assert _metric(server, "model_drift_score", feature="__prediction__") == 0.05
        assert _metric(server, "model_drift_threshold", metric="psi") == 0.2
        assert _metric(server, "model_drift_detected") == 1
        assert _metric(server, "model_drift_p_value", feature="mean area", test="ks") == 0.001


def test_loading_freezes_what_start_up_built(clf) -> None:
    """The store's queued requests outlive young collections and set off full ones: what the
    load built is frozen, so those never walk it (docs/architecture.md, prediction store)."""
    import gc

    app = ScoringApp(Settings.from_env({}, model_dir=str(clf[0])))
    before = gc.get_freeze_count()
    try:
        app.load()
        assert app.model is not None and app.load_error is None
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_unloadable_model_is_unhealthy_and_the_process_exits_1(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with _serve(tmp_path) as server:
        deadline = time.monotonic() + 10
        while server.app.load_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        status, body = server.get("/health")
        assert status == 503 and body["status"] == "failed" and "sklearn" in body["error"]
        assert server.post({"instances": [[1.0]]})[0] == 503
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_toolkit.serving",
            "--model-dir",
            str(tmp_path / "missing"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "no MLmodel file" in errors[0]


def test_health_says_loading_until_the_model_is_in(clf) -> None:
    release = threading.Event()

    class SlowLoad(ScoringApp):
        def load(self) -> None:
            release.wait(30)
            super().load()

    app = SlowLoad(Settings.from_env({}, model_dir=str(clf[0])))
    with Server(app) as server:
        assert server.get("/health") == (503, {"status": "loading", "error": None})
        status, body = server.post({"dataframe_split": _split(clf[1].iloc[:2])})
        assert status == 503 and "not loaded" in body["message"]
        assert server.get("/version")[0] == 200  # the rest of the server already answers
        release.set()
        server.wait_ready()
        assert server.post({"dataframe_split": _split(clf[1].iloc[:2])})[0] == 200


EMPTY_BATCHES = [
    {"dataframe_records": []},
    {"dataframe_split": {"columns": [], "data": []}},
    {"dataframe_split": {"columns": ["a", "b", "c"], "data": []}},
    {"instances": []},
    {"inputs": []},
    {"inputs": {}},
    {"inputs": {"a": [], "b": [], "c": []}},
    b"a,b,c\n",
]


def test_nan_and_infinity_in_csv_follow_the_json_null_rule_and_empty_batches_are_400(
    mixed,
) -> None:
    model_dir, X = mixed
    row = X.iloc[0].to_dict()
    with _serve(model_dir) as server:
        server.wait_ready()
        _, by_json = server.post({"dataframe_records": [dict(row, a=None)]})
        status, by_csv = server.post(f"a,b,c\nnan,{row['b']},{row['c']}\n".encode(), "text/csv")
        assert status == 422 and by_csv["message"] == by_json["message"]
        assert "'a'" in by_csv["message"] and "row 0" in by_csv["message"]
        for text in ("inf", "-Infinity"):
            body = f"a,b,c\n1.0,{row['b']},{row['c']}\n{text},{row['b']},{row['c']}\n"
            status, got = server.post(body.encode(), "text/csv")
            assert status == 422, got
            assert "'a'" in got["message"] and "row 1" in got["message"], got["message"]
        for empty in EMPTY_BATCHES:
            ctype = "text/csv" if isinstance(empty, bytes) else "application/json"
            status, body = server.post(empty, ctype)  # as MLflow, whose schema check fails
            assert (status, body["message"]) == (
                400,
                "the request holds no rows: send at least one row",
            ), empty


@pytest.mark.parametrize(
    "raw",
    [
        b'{"dataframe_split": {"data": [[1.0, true]], "columns": ["x", "y"]}}',
        b'{"dataframe_split": {"columns": ["data", "y"], "data": [[1.0, false]]}}',
        b'{"dataframe_split": {"columns": ["x", "y"], "data": [[1.0, null]]}}',
        b'{"dataframe_split": {"columns": ["x", "y"], "data": [[1.0, "2"]]}}',
    ],
    ids=["data-first", "column-named-data", "null", "quoted-number"],
)
def test_the_fast_numeric_path_never_lets_a_literal_or_string_through(raw: bytes) -> None:
    """Bodies scanned for JSON literals take numpy's type inference; anything but numbers,
    wherever the keys stand, still meets the per-value checks (422 naming column and row)."""
    import orjson
    from mlops_toolkit.registry.mlmodel import Column
    from mlops_toolkit.serving.payload import PayloadError, parse_payload

    payload = orjson.loads(raw)
    columns = [Column(name, "double") for name in payload["dataframe_split"]["columns"]]
    with pytest.raises(PayloadError) as error:
        parse_payload(payload, columns, raw)
    assert error.value.status == 422 and "'y'" in error.value.message


def test_the_fast_numeric_path_gives_the_checked_paths_matrix(clf) -> None:
    import numpy as np
    import orjson
    from mlops_toolkit.registry.mlmodel import load_model
    from mlops_toolkit.serving.payload import parse_payload

    _, X = clf
    columns = load_model(str(clf[0])).columns
    raw = orjson.dumps({"dataframe_split": _split(X.iloc[:100])}, option=orjson.OPT_SERIALIZE_NUMPY)
    fast = parse_payload(orjson.loads(raw), columns, raw).matrix
    checked = parse_payload(orjson.loads(raw), columns).matrix
    assert fast.dtype == np.float64 and np.array_equal(fast, checked)
    assert np.array_equal(fast, X.iloc[:100].to_numpy(dtype=np.float64))


@pytest.mark.parametrize(
    "data",
    [
        "[[1.0, 2.0], [3.0]]",
        "[[1.0, 2.0, 3.0]]",
        "[[1.0, [2.0]]]",
        '[{"x": 1.0, "y": 2.0}]',
        "[[1.0, 2.0], 3.0]",
        "[[1.0, 99999999999999999999999]]",
        "[1.0, 2.0]",
    ],
    ids=["ragged", "too-wide", "nested", "record-row", "scalar-row", "huge-int", "flat"],
)
def test_the_fast_numeric_path_answers_odd_shapes_as_the_checks_do(data: str) -> None:
    """Number-only bodies of the wrong shape leave the fast path and get the checked answer."""
    import orjson
    from mlops_toolkit.registry.mlmodel import Column
    from mlops_toolkit.serving.payload import PayloadError, parse_payload

    raw = f'{{"dataframe_split": {{"columns": ["x", "y"], "data": {data}}}}}'.encode()
    columns = [Column("x", "double"), Column("y", "double")]

    def outcome(raw_or_none: bytes | None) -> object:
        try:
            return parse_payload(orjson.loads(raw), columns, raw_or_none).matrix.tolist()
        except PayloadError as exc:
            return (exc.status, exc.message)

    checked = outcome(None)
    assert outcome(raw) == checked
    assert isinstance(checked, tuple) or data.endswith("]]")  # odd shapes are refused


def test_sklearns_own_finiteness_check_is_skipped_only_for_finite_matrices(clf) -> None:
    """The server checks finiteness once; scikit-learn's repeated scans are skipped only when
    that check passed: same answers, and NaN or infinity still get scikit-learn's error."""
    import numpy as np
    from mlops_toolkit.registry.mlmodel import Batch, load_model
    from mlops_toolkit.serving.model import FiniteChecked, load_for_serving

    served, plain = load_for_serving(str(clf[0])), load_model(str(clf[0]))
    assert isinstance(served.estimator, FiniteChecked) and not served.use_frame
    matrix = clf[1].iloc[:50].to_numpy(dtype=np.float64)
    assert served.predict(Batch(50, matrix=matrix)) == plain.predict(Batch(50, matrix=matrix))
    for bad in (np.nan, np.inf):
        broken = matrix.copy()
        broken[7, 3] = bad
        with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
            served.predict(Batch(50, matrix=broken))
