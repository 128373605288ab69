"""The one sticky issue (e.g. drift) against the loopback stand-in of GitHub's REST API."""

from __future__ import annotations

import pytest
from mlops_toolkit.ci import github
from mlops_toolkit.errors import ToolkitError
from support.github_api import GitHubStandIn

REPO = "acme/churn"
KEY = "drift:churn"


@pytest.fixture
def gh():
    with GitHubStandIn() as server:
        yield server


def _open(client: github.GitHub, body: str, comment: str | None = "still drifting") -> dict:
    return client.sticky_issue(
        body, key=KEY, title="Data drift detected", label="drift", comment=comment
    )


def test_opens_one_issue_then_updates_it_and_comments(gh):
    client = github.GitHub(REPO, "test-token", gh.url)
    first = _open(client, "report day 1")
    assert first["action"] == "created"
    second = _open(client, "report day 2")
    assert second["action"] == "updated" and second["number"] == first["number"]
    issues = gh.issues_of(REPO)
    assert len(issues) == 1
    assert issues[0]["body"] == f"{github.marker(KEY)}\nreport day 2"
    assert [lb["name"] for lb in issues[0]["labels"]] == ["drift"]
    assert [c["body"] for c in gh.on(REPO, first["number"])] == ["still drifting"]


def test_found_by_marker_across_pages_not_by_title(gh):
    for i in range(150):  # ours lands on page 2 of the labelled list
        gh.add_issue(REPO, "Data drift detected", f"someone else's {i}", labels=("drift",))
    gh.add_issue(REPO, "PR with our marker", github.marker(KEY), ("drift",), pull_request=True)
    ours = gh.add_issue(
        REPO, "renamed by a person", f"{github.marker(KEY)}\nold", labels=("drift",)
    )
    result = _open(github.GitHub(REPO, "test-token", gh.url), "new", comment=None)
    assert result["action"] == "updated" and result["number"] == ours["number"]
    assert len(gh.issues_of(REPO)) == 151
    assert any("labels=drift" in p and "page=2" in p for m, p in gh.requests if m == "GET")
    assert gh.on(REPO, ours["number"]) == []


def test_found_without_its_label_and_closed_ones_are_left_alone(gh):
    closed = gh.add_issue(REPO, "t", github.marker(KEY), labels=("drift",), state="closed")
    unlabelled = gh.add_issue(REPO, "t", f"{github.marker(KEY)}\nlabel removed")
    result = _open(github.GitHub(REPO, "test-token", gh.url), "again")
    assert result["number"] == unlabelled["number"] != closed["number"]
    assert gh.issues[(REPO, closed["number"])]["body"] == github.marker(KEY)


def test_other_keys_get_their_own_issue(gh):
    client = github.GitHub(REPO, "test-token", gh.url)
    a = _open(client, "a")
    b = client.sticky_issue("b", key="drift:other", title="t", label="drift")
    assert a["number"] != b["number"] and len(gh.issues_of(REPO)) == 2


def test_from_environment_and_errors_are_one_line(gh, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    assert github.sticky_issue("x", KEY, title="t", label="drift")["action"] == "created"
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(ToolkitError, match=r"answered 401: Bad credentials$"):
        github.sticky_issue("x", KEY, title="t", label="drift")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    with pytest.raises(ToolkitError, match="GitHub API unreachable"):
        github.sticky_issue("x", KEY, title="t", label="drift")
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(ToolkitError, match="GITHUB_TOKEN is not set"):
        github.sticky_issue("x", KEY, title="t", label="drift")
