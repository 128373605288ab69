"""The contract files between a project's commands, the toolkit and the workflows: typed,
versioned, and refused in one line when they are not what a reader needs."""

from __future__ import annotations

import json
import re

import pytest
from mlops_toolkit import contracts
from mlops_toolkit.contracts import ContractError, RegisteredFile, RunFile


def test_a_run_file_round_trips_with_its_schema(tmp_path):
    path = RunFile("abc", "models:/m-123", "tumor", None).write(tmp_path / "reports" / "run.json")
    assert json.loads(path.read_text())["schema"] == "mlops.run/1"
    assert RunFile.read(path) == RunFile("abc", "models:/m-123", "tumor", None)


def test_files_from_before_versioning_still_read(tmp_path):
    """Projects generated before contracts.py write no schema key, and versions as numbers."""
    path = tmp_path / "registered.json"
    path.write_text(json.dumps({"run_id": "r", "registered_model_name": "m", "model_version": 3}))
    assert RegisteredFile.read(path).model_version == "3"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('{"schema": "mlops.run/2", "run_id": "r", "model_uri": "u"}', "schema mlops.run/2 is not"),
        ('{"schema": "mlops.registered/1", "run_id": "r"}', "schema mlops.registered/1 is not"),
        ('{"run_id": "r"}', "run.json lacks model_uri"),
        ('{"run_id": "", "model_uri": "u"}', "run.json lacks run_id"),
        ("[1, 2]", "run.json must hold a JSON object"),
        ("{not json", "run.json is not valid JSON"),
    ],
)
def test_an_unusable_file_is_one_line(tmp_path, content, line):
    path = tmp_path / "run.json"
    path.write_text(content)
    with pytest.raises(ContractError, match=re.escape(line)) as caught:
        RunFile.read(path)
    assert "\n" not in str(caught.value)


def test_a_missing_file_says_what_to_run(tmp_path):
    expected = re.escape("run.json: no training run yet (run the train step)")
    with pytest.raises(ContractError, match=expected):
        RunFile.read(tmp_path / "run.json")


def test_every_contract_has_a_documented_path_and_schema():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    for contract in contracts.CONTRACTS:
        assert f"`{contract.PATH.as_posix()}`" in doc
        assert contract.SCHEMA in doc
