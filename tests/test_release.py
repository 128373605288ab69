"""The template repository's own release: workflow hygiene and .ci/release.py against the
GitHub REST stand-in (tests/support/github_api.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.github_api import GitHubStandIn

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
SHA1, SHA2 = "1" * 40, "2" * 40


def release(api: GitHubStandIn, tag: str, sha: str, token: str = "test-token"):
    env = {
        **os.environ,
        "GITHUB_API_URL": api.url,
        "GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": "acme/cookiecutter-mlops",
        "GITHUB_REF_NAME": tag,
        "GITHUB_SHA": sha,
    }
    return subprocess.run(
        [sys.executable, str(REPO / ".ci" / "release.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_workflow_runs_the_checks_then_publishes_on_version_tags():
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert flow[True]["push"] == {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}  # YAML's `on` is True
    assert flow["permissions"] == {}
    assert "bash .ci/run" in flow["jobs"]["checks"]["steps"][-1]["run"]
    publish = flow["jobs"]["publish"]
    assert publish["needs"] == "checks" and publish["permissions"] == {"contents": "write"}
    assert publish["steps"][-1]["run"] == "python3 .ci/release.py"


def test_zizmor_and_schema_find_nothing():
    for command in (
        ["zizmor", "--offline", str(WORKFLOW)],
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
    ):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_moves_the_major_tag_and_publishes_notes_idempotently():
    with GitHubStandIn() as api:
        first = release(api, "v1.2.3", SHA1)
        assert first.returncode == 0, first.stderr
        assert api.refs[("acme/cookiecutter-mlops", "refs/tags/v1")] == SHA1  # created
        notes = api.releases[("acme/cookiecutter-mlops", "v1.2.3")]
        assert notes["name"] == "v1.2.3" and "What's Changed" in notes["body"]
        second = release(api, "v1.3.0", SHA2)
        assert second.returncode == 0, second.stderr
        assert api.refs[("acme/cookiecutter-mlops", "refs/tags/v1")] == SHA2  # moved
        again = release(api, "v1.3.0", SHA2)  # a re-run of the same release
        assert again.returncode == 0 and "already exists" in again.stdout


@pytest.mark.parametrize(
    ("tag", "token", "message"),
    [
        ("v1.2", "test-token", "tag 'v1.2' is not a release tag vX.Y.Z"),
        ("v2.0.0", "wrong", "cannot move tag v2: HTTP 401 Bad credentials"),
    ],
)
def test_failures_are_one_line(tag, token, message):
    with GitHubStandIn() as api:
        result = release(api, tag, SHA1, token=token)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"release: error: {message}"]
    assert not api.releases
