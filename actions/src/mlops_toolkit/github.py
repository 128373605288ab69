"""One sticky pull-request comment through GitHub's REST API (issues comments endpoints)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import names
from .errors import ToolkitError

API_VERSION = "2022-11-28"


def marker(key: str) -> str:
    """The hidden line that identifies our comment among all others on the pull request."""
    return f"<!-- mlops-toolkit:{key} -->"


def pull_request_number(explicit: str | int | None = None) -> int | None:
    """The PR number from an input, or from the event payload when running on a PR."""
    if explicit not in (None, "", "0"):
        try:
            return int(explicit)
        except ValueError as exc:
            raise ToolkitError(f"pull request number {explicit!r} is not a number") from exc
    event_path = os.environ.get(names.ENV_GITHUB_EVENT_PATH)
    if not event_path or not Path(event_path).is_file():
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except ValueError:
        return None
    pr = event.get("pull_request") or {}
    number = pr.get("number") or (event.get("issue", {}).get("pull_request") and
                                  event["issue"].get("number"))
    return int(number) if number else None


class Comments:
    def __init__(self, repository: str, token: str, api_url: str | None = None, timeout=20):
        import requests

        if not token:
            raise ToolkitError("GITHUB_TOKEN is not set: cannot comment on the pull request")
        if "/" not in repository:
            raise ToolkitError(f"repository {repository!r} is not owner/name")
        self.base = (api_url or "https://api.github.com").rstrip("/")
        self.repo = repository
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlops-toolkit",
        })

    def _call(self, method: str, url: str, **kw):
        import requests

        try:
            resp = self.session.request(method, url, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise ToolkitError(f"GitHub API unreachable ({type(exc).__name__}) at {url}") from exc
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", "")
            except ValueError:
                message = resp.text[:200]
            raise ToolkitError(f"GitHub API {method} {url} answered {resp.status_code}: {message}")
        return resp

    def list(self, number: int) -> list[dict]:
        """Every comment on the issue/PR, following the Link: rel="next" pagination."""
        url = f"{self.base}/repos/{self.repo}/issues/{number}/comments?per_page=100"
        out: list[dict] = []
        while url:
            resp = self._call("GET", url)
            out.extend(resp.json())
            url = resp.links.get("next", {}).get("url")
        return out

    def upsert(self, number: int, body: str, key: str) -> dict:
        """Create the comment carrying our marker, or update it in place when it exists."""
        tag = marker(key)
        text = f"{tag}\n{body}"
        for comment in self.list(number):
            if tag in (comment.get("body") or ""):
                url = f"{self.base}/repos/{self.repo}/issues/comments/{comment['id']}"
                return {"action": "updated", **self._call("PATCH", url, json={"body": text}).json()}
        url = f"{self.base}/repos/{self.repo}/issues/{number}/comments"
        return {"action": "created", **self._call("POST", url, json={"body": text}).json()}


def sticky_comment(body: str, key: str, pr: str | int | None = None) -> dict | None:
    """Post or update the sticky comment when on a pull request; None otherwise."""
    number = pull_request_number(pr)
    if number is None:
        return None
    repository = os.environ.get(names.ENV_GITHUB_REPOSITORY, "")
    client = Comments(repository, os.environ.get(names.ENV_GITHUB_TOKEN, ""),
                      os.environ.get(names.ENV_GITHUB_API_URL))
    return client.upsert(number, body, key)


def pulls_for_commit(sha: str) -> list[int]:
    """Numbers of the pull requests a commit belongs to (merged ones first)."""
    repository = os.environ.get(names.ENV_GITHUB_REPOSITORY, "")
    client = Comments(repository, os.environ.get(names.ENV_GITHUB_TOKEN, ""),
                      os.environ.get(names.ENV_GITHUB_API_URL))
    url = f"{client.base}/repos/{client.repo}/commits/{sha}/pulls?per_page=100"
    pulls = client._call("GET", url).json()
    pulls.sort(key=lambda p: (p.get("merged_at") is None, -int(p["number"])))
    return [int(p["number"]) for p in pulls]
