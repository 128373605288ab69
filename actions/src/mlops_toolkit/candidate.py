"""Find the model version validated for the pull request a commit on main came from."""

from __future__ import annotations

import os

from . import names, tracking
from .errors import ToolkitError


def pull_requests_of(sha: str) -> list[int]:
    """Numbers of the pull requests GitHub associates with a commit (merged ones first)."""
    from . import github

    repository = os.environ.get(names.ENV_GITHUB_REPOSITORY, "")
    client = github.Comments(repository, os.environ.get(names.ENV_GITHUB_TOKEN, ""),
                             os.environ.get(names.ENV_GITHUB_API_URL))
    pulls = client.get(f"/repos/{client.repo}/commits/{sha}/pulls")
    pulls.sort(key=lambda pr: (pr.get("merged_at") is None, -int(pr["number"])))
    return [int(pr["number"]) for pr in pulls]


def _passed(version: tracking.Version) -> bool:
    return version.tags.get(names.TAG_GATE_PASSED) == "true"


def find(model_name: str, sha: str, use_api: bool = True) -> dict:
    """The newest gate-passed version of the merged pull request, else of the commit itself.

    The API lookup covers merge and squash commits (whose SHA the pull request never saw); the
    commit tag covers fast-forward merges and a GitHub API that cannot be asked.
    """
    from .registry import versions

    every = versions(tracking.client(), model_name)
    tried: list[str] = []
    if use_api:
        for number in pull_requests_of(sha):
            tried.append(f"pull request #{number}")
            found = [v for v in every
                     if v.tags.get(names.TAG_PULL_REQUEST) == str(number) and _passed(v)]
            if found:
                return _pick(found, f"pull request #{number}")
    tried.append(f"commit {sha[:12]}")
    found = [v for v in every if v.tags.get(names.TAG_GIT_COMMIT) == sha and _passed(v)]
    if found:
        return _pick(found, f"commit {sha[:12]}")
    raise ToolkitError(
        f"no gate-passed version of {model_name} for {' or '.join(tried)}: "
        "merge through a pull request whose model job passed")


def _pick(found: list[tracking.Version], via: str) -> dict:
    best = max(found, key=lambda v: int(v.version))
    return {"version": best.version, "uri": best.uri, "via": via,
            "pull_request": best.tags.get(names.TAG_PULL_REQUEST, "")}
