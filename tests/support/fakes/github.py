"""An in-memory GitHub repository: `mlops_toolkit.ci.github.GitHubApi`.

It keeps one repository's comments, issues and pull requests (one numbering, as GitHub's) and
the commits' pull requests in a `RepositoryState` (tests/support/github_state.py, the state the
loopback stand-in keeps a repository too, with the same set-up and reads: add_comment,
add_issue, add_pull, associate, on, issues_of, pull_requests_of, handing out copies here), the
repository_dispatch events in a list, and fails the way the REST API does through `GitHub`
(one-line ToolkitError "... answered 404: Not Found", 422 for a second open pull request of a
branch or an oversized client_payload). Lists are in tests/support/github_api.py's order (the
loopback stand-in the contract tests hold it to, tests/toolkit/test_github_contract.py): issues
by number, pull requests newest first, and come whole (pagination is HTTP's, tested on the
stand-in). Only the methods of the interface and the state's exist, so code that reaches past
them (`call`, `url`) fails here first. `calls` records each call that writes, for tests that
count them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from mlops_toolkit.errors import ToolkitError

from support.github_state import RepositoryState, public_comment


def _failed(method: str, path: str, status: int, message: str) -> ToolkitError:
    return ToolkitError(f"GitHub API (fake) {method} {path} answered {status}: {message}")


class FakeGitHub(RepositoryState):
    def __init__(self, repo: str = "acme/churn"):
        super().__init__(repo, pulls_url=f"fake://{repo}/pulls", copies=True)
        self.dispatches: list[dict[str, Any]] = []  # repo, event_type, client_payload
        self.calls: list[tuple[str, Any]] = []  # (method, its subject) of each write

    # -- comments --------------------------------------------------------------------------
    def comments(self, number: int) -> Iterator[dict[str, Any]]:
        for comment in self.on(number):
            yield public_comment(comment)

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("create_comment", number))
            return public_comment(self.add_comment(number, body, user="github-actions"))

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("update_comment", comment_id))
            comment = self.comments_by_id.get(int(comment_id))
            if comment is None:
                raise _failed("PATCH", f"/issues/comments/{comment_id}", 404, "Not Found")
            comment["body"] = body
            return public_comment(copy.deepcopy(comment))

    # -- issues ----------------------------------------------------------------------------
    def open_issues(self, label: str | None = None) -> Iterator[dict[str, Any]]:
        yield from self.listed("open", [label] if label else [])

    def create_issue(self, *, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("create_issue", title))
            return self.add_issue(title, body, tuple(labels))

    def update_issue(self, number: int, *, body: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("update_issue", number))
            issue = self._issue("PATCH", f"/issues/{number}", number)
            issue["body"] = body
            return copy.deepcopy(issue)

    def add_labels(self, number: int, labels: list[str]) -> None:
        with self._lock:
            self.calls.append(("add_labels", number))
            have = self._issue("POST", f"/issues/{number}/labels", number)["labels"]
            for name in labels:
                if name not in {lb["name"] for lb in have}:
                    have.append({"name": name})

    def _issue(self, method: str, path: str, number: int) -> dict[str, Any]:
        try:
            return self.issues[int(number)]
        except KeyError:
            raise _failed(method, path, 404, "Not Found") from None

    # -- pull requests ---------------------------------------------------------------------
    def pull_requests(self, state: str = "open") -> Iterator[dict[str, Any]]:
        yield from self.newest_pulls(state)

    def create_pull_request(
        self, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("create_pull_request", head))
            if not head or not base:
                raise _failed("POST", "/pulls", 422, "Validation Failed")
            if self.has_open_pull(head):
                raise _failed("POST", "/pulls", 422, "Validation Failed")
            return self.add_pull(head, title, body, base=base, draft=draft)

    def commit_pull_requests(self, sha: str) -> Iterator[dict[str, Any]]:
        yield from self.commit_pulls_of(sha)

    # -- events ----------------------------------------------------------------------------
    def dispatch(self, event_type: str, client_payload: dict) -> None:
        with self._lock:
            self.calls.append(("dispatch", event_type))
            if not event_type:
                raise _failed("POST", "/dispatches", 422, "Validation Failed")
            if not isinstance(client_payload, dict) or len(client_payload) > 10:
                message = "client_payload: at most 10 properties"
                raise _failed("POST", "/dispatches", 422, message)
            self.dispatches.append(
                {
                    "repo": self.repo,
                    "event_type": event_type,
                    "client_payload": copy.deepcopy(client_payload),
                }
            )
