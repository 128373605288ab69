"""`report --fork`: the sticky comment of a fork's pull request (fork-pull-request.yml), posted
to a loopback stand-in of GitHub's REST API with a pull_request_target event payload."""

from __future__ import annotations

import json

import pytest
from conftest import cli
from mlops_toolkit.ci import github
from mlops_toolkit.ci import markdown as report
from support.github_api import GitHubStandIn

REPO = "acme/churn"


@pytest.fixture
def gh():
    with GitHubStandIn() as server:
        yield server


def _event(tmp_path, number: int, head: str):
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "opened",
                "number": number,
                "pull_request": {"number": number, "head": {"repo": {"full_name": head}}},
                "repository": {"full_name": REPO},
            }
        )
    )
    return {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def test_a_forks_pull_request_is_told_once_in_the_sticky_comment(gh, tmp_path):
    env = {**_event(tmp_path, 12, "stranger/churn"), "GITHUB_API_URL": gh.url}
    gh.add(REPO, 12, "thanks for the PR")
    for _ in range(2):  # reopened: the same comment, updated in place
        r = cli("report", "--fork", "--model-name", "churn-model", env=env)
        assert r.returncode == 0, r.stderr
    ours = [c for c in gh.on(REPO, 12) if github.marker("report:churn-model") in c["body"]]
    assert len(ours) == 1, gh.on(REPO, 12)
    body = ours[0]["body"]
    assert "comes from a fork (`stranger/churn`)" in body
    assert "does not run on the team's runner" in body
    assert "gh pr checkout 12 && git push origin HEAD:refs/heads/fork-pr-12" in body
    assert "gh pr create --head fork-pr-12" in body
    # the same text in the job summary; nothing of a model report (no gate, no validation)
    assert (tmp_path / "summary.md").read_text().strip().endswith("--fill\n```")
    assert "## Model gate" not in body and "Data validation" not in body


def test_the_fork_comment_replaces_nothing_but_our_own(gh, tmp_path):
    """The marker is the model report's: a pull request pushed here later updates the same
    comment; another model's comment on the same pull request is left alone."""
    env = {**_event(tmp_path, 3, "stranger/churn"), "GITHUB_API_URL": gh.url}
    github.upsert_comment(
        github.GitHub(REPO, "test-token", gh.url), 3, "other", "report:other-model"
    )
    assert cli("report", "--fork", "--model-name", "m", env=env).returncode == 0
    bodies = [c["body"] for c in gh.on(REPO, 3)]
    assert len(bodies) == 2 and bodies[0].endswith("\nother"), bodies
    assert bodies[1].startswith(github.marker("report:m")) and "comes from a fork" in bodies[1]


def test_a_refused_comment_is_one_line(gh, tmp_path):
    env = {**_event(tmp_path, 5, "stranger/churn"), "GITHUB_API_URL": gh.url}
    env["GITHUB_TOKEN"] = "read-only"  # the stand-in knows only test-token
    r = cli("report", "--fork", "--model-name", "m", env=env)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "401" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert "read-only" not in r.stderr + r.stdout


def test_the_text_without_an_event():
    body = report.fork_markdown("m", "", None)
    assert "comes from a fork:" in body and "gh pr checkout N" in body
    assert (
        "`" not in report.fork_markdown("m", "a`b/c", 1).split("fork (", 1)[1].split(")")[0][1:-1]
    )
