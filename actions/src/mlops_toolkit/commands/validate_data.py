"""`validate-data`: run the project's data validation and publish its report."""

from __future__ import annotations

import argparse

from .. import names
from ..ci import actions as ghactions
from ..errors import Rejected
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("validate-data", help="run the project's data validation")
    options.project_command(p)
    p.add_argument("--report", default=names.VALIDATION_JSON)
    options.flag(p, "--fail-on-invalid", True, "exit 2 when the data are invalid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import markdown as report
    from ..data import validation as validate

    result = validate.run(
        args.command, args.working_directory, args.report, options.minutes(args.timeout_minutes)
    )
    ghactions.set_outputs(
        {"passed": result["passed"], "report": result["report"], "html": result["html"]}
    )
    ghactions.add_summary(report.validation_markdown(result["data"]))
    if not result["passed"]:
        failed = result["data"].get("failed", "?")
        message = f"data validation failed: {failed} expectation(s) not met"
        if args.fail_on_invalid:
            raise Rejected(message)
        print(message)
    return 0
