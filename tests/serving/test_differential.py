"""Our scoring server against a real `mlflow models serve`, request for request.

The same three models (the numeric ndarray fast path, the compiled mixed-type path and the
DataFrame fallback) are served by both; every request shape of MLflow's own scoring-server tests
(content types and charsets, both DataFrame orients, `instances`/`inputs`, `params`, malformed
bodies, values at the edges of each type) goes to both. The status class (2xx/4xx/5xx) and the
predictions must agree, except for the cases of the "deliberately stricter" table in
docs/architecture.md: those, and only those, are 4xx here where MLflow answers 200.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mlops_toolkit.serving.compiled import CompiledModel
from mlops_toolkit.serving.model import load_for_serving
from support.project import ROOT

from serving.test_server import Server, _serve

ARCHITECTURE = ROOT / "docs" / "architecture.md"
Case = tuple[str, bytes]  # (content type, body)


def _save(model: Any, X: Any, path: Path) -> Path:
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(X, model.predict(X)),
        input_example=X.head(3),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    return path


def _numeric(path: Path) -> Path:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :4]
    return _save(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X, path)


def _frame_of_types() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 5, size=n),
            "s": rng.choice(["a", "b", "ü🐧"], size=n).astype(object),
            "f": rng.choice([True, False], size=n),
        }
    )
    y = ((X["x"] > 0) ^ (X["s"] == "a")).astype(int)
    return X, y


def _compiled(path: Path) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = _frame_of_types()
    pre = ColumnTransformer(
        [
            ("num", "passthrough", ["x", "k"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["s", "f"]),
        ]
    )
    return _save(make_pipeline(pre, LogisticRegression()).fit(X, y), X, path)


def _dataframe(path: Path) -> Path:
    """No ColumnTransformer first: neither fast path applies, predictions go through pandas."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    X, y = _frame_of_types()
    X = X[["s", "k"]]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return _save(make_pipeline(encoder, LogisticRegression()).fit(X, y), X, path)


MODELS: dict[str, Callable[[Path], Path]] = {
    "numeric": _numeric,
    "compiled": _compiled,
    "dataframe": _dataframe,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, content_type: str | None, body: bytes) -> tuple[int, Any]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    req = urllib.request.Request(url + "/invocations", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class Pair:
    def __init__(self, name: str, model_dir: Path, ours: Server, mlflow_url: str) -> None:
        self.name, self.model_dir, self.ours, self.mlflow_url = name, model_dir, ours, mlflow_url
        self.served = load_for_serving(str(model_dir))

    def both(self, content_type: str | None, body: bytes) -> tuple[tuple[int, Any], ...]:
        return _post(self.ours.url, content_type, body), _post(self.mlflow_url, content_type, body)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pair]]:
    """Each model served by both servers; the three `mlflow models serve` start side by side."""
    dirs = {name: make(tmp_path_factory.mktemp(name) / "model") for name, make in MODELS.items()}
    procs, urls = {}, {}
    for name, model_dir in dirs.items():
        port = _free_port()
        urls[name] = f"http://127.0.0.1:{port}"
        procs[name] = subprocess.Popen(
            [
                "mlflow",
                "models",
                "serve",
                "-m",
                str(model_dir),
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env={**os.environ, "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "60"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    servers = {name: _serve(model_dir) for name, model_dir in dirs.items()}
    try:
        for server in servers.values():
            server.__enter__()
            server.wait_ready()
        for name, proc in procs.items():
            _wait_ping(proc, urls[name])
        yield {name: Pair(name, dirs[name], servers[name], urls[name]) for name in dirs}
    finally:
        for server in servers.values():
            if hasattr(server, "url"):
                server.__exit__(None, None, None)
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(20)


def _wait_ping(proc: subprocess.Popen, url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        assert proc.poll() is None, "mlflow models serve exited"
        assert time.monotonic() < deadline, "mlflow models serve did not answer /ping"
        time.sleep(0.5)


# -- the request shapes ---------------------------------------------------------------------------
JSON = "application/json"
CSV = "text/csv"


def _j(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def _rows(pair: Pair) -> tuple[list[str], list[list[Any]]]:
    example = pair.served.example
    assert example is not None
    return list(example["columns"]), [list(r) for r in example["data"]]


def _csv(names: list[str], rows: list[list[Any]]) -> bytes:
    import io

    import pandas as pd

    buffer = io.StringIO()
    pd.DataFrame(rows, columns=names).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _with(rows: list[list[Any]], names: list[str], column: str, value: Any) -> list[list[Any]]:
    at = names.index(column)
    return [[value if i == at else v for i, v in enumerate(row)] for row in rows]


def cases(pair: Pair) -> dict[str, Case]:
    names, rows = _rows(pair)
    records = [dict(zip(names, r, strict=True)) for r in rows]
    split = {"columns": names, "data": rows}
    out: dict[str, Case] = {
        # content types
        "json": (JSON, _j({"dataframe_split": split})),
        "json charset=utf-8": (JSON + "; charset=utf-8", _j({"dataframe_split": split})),
        "json charset=UTF-8": (JSON + ";charset=UTF-8", _j({"dataframe_split": split})),
        "json charset=latin-1": (JSON + "; charset=latin-1", _j({"dataframe_split": split})),
        "json format=pandas-split": (
            JSON + "; format=pandas-split",
            _j({"dataframe_split": split}),
        ),
        "application/jsonx": ("application/jsonx", _j({"dataframe_split": split})),
        "text/plain": ("text/plain", _j({"dataframe_split": split})),
        "no content type": (None, _j({"dataframe_split": split})),
        "csv": (CSV, _csv(names, rows)),
        "csv charset=utf-8": (CSV + "; charset=utf-8", _csv(names, rows)),
        # orients and keys
        "dataframe_split with index": (
            JSON,
            _j({"dataframe_split": {**split, "index": list(range(len(rows)))}}),
        ),
        "dataframe_records": (JSON, _j({"dataframe_records": records})),
        "instances records": (JSON, _j({"instances": records})),
        "inputs records": (JSON, _j({"inputs": records})),
        "inputs columns": (
            JSON,
            _j({"inputs": {n: [r[i] for r in rows] for i, n in enumerate(names)}}),
        ),
        "instances columns": (
            JSON,
            _j({"instances": {n: [r[i] for r in rows] for i, n in enumerate(names)}}),
        ),
        "params": (JSON, _j({"dataframe_split": split, "params": {"anything": 1}})),
        "records params": (JSON, _j({"dataframe_records": records, "params": {}})),
        "reordered columns": (
            JSON,
            _j({"dataframe_split": {"columns": names[::-1], "data": [r[::-1] for r in rows]}}),
        ),
        "extra column": (
            JSON,
            _j({"dataframe_split": {"columns": [*names, "zz"], "data": [[*r, 1] for r in rows]}}),
        ),
        "missing column": (
            JSON,
            _j({"dataframe_split": {"columns": names[1:], "data": [r[1:] for r in rows]}}),
        ),
        "rows without names": (JSON, _j({"dataframe_split": {"data": rows}})),
        "instances without names": (JSON, _j({"instances": rows})),
        "inputs without names": (JSON, _j({"inputs": rows})),
        "duplicated column": (
            JSON,
            _j(
                {
                    "dataframe_split": {
                        "columns": [*names, names[0]],
                        "data": [[*r, r[0]] for r in rows],
                    }
                }
            ),
        ),
        "csv duplicated column": (CSV, _csv([*names, names[0]], [[*r, r[0]] for r in rows])),
        # empty batches
        "empty split": (JSON, _j({"dataframe_split": {"columns": names, "data": []}})),
        "empty records": (JSON, _j({"dataframe_records": []})),
        # malformed bodies
        "malformed json": (JSON, b'{"dataframe_split": '),
        "json list": (JSON, b"[1, 2]"),
        "json string": (JSON, b'"rows"'),
        "json null": (JSON, b"null"),
        "no key": (JSON, b"{}"),
        "unknown key": (JSON, _j({"frame": split})),
        "two keys": (JSON, _j({"dataframe_split": split, "dataframe_records": records})),
        "split not an object": (JSON, _j({"dataframe_split": rows})),
        "records not a list": (JSON, _j({"dataframe_records": records[0]})),
        "not utf-8 json": (JSON, b'{"dataframe_split": "\xff"}'),
        "not utf-8 csv": (CSV, ",".join(names).encode() + b"\n\xff\xfe\n"),
        "empty body": (JSON, b""),
        "empty csv": (CSV, b""),
        "csv header only": (CSV, ",".join(names).encode() + b"\n"),
        "csv ragged": (CSV, _csv(names, rows) + b"1\n"),
    }
    out.update(_edges(pair, names, rows))
    return out


def _edges(pair: Pair, names: list[str], rows: list[list[Any]]) -> dict[str, Case]:
    """Values at the edges of each column type present in this model."""
    out: dict[str, Case] = {}
    types = {c.name: c.type for c in pair.served.columns}

    def both(label: str, column: str, value: Any, raw: str | None = None) -> None:
        changed = _with(rows, names, column, value)
        body = _j({"dataframe_split": {"columns": names, "data": changed}})
        if raw is not None:  # a token json.dumps cannot write (or writes differently)
            body = body.replace(_j(value), raw.encode()) if value is not None else body
        out[f"{types[column]} {label}"] = (JSON, body)

    for column, kind in types.items():
        if kind in ("double", "float"):
            both("1e308", column, 1e308)
            both("int64 max", column, 2**63 - 1)
            both("string number", column, "1.5")
            both("true", column, True)
            both("null", column, None)
            both("NaN token", column, 12345.5, raw="NaN")
            both("Infinity token", column, 12345.5, raw="Infinity")
            out[f"{kind} csv empty"] = (CSV, _csv(names, _with(rows, names, column, "")))
            out[f"{kind} csv NaN"] = (CSV, _csv(names, _with(rows, names, column, "NaN")))
            out[f"{kind} csv inf"] = (CSV, _csv(names, _with(rows, names, column, "inf")))
        elif kind in ("long", "integer"):
            both("int64 max", column, 2**63 - 1)
            both("int64 min", column, -(2**63))
            both("int64 max + 1", column, 2**63)
            both("1.5", column, 1.5)
            both("1.0", column, 1.0)
            both("null", column, None)
            out[f"{kind} csv empty"] = (CSV, _csv(names, _with(rows, names, column, "")))
        elif kind == "string":
            both("empty string", column, "")
            both("null", column, None)
            both("unicode", column, "ü🐧 中文")
            both("number", column, 7)
            out[f"{kind} csv empty"] = (CSV, _csv(names, _with(rows, names, column, "")))
            out[f"{kind} csv unicode"] = (CSV, _csv(names, _with(rows, names, column, "ü🐧 中文")))
        elif kind == "boolean":
            both("string true", column, "true")
            both("null", column, None)
            both("number 1", column, 1)
            out[f"{kind} csv True"] = (CSV, _csv(names, _with(rows, names, column, "True")))
            out[f"{kind} csv yes"] = (CSV, _csv(names, _with(rows, names, column, "yes")))
    return out


# -- the table in docs/architecture.md ------------------------------------------------------------
def stricter_table() -> dict[str, str]:
    """case -> reason, from the table under "Deliberately stricter than MLflow"."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("Deliberately stricter than `mlflow models serve`", 1)[1]
    table = section.split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines():
        match = re.match(r"\|\s*`([^`]+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    assert rows, "no stricter table in docs/architecture.md"
    return rows


def _class(status: int) -> int:
    return status // 100


def _same_predictions(a: Any, b: Any) -> bool:
    a, b = a.get("predictions"), b.get("predictions")
    if a == b:
        return True
    try:
        pairs = zip(a, b, strict=True)
        return len(a) == len(b) and all(abs(x - y) <= 1e-9 * max(1, abs(y)) for x, y in pairs)
    except TypeError:
        return False


def test_the_three_scoring_paths_are_covered(pairs) -> None:
    assert not pairs["numeric"].served.use_frame and pairs["numeric"].served.numeric
    assert isinstance(pairs["compiled"].served, CompiledModel)
    compiled_or_not = pairs["dataframe"].served
    assert compiled_or_not.use_frame and not isinstance(compiled_or_not, CompiledModel)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_request_answers_as_mlflow_except_the_documented_stricter_cases(
    pairs, name: str
) -> None:
    pair = pairs[name]
    stricter = stricter_table()
    differ, wrong_stricter = [], []
    for case, (content_type, body) in cases(pair).items():
        (ours, ours_body), (theirs, theirs_body) = pair.both(content_type, body)
        same = _class(ours) == _class(theirs) and (
            ours != 200 or _same_predictions(ours_body, theirs_body)
        )
        if case in stricter:
            if not (_class(ours) == 4 and theirs == 200):
                wrong_stricter.append(f"{case}: ours {ours}, mlflow {theirs}")
        elif not same:
            differ.append(
                f"{case}: ours {ours} {ours_body!r:.160}, mlflow {theirs} {theirs_body!r:.160}"
            )
    assert not differ, "answers differ from MLflow's:\n" + "\n".join(differ)
    assert not wrong_stricter, "documented stricter, but:\n" + "\n".join(wrong_stricter)


def test_every_row_of_the_stricter_table_is_a_case_here(pairs) -> None:
    known = set().union(*(cases(pair) for pair in pairs.values()))
    assert set(stricter_table()) <= known
