"""Open, or update, the one open drift issue of the repository through the GitHub REST API.

`python -m <package>.monitoring.issue --report reports/drift/drift.md` in the drift workflow.
Reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL (set by Actions). The issue is found by
a hidden marker in its body (not by its title, which people may edit), so a daily run updates
the same issue and comments on it instead of opening a new one every day.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

LABEL = "drift"
MARKER = "<!-- mlops:drift-report -->"
TITLE = "Data drift detected"


class GitHubError(RuntimeError):
    pass


class GitHub:
    def __init__(self, api_url: str, repository: str, token: str) -> None:
        self.base = f"{api_url.rstrip('/')}/repos/{repository}"
        self.token = token

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:200]
            raise GitHubError(f"{method} {path}: HTTP {error.code} {detail}") from None
        except urllib.error.URLError as error:
            raise GitHubError(f"{method} {path}: {error.reason}") from None


def upsert_issue(github: GitHub, report_md: str, run_url: str = "") -> tuple[str, int]:
    """Update the open drift issue (and comment) or open one; returns (what, number)."""
    body = f"{MARKER}\n{report_md}\n" + (f"\nLast checked by {run_url}\n" if run_url else "")
    # By label first; then any open issue, in case the label was not applied (no permission).
    labelled = github.call("GET", f"/issues?state=open&labels={LABEL}&per_page=100")
    candidates = labelled or github.call("GET", "/issues?state=open&per_page=100")
    for issue in candidates:
        if "pull_request" not in issue and MARKER in (issue.get("body") or ""):
            number = int(issue["number"])
            github.call("PATCH", f"/issues/{number}", {"body": body})
            github.call(
                "POST",
                f"/issues/{number}/comments",
                {"body": "Drift is still detected" + (f": {run_url}" if run_url else ".")},
            )
            return "updated", number
    created = github.call("POST", "/issues", {"title": TITLE, "body": body, "labels": [LABEL]})
    return "opened", int(created["number"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", default="reports/drift/drift.md", help="Markdown report")
    args = parser.parse_args(argv)
    env = os.environ
    missing = [n for n in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not env.get(n)]
    if missing:
        print(f"error: {', '.join(missing)} not set", file=sys.stderr)
        return 1
    try:
        with open(args.report, encoding="utf-8") as fh:
            report = fh.read()
        run_url = ""
        if env.get("GITHUB_RUN_ID"):
            server = env.get("GITHUB_SERVER_URL", "https://github.com")
            run_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        github = GitHub(
            env.get("GITHUB_API_URL", "https://api.github.com"),
            env["GITHUB_REPOSITORY"],
            env["GITHUB_TOKEN"],
        )
        what, number = upsert_issue(github, report, run_url)
    except (OSError, GitHubError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{what} drift issue #{number}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
