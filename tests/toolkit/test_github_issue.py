"""The one sticky issue (e.g. drift): its logic on the in-memory GitHub (tests/support/fakes/
github.py), its pagination and errors against the loopback stand-in of GitHub's REST API."""

from __future__ import annotations

import pytest
from mlops_toolkit.ci import github
from mlops_toolkit.errors import ToolkitError
from support.fakes.github import FakeGitHub
from support.github_api import GitHubStandIn

REPO = "acme/churn"
KEY = "drift:churn"


@pytest.fixture
def gh():
    with GitHubStandIn() as server:
        yield server


@pytest.fixture
def fake(monkeypatch) -> FakeGitHub:
    """The in-memory repository, also the one `github.client()` hands out."""
    repository = FakeGitHub(REPO)
    monkeypatch.setattr(github, "client", lambda: repository)
    return repository


def _open(client: github.GitHubApi, body: str, comment: str | None = "still drifting") -> dict:
    return github.upsert_issue(
        client, body, key=KEY, title="Data drift detected", label="drift", comment=comment
    )


def test_opens_one_issue_then_updates_it_and_comments(fake):
    first = github.sticky_issue("report day 1", KEY, title="Data drift detected", label="drift")
    assert first["action"] == "created"
    second = _open(fake, "report day 2")
    assert second["action"] == "updated" and second["number"] == first["number"]
    issues = fake.issues_of()
    assert len(issues) == 1
    assert issues[0]["body"] == f"{github.marker(KEY)}\nreport day 2"
    assert [lb["name"] for lb in issues[0]["labels"]] == ["drift"]
    assert [c["body"] for c in fake.on(first["number"])] == ["still drifting"]
    assert [name for name, _ in fake.calls] == ["create_issue", "update_issue", "create_comment"]


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


def test_found_without_its_label_and_closed_ones_are_left_alone(fake):
    closed = fake.add_issue("t", github.marker(KEY), labels=("drift",), state="closed")
    unlabelled = fake.add_issue("t", f"{github.marker(KEY)}\nlabel removed")
    result = _open(fake, "again")
    assert result["number"] == unlabelled["number"] != closed["number"]
    assert fake.issues[closed["number"]]["body"] == github.marker(KEY)


def test_other_keys_get_their_own_issue(fake):
    a = _open(fake, "a")
    b = github.upsert_issue(fake, "b", key="drift:other", title="t", label="drift")
    assert a["number"] != b["number"] and len(fake.issues_of()) == 2


def test_the_sticky_issue_over_http(gh):
    """`upsert_issue` and `find_issue` on the HTTP client: the same logic as on the fake."""
    client = github.GitHub(REPO, "test-token", gh.url)
    first = github.upsert_issue(client, "a", key=KEY, title="t", label="drift", comment="again")
    second = github.upsert_issue(client, "b", key=KEY, title="t", label="drift", comment="again")
    assert (first["action"], second["action"]) == ("created", "updated")
    assert github.find_issue(client, github.marker(KEY), "drift")["number"] == first["number"]
    assert [c["body"] for c in gh.on(REPO, first["number"])] == ["again"]


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
