"""The generated drift workflow passes the workflow linters for every Python choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from support.project import TEMPLATE

from .conftest import bake, run


@pytest.fixture(scope="module", params=["3.11", "3.12"])
def workflow(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = bake(tmp_path_factory.mktemp("wf"), python_version=request.param)
    return project / ".github/workflows/drift.yml"


TOOLKIT_REPOSITORY = TEMPLATE["actions_repository"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: pip install {name}")
    return path


def test_zizmor_finds_nothing(workflow: Path) -> None:
    result = run(_tool("zizmor"), "--offline", str(workflow))
    assert result.returncode == 0, result.stdout + result.stderr


def test_matches_the_github_workflow_schema(workflow: Path) -> None:
    result = run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_least_privilege_and_bounded(workflow: Path) -> None:
    flow = yaml.safe_load(workflow.read_text())
    assert flow["permissions"] == {}
    job = flow["jobs"]["drift"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert 0 < job["timeout-minutes"] <= 60
    toolkit = f"{TOOLKIT_REPOSITORY}/actions/"
    for step in job["steps"]:
        if "uses" in step and not step["uses"].startswith(toolkit):
            # Third-party actions by SHA; the platform's own at actions_ref (zizmor.yml trusts it).
            ref = step["uses"].split("@")[1]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step["uses"]
        assert "${{" not in step.get("run", ""), step
    assert "schedule" in flow[True] or "schedule" in flow.get("on", {})
