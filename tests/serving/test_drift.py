"""Drift statistics, reports and the end-to-end path from the prediction log to the verdict."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_toolkit.monitoring.drift import (
    DriftInputError,
    Thresholds,
    compare,
    psi_categorical,
    psi_numeric,
    read_current,
    run,
)
from mlops_toolkit.registry.mlmodel import Batch
from mlops_toolkit.serving.predlog import PredictionLogger


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
    assert same["unseen_rows"] == 0 and same["unseen_categories"] == []
    assert 120 < moved["unseen_rows"] < 180 and moved["unseen_categories"] == ["d"]
    # Strings with missing values: nulls are not categories, nor unseen.
    holed = compare(["a", None, "b"] * 50, ["a", None, "e"] * 10, Thresholds())
    assert holed["kind"] == "categorical" and holed["unseen_rows"] == 10


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
    """The model's answers on the reference, not the reference labels, are the baseline.

    The model here says 1 for about 90 % of rows while the labels are 63 % ones: compared with
    the labels its (unchanged) answers would look like prediction drift, so a drift job that
    ignored the model would fail this test.
    """
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path, frame = reference
    X = frame.drop(columns="target")
    skewed = (X["mean area"] > X["mean area"].quantile(0.1)).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, skewed)
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "model"),
        signature=infer_signature(X, model.predict(X)),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    sample = frame.sample(150, random_state=1)
    _log(tmp_path / "logs", sample, model.predict(sample.drop(columns="target")).tolist())
    common = dict(target="target", task="classification")
    with_model = run(
        path,
        tmp_path / "logs",
        tmp_path / "a",
        Thresholds(),
        model_dir=str(tmp_path / "model"),
        **common,
    )
    assert not with_model["prediction"]["drifted"] and not with_model["drift_detected"]
    # The same logs against the labels: the skew is (rightly) prediction drift there.
    with_labels = run(path, tmp_path / "logs", tmp_path / "b", Thresholds(), **common)
    assert with_labels["prediction"]["drifted"]


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


def test_drift_issue_is_opened_once_then_updated(tmp_path: Path, monkeypatch) -> None:
    """`mlops-toolkit drift-issue` against the loopback GitHub stand-in (tests/support)."""
    from mlops_toolkit.cli import main as toolkit
    from support.github_api import GitHubStandIn

    report = tmp_path / "drift.md"
    report.write_text("# Drift report\n\n**Drift detected**: x2\n")
    with GitHubStandIn(token="secret") as gh:
        unrelated = gh.add_issue("org/proj", "unrelated", "hello", labels=("drift",))
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "org/proj")
        monkeypatch.setenv("GITHUB_TOKEN", "secret")
        monkeypatch.setenv("GITHUB_RUN_ID", "42")
        assert toolkit(["drift-issue", "--report", str(report)]) == 0
        issues = gh.issues_of("org/proj")
        assert len(issues) == 2 and unrelated["body"] == "hello"  # the unrelated one untouched
        opened = issues[1]
        assert [label["name"] for label in opened["labels"]] == ["drift"]
        assert "x2" in opened["body"] and "/org/proj/actions/runs/42" in opened["body"]

        report.write_text("# Drift report\n\n**Drift detected**: x3\n")
        assert toolkit(["drift-issue", "--report", str(report)]) == 0
        assert len(gh.issues_of("org/proj")) == 2  # no second issue
        assert "x3" in opened["body"] and len(gh.on("org/proj", opened["number"])) == 1

        monkeypatch.setenv("GITHUB_TOKEN", "wrong")
        assert toolkit(["drift-issue", "--report", str(report)]) == 1
