"""The gate against a real MLflow server with real sklearn models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import register_version, run_gate
from mlops_toolkit import names
from support.servers import free_port


def set_production(model_name: str, uri: str) -> str:
    from mlflow import MlflowClient

    version = register_version(model_name, uri)
    MlflowClient().set_registered_model_alias(model_name, names.PRODUCTION, version)
    return version


def production_version(model_name: str) -> str | None:
    from mlflow import MlflowClient

    try:
        return MlflowClient().get_model_version_by_alias(model_name, names.PRODUCTION).version
    except Exception:
        return None


def read_verdict(out: Path) -> dict:
    return json.loads((out / "gate.json").read_text())


def test_bootstrap_mode_without_production(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    out = tmp_path / "gate"
    result = run_gate(model_name, logged["good"][1], holdout_csv, gate_yaml(), out)
    assert result.returncode == 0, result.stderr
    verdict = read_verdict(out)
    assert verdict["passed"] is True
    assert verdict["mode"] == "bootstrap"
    assert verdict["production"] is None
    assert "**First model**" in (out / "gate.md").read_text()
    assert "absolute thresholds only" in verdict["decision_rule"]
    # The verdict is recorded on the candidate run.
    from mlflow import MlflowClient

    tags = MlflowClient().get_run(logged["good"][0]).data.tags
    assert tags[names.TAG_GATE_PASSED] == "true"
    assert tags[names.TAG_GATE_MODE] == "bootstrap"


def test_bootstrap_mode_still_applies_absolute_threshold(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    out = tmp_path / "gate"
    result = run_gate(model_name, logged["bad"][1], holdout_csv, gate_yaml(min_value=0.9), out)
    assert result.returncode == 2
    assert read_verdict(out)["passed"] is False


def test_candidate_as_good_as_production_passes_with_interval(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    prod = set_production(model_name, logged["good"][1])
    out = tmp_path / "gate"
    result = run_gate(model_name, logged["good2"][1], holdout_csv, gate_yaml(), out)
    assert result.returncode == 0, result.stderr
    verdict = read_verdict(out)
    assert verdict["mode"] == "compare"
    assert verdict["production"]["version"] == prod
    f1 = verdict["metrics"]["f1"]
    lo, hi = f1["improvement_ci"]
    assert lo <= f1["improvement"] <= hi
    assert lo >= -0.02
    report = (out / "gate.md").read_text()
    assert "95% CI of improvement" in report
    assert "Decision rule" in report and "lower bound" in report


def test_identical_model_has_zero_width_interval(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    set_production(model_name, logged["good"][1])
    out = tmp_path / "gate"
    assert run_gate(model_name, logged["good"][1], holdout_csv, gate_yaml(), out).returncode == 0
    f1 = read_verdict(out)["metrics"]["f1"]
    assert f1["improvement"] == 0 and f1["improvement_ci"] == [0.0, 0.0]


def test_worse_candidate_fails_and_production_stays(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    prod = set_production(model_name, logged["good"][1])
    out = tmp_path / "gate"
    result = run_gate(model_name, logged["bad"][1], holdout_csv, gate_yaml(min_value=0.5), out)
    assert result.returncode == 2
    assert "gate FAILED" in result.stderr
    verdict = read_verdict(out)
    assert verdict["passed"] is False
    failing = [c["name"] for c in verdict["checks"] if not c["passed"]]
    assert any("CI lower bound" in name for name in failing)
    assert verdict["metrics"]["f1"]["improvement_ci"][1] < 0
    assert production_version(model_name) == prod


def test_roc_auc_primary_uses_probabilities(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path, dataset
):
    from conftest import fit_model
    from sklearn.metrics import roc_auc_score

    set_production(model_name, logged["good"][1])
    out = tmp_path / "gate"
    result = run_gate(
        model_name, logged["good2"][1], holdout_csv, gate_yaml(metric="roc_auc", min_value=0.9), out
    )
    assert result.returncode == 0, result.stderr
    verdict = read_verdict(out)
    holdout = dataset[1]
    model = fit_model(dataset[0], "good2")
    expected = roc_auc_score(
        holdout["target"], model.predict_proba(holdout.drop(columns=["target"]))[:, 1]
    )
    assert verdict["metrics"]["roc_auc"]["candidate"] == pytest.approx(expected, abs=1e-9)


def test_unloadable_production_fails_closed(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    from mlflow import MlflowClient

    prod = set_production(model_name, logged["good"][1])
    # Break the production model's files on the server's artifact store.
    mv = MlflowClient().get_model_version(model_name, prod)
    model_id = mv.model_id or mv.source.rsplit("/", 1)[-1]
    pickles = [
        p
        for p in mlflow_server.artifacts.rglob("model.*")
        if model_id in str(p) and p.suffix in (".pkl", ".skops")
    ]
    assert pickles, "could not find the production model's files"
    backups = [(p, p.read_bytes()) for p in pickles]
    try:
        for p in pickles:
            p.write_bytes(b"not a pickle")
        out = tmp_path / "gate"
        result = run_gate(model_name, logged["good2"][1], holdout_csv, gate_yaml(), out)
    finally:
        for p, data in backups:
            p.write_bytes(data)
    assert result.returncode == 2
    verdict = read_verdict(out)
    assert verdict["passed"] is False
    assert "could not be loaded" in verdict["reason"] and "failing closed" in verdict["reason"]
    assert "failing closed" in (out / "gate.md").read_text()
    assert production_version(model_name) == prod


def test_corrupt_gate_config_is_one_line_error(
    mlflow_server, logged, holdout_csv, model_name, tmp_path
):
    config = tmp_path / "gate.yaml"
    config.write_text("primary: {metric: f1, min_value: [oops\n")
    result = run_gate(model_name, logged["good"][1], holdout_csv, config, tmp_path / "gate")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid YAML" in lines[0]
    assert not (tmp_path / "gate" / "gate.json").exists()


def test_tracking_server_down_is_one_line_error(
    logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_gate(
        model_name,
        logged["good"][1],
        holdout_csv,
        gate_yaml(),
        tmp_path / "g",
        MLFLOW_TRACKING_URI=dead,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0] and dead in lines[0]


def test_missing_holdout_column(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    import pandas as pd

    broken = tmp_path / "holdout.csv"
    pd.read_csv(holdout_csv).drop(columns=["mean radius"]).to_csv(broken, index=False)
    result = run_gate(model_name, logged["good"][1], broken, gate_yaml(), tmp_path / "g")
    assert result.returncode == 1
    assert "mean radius" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_outputs_and_summary_for_actions(
    mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    output, summary = tmp_path / "out.txt", tmp_path / "summary.md"
    result = run_gate(
        model_name,
        logged["good"][1],
        holdout_csv,
        gate_yaml(),
        tmp_path / "g",
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert result.returncode == 0, result.stderr
    text = output.read_text()
    assert "passed<<" in text and "\ntrue\n" in text and "verdict<<" in text
    assert "Model gate" in summary.read_text()


BASELINE_YAML = """\
primary:
  metric: {metric}
  max_regression: 0.02
baseline:
  min_improvement: {margin}
bootstrap: {{resamples: 300, confidence: 0.95, seed: 1}}
"""


def baseline_yaml(tmp_path: Path, metric: str = "f1", margin: float = 0.05) -> Path:
    path = tmp_path / "gate-baseline.yaml"
    path.write_text(BASELINE_YAML.format(metric=metric, margin=margin))
    return path


def test_candidate_must_beat_the_naive_model_without_any_unit_threshold(
    mlflow_server, logged, holdout_csv, model_name, tmp_path
):
    out = tmp_path / "good"
    result = run_gate(model_name, logged["good"][1], holdout_csv, baseline_yaml(tmp_path), out)
    assert result.returncode == 0, result.stderr
    verdict = read_verdict(out)
    baseline = verdict["baseline"]
    assert baseline["model"] == "majority class 1"  # breast cancer: mostly benign
    lo, hi = baseline["improvement_ci"]
    assert 0.05 <= lo <= baseline["improvement"] <= hi
    assert any("naive model" in c["name"] and c["passed"] for c in verdict["checks"])
    assert "naive model" in verdict["decision_rule"]
    assert "naive model" in (out / "gate.md").read_text()

    out = tmp_path / "bad"  # learnt from shuffled labels: no better than the majority class
    result = run_gate(model_name, logged["bad"][1], holdout_csv, baseline_yaml(tmp_path), out)
    assert result.returncode == 2
    verdict = read_verdict(out)
    failing = [c for c in verdict["checks"] if not c["passed"]]
    assert [c["name"].split(" (")[0] for c in failing] == [
        "f1 CI lower bound of improvement over the naive model"
    ]
    assert failing[0]["value"] < 0.05


def test_roc_auc_baseline_is_one_half(mlflow_server, logged, holdout_csv, model_name, tmp_path):
    out = tmp_path / "gate"
    config = baseline_yaml(tmp_path, metric="roc_auc", margin=0.2)
    assert run_gate(model_name, logged["good"][1], holdout_csv, config, out).returncode == 0
    assert read_verdict(out)["baseline"]["value"] == pytest.approx(0.5)


def test_error_margins_are_a_share_of_the_naive_error():
    import numpy as np
    from mlops_toolkit.gate import config as gate_config
    from mlops_toolkit.gate import verdict as gate

    cfg = gate_config.parse({"primary": {"metric": "rmse"}, "baseline": {"min_improvement": 0.1}})
    y = np.array([100.0, 200.0, 300.0, 400.0])
    baseline, what = gate.naive(cfg, y)
    assert what == "mean 250" and baseline.labels.tolist() == [250.0] * 4
    # Same rule in any unit: the candidate must cut the naive error by a tenth.
    assert cfg.baseline.required("rmse", 111.8) == pytest.approx(11.18)
    assert cfg.baseline.required("r2", 0.0) == pytest.approx(0.1)
    candidate = gate.stats.Predictions(labels=y + np.array([5.0, -5.0, 5.0, -5.0]))
    assert gate.against_baseline(cfg, y, candidate)["check"]["passed"] is True
    lazy = gate.stats.Predictions(labels=np.full(4, 251.0))
    assert gate.against_baseline(cfg, y, lazy)["check"]["passed"] is False


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ({"min_improvment": 0.1}, "unknown key"),
        ({}, "min_improvement is required"),
        ({"min_improvement": 1.5}, "below 1"),
        ("yes", "must be a mapping"),
    ],
)
def test_bad_baseline_section_is_refused(baseline, message):
    from mlops_toolkit.errors import ToolkitError
    from mlops_toolkit.gate import config as gate_config

    with pytest.raises(ToolkitError, match=message):
        gate_config.parse({"primary": {"metric": "f1"}, "baseline": baseline})


def test_the_majority_class_of_string_labels_is_the_naive_model():
    import numpy as np
    from mlops_toolkit.gate import config as gate_config
    from mlops_toolkit.gate import verdict as gate

    cfg = gate_config.parse({"primary": {"metric": "f1"}, "baseline": {"min_improvement": 0.05}})
    y = np.array(["Adelie", "Gentoo", "Adelie", "Chinstrap"], dtype=object)
    baseline, what = gate.naive(cfg, y)
    assert what == "majority class 'Adelie'"
    assert baseline.labels.tolist() == ["Adelie"] * 4
    perfect = gate.stats.Predictions(labels=y.copy())
    assert gate.against_baseline(cfg, y, perfect)["improvement"] > 0.05


GOOD_CONFIG = "primary: {metric: f1, min_value: 0.5}\nbootstrap: {resamples: 100, seed: %s}\n"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ((GOOD_CONFIG % "-1").encode(), "bootstrap.seed"),
        ((GOOD_CONFIG % "1.5").encode(), "bootstrap.seed"),
        ((GOOD_CONFIG % ".inf").encode(), "bootstrap.seed"),
        (b"primary: {metric: f1, min_value: .inf}\n", "finite"),
        (b"bootstrap: {resamples: .inf}\nprimary: {metric: f1, min_value: 0.5}\n", "finite"),
        (b"primary: {metric: f1, min_value: 0.5}\n# caf\xe9\n", "not UTF-8"),
    ],
)
def test_gate_config_bad_values_are_one_clear_error(tmp_path, content, needle):
    """Seed -1, .inf and a Latin-1 file: a ToolkitError naming the cause, not a traceback."""
    from mlops_toolkit.errors import ToolkitError
    from mlops_toolkit.gate import config as gate_config

    path = tmp_path / "gate.yaml"
    path.write_bytes(content)
    with pytest.raises(ToolkitError, match=needle) as caught:
        gate_config.load(path)
    assert "\n" not in str(caught.value)


def test_gate_config_seed_zero_is_accepted(tmp_path):
    from mlops_toolkit.gate import config as gate_config

    path = tmp_path / "gate.yaml"
    path.write_text(GOOD_CONFIG % "0")
    assert gate_config.load(path).seed == 0


def test_holdout_with_missing_targets_is_one_clear_error(tmp_path):
    from mlops_toolkit.errors import ToolkitError
    from mlops_toolkit.gate.verdict import load_holdout

    path = tmp_path / "holdout.csv"
    path.write_text("x,label\n1,a\n2,\n3,b\n4,\n")
    with pytest.raises(ToolkitError, match=r"'label' has 2 missing value"):
        load_holdout(str(path), "label")
