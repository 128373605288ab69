"""`drift-issue`: open, or update, the repository's one open drift issue from a drift report.

The drift workflow runs it when `<project> drift` exits 3. The issue is found by a hidden marker
in its body (not by its title, which people may edit), so a daily run updates the same issue and
comments on it instead of opening a new one every day. The kind found (data drift, concept drift
or both: drift.json's `kinds`, contracts.LiveDriftReport, beside the report) is in the new
issue's title and in the comment on an open one.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import names

KEY = "drift-report"
LABEL = "drift"
# The marker earlier generated projects wrote: their open issue is still found and updated.
LEGACY_TAG = "<!-- mlops:drift-report -->"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("drift-issue", help="open or update the one open drift issue")
    p.add_argument("--report", default="reports/drift/drift.md", help="the Markdown drift report")
    p.add_argument(
        "--summary",
        help="the drift.json that says which kind of drift (default: beside --report)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import github
    from ..errors import InputError

    try:
        with open(args.report, encoding="utf-8") as fh:
            report = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read the drift report {args.report}: {exc.strerror}") from None
    found = kinds(Path(args.summary) if args.summary else Path(args.report).with_suffix(".json"))
    run_url = _run_url()
    body = report + (f"\nLast checked by {run_url}\n" if run_url else "")
    issue = github.sticky_issue(
        body,
        KEY,
        title=f"{found} detected",
        label=LABEL,
        comment=f"{found} is still detected" + (f": {run_url}" if run_url else "."),
        tag=LEGACY_TAG,
    )
    what = "opened" if issue["action"] == "created" else "updated"
    print(f"{what} drift issue #{issue['number']}: {found.lower()}")
    return 0


def kinds(summary: Path) -> str:
    """'Data drift', 'Concept drift' or 'Data and concept drift' from the report's JSON
    (contracts.read_drift); a report of a file of prediction logs (a DataDriftReport), or no
    JSON beside the Markdown, is data drift. A JSON that is no drift report is one line."""
    from ..contracts import LiveDriftReport, read_drift
    from ..monitoring.drift_live import DATA, kinds_title

    report = read_drift(summary) if summary.is_file() else None
    found = report.kinds if isinstance(report, LiveDriftReport) else []
    return kinds_title(found or [DATA])


def _run_url() -> str:
    env = os.environ
    repository, run_id = env.get(names.ENV_GITHUB_REPOSITORY), env.get("GITHUB_RUN_ID")
    if not (repository and run_id):
        return ""
    server = env.get(names.ENV_GITHUB_SERVER_URL, "https://github.com")
    return f"{server}/{repository}/actions/runs/{run_id}"
