"""The sweep's result as a pull request: params.yaml on `sweep/<study>-<parent run>`, then a pull
request into the branch the sweep ran on, which goes through the pull-request workflow's gate
like any other change. The branch is pushed and the pull request opened with the GitHub client's
own helpers (ci/github.py, ci/retrain_request.py); a second run for the same parent finds its
open pull request and returns it instead of opening another.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .. import names
from ..ci import github as gh
from ..ci import retrain_request
from ..errors import InputError

if TYPE_CHECKING:
    from .study import Outcome

BRANCH_PREFIX = "sweep/"
MARKER = gh.marker("sweep")
TEMPLATES = Path(__file__).with_name("templates")  # sweep_pr.md.j2, package data


def branch_name(outcome: Outcome) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", outcome.study).strip("-.") or "study"
    return f"{BRANCH_PREFIX}{slug}-{outcome.parent_run_id[:8]}"


def pull_request(params_path: Path, outcome: Outcome, *, base: str = "") -> str:
    """Push the new params.yaml on the sweep's branch and open (or find) its pull request."""
    github = gh.GitHub.from_env()
    branch = branch_name(outcome)
    for pull in github.pull_requests("open"):
        if (pull.get("head") or {}).get("ref") == branch:
            return pull["html_url"]
    base = base or os.environ.get("GITHUB_REF_NAME") or "main"
    if base.startswith(BRANCH_PREFIX):
        raise InputError(f"--base {base} is a sweep's own branch: name the branch to propose to")
    retrain_request.push_branch(
        Path("."),
        branch=branch,
        paths=[str(params_path)],
        message=f"sweep: {title(outcome)}",
        token=os.environ.get(names.ENV_GITHUB_TOKEN, ""),
        server_url=os.environ.get(names.ENV_GITHUB_SERVER_URL, "https://github.com"),
    )
    created = github.create_pull_request(
        title=title(outcome), head=branch, base=base, body=body(outcome, params_path)
    )
    return created["html_url"]


def title(outcome: Outcome) -> str:
    return (
        f"Sweep {outcome.study}: {outcome.metric} {outcome.best_value:.4f} "
        f"(cross-validated, trial {outcome.best_trial})"
    )


def body(outcome: Outcome, params_path: Path) -> str:
    """The pull request's body, laid out by templates/sweep_pr.md.j2 (package data)."""
    from ..core import templates  # jinja2 on the first render only: `--help` stays instant

    return templates.render(
        TEMPLATES,
        "sweep_pr.md.j2",
        marker=MARKER,
        outcome=outcome,
        params_path=params_path,
        params=[(key, json.dumps(value)) for key, value in sorted(outcome.best_params.items())],
        states=", ".join(f"{n} {s.lower()}" for s, n in sorted(outcome.counts.items())),
    )
