"""`report`: one sticky pull-request comment with every result of the pipeline."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .. import contracts, names
from ..ci import actions as ghactions
from ..core import annotations
from ..errors import InputError
from ..tracking import open_runs as open_run
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="one sticky pull-request comment with every result")
    options.model_name(p)
    p.add_argument("--validation", default="", help="reports/validation.json")
    p.add_argument("--gate", default="", help="the gate's JSON verdict")
    p.add_argument("--artifact-url", default="")
    p.add_argument("--version", default="", help="the registered version, if any")
    p.add_argument("--passport", default="", help="the version's model passport (register's)")
    p.add_argument("--pr-number", default=None)
    options.flag(p, "--comment", True, "post the sticky comment (only on a pull request)")
    p.add_argument(
        "--steps",
        default="",
        help="the job's steps context as JSON (toJSON(steps)): a failed step is named",
    )
    p.add_argument(
        "--failure-log",
        default=os.environ.get(names.ENV_FAILURE_LOG, ""),
        help=f"failed commands' lines; the first is quoted (default: ${names.ENV_FAILURE_LOG})",
    )
    p.add_argument(
        "--fork",
        action="store_true",
        help="a fork's pull request: say that the model job does not run, and how to get it",
    )
    p.add_argument(
        "--orphan-wait-s",
        type=float,
        default=ORPHAN_WAIT_S,
        help="how long a run left RUNNING waits for its tracking server to come back "
        "(default: %(default)s)",
    )
    p.set_defaults(func=run)


# A server that died mid-step (the cause of an orphan) is often back within a minute, restarted
# by its supervisor: the report waits that long to end the run, never longer.
ORPHAN_WAIT_S = 90.0
ORPHAN_RETRY_S = 3.0


def end_orphan(wait_s: float) -> str:
    """open_run.end_orphan, again while the server does not answer (it keeps the record then)
    and `wait_s` has not passed: the job's checkout, and the record, are gone after this step."""
    return open_run.end_orphan(wait_s=wait_s, retry_s=ORPHAN_RETRY_S)


def _read(
    contract: type[contracts.ValidationReport | contracts.GateFile], path: str
) -> dict | None:
    """A step's result file as its contract reads it; None when the step did not run (no file)."""
    if not path or not Path(path).is_file():
        return None
    return contract.read(path).to_dict()


def failed_step(steps_json: str) -> str | None:
    """The id of the step whose outcome was a failure (the job stops after the first)."""
    if not steps_json.strip():
        return None
    try:
        steps = json.loads(steps_json)
    except ValueError as exc:
        raise InputError("--steps is not valid JSON (pass toJSON(steps))") from exc
    if not isinstance(steps, dict):
        raise InputError("--steps must be a JSON object of step id -> result")
    failed = [name for name, step in steps.items() if (step or {}).get("outcome") == "failure"]
    return failed[0] if failed else None


def first_failure_line(path: str) -> str:
    """The first line a failed command recorded: the root cause, before any knock-on error.

    An empty path means $MLOPS_FAILURE_LOG: the action passes its input even when empty, and
    act evaluates `env.*` inside a composite action as empty (nektos/act#1231), which is how
    comments lost the cause line the project's command had written.
    """
    path = path or os.environ.get(names.ENV_FAILURE_LOG, "")
    if not path or not Path(path).is_file():
        return ""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return _masked(next((line.strip() for line in lines if line.strip()), ""))


def _masked(line: str) -> str:
    """Without credentials: the commands mask their lines, this guards what else wrote there
    (redact: every URL's userinfo and secret parameters; then the known tracking secrets)."""
    from ..tracking.probe import scrub_known_secrets

    return scrub_known_secrets(line)


def run_log_url() -> str:
    """This workflow run's page on GitHub (its log), or '' off GitHub Actions."""
    repository, run_id = (
        os.environ.get(names.ENV_GITHUB_REPOSITORY),
        os.environ.get("GITHUB_RUN_ID"),
    )
    if not repository or not run_id:
        return ""
    server = os.environ.get(names.ENV_GITHUB_SERVER_URL) or "https://github.com"
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


def _annotate(step: str, line: str) -> None:
    """A `::error` annotation on the run (or a plain line off GitHub Actions)."""
    line = line or "no error line recorded: see the step's log"
    if os.environ.get("GITHUB_ACTIONS") != "true":
        print(f"step {step} failed: {line}", file=sys.stderr)
        return

    def escape(text: str, *extra: str) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        for char in extra:
            text = text.replace(char, f"%{ord(char):02X}")
        return text

    print(f"::error title={escape(f'step {step} failed', ':', ',')}::{escape(line)}")


def fork_notice(args: argparse.Namespace) -> int:
    """The sticky comment of a fork's pull request, from a job that never runs the fork's code."""
    from ..ci import github
    from ..ci import markdown as report

    number = github.pull_request_number(args.pr_number)
    markdown = report.fork_markdown(args.model_name, github.pull_request_head(), number)
    ghactions.add_summary(markdown)
    url = ""
    if args.comment:
        posted = github.sticky_comment(markdown, f"report:{args.model_name}", number)
        if posted:
            url = posted.get("html_url", "")
            print(f"pull-request comment {posted['action']}: {url}")
    ghactions.set_outputs({"comment-url": url})
    return 0


def run(args: argparse.Namespace) -> int:
    from ..ci import github
    from ..ci import markdown as report

    if args.fork:
        return fork_notice(args)
    step = failed_step(args.steps)
    failure = None
    if step is not None:
        failure = (step, first_failure_line(args.failure_log))
        _annotate(*failure)
    # A release (the push of a merge) reports on the pull request it merged, in a comment of
    # its own: the pull request's model report stays as it was.
    release = os.environ.get("GITHUB_EVENT_NAME") == "push"
    if release:
        markdown = report.release_markdown(args.model_name, failure, args.version, run_log_url())
    else:
        markdown = report.pull_request_markdown(
            args.model_name,
            _read(contracts.ValidationReport, args.validation),
            _read(contracts.GateFile, args.gate),
            args.artifact_url,
            args.version,
            failure,
            run_log_url(),
            args.passport,
        )
    ended = end_orphan(args.orphan_wait_s)  # the checkout is gone after this step: now or never
    if ended:
        annotations.warning(ended)
        markdown += f"\n{ended}.\n"
    ghactions.add_summary(markdown)
    url = ""
    if args.comment:
        key = f"{'release' if release else 'report'}:{args.model_name}"
        posted = github.sticky_comment(markdown, key, args.pr_number)
        if posted:
            url = posted.get("html_url", "")
            print(f"pull-request comment {posted['action']}: {url}")
    ghactions.set_outputs({"comment-url": url})
    return 0
