"""`report`: one sticky pull-request comment with every result of the pipeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import ghactions
from ..errors import InputError
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="one sticky pull-request comment with every result")
    options.model_name(p)
    p.add_argument("--validation", default="", help="reports/validation.json")
    p.add_argument("--gate", default="", help="the gate's JSON verdict")
    p.add_argument("--artifact-url", default="")
    p.add_argument("--version", default="", help="the registered version, if any")
    p.add_argument("--pr-number", default=None)
    p.add_argument("--comment", type=options.boolean, default=True)
    p.set_defaults(func=run)


def _read_json(path: str) -> dict | None:
    """A step's JSON result; None when the step did not run (no file)."""
    if not path or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON") from exc


def run(args: argparse.Namespace) -> int:
    from .. import github, report

    markdown = report.pull_request_markdown(
        args.model_name,
        _read_json(args.validation),
        _read_json(args.gate),
        args.artifact_url,
        args.version,
    )
    ghactions.add_summary(markdown)
    url = ""
    if args.comment:
        posted = github.sticky_comment(markdown, f"report:{args.model_name}", args.pr_number)
        if posted:
            url = posted.get("html_url", "")
            print(f"pull-request comment {posted['action']}: {url}")
    ghactions.set_outputs({"comment-url": url})
    return 0
