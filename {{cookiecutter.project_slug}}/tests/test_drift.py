"""Drift statistics, reports and the end-to-end path from the prediction log to the verdict."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.monitoring.drift import (
    DriftInputError,
    Thresholds,
    compare,
    psi_categorical,
    psi_numeric,
    read_current,
    run,
)
from {{ cookiecutter.package_name }}.serving.model import Batch
from {{ cookiecutter.package_name }}.serving.predlog import PredictionLogger


def test_psi_matches_the_formula_on_a_hand_computed_case() -> None:
    reference = [0.0] * 50 + [1.0] * 50  # two bins at the median: 50 % / 50 %
    current = [0.0] * 20 + [1.0] * 80  # 20 % / 80 %
    expected = (0.2 - 0.5) * math.log(0.2 / 0.5) + (0.8 - 0.5) * math.log(0.8 / 0.5)
    assert psi_numeric(reference, current, bins=2) == pytest.approx(expected)
    assert psi_categorical(["a"] * 50 + ["b"] * 50, ["a"] * 20 + ["b"] * 80) == pytest.approx(
        expected
    )


def test_same_distribution_is_quiet_and_a_shift_is_drift() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=2000)
    same = compare(reference, rng.normal(size=400), Thresholds())
    shifted = compare(reference, rng.normal(loc=0.8, size=400), Thresholds())
    assert same["test"] == "ks" and not same["drifted"] and same["psi"] < 0.1
    assert shifted["drifted"] and shifted["psi"] > 0.2 and shifted["p_value"] < 1e-6


def test_categorical_columns_use_chi_squared_and_new_categories_count() -> None:
    rng = np.random.default_rng(2)
    reference = rng.choice(["a", "b", "c"], size=1000, p=[0.5, 0.3, 0.2])
    same = compare(
        reference, rng.choice(["a", "b", "c"], size=300, p=[0.5, 0.3, 0.2]), Thresholds()
    )
    moved = compare(
        reference, rng.choice(["a", "b", "d"], size=300, p=[0.2, 0.3, 0.5]), Thresholds()
    )
    assert same["test"] == "chi2" and not same["drifted"]
    assert moved["drifted"] and moved["p_value"] < 1e-6


def test_a_large_but_insignificant_psi_on_few_rows_is_not_drift() -> None:
    rng = np.random.default_rng(3)
    result = compare(rng.normal(size=1000), rng.normal(size=8), Thresholds(psi=0.1))
    assert result["psi"] > 0.1 and result["p_value"] > 0.01 and not result["drifted"]


@pytest.fixture
def reference(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _log(
    directory: Path, rows: pd.DataFrame, predictions: list[Any], target: str = "target"
) -> None:
    logger = PredictionLogger(str(directory), 1.0, "cancer", "1")
    features = rows.drop(columns=target)
    batch = Batch(len(features), matrix=features.to_numpy(dtype=float))
    logger.maybe_log(list(features.columns), batch, predictions)
    logger.close()


def test_logged_predictions_without_drift_pass(reference, tmp_path: Path) -> None:
    path, frame = reference
    sample = frame.sample(200, random_state=0)
    _log(tmp_path / "logs", sample, sample["target"].tolist())
    report = run(
        path,
        tmp_path / "logs",
        tmp_path / "out",
        Thresholds(),
        target="target",
        task="classification",
    )
    assert not report["drift_detected"] and report["drifted_features"] == []
    assert report["rows"] == {"reference": len(frame), "current": 200}
    assert report["prediction"]["test"] == "chi2"


def test_shifted_feature_and_predictions_are_found_and_reported(reference, tmp_path: Path) -> None:
    path, frame = reference
    sample = frame.sample(200, random_state=0)
    sample["mean area"] = sample["mean area"] * 2.5
    _log(tmp_path / "logs", sample, [1] * 200)  # the model answers one class only
    report = run(
        path,
        tmp_path / "logs",
        tmp_path / "out",
        Thresholds(),
        target="target",
        task="classification",
    )
    assert report["drift_detected"]
    assert "mean area" in report["drifted_features"]
    assert report["features"]["mean radius"]["drifted"] is False
    assert report["prediction"]["drifted"]

    out = tmp_path / "out"
    assert (
        json.loads((out / "drift.json").read_text())["drifted_features"]
        == report["drifted_features"]
    )
    assert "| mean area | numeric |" in (out / "drift.md").read_text()
    assert "Drift detected" in (out / "drift.html").read_text()

    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, s.labels.get("feature")): s.value
        for f in text_string_to_metric_families((out / "drift.prom").read_text())
        for s in f.samples
    }
    assert samples[("model_drift_detected", None)] == 1
    assert samples[("model_drift_score", "mean area")] == report["features"]["mean area"]["psi"]
    assert samples[("model_drift_feature_drifted", "mean area")] == 1


def test_reference_predictions_can_come_from_the_model(reference, tmp_path: Path) -> None:
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path, frame = reference
    X, y = frame.drop(columns="target"), frame["target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    mlflow.sklearn.save_model(
        model, str(tmp_path / "model"), signature=infer_signature(X, model.predict(X))
    )
    sample = frame.sample(150, random_state=1)
    _log(tmp_path / "logs", sample, model.predict(sample.drop(columns="target")).tolist())
    report = run(
        path,
        tmp_path / "logs",
        tmp_path / "out",
        Thresholds(),
        target="target",
        model_dir=str(tmp_path / "model"),
        task="classification",
    )
    assert not report["prediction"]["drifted"] and not report["drift_detected"]


def test_unusable_inputs_are_one_clear_error(reference, tmp_path: Path) -> None:
    path, frame = reference
    with pytest.raises(DriftInputError, match="no current data"):
        run(path, tmp_path / "empty", tmp_path / "out", Thresholds(), target="target")
    _log(tmp_path / "logs", frame.drop(columns=["mean area"]).head(20).assign(), [0] * 20)
    with pytest.raises(DriftInputError, match=r"lacks feature column.*mean area"):
        run(path, tmp_path / "logs", tmp_path / "out", Thresholds(), target="target")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jsonl").write_text("not json\n")
    with pytest.raises(DriftInputError, match=r"x.jsonl:1: not a prediction log line"):
        read_current(tmp_path / "bad")


def test_drift_command_reads_params_and_exits_3_on_drift(workdir: Path) -> None:
    from {{ cookiecutter.package_name }}.cli import main
    from {{ cookiecutter.package_name }}.config import load_params

    params = load_params("params.yaml")
    target = params.data.target  # whatever the project's own label column is called
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(rng.normal(size=(600, 4)), columns=["x0", "x1", "x2", "x3"])
    if params.model.task == "classification":
        reference[target] = (reference["x0"] > 0).astype(int)
    else:
        reference[target] = reference["x0"] * 3.0
    ref_path = workdir / "reference.csv"
    reference.to_csv(ref_path, index=False)

    same = reference.sample(200, random_state=0)
    _log(workdir / "same", same, same[target].tolist(), target)
    assert main(["drift", "--reference", str(ref_path), "--current", "same"]) == 0
    assert not json.loads((workdir / "reports/drift/drift.json").read_text())["drift_detected"]

    moved = same.assign(x2=same["x2"] + 2.0)
    _log(workdir / "moved", moved, moved[target].tolist(), target)
    assert (
        main(["drift", "--reference", str(ref_path), "--current", "moved", "--report-dir", "out"])
        == 3
    )
    report = json.loads((workdir / "out/drift.json").read_text())
    assert report["drifted_features"] == ["x2"]
    assert report["thresholds"] == {
        "psi": params.drift.psi_threshold,
        "p_value": params.drift.p_value,
    }

    assert main(["drift", "--reference", str(ref_path), "--current", "nowhere"]) == 1


class _FakeGitHub:
    """A loopback stand-in for the few GitHub issue endpoints the drift workflow calls."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.issues: dict[int, dict[str, Any]] = {
            1: {"number": 1, "title": "unrelated", "body": "hello", "labels": ["drift"]}
        }
        self.comments: list[tuple[int, str]] = []
        self.calls: list[tuple[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> Any:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def _route(self, method: str) -> None:
                fake.calls.append((method, self.path))
                if self.headers["Authorization"] != "Bearer secret":
                    return self._reply(401, {"message": "Bad credentials"})
                path = self.path.removeprefix("/repos/org/proj")
                if method == "GET" and path.startswith("/issues?"):
                    return self._reply(200, list(fake.issues.values()))
                if method == "POST" and path == "/issues":
                    number = max(fake.issues) + 1
                    fake.issues[number] = {"number": number, **self._body()}
                    return self._reply(201, fake.issues[number])
                parts = path.split("/")
                if method == "PATCH" and len(parts) == 3:
                    fake.issues[int(parts[2])].update(self._body())
                    return self._reply(200, fake.issues[int(parts[2])])
                if method == "POST" and len(parts) == 4 and parts[3] == "comments":
                    fake.comments.append((int(parts[2]), self._body()["body"]))
                    return self._reply(201, {})
                return self._reply(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PATCH(self) -> None:
                self._route("PATCH")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_drift_issue_is_opened_once_then_updated(tmp_path: Path, monkeypatch) -> None:
    from {{ cookiecutter.package_name }}.monitoring import issue

    fake = _FakeGitHub()
    report = tmp_path / "drift.md"
    report.write_text("# Drift report\n\n**Drift detected**: x2\n")
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/proj")
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    try:
        assert issue.main(["--report", str(report)]) == 0
        assert len(fake.issues) == 2 and fake.issues[1]["body"] == "hello"  # unrelated untouched
        opened = fake.issues[2]
        assert opened["labels"] == ["drift"] and "x2" in opened["body"]
        assert "/org/proj/actions/runs/42" in opened["body"]

        report.write_text("# Drift report\n\n**Drift detected**: x3\n")
        assert issue.main(["--report", str(report)]) == 0
        assert len(fake.issues) == 2  # no second issue
        assert "x3" in fake.issues[2]["body"] and fake.comments[0][0] == 2

        monkeypatch.setenv("GITHUB_TOKEN", "wrong")
        assert issue.main(["--report", str(report)]) == 1
    finally:
        fake.server.shutdown()
