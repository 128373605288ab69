"""One contract, two backends of `GitHubApi` (mlops_toolkit/ci/github.py): the in-memory fake
(tests/support/fakes/github.py) and the real client, `GitHub`, over HTTP to the loopback
stand-in of GitHub's REST API (tests/support/github_api.py; GitHub itself is out of reach).
Each case runs the toolkit's logic on top (the sticky comment and issue, a commit's pull
requests, the retrain decision) on both, so a fake that drifts fails here first. Both run in the
fast tier: the stand-in is a thread of the test process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mlops_toolkit.ci import github, retrain_request
from mlops_toolkit.errors import ToolkitError
from support.fakes.github import FakeGitHub
from support.github_api import GitHubStandIn

REPO = "acme/churn"
SHA = "d" * 40


@dataclass
class GitHubBackend:
    """One repository for a test: the API the toolkit calls, and the test's set-up and reads."""

    kind: str
    api: github.GitHubApi
    add_comment: Callable[[int, str], dict[str, Any]]
    add_issue: Callable[..., dict[str, Any]]  # title, body, labels=(), state=, pull_request=
    add_pull: Callable[..., dict[str, Any]]  # head, title=, body=, created_at=, state=
    associate: Callable[..., None]  # sha, number, merged=True
    on: Callable[[int], list[dict[str, Any]]]  # comments of an issue, oldest first
    issues_of: Callable[..., list[dict[str, Any]]]
    dispatches: list[dict[str, Any]]


@pytest.fixture(params=["fake", "stand-in"])
def backend(request) -> Iterator[GitHubBackend]:
    if request.param == "fake":
        fake = FakeGitHub(REPO)
        yield GitHubBackend(
            "fake",
            fake,
            fake.add_comment,
            fake.add_issue,
            fake.add_pull,
            fake.associate,
            fake.on,
            fake.issues_of,
            fake.dispatches,
        )
        return
    with GitHubStandIn() as server:
        yield GitHubBackend(
            "stand-in",
            github.GitHub(REPO, "test-token", server.url),
            lambda number, body: server.add(REPO, number, body),
            lambda *args, **kwargs: server.add_issue(REPO, *args, **kwargs),
            lambda *args, **kwargs: server.add_pull(REPO, *args, **kwargs),
            lambda *args, **kwargs: server.associate(REPO, *args, **kwargs),
            lambda number: server.on(REPO, number),
            lambda state="open": server.issues_of(REPO, state),
            server.dispatches,
        )


def bodies(items) -> list[str]:
    return [item["body"] for item in items]


def test_both_satisfy_the_interface(backend):
    assert isinstance(backend.api, github.GitHubApi) and backend.api.repo == REPO


def test_comments_are_created_listed_in_order_and_updated(backend):
    api = backend.api
    theirs = backend.add_comment(7, "LGTM")
    ours = api.create_comment(7, "report v1")
    assert ours["body"] == "report v1" and ours["id"] != theirs["id"] and ours["html_url"]
    assert bodies(api.comments(7)) == ["LGTM", "report v1"]
    assert [c["id"] for c in api.comments(7)] == [theirs["id"], ours["id"]]
    updated = api.update_comment(ours["id"], "report v2")
    assert (updated["id"], updated["body"]) == (ours["id"], "report v2")
    assert bodies(backend.on(7)) == ["LGTM", "report v2"]
    assert list(api.comments(8)) == []
    with pytest.raises(ToolkitError, match=r"answered 404: Not Found$"):
        api.update_comment(999_999, "x")


def test_the_sticky_comment_is_one_per_key_and_others_are_left(backend):
    api = backend.api
    backend.add_comment(3, "LGTM")
    first = github.upsert_comment(api, 3, "a", "gate:model-a")
    assert first["action"] == "created"
    assert github.upsert_comment(api, 3, "b", "gate:model-b")["action"] == "created"
    again = github.upsert_comment(api, 3, "a2", "gate:model-a")
    assert again["action"] == "updated" and again["id"] == first["id"]
    assert bodies(backend.on(3)) == [
        "LGTM",
        f"{github.marker('gate:model-a')}\na2",
        f"{github.marker('gate:model-b')}\nb",
    ]


def test_open_issues_by_label_pull_requests_marked(backend):
    api = backend.api
    labelled = backend.add_issue("drift", "one", labels=("drift",))
    plain = backend.add_issue("other", "two")
    backend.add_issue("old", "three", labels=("drift",), state="closed")
    pull = backend.add_issue("a pull request", "four", labels=("drift",), pull_request=True)
    found = list(api.open_issues("drift"))
    assert [i["number"] for i in found] == [labelled["number"], pull["number"]]
    assert ["pull_request" in i for i in found] == [False, True]
    every = [i["number"] for i in api.open_issues()]
    assert every == [labelled["number"], plain["number"], pull["number"]]
    made = api.create_issue(title="Data drift", body="report", labels=["drift"])
    assert (made["title"], made["body"]) == ("Data drift", "report") and made["html_url"]
    assert made["number"] in [i["number"] for i in api.open_issues("drift")]
    assert api.update_issue(made["number"], body="report 2")["body"] == "report 2"
    api.add_labels(plain["number"], ["drift", "retrain"])
    assert plain["number"] in [i["number"] for i in api.open_issues("retrain")]
    for call in (lambda: api.update_issue(99_999, body="x"), lambda: api.add_labels(99_999, [])):
        with pytest.raises(ToolkitError, match=r"answered 404: Not Found$"):
            call()


def test_the_sticky_issue_is_found_by_marker_with_or_without_its_label(backend):
    api = backend.api
    tag = github.marker("drift:churn")
    backend.add_issue("t", tag, labels=("drift",), state="closed")
    backend.add_issue("a pull request", tag, labels=("drift",), pull_request=True)

    def sticky(body: str, comment: str | None = "still drifting", key: str = "drift:churn"):
        return github.upsert_issue(
            api, body, key=key, title="Data drift detected", label="drift", comment=comment
        )

    first = sticky("day 1")
    assert first["action"] == "created"
    second = sticky("day 2")
    assert second["action"] == "updated" and second["number"] == first["number"]
    (ours,) = backend.issues_of()
    assert ours["body"] == f"{tag}\nday 2" and [lb["name"] for lb in ours["labels"]] == ["drift"]
    assert bodies(backend.on(first["number"])) == ["still drifting"]
    unlabelled = backend.add_issue("renamed", f"{tag}\nlabel removed")  # and ours closed, say
    assert github.find_issue(api, tag, "drift")["number"] == first["number"]
    assert github.find_issue(api, tag, "nothing-labelled")["number"] == first["number"]
    assert github.find_issue(api, github.marker("drift:other"), "drift") is None
    assert sticky("b", comment=None, key="drift:other")["number"] not in (
        first["number"],
        unlabelled["number"],
    )


def test_pull_requests_newest_first_one_open_per_branch(backend):
    api = backend.api
    backend.add_pull("feature-a", created_at="2026-01-01T00:00:00Z")
    backend.add_pull("feature-b", created_at="2026-01-02T00:00:00Z")
    backend.add_pull("old", created_at="2026-01-03T00:00:00Z", state="closed")
    assert [p["head"]["ref"] for p in api.pull_requests("open")] == ["feature-b", "feature-a"]
    assert [p["head"]["ref"] for p in api.pull_requests("all")] == ["old", "feature-b", "feature-a"]
    made = api.create_pull_request(
        title="Retrain churn", head="retrain/churn-1", base="main", body="why"
    )
    assert (made["title"], made["body"], made["head"]["ref"], made["state"]) == (
        "Retrain churn", "why", "retrain/churn-1", "open",
    )  # fmt: skip
    newest = next(api.pull_requests("open"))
    assert newest["number"] == made["number"] and newest["html_url"] == made["html_url"]
    with pytest.raises(ToolkitError, match="answered 422: Validation Failed"):
        api.create_pull_request(title="again", head="retrain/churn-1", base="main", body="")
    api.add_labels(made["number"], ["retrain"])
    labelled = next(p for p in api.pull_requests("open") if p["number"] == made["number"])
    assert [lb["name"] for lb in labelled["labels"]] == ["retrain"]
    # The retrain decision (ci/retrain_request.py) on top: an open retrain pull request holds.
    decision = retrain_request.decide(api, cooldown_s=3600, now=0)
    assert not decision.due and decision.blocking == made["html_url"]
    assert decision.reason == f"retrain pull request #{made['number']} is open"


def test_a_commits_pull_requests_merged_first_newest_first(backend):
    for number, merged in ((21, True), (25, False), (22, True)):
        backend.associate(SHA, number, merged=merged)
    pulls = list(backend.api.commit_pull_requests(SHA))
    assert sorted((p["number"], p["merged_at"] is None) for p in pulls) == [
        (21, False),
        (22, False),
        (25, True),
    ]
    assert github.merged_first(backend.api.commit_pull_requests(SHA)) == [22, 21, 25]
    assert list(backend.api.commit_pull_requests("e" * 40)) == []


def test_a_dispatch_is_recorded_and_an_oversized_payload_refused(backend):
    backend.api.dispatch("retrain", {"model_name": "churn", "alerts": ["drift"]})
    assert backend.dispatches == [
        {
            "repo": REPO,
            "event_type": "retrain",
            "client_payload": {"model_name": "churn", "alerts": ["drift"]},
        }
    ]
    with pytest.raises(ToolkitError, match="answered 422: client_payload: at most 10"):
        backend.api.dispatch("retrain", {f"k{i}": i for i in range(11)})
    assert len(backend.dispatches) == 1
