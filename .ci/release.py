"""Publish a toolkit release: move the major tag `vX` to this commit, create the release notes.

Run by .github/workflows/release.yml on a tag `vX.Y.Z` after the checks pass. Standard library
only (GitHub's REST API): GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_REF_NAME (the tag), GITHUB_SHA
and GITHUB_API_URL come from the runner. Safe to re-run: the tag moves again, an existing
release is left as it is. A failure is one line on stderr and exit 1.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request

VERSION = re.compile(r"v(\d+)\.\d+\.\d+")


class ReleaseError(Exception):
    pass


def api(method: str, path: str, body: dict) -> tuple[int, dict]:
    """(status, JSON answer) of one REST call; HTTP errors are answers, not exceptions."""
    url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/") + path
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {os.environ['GITHUB_TOKEN']}",
                 "Accept": "application/vnd.github+json", "User-Agent": "cookiecutter-mlops"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, OSError) as exc:
        raise ReleaseError(f"{method} {path}: {getattr(exc, 'reason', exc)}") from None


def major(tag: str) -> str:
    match = VERSION.fullmatch(tag)
    if not match:
        raise ReleaseError(f"tag {tag!r} is not a release tag vX.Y.Z")
    return f"v{match[1]}"


def move_tag(repo: str, tag: str, sha: str) -> None:
    """Point refs/tags/<tag> at sha: move it when it exists, create it when not."""
    status, answer = api("PATCH", f"/repos/{repo}/git/refs/tags/{tag}", {"sha": sha, "force": True})
    if status == 422 or status == 404:
        status, answer = api("POST", f"/repos/{repo}/git/refs",
                             {"ref": f"refs/tags/{tag}", "sha": sha})  # fmt: skip
    if status not in (200, 201):
        raise ReleaseError(f"cannot move tag {tag}: HTTP {status} {answer.get('message', '')}")


def publish(repo: str, tag: str) -> str:
    """The release of `tag` with notes GitHub generates from the merged pull requests."""
    body = {"tag_name": tag, "name": tag, "generate_release_notes": True}
    status, answer = api("POST", f"/repos/{repo}/releases", body)
    if status == 422 and any(e.get("code") == "already_exists" for e in answer.get("errors", [])):
        return f"release {tag} already exists"
    if status != 201:
        raise ReleaseError(f"cannot create release {tag}: HTTP {status} {answer.get('message')}")
    return f"published {answer.get('html_url', tag)}"


def main() -> int:
    try:
        missing = [n for n in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_REF_NAME", "GITHUB_SHA")
                   if not os.environ.get(n)]  # fmt: skip
        if missing:
            raise ReleaseError(f"set {', '.join(missing)}")
        repo, tag, sha = (os.environ[n] for n in ("GITHUB_REPOSITORY", "GITHUB_REF_NAME",
                                                  "GITHUB_SHA"))  # fmt: skip
        moving = major(tag)
        move_tag(repo, moving, sha)
        print(f"moved {moving} to {sha[:12]}; {publish(repo, tag)}")
    except ReleaseError as exc:
        print(f"release: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
