"""One GitHub repository's issues, pull requests, comments and commits' pull requests: the
state both test doubles of the REST API keep, so that seeding and reading it means one thing.

`RepositoryState` is that state for one repository, with the tests' set-up (`add_issue`,
`add_pull`, `add_comment`, `associate`, `merge_pull`) and reads (`on`, `issues_of`,
`pull_requests_of`, `listed`, `newest_pulls`, `commit_pulls_of`). Issues and pull requests
share one numbering, as GitHub's do. The in-memory fake (tests/support/fakes/github.py) is one
repository's state; the loopback stand-in (tests/support/github_api.py) keeps one a repository
and hands them the same counters, so its numbers and comment ids run across repositories.

Records keep the shape the stand-in answers over HTTP. A comment also holds its "repo" and
"issue" (bookkeeping that `public_comment` drops). With `copies` (the fake) a read hands out
deep copies, as a client over HTTP gets; without (the stand-in) it hands out the records
themselves, which tests may edit.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

MERGED_AT = "2026-01-01T00:00:00Z"  # when an `associate`d or `merge_pull`ed pull request merged


def public_comment(comment: dict[str, Any]) -> dict[str, Any]:
    """A comment as the API answers it (without the "repo" and "issue" it is filed under)."""
    return {k: v for k, v in comment.items() if k not in ("repo", "issue")}


class RepositoryState:
    def __init__(
        self,
        repo: str,
        *,
        pulls_url: str,
        numbers: Iterator[int] | None = None,
        ids: Iterator[int] | None = None,
        lock: threading.RLock | None = None,
        copies: bool = False,
    ):
        """`pulls_url`: the API address of the pull requests (a pull request's issue points at
        `{pulls_url}/{number}`); `numbers`, `ids`, `lock`: issue numbers, comment ids and the lock,
        for a caller that shares them across repositories."""
        self.repo = repo
        self.issues: dict[int, dict[str, Any]] = {}  # number -> issue or pull request
        self.comments_by_id: dict[int, dict[str, Any]] = {}  # id -> comment
        self.commit_pulls: dict[str, list[dict[str, Any]]] = {}  # sha -> pull requests
        self._pulls_url = pulls_url
        self._numbers = numbers if numbers is not None else itertools.count(101)
        self._ids = ids if ids is not None else itertools.count(1001)
        self._lock = lock if lock is not None else threading.RLock()
        self._copies = copies

    def _out(self, value: Any) -> Any:
        return copy.deepcopy(value) if self._copies else value

    # -- set-up ----------------------------------------------------------------------------
    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        with self._lock:
            comment_id = next(self._ids)
            comment = {
                "id": comment_id,
                "body": body,
                "user": {"login": user},
                "repo": self.repo,
                "issue": number,
                "html_url": f"https://github.com/{self.repo}/pull/{number}"
                f"#issuecomment-{comment_id}",
            }
            self.comments_by_id[comment_id] = comment
            return self._out(comment)

    def add_issue(
        self,
        title: str,
        body: str,
        labels: Iterable[str] = (),
        state: str = "open",
        pull_request: bool = False,
    ) -> dict[str, Any]:
        """An issue (or, with pull_request, a pull request as the issues list shows it)."""
        with self._lock:
            return self._out(self._new_issue(title, body, labels, state, pull_request))

    def _new_issue(
        self, title: str, body: str, labels: Iterable[str], state: str, pull_request: bool
    ) -> dict[str, Any]:
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
            issue["pull_request"] = {"url": f"{self._pulls_url}/{number}"}
        self.issues[number] = issue
        return issue

    def add_pull(
        self,
        head: str,
        title: str = "a pull request",
        body: str = "",
        *,
        base: str = "main",
        created_at: str | None = None,
        state: str = "open",
        labels: Iterable[str] = (),
        draft: bool = False,
    ) -> dict[str, Any]:
        """A pull request of branch `head` (created now unless `created_at`, ISO 8601 UTC)."""
        with self._lock:
            pull = self._new_issue(title, body, labels, state, pull_request=True)
            pull["head"] = {"ref": head, "repo": {"full_name": self.repo}}
            pull["base"] = {"ref": base}
            pull["draft"] = draft
            pull["merged_at"] = None
            pull["created_at"] = created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            return self._out(pull)

    def associate(self, sha: str, number: int, merged: bool = True) -> None:
        """Make `sha` a commit of pull request `number` (as a merge does)."""
        pull = {
            "number": number,
            "state": "closed" if merged else "open",
            "merged_at": MERGED_AT if merged else None,
            "html_url": f"https://github.com/{self.repo}/pull/{number}",
        }
        with self._lock:
            self.commit_pulls.setdefault(sha, []).append(pull)

    def merge_pull(self, number: int, sha: str) -> dict[str, Any]:
        """Close pull request `number` as merged, `sha` its merge commit (`commit_pulls_of`)."""
        pull = self.issues[number]
        with self._lock:
            pull["state"] = "closed"
            pull["merged_at"] = MERGED_AT
            self.commit_pulls.setdefault(sha, []).append(pull)
        return self._out(pull)

    # -- reads -----------------------------------------------------------------------------
    def on(self, number: int) -> list[dict[str, Any]]:
        """The comments of issue or pull request `number`, oldest first."""
        with self._lock:
            found = [c for _, c in sorted(self.comments_by_id.items()) if c["issue"] == number]
            return self._out(found)

    def listed(self, state: str = "open", labels: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Issues and pull requests by number, as GET .../issues lists them: in `state` ("all"
        for any) and with every one of `labels`."""
        wanted = list(labels)
        with self._lock:
            found = [
                i
                for _, i in sorted(self.issues.items())
                if state in ("all", i["state"])
                and all(w in {lb["name"] for lb in i["labels"]} for w in wanted)
            ]
            return self._out(found)

    def issues_of(self, state: str = "open") -> list[dict[str, Any]]:
        return [i for i in self.listed(state) if "pull_request" not in i]

    def pull_requests_of(self, state: str = "open") -> list[dict[str, Any]]:
        return [i for i in self.listed(state) if "pull_request" in i]

    def newest_pulls(self, state: str = "open") -> list[dict[str, Any]]:
        """The pull requests newest first, as GET .../pulls lists them."""
        found = self.pull_requests_of(state)
        found.sort(key=lambda p: (p["created_at"], p["number"]), reverse=True)
        return found

    def has_open_pull(self, head: str) -> bool:
        """Whether branch `head` has an open pull request (a second one is refused)."""
        return any(p["head"]["ref"] == head for p in self.pull_requests_of())

    def commit_pulls_of(self, sha: str) -> list[dict[str, Any]]:
        """The pull requests commit `sha` belongs to, as GET .../commits/{sha}/pulls lists them."""
        with self._lock:
            return self._out(self.commit_pulls.get(sha, []))
