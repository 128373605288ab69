"""The contract files between a project's commands, the toolkit and the workflows: typed,
versioned, and refused in one line when they are not what a reader needs."""

from __future__ import annotations

import json
import re

import pytest
from mlops_toolkit import contracts
from mlops_toolkit.contracts import (
    ContractError,
    GateFile,
    GateModel,
    OpenRun,
    OpenRunsFile,
    PrepareFile,
    RegisteredFile,
    RetrainDataFile,
    RunFile,
    ValidationReport,
)

GATE = GateFile(
    passed=False,
    mode="compare",
    decision_rule="roc_auc ≥ 0.8",
    candidate=GateModel("runs:/abc/model", "abc", None),
    rows=120,
    primary_metric="roc_auc",
    direction="maximize",
    bootstrap={"resamples": 200, "confidence": 0.95, "seed": 7},
    checks=[{"name": "roc_auc ≥ 0.8", "passed": False, "value": 0.71}],
    metrics={"roc_auc": {"candidate": 0.71, "candidate_ci": [0.6, 0.8]}},
    production=GateModel("models:/m/3", "def", "3"),
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
]


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
