"""The one GitHub REST client of the platform, standard library only (no `requests`).

What it does: find our pull-request comment or our issue by a hidden marker (following the
`Link: rel="next"` pagination), then create or update it; list the pull requests of a commit;
list and open pull requests (retrain.yml's one retrain pull request).
Markers, not titles: people edit titles, and a comment's author is shared by every workflow.

Two layers: `GitHubApi` is the REST calls the toolkit makes on one repository (`GitHub`, over
HTTP, satisfies it; so does the tests' in-memory fake, tests/support/fakes/github.py, and
tests/toolkit/test_github_contract.py holds both to the same behaviour); the logic on top
(the sticky comment and issue found by marker, a commit's pull requests merged first) is the
functions below, typed against `GitHubApi`, so it runs the same on either. `client()` is the
repository of the environment (tests swap it for the fake).

Why not githubkit: it would bring httpx, anyio, hishel and 56 MB of generated schemas, and take
over a second to import, for the few endpoints used here (docs/architecture.md, dependencies).
What the client returns is typed instead (the TypedDicts below: the fields the platform reads;
GitHub's answer, kept whole, holds more).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, cast, runtime_checkable
from urllib.parse import quote

from .. import names
from ..errors import InputError, ToolkitError

API_VERSION = "2022-11-28"
DEFAULT_API = "https://api.github.com"
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class Comment(TypedDict):
    """An issue or pull-request comment, as far as the platform reads it."""

    id: int
    body: str
    html_url: str


class Issue(TypedDict):
    """An issue (or a pull request: the issues list holds both, with a `pull_request` key)."""

    number: int
    title: str
    body: str
    html_url: str


class PullRequest(TypedDict):
    """A pull request, as far as the platform reads it (`head.ref`: its branch)."""

    number: int
    title: str
    body: str
    html_url: str
    state: str
    created_at: str  # ISO 8601, UTC: "2026-12-04T10:00:00Z"
    head: dict[str, Any]
    labels: list[dict[str, Any]]


class PostedComment(Comment):
    action: Literal["created", "updated"]


class PostedIssue(Issue):
    action: Literal["created", "updated"]


@runtime_checkable
class GitHubApi(Protocol):
    """The REST calls the toolkit makes on one repository (`repo`: owner/name). Lists come
    whole, page after page, lazily (a caller that finds what it looks for stops early); a failed
    call is one line (ToolkitError "... answered <status>: <GitHub's message>"). Add a method
    only together with its contract test (tests/toolkit/test_github_contract.py)."""

    repo: str

    # Comments of an issue or pull request (one numbering), oldest first.
    def comments(self, number: int) -> Iterator[Comment]: ...

    def create_comment(self, number: int, body: str) -> Comment: ...

    def update_comment(self, comment_id: int, body: str) -> Comment: ...

    # Open issues, and pull requests (GitHub's issues list holds both; a pull request has a
    # `pull_request` key), those with `label` only when given.
    def open_issues(self, label: str | None = None) -> Iterator[dict[str, Any]]: ...

    def create_issue(self, *, title: str, body: str, labels: list[str]) -> Issue: ...

    def update_issue(self, number: int, *, body: str) -> Issue: ...

    def add_labels(self, number: int, labels: list[str]) -> None: ...

    # Pull requests.
    def pull_requests(self, state: str = "open") -> Iterator[PullRequest]: ...

    def create_pull_request(
        self, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> PullRequest: ...

    def commit_pull_requests(self, sha: str) -> Iterator[dict[str, Any]]: ...

    # Events.
    def dispatch(self, event_type: str, client_payload: dict) -> None: ...


def marker(key: str) -> str:
    """The hidden line that identifies our comment or issue among all others."""
    return f"<!-- mlops-toolkit:{key} -->"


def pull_request_number(explicit: str | int | None = None) -> int | None:
    """The PR number from an input, or from the event payload when running on a PR."""
    if explicit not in (None, "", "0"):
        try:
            return int(explicit)
        except ValueError as exc:
            raise InputError(f"pull request number {explicit!r} is not a number") from exc
    event_path = os.environ.get(names.ENV_GITHUB_EVENT_PATH)
    if not event_path or not Path(event_path).is_file():
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except ValueError:
        return None
    pr = event.get("pull_request") or {}
    issue = event.get("issue") or {}
    number = pr.get("number") or (issue.get("pull_request") and issue.get("number"))
    return int(number) if number else None


def pull_request_head() -> str:
    """owner/name of the repository the pull request's branch lives in ('' off a pull request):
    another repository than GITHUB_REPOSITORY means a fork."""
    event_path = os.environ.get(names.ENV_GITHUB_EVENT_PATH)
    if not event_path or not Path(event_path).is_file():
        return ""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except ValueError:
        return ""
    head = ((event.get("pull_request") or {}).get("head") or {}).get("repo") or {}
    return str(head.get("full_name") or "")


class GitHub:
    """One repository of the REST API, authenticated by a token."""

    def __init__(self, repository: str, token: str, api_url: str | None = None, timeout=20):
        if not token:
            raise ToolkitError("GITHUB_TOKEN is not set: cannot call the GitHub API")
        if "/" not in repository:
            raise ToolkitError(f"repository {repository!r} is not owner/name")
        self.base = (api_url or DEFAULT_API).rstrip("/")
        self.repo = repository
        self.timeout = timeout
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlops-toolkit",
        }

    @classmethod
    def from_env(cls) -> GitHub:
        env = os.environ
        return cls(
            env.get(names.ENV_GITHUB_REPOSITORY, ""),
            env.get(names.ENV_GITHUB_TOKEN, ""),
            env.get(names.ENV_GITHUB_API_URL),
        )

    def url(self, path: str) -> str:
        return f"{self.base}/repos/{self.repo}{path}"

    def call(self, method: str, url: str, payload: dict | None = None) -> tuple[Any, str | None]:
        """(decoded JSON answer, URL of the next page or None); a one-line error otherwise."""
        data = None if payload is None else json.dumps(payload).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                link = response.headers.get("Link") or ""
        except urllib.error.HTTPError as exc:
            raise ToolkitError(
                f"GitHub API {method} {url} answered {exc.code}: {_message(exc)}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise ToolkitError(f"GitHub API unreachable ({reason}) at {url}") from None
        try:
            decoded = json.loads(body) if body else None
        except ValueError:
            raise ToolkitError(f"GitHub API {method} {url} answered with non-JSON") from None
        found = _NEXT.search(link)
        return decoded, found.group(1) if found else None

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page after page."""
        url: str | None = self.url(path)
        while url:
            items, url = self.call("GET", url)
            yield from items or []

    # --- GitHubApi ------------------------------------------------------------------------

    def comments(self, number: int) -> Iterator[Comment]:
        for comment in self.pages(f"/issues/{number}/comments?per_page=100"):
            yield cast(Comment, comment)

    def create_comment(self, number: int, body: str) -> Comment:
        created, _ = self.call("POST", self.url(f"/issues/{number}/comments"), {"body": body})
        return cast(Comment, created)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        url = self.url(f"/issues/comments/{comment_id}")
        return cast(Comment, self.call("PATCH", url, {"body": body})[0])

    def open_issues(self, label: str | None = None) -> Iterator[dict[str, Any]]:
        query = (
            f"state=open&labels={quote(label)}&per_page=100" if label else "state=open&per_page=100"
        )
        yield from self.pages(f"/issues?{query}")

    def create_issue(self, *, title: str, body: str, labels: list[str]) -> Issue:
        payload = {"title": title, "body": body, "labels": labels}
        return cast(Issue, self.call("POST", self.url("/issues"), payload)[0])

    def update_issue(self, number: int, *, body: str) -> Issue:
        return cast(Issue, self.call("PATCH", self.url(f"/issues/{number}"), {"body": body})[0])

    def add_labels(self, number: int, labels: list[str]) -> None:
        """Label an issue or pull request (GitHub creates a label it does not know)."""
        self.call("POST", self.url(f"/issues/{number}/labels"), {"labels": labels})

    def pull_requests(self, state: str = "open") -> Iterator[PullRequest]:
        """Pull requests (`open`, `closed` or `all`), newest first, page after page: a caller
        looking for recent ones stops early."""
        query = f"state={state}&sort=created&direction=desc&per_page=100"
        for pull in self.pages(f"/pulls?{query}"):
            yield cast(PullRequest, pull)

    def create_pull_request(
        self, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Open a pull request of branch `head` (pushed already) into `base`."""
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        created, _ = self.call("POST", self.url("/pulls"), payload)
        return cast(PullRequest, created)

    def commit_pull_requests(self, sha: str) -> Iterator[dict[str, Any]]:
        """The pull requests a commit belongs to (each with `merged_at`, None until merged)."""
        yield from self.pages(f"/commits/{sha}/pulls?per_page=100")

    def dispatch(self, event_type: str, client_payload: dict) -> None:
        """A `repository_dispatch` event (GitHub answers 204): workflows `on:` it run."""
        self.call(
            "POST",
            self.url("/dispatches"),
            {"event_type": event_type, "client_payload": client_payload},
        )


# --- the toolkit's logic, on any GitHubApi ----------------------------------------------------


def upsert_comment(api: GitHubApi, number: int, body: str, key: str) -> PostedComment:
    """Create the comment carrying our marker, or update it in place when it exists."""
    tag = marker(key)
    text = f"{tag}\n{body}"
    for comment in api.comments(number):
        if tag in (comment.get("body") or ""):
            updated = api.update_comment(int(comment["id"]), text)
            return cast(PostedComment, {"action": "updated", **updated})
    created = api.create_comment(number, text)
    return cast(PostedComment, {"action": "created", **created})


def find_issue(api: GitHubApi, tag: str, label: str) -> Issue | None:
    """The open issue whose body holds `tag`: among those labelled first, then all open.

    The second pass finds our issue when the label was removed or could not be applied
    (GitHub drops labels silently for tokens without triage rights).
    """
    for wanted in (label, None):
        for issue in api.open_issues(wanted):
            if "pull_request" not in issue and tag in (issue.get("body") or ""):
                return cast(Issue, issue)
    return None


def upsert_issue(
    api: GitHubApi,
    body: str,
    *,
    key: str,
    title: str,
    label: str,
    comment: str | None = None,
    tag: str | None = None,
) -> PostedIssue:
    """Open the one issue carrying our marker, or update its body and comment on it."""
    tag = tag or marker(key)
    text = f"{tag}\n{body}"
    found = find_issue(api, tag, label)
    if found is None:
        created = api.create_issue(title=title, body=text, labels=[label])
        return cast(PostedIssue, {"action": "created", **created})
    number = int(found["number"])
    updated = api.update_issue(number, body=text)
    if comment:
        api.create_comment(number, comment)
    return cast(PostedIssue, {"action": "updated", **updated})


def merged_first(pulls: Iterable[dict[str, Any]]) -> list[int]:
    """Pull request numbers, the merged ones first, newest (highest number) first in each."""
    ordered = sorted(pulls, key=lambda p: (p.get("merged_at") is None, -int(p["number"])))
    return [int(p["number"]) for p in ordered]


def client() -> GitHubApi:
    """The repository of the environment (GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL)."""
    return GitHub.from_env()


def _message(exc: urllib.error.HTTPError) -> str:
    """GitHub's `message` field, else the start of the answer."""
    try:
        raw = exc.read().decode("utf-8", "replace")
    except OSError:
        return exc.reason or ""
    try:
        return str(json.loads(raw).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return " ".join(raw.split())[:200]


def sticky_comment(body: str, key: str, pr: str | int | None = None) -> PostedComment | None:
    """Post or update the sticky comment when on a pull request; None otherwise."""
    number = pull_request_number(pr)
    if number is None:
        return None
    return upsert_comment(client(), number, body, key)


def sticky_issue(
    body: str,
    key: str,
    *,
    title: str,
    label: str,
    comment: str | None = None,
    tag: str | None = None,
) -> PostedIssue:
    """The repository's one open issue for `key` (e.g. drift), opened or updated from env."""
    return upsert_issue(client(), body, key=key, title=title, label=label, comment=comment, tag=tag)


def pulls_for_commit(sha: str) -> list[int]:
    """Numbers of the pull requests a commit belongs to (merged ones first)."""
    return merged_first(client().commit_pull_requests(sha))
