"""An in-memory GitHub repository: `mlops_toolkit.ci.github.GitHubApi`.

It keeps one repository's comments, issues and pull requests (one numbering, as GitHub's),
the commits' pull requests and the repository_dispatch events in lists and dictionaries, and
fails the way the REST API does through `GitHub` (one-line ToolkitError "... answered 404: Not
Found", 422 for a second open pull request of a branch or an oversized client_payload). Lists
are in tests/support/github_api.py's order (the loopback stand-in the contract tests hold it
to, tests/toolkit/test_github_contract.py): issues by number, pull requests newest first, and
come whole (pagination is HTTP's, tested on the stand-in). Only the methods of the interface
exist, so code that reaches past it (`call`, `url`) fails here first. `calls` records each
call that writes, for tests that count them.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

from mlops_toolkit.errors import ToolkitError


def _failed(method: str, path: str, status: int, message: str) -> ToolkitError:
    return ToolkitError(f"GitHub API (fake) {method} {path} answered {status}: {message}")


class FakeGitHub:
    def __init__(self, repo: str = "acme/churn"):
        self.repo = repo
        self.comments_by_id: dict[int, dict[str, Any]] = {}  # id -> comment (with its "issue")
        self.issues: dict[int, dict[str, Any]] = {}  # number -> issue or pull request
        self.commit_pulls: dict[str, list[dict[str, Any]]] = {}  # sha -> pull requests
        self.dispatches: list[dict[str, Any]] = []  # repo, event_type, client_payload
        self.calls: list[tuple[str, Any]] = []  # (method, its subject) of each write
        self._comment_ids = itertools.count(1001)
        self._numbers = itertools.count(101)
        self._mutex = threading.RLock()

    # -- test set-up and reads (not part of the interface) ----------------------------------
    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        with self._mutex:
            comment_id = next(self._comment_ids)
            comment = {
                "id": comment_id,
                "body": body,
                "user": {"login": user},
                "html_url": f"https://github.com/{self.repo}/pull/{number}"
                f"#issuecomment-{comment_id}",
                "issue": number,
            }
            self.comments_by_id[comment_id] = comment
            return comment

    def add_issue(
        self,
        title: str,
        body: str,
        labels: tuple[str, ...] | list[str] = (),
        state: str = "open",
        pull_request: bool = False,
    ) -> dict[str, Any]:
        with self._mutex:
            number = next(self._numbers)
            kind = "pull" if pull_request else "issues"
            issue: dict[str, Any] = {
                "number": number,
                "title": title,
                "body": body,
                "state": state,
                "labels": [{"name": name} for name in labels],
                "html_url": f"https://github.com/{self.repo}/{kind}/{number}",
            }
            if pull_request:
                issue["pull_request"] = {"url": f"fake://{self.repo}/pulls/{number}"}
            self.issues[number] = issue
            return copy.deepcopy(issue)

    def add_pull(
        self,
        head: str,
        title: str = "a pull request",
        body: str = "",
        *,
        base: str = "main",
        created_at: str | None = None,
        state: str = "open",
        labels: tuple[str, ...] = (),
        draft: bool = False,
    ) -> dict[str, Any]:
        """A pull request of branch `head` (created now unless `created_at`, ISO 8601 UTC)."""
        number = self.add_issue(title, body, labels, state=state, pull_request=True)["number"]
        with self._mutex:
            pull = self.issues[number]
            pull["head"] = {"ref": head, "repo": {"full_name": self.repo}}
            pull["base"] = {"ref": base}
            pull["draft"] = draft
            pull["merged_at"] = None
            pull["created_at"] = created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            return copy.deepcopy(pull)

    def associate(self, sha: str, number: int, merged: bool = True) -> None:
        """Make `sha` a commit of pull request `number` (as a merge does)."""
        pull = {
            "number": number,
            "state": "closed" if merged else "open",
            "merged_at": "2026-01-01T00:00:00Z" if merged else None,
            "html_url": f"https://github.com/{self.repo}/pull/{number}",
        }
        with self._mutex:
            self.commit_pulls.setdefault(sha, []).append(pull)

    def on(self, number: int) -> list[dict[str, Any]]:
        """The comments of issue or pull request `number`, oldest first."""
        with self._mutex:
            return [
                copy.deepcopy(c) for _, c in sorted(self.comments_by_id.items())
                if c["issue"] == number
            ]  # fmt: skip

    def issues_of(self, state: str = "open") -> list[dict[str, Any]]:
        with self._mutex:
            return [
                copy.deepcopy(i)
                for _, i in sorted(self.issues.items())
                if "pull_request" not in i and state in ("all", i["state"])
            ]

    def pull_requests_of(self, state: str = "open") -> list[dict[str, Any]]:
        with self._mutex:
            return [
                copy.deepcopy(i)
                for _, i in sorted(self.issues.items())
                if "pull_request" in i and state in ("all", i["state"])
            ]

    # -- comments --------------------------------------------------------------------------
    def comments(self, number: int) -> Iterator[dict[str, Any]]:
        for comment in self.on(number):
            yield {k: v for k, v in comment.items() if k != "issue"}

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        with self._mutex:
            self.calls.append(("create_comment", number))
            made = self.add_comment(number, body, user="github-actions")
            return {k: v for k, v in made.items() if k != "issue"}

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        with self._mutex:
            self.calls.append(("update_comment", comment_id))
            comment = self.comments_by_id.get(int(comment_id))
            if comment is None:
                raise _failed("PATCH", f"/issues/comments/{comment_id}", 404, "Not Found")
            comment["body"] = body
            return {k: v for k, v in copy.deepcopy(comment).items() if k != "issue"}

    # -- issues ----------------------------------------------------------------------------
    def open_issues(self, label: str | None = None) -> Iterator[dict[str, Any]]:
        with self._mutex:
            found = [
                copy.deepcopy(i)
                for _, i in sorted(self.issues.items())
                if i["state"] == "open"
                and (not label or label in {lb["name"] for lb in i["labels"]})
            ]
        yield from found

    def create_issue(self, *, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        with self._mutex:
            self.calls.append(("create_issue", title))
            return self.add_issue(title, body, tuple(labels))

    def update_issue(self, number: int, *, body: str) -> dict[str, Any]:
        with self._mutex:
            self.calls.append(("update_issue", number))
            issue = self._issue("PATCH", f"/issues/{number}", number)
            issue["body"] = body
            return copy.deepcopy(issue)

    def add_labels(self, number: int, labels: list[str]) -> None:
        with self._mutex:
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
        found = self.pull_requests_of(state)
        found.sort(key=lambda p: (p["created_at"], p["number"]), reverse=True)
        yield from found

    def create_pull_request(
        self, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> dict[str, Any]:
        with self._mutex:
            self.calls.append(("create_pull_request", head))
            if not head or not base:
                raise _failed("POST", "/pulls", 422, "Validation Failed")
            if any(p["head"]["ref"] == head for p in self.pull_requests_of()):
                raise _failed("POST", "/pulls", 422, "Validation Failed")
            return self.add_pull(head, title, body, base=base, draft=draft)

    def commit_pull_requests(self, sha: str) -> Iterator[dict[str, Any]]:
        with self._mutex:
            found = copy.deepcopy(self.commit_pulls.get(sha, []))
        yield from found

    # -- events ----------------------------------------------------------------------------
    def dispatch(self, event_type: str, client_payload: dict) -> None:
        with self._mutex:
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
