"""`find-candidate`: the version registered from the pull request a merge commit came from."""

from __future__ import annotations

import argparse
import os

from .. import names
from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("find-candidate", help="the version registered from the merged PR")
    options.model_name(p)
    p.add_argument("--commit", default="", help="default: GITHUB_SHA")
    p.add_argument("--pr-number", default="", help="skip the GitHub lookup")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import github
    from ..registry import moves as registry

    registry.check_model_name(args.model_name)  # before the GitHub look-up, not after
    commit = args.commit or os.environ.get(names.ENV_GITHUB_SHA, "")
    number = github.pull_request_number(args.pr_number) if args.pr_number else None
    pulls = [number] if number else (github.pulls_for_commit(commit) if commit else [])
    result = registry.find_candidate(model_name=args.model_name, pulls=pulls, commit=commit)
    ghactions.set_outputs(
        {
            "version": result["version"],
            "model-uri": result["model_uri"],
            "pr-number": result["pull_request"],
        }
    )
    ghactions.add_summary(
        f"## Candidate\n\n`{result['model_uri']}` from pull request "
        f"#{result['pull_request'] or '-'}.\n"
    )
    return 0
