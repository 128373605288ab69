"""The contract files between a project's commands, the toolkit and the workflows: typed,
versioned, and refused in one line when they are not what a reader needs."""

from __future__ import annotations

import json
import re

import pytest
from mlops_toolkit import contracts
from mlops_toolkit.contracts import (
    ColumnDrift,
    ConceptDrift,
    ContractError,
    DataDriftReport,
    DriftPush,
    DriftRows,
    DriftThresholds,
    EnvironmentDrift,
    GateBaseline,
    GateBootstrap,
    GateFile,
    GateMetric,
    GateModel,
    LiveDriftReport,
    MeasuredMetric,
    OpenRun,
    OpenRunsFile,
    PrepareFile,
    QualityFigures,
    QualityReport,
    QualitySettings,
    RegisteredFile,
    RetrainDataFile,
    RunFile,
    ValidationReport,
    VerdictCheck,
    VersionQuality,
)

GATE = GateFile(
    passed=False,
    mode="compare",
    decision_rule="roc_auc ≥ 0.8",
    candidate=GateModel("runs:/abc/model", "abc", None),
    rows=120,
    primary_metric="roc_auc",
    direction="maximize",
    bootstrap=GateBootstrap(resamples=200, confidence=0.95, seed=7),
    checks=[VerdictCheck("roc_auc ≥ 0.8", False, 0.71), VerdictCheck("roc_auc gap", True)],
    metrics={
        "roc_auc": GateMetric(0.71, [0.6, 0.8], 0.74, [0.65, 0.82], -0.03, [-0.08, 0.01]),
        "f1": GateMetric(0.6, [0.5, 0.7], 0.6, [0.5, 0.7], 0.0, [-0.02, 0.02]),
    },
    production=GateModel("models:/m/3", "def", "3"),
    baseline=GateBaseline("majority class 'no'", 0.5, 0.21, [0.15, 0.27], 0.05),
    timings_s={"score": 0.25},
)
VALIDATION = ValidationReport(
    success=False,
    evaluated=3,
    failed=1,
    failures=[{"expectation": "expect_column_values_to_not_be_null", "column": "age"}],
    suite="dataset",
    data="data/raw/dataset.csv",
    rows=10,
    successful=2,
)
RETRAIN_DATA = RetrainDataFile(
    model_name="churn",
    environment="production",
    data="data/external/churn.csv",
    ids="data/external/churn.prediction_ids.csv",
    data_md5="0123456789abcdef0123456789abcdef",
    rows_before=500,
    rows_added=40,
    labelled=45,
    already=5,
    dvc_files=["data/external/churn.csv.dvc", "data/external/churn.prediction_ids.csv.dvc"],
    commit_paths=["data/external/churn.csv.dvc", "data/external/.gitignore"],
    left_empty=["customer_id"],
    label_from=1764800000.0,
    label_to=1764900000.5,
)
OPEN_RUNS = OpenRunsFile([OpenRun("r1", "http://127.0.0.1:5000", "42", "h", "h|b|ns", "99")])
# What drift.py's compare() gives for a numeric, a categorical and an empty column.
NUMERIC = {"kind": "numeric", "psi": 0.41, "test": "ks", "statistic": 0.3, "p_value": 1e-6,
           "drifted": True, "reference_mean": 3.5, "current_mean": 5.25}  # fmt: skip
CATEGORICAL = {"unseen_rows": 4, "unseen_categories": ["zz"], "kind": "categorical",
               "psi": 0.01, "test": "chi2", "statistic": 1.5, "p_value": 0.4, "drifted": False,
               "reference_mean": None, "current_mean": None}  # fmt: skip
EMPTY = {"kind": "numeric", "psi": None, "test": None, "statistic": None, "p_value": None,
         "drifted": False, "note": "no values to compare"}  # fmt: skip
# A data-drift report as drift.py wrote drift.json before versioning (no schema, no means on
# an empty column).
OLD_DATA_DRIFT = {
    "generated_at": "2026-12-04T11:00:00Z",
    "timestamp": 1796382000.5,
    "rows": {"reference": 400, "current": 120},
    "thresholds": {"psi": 0.2, "p_value": 0.01},
    "bins": 10,
    "features": {"age": NUMERIC, "plan": CATEGORICAL, "notes": EMPTY},
    "prediction": {**NUMERIC, "drifted": False},
    "drifted_features": ["age"],
    "drift_detected": True,
}
DATA_DRIFT = DataDriftReport.from_dict(OLD_DATA_DRIFT)
LIVE_VERSION = {"model_version": "3", "predictions": 120, "labelled": 80,
                "measured": {"f1": {"value": 0.61, "lower": 0.55, "upper": 0.66}},
                "limits": {"f1": 0.7, "roc_auc": None}, "degraded": ["f1"]}  # fmt: skip
OLD_LIVE_DRIFT = {
    "source": "prediction store",
    "model_name": "churn",
    "window": "7d",
    "since": 1795777200.5,
    "until": 1796382000.5,
    "generated_at": "2026-12-04T11:00:00Z",
    "timestamp": 1796382000.5,
    "environments": {
        "staging": {"rows": 0, "data": None, "concept": None, "kinds": []},
        "production": {
            "rows": 120,
            "data": {**OLD_DATA_DRIFT, "not_served": ["customer_id"]},
            "concept": {
                "judged": True,
                "why_not": "",
                "min_labels": 50,
                "versions": [LIVE_VERSION],
                "drifted": True,
            },
            "kinds": ["data", "concept"],
            "paths": {"json": "reports/drift/production/drift.json"},
        },
    },
    "kinds": ["data", "concept"],
    "drift_detected": True,
    "rows": {"staging": 0, "production": 120},
    "pushgateway": {
        "url": "http://pg:9091",
        "job": "model-drift",
        "pushed": ["staging"],
        "error": "HTTP 503 from http://pg:9091",
    },
}
LIVE_DRIFT = LiveDriftReport.from_dict(OLD_LIVE_DRIFT)
OLD_QUALITY = {
    "ts": 1796382000.5,
    "settings": {
        "windows": ["1d", "7d"],
        "task": "classification",
        "resamples": 1000,
        "confidence": 0.95,
        "seed": 42,
        "min_labels": 50,
        "label_delay": 604800.0,
        "margins": {"f1": 0.05},
        "holdout": {"f1": 0.8},
        "thresholds": {"f1": 0.75},
    },
    "figures": [
        {
            "model_name": "churn",
            "model_version": "3",
            "environment": "production",
            "window": "1d",
            "predictions": 100,
            "labelled": 60,
            "coverage": 0.6,
            "delay_p50": 3600.0,
            "delay_p90": 7200.0,
            "measured": {"f1": {"value": 0.7, "lower": 0.6, "upper": 0.74}},
            "estimated": {"f1": 0.72},
            "estimate_error": {"f1": 0.02},
            "degraded": ["f1"],
        },
        {
            "model_name": "churn",
            "model_version": "4",
            "environment": "staging",
            "window": "1d",
            "predictions": 5,
            "labelled": 0,
            "coverage": 0.0,
            "delay_p50": None,
            "delay_p90": None,
            "measured": {},
            "estimated": {},
            "estimate_error": {},
            "degraded": [],
        },
    ],
    "last_label": {"churn/production": 1796381000.0},
}
QUALITY = QualityReport.from_dict(OLD_QUALITY)

# One value of each contract, and an unversioned file as projects before versioning wrote it.
EXAMPLES = [
    (PrepareFile(398, 8), {"rows": 398, "dropped_missing_target": 8}),
    (RunFile("abc", "models:/m-123", "tumor", None), {"run_id": "abc", "model_uri": "u"}),
    (
        RegisteredFile("r", "m", "3"),
        {"run_id": "r", "registered_model_name": "m", "model_version": 3},
    ),
    (VALIDATION, {"success": True, "evaluated": 2, "failed": 0, "failures": []}),
    (GATE, {k: v for k, v in GATE.to_dict().items() if k not in ("schema", "timings_s")}),
    (OPEN_RUNS, {"run_id": "r", "tracking_uri": "http://127.0.0.1:5000"}),
    (RETRAIN_DATA, {k: v for k, v in RETRAIN_DATA.to_dict().items() if k != "schema"}),
    (DATA_DRIFT, OLD_DATA_DRIFT),
    (LIVE_DRIFT, OLD_LIVE_DRIFT),
    (QUALITY, OLD_QUALITY),
]


def _gate(section: str) -> dict:
    return GATE.to_dict()[section]


def _live(**production: object) -> dict:
    """OLD_LIVE_DRIFT with production's `data` or its concept's `versions` replaced."""
    env = dict(OLD_LIVE_DRIFT["environments"]["production"])
    if "data" in production:
        env["data"] = production["data"]
    if "versions" in production:
        env["concept"] = {**env["concept"], "versions": production["versions"]}
    return {**OLD_LIVE_DRIFT, "environments": {"production": env}}


def test_every_contract_has_an_example():
    assert {type(value) for value, _ in EXAMPLES} == set(contracts.CONTRACTS)


@pytest.mark.parametrize(("value", "old"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_a_contract_round_trips_with_its_schema(tmp_path, value, old):
    path = value.write(tmp_path / "reports" / value.PATH.name)
    assert json.loads(path.read_text())["schema"] == value.SCHEMA
    assert type(value).read(path) == value
    assert not list(path.parent.glob(".*")), "the temporary file is left behind"


@pytest.mark.parametrize(("value", "old"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_files_from_before_versioning_still_read(tmp_path, value, old):
    """Projects generated before contracts.py write no schema key."""
    path = tmp_path / value.PATH.name
    path.write_text(json.dumps(old))
    assert type(type(value).read(path)) is type(value)


def test_older_files_are_brought_to_version_1():
    """Versions as numbers, and the open-run file's single record, are older files' shapes."""
    registered = {"run_id": "r", "registered_model_name": "m", "model_version": 3}
    assert RegisteredFile.from_dict(registered).model_version == "3"
    assert RunFile.from_dict({"run_id": "r", "model_uri": "u", "model_version": 4}).model_version
    single = OpenRunsFile.from_dict({"run_id": "r", "tracking_uri": "http://t"})
    assert single.runs == [OpenRun("r", "http://t")]
    with pytest.raises(ContractError, match="model_version must be a string or null"):
        RegisteredFile.from_dict({**registered, "schema": "mlops.registered/1"}, "registered.json")


@pytest.mark.parametrize(
    ("contract", "content", "line"),
    [
        (
            RunFile,
            '{"schema": "mlops.run/2", "run_id": "r", "model_uri": "u"}',
            "schema mlops.run/2 is not",
        ),
        (
            RunFile,
            '{"schema": "mlops.registered/1", "run_id": "r"}',
            "schema mlops.registered/1 is not",
        ),
        (RunFile, '{"run_id": "r"}', "x.json lacks model_uri"),
        (RunFile, '{"run_id": "", "model_uri": "u"}', "x.json lacks run_id"),
        (
            RunFile,
            '{"run_id": 7, "model_uri": "u"}',
            "x.json: run_id must be a string, not an integer",
        ),
        (RunFile, "[1, 2]", "x.json must hold a JSON object"),
        (RunFile, "{not json", "x.json is not valid JSON (line 1, column 2)"),
        (
            RegisteredFile,
            '{"run_id": "r", "model_version": 3.5}',
            "model_version must be a string or null, not a number",
        ),
        (
            ValidationReport,
            '{"success": "no", "evaluated": 1, "failed": 1, "failures": []}',
            "x.json: success must be true or false, not a string",
        ),
        (
            ValidationReport,
            '{"success": false, "evaluated": 1, "failed": 1}',
            "x.json lacks failures",
        ),
        (
            ValidationReport,
            '{"success": true, "evaluated": true, "failed": 0, "failures": []}',
            "x.json: evaluated must be an integer, not true or false",
        ),
        (
            ValidationReport,
            '{"success": true, "evaluated": 1, "failed": 0, "failures": [3]}',
            "x.json: failures[0] must be an object, not an integer",
        ),
        (
            ValidationReport,
            '{"schema": "mlops.validation/2", "success": true}',
            "schema mlops.validation/2 is not mlops.validation/1",
        ),
        (
            GateFile,
            '{"passed": true, "mode": "compare"}',
            "x.json lacks decision_rule, candidate, rows",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "candidate": {"run_id": "a"}}),
            "x.json: candidate lacks uri",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "production": "models:/m/3"}),
            "x.json: production must be an object or null, not a string",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "checks": {}}),
            "x.json: checks must be a list, not an object",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "timings_s": {"score": "1s"}}),
            "x.json: timings_s.score must be a number, not a string",
        ),
        # gate.json's sections, typed: a wrong value inside one names its path
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "bootstrap": {**_gate("bootstrap"), "resamples": "1k"}}),
            "x.json: bootstrap.resamples must be an integer, not a string",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "checks": [{"name": "r", "passed": "yes"}]}),
            "x.json: checks[0].passed must be true or false, not a string",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "metrics": {"f1": {"candidate_ci": [0.1, 0.2]}}}),
            "x.json: metrics.f1 lacks candidate",
        ),
        (
            GateFile,
            json.dumps(
                {
                    **GATE.to_dict(),
                    "metrics": {
                        "f1": {
                            "candidate": 0.5,
                            "candidate_ci": [0.1, 0.2],
                            "production_ci": "wide",
                        }
                    },
                }
            ),
            "x.json: metrics.f1.production_ci must be a list or null, not a string",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "baseline": {**_gate("baseline"), "required": "5%"}}),
            "x.json: baseline.required must be a number, not a string",
        ),
        (
            GateFile,
            json.dumps({**GATE.to_dict(), "schema": "mlops.gate/2"}),
            "schema mlops.gate/2 is not mlops.gate/1",
        ),
        # drift.json of one batch (drift.py) and of the prediction store (drift_live.py)
        (
            DataDriftReport,
            json.dumps({**OLD_DATA_DRIFT, "schema": "mlops.data-drift/2"}),
            "schema mlops.data-drift/2 is not mlops.data-drift/1",
        ),
        (
            DataDriftReport,
            json.dumps({**OLD_DATA_DRIFT, "features": {"age": {**NUMERIC, "psi": "high"}}}),
            "x.json: features.age.psi must be a number or null, not a string",
        ),
        (
            DataDriftReport,
            json.dumps({**OLD_DATA_DRIFT, "rows": {"reference": 400, "current": "120"}}),
            "x.json: rows.current must be an integer, not a string",
        ),
        (
            DataDriftReport,
            json.dumps({**OLD_DATA_DRIFT, "prediction": {"drifted": True}}),
            "x.json: prediction lacks kind",
        ),
        (
            LiveDriftReport,
            json.dumps({**OLD_LIVE_DRIFT, "schema": "mlops.live-drift/2"}),
            "schema mlops.live-drift/2 is not mlops.live-drift/1",
        ),
        (
            LiveDriftReport,
            json.dumps(_live(versions=[{**LIVE_VERSION, "labelled": "80"}])),
            "x.json: environments.production.concept.versions[0].labelled must be an integer, "
            "not a string",
        ),
        (
            LiveDriftReport,
            json.dumps(
                _live(data={**OLD_DATA_DRIFT, "features": {"age": {**NUMERIC, "drifted": 1}}})
            ),
            "x.json: environments.production.data.features.age.drifted must be true or false, "
            "not an integer",
        ),
        (
            LiveDriftReport,
            json.dumps({**OLD_LIVE_DRIFT, "pushgateway": {"url": "u", "job": "j", "pushed": {}}}),
            "x.json: pushgateway.pushed must be a list, not an object",
        ),
        # quality.json (monitor)
        (
            QualityReport,
            json.dumps({**OLD_QUALITY, "schema": "mlops.quality/2"}),
            "schema mlops.quality/2 is not mlops.quality/1",
        ),
        (
            QualityReport,
            json.dumps(
                {
                    **OLD_QUALITY,
                    "figures": [
                        {
                            **OLD_QUALITY["figures"][0],
                            "measured": {"f1": {"value": 0.7, "lower": "low", "upper": 0.8}},
                        }
                    ],
                }
            ),
            "x.json: figures[0].measured.f1.lower must be a number, not a string",
        ),
        (
            QualityReport,
            json.dumps({**OLD_QUALITY, "settings": {**OLD_QUALITY["settings"], "windows": "1d"}}),
            "x.json: settings.windows must be a list, not a string",
        ),
        (OpenRunsFile, '{"runs": [{"run_id": "r"}]}', "x.json: runs[0] lacks tracking_uri"),
        (OpenRunsFile, '{"runs": {"run_id": "r"}}', "x.json: runs must be a list, not an object"),
        (
            OpenRunsFile,
            '{"runs": [{"run_id": "r", "tracking_uri": "t", "pid": 42}]}',
            "x.json: runs[0].pid must be a string, not an integer",
        ),
    ],
)
def test_an_unusable_file_is_one_line(tmp_path, contract, content, line):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(ContractError, match=re.escape(line)) as caught:
        contract.read(path)
    assert "\n" not in str(caught.value)


def test_a_writer_cannot_add_a_field_the_contract_lacks():
    """Readers skip unknown fields (a later minor may add one); writers are held to the type."""
    data = {**VALIDATION.to_dict(), "flaky": 1}
    assert ValidationReport.from_dict(data) == VALIDATION
    with pytest.raises(ContractError, match=r"validation.json: unknown field\(s\) flaky"):
        ValidationReport.build(data)
    assert GateFile.build(GATE.to_dict()) == GATE


@pytest.mark.parametrize(
    ("contract", "line"),
    [
        (RunFile, "run.json: no training run yet (run the train step)"),
        (
            ValidationReport,
            "validation.json: no validation report yet (run the validate-data step)",
        ),
        (GateFile, "gate.json: no gate verdict (run the gate step)"),
        (DataDriftReport, "drift.json: no drift report (run the drift step)"),
        (LiveDriftReport, "drift.json: no drift report (run the drift step)"),
        (QualityReport, "quality.json: no live-quality report (run the monitor step)"),
    ],
)
def test_a_missing_file_says_what_to_run(tmp_path, contract, line):
    with pytest.raises(ContractError, match=re.escape(line)):
        contract.read(tmp_path / contract.PATH.name)


def test_every_contract_has_a_documented_path_and_schema():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    for contract in contracts.CONTRACTS:
        assert f"`{contract.PATH.as_posix()}`" in doc
        assert contract.SCHEMA in doc


def _verdict(mode: str) -> dict:
    """What gate/verdict.py writes: production's figures only in compare mode."""
    compare = mode == "compare"
    metric = {"candidate": 0.8, "candidate_ci": [0.7, 0.9]}
    if compare:
        metric |= {"production": 0.78, "production_ci": [0.7, 0.85]}
        metric |= {"improvement": 0.02, "improvement_ci": [-0.01, 0.05]}
    return {
        "passed": True,
        "mode": mode,
        "decision_rule": "r",
        "reason": None,
        "candidate": {"uri": "runs:/abc/model", "run_id": "abc", "version": None},
        "production": {"uri": "models:/m/3", "run_id": "d", "version": "3"} if compare else None,
        "rows": 100,
        "primary_metric": "f1",
        "direction": "maximize",
        "bootstrap": {"resamples": 1000, "confidence": 0.95, "seed": 42},
        "checks": [{"name": "f1 ≥ 0.7", "passed": True, "value": 0.8}],
        "metrics": {"f1": metric},
        "baseline": {
            "model": "majority class 'no'",
            "value": 0.5,
            "improvement": 0.3,
            "improvement_ci": [0.2, 0.4],
            "required": 0.05,
        },
        "responsible": None,
        "timings_s": {"predict_candidate": 0.5},
    }


@pytest.mark.parametrize("mode", ["compare", "bootstrap"])
def test_gate_json_keeps_its_shape_with_typed_sections(tmp_path, mode):
    """The sections are typed, the file is as before: the report's and the passport's
    templates read the same keys (no production figures in bootstrap mode, not even null)."""
    verdict = _verdict(mode)
    built = GateFile.build(verdict)
    assert built.to_dict() == {"schema": GateFile.SCHEMA, **verdict}
    assert built.bootstrap == GateBootstrap(1000, 0.95, 42)
    assert built.checks == [VerdictCheck("f1 ≥ 0.7", True, 0.8)]
    assert built.baseline is not None and built.baseline.required == 0.05
    assert (built.metrics["f1"].production is None) is (mode == "bootstrap")
    read = GateFile.read(built.write(tmp_path / "gate.json"))
    assert read == built and read.to_dict() == built.to_dict()


def test_drift_reports_read_back_as_written():
    """An unversioned drift.json reads as version 1 and is written back the same, but for the
    means of an empty column, now null as a categorical column's are."""
    means = {"reference_mean": None, "current_mean": None}
    old = {**OLD_DATA_DRIFT, "features": {**OLD_DATA_DRIFT["features"], "notes": EMPTY | means}}
    assert DATA_DRIFT.to_dict() == {"schema": DataDriftReport.SCHEMA, **old}
    assert DATA_DRIFT.features["plan"] == ColumnDrift(
        unseen_rows=4, unseen_categories=["zz"], kind="categorical", psi=0.01, test="chi2",
        statistic=1.5, p_value=0.4, drifted=False,
    )  # fmt: skip
    assert DATA_DRIFT.rows == DriftRows(400, 120)
    assert DATA_DRIFT.thresholds == DriftThresholds(0.2, 0.01)
    assert "not_served" not in DATA_DRIFT.to_dict()  # only on the prediction store
    production = LIVE_DRIFT.environments["production"]
    assert isinstance(production, EnvironmentDrift) and production.data is not None
    assert production.data.not_served == ["customer_id"]
    concept = production.concept
    assert isinstance(concept, ConceptDrift)
    assert concept.versions[0] == VersionQuality(
        "3", 120, 80, {"f1": MeasuredMetric(0.61, 0.55, 0.66)}, {"f1": 0.7, "roc_auc": None},
        ["f1"],
    )  # fmt: skip
    assert LIVE_DRIFT.pushgateway == DriftPush(
        "http://pg:9091", "model-drift", ["staging"], "HTTP 503 from http://pg:9091"
    )
    live = LIVE_DRIFT.to_dict()
    assert live["environments"]["staging"] == OLD_LIVE_DRIFT["environments"]["staging"]
    assert live["environments"]["production"]["data"] == {**old, "not_served": ["customer_id"]}
    without_push = {k: v for k, v in OLD_LIVE_DRIFT.items() if k != "pushgateway"}
    assert "pushgateway" not in LiveDriftReport.from_dict(without_push).to_dict()


def test_quality_json_reads_back_as_written():
    assert QUALITY.to_dict() == {"schema": QualityReport.SCHEMA, **OLD_QUALITY}
    assert QUALITY.settings == QualitySettings(
        ["1d", "7d"], "classification", 1000, 0.95, 42, 50, 604800.0, {"f1": 0.05},
        {"f1": 0.8}, {"f1": 0.75},
    )  # fmt: skip
    assert QUALITY.figures[1] == QualityFigures("churn", "4", "staging", "1d", 5, 0, 0.0)
    assert QUALITY.figures[0].measured["f1"] == MeasuredMetric(0.7, 0.6, 0.74)


def test_read_drift_tells_the_two_drift_reports_apart(tmp_path):
    """drift-issue reads the drift.json beside the Markdown: either writer's, by its schema
    (an unversioned one by its shape)."""
    for value, old in ((DATA_DRIFT, OLD_DATA_DRIFT), (LIVE_DRIFT, OLD_LIVE_DRIFT)):
        assert contracts.read_drift(value.write(tmp_path / "drift.json")) == value
        (tmp_path / "old.json").write_text(json.dumps(old))
        assert type(contracts.read_drift(tmp_path / "old.json")) is type(value)
    newer = {**OLD_LIVE_DRIFT, "schema": "mlops.live-drift/2"}
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    with pytest.raises(
        ContractError, match=r"schema mlops\.live-drift/2 is not mlops\.live-drift/1"
    ):
        contracts.read_drift(tmp_path / "newer.json")
    with pytest.raises(ContractError, match=r"none.json: no drift report \(run the drift step\)"):
        contracts.read_drift(tmp_path / "none.json")


def test_a_drift_report_is_strict_json(tmp_path):
    """jq and Prometheus' readers take no NaN: a writer's NaN is one line, and no file."""
    report = {**OLD_DATA_DRIFT, "features": {"age": {**NUMERIC, "p_value": float("nan")}}}
    with pytest.raises(ContractError) as caught:
        DataDriftReport.build(report).write(tmp_path / "drift.json")
    assert "drift.json: Out of range float values are not JSON compliant" in str(caught.value)
    assert "\n" not in str(caught.value) and not list(tmp_path.iterdir())


# -- the prediction log (a stream of records, not a file: contracts.PredictionRecord) ----------
RECORD = contracts.PredictionRecord(
    prediction_id="019ae0c1a2b37c0ffee0123456000002",
    model_name="churn",
    model_version="7",
    environment="production",
    ts=1764800000.25,
    inputs={"plan": "pro", "tenure": 14, "spend": None, "signed_up": "2024-03-01T00:00:00"},
    prediction="yes",
    scores={"no": 0.25, "yes": 0.75},
)


def test_a_prediction_record_round_trips_with_its_schema():
    line = json.dumps(RECORD.to_dict())
    data = json.loads(line)
    assert data["schema"] == "mlops.prediction-log/1" == contracts.PREDICTION_LOG
    assert contracts.PredictionRecord.from_dict(data) == RECORD
    assert contracts.PredictionRecord.from_dict({**data, "later_field": 1}) == RECORD  # minor
    assert contracts.PredictionBatch.SCHEMA == contracts.PREDICTION_LOG


def test_a_prediction_log_line_from_before_versioning_still_reads():
    """The server's JSON lines before the contract: ISO time, no schema, no environment."""
    old = {
        "ts": "2025-12-03T22:13:20.250Z",
        "model_name": "churn",
        "model_version": "7",
        "prediction_id": RECORD.prediction_id,
        "inputs": RECORD.inputs,
        "prediction": "yes",
    }
    record = contracts.PredictionRecord.from_dict(old)
    assert record.ts == 1764800000.25 and record.environment == "unknown"


def test_an_unknown_prediction_log_version_is_one_line():
    newer = {**RECORD.to_dict(), "schema": "mlops.prediction-log/2"}
    with pytest.raises(ContractError) as caught:
        contracts.PredictionRecord.from_dict(newer, "predictions-20261204-h-1.jsonl:3")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("predictions-20261204-h-1.jsonl:3: schema mlops.prediction-log/2")
    assert "is not mlops.prediction-log/1" in message
    with pytest.raises(ContractError, match=r"prediction log: ts must be a number, not a string"):
        contracts.PredictionRecord.from_dict({**RECORD.to_dict(), "ts": "noon"})


def test_a_stored_batch_of_an_unknown_version_is_one_line():
    """The store keeps a batch's inputs behind a header naming the schema (store/codec.py)."""
    import numpy as np
    from mlops_toolkit.monitoring.store import codec
    from mlops_toolkit.monitoring.store._sql import dumps

    blob = codec.encode(["a", "b"], {"a": np.array([1.5, np.nan]), "b": ["x", None]}, dumps)
    assert codec.decode(blob) == (["a", "b"], [[1.5, "x"], [None, None]])
    header, body = blob.split(b"\n", 1)
    newer = header.replace(b"mlops.prediction-log/1", b"mlops.prediction-log/2") + b"\n" + body
    with pytest.raises(ContractError, match=r"^the prediction store: schema mlops.prediction-lo"):
        codec.decode(newer)
    unversioned = json.loads(header)
    del unversioned["schema"]  # stored before the header named it: version 1
    assert codec.decode(json.dumps(unversioned).encode() + b"\n" + body)[1][0] == [1.5, "x"]


def test_the_prediction_log_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    assert contracts.PREDICTION_LOG in doc and "PredictionRecord" in doc
