"""`retrain-pr`: retrain.yml's pull request, at most one open and one per cool-down.

`retrain-pr check`: whether a retrain may run now (output `due`): no retrain pull request open
(branch `retrain/...` or label `retrain`), none opened within the cool-down. Run first, on a
cheap runner, so a refused retrain never holds the GPU machine.

`retrain-pr open`: checks again (a retrain started meanwhile), commits the new `.dvc` pointers
that `retrain-data` wrote on `retrain/<model>-<data md5>`, pushes the data to the DVC remote and
the branch to origin, and opens the pull request: the alert that caused it, the data added, the
gate's report. A candidate the gate rejected opens a draft.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .. import names
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("retrain-pr", help="retrain.yml's one pull request (check, open)")
    p.add_argument(
        "step", choices=("check", "open"), help="check: may a retrain run; open: open it"
    )
    options.model_name(p)
    p.add_argument(
        "--cooldown", default="24h", help="least time between two retrain PRs (e.g. 24h)"
    )
    p.add_argument(
        "--alert",
        default="",
        help="the repository_dispatch's client_payload as JSON (empty: by hand)",
    )
    p.add_argument(
        "--data-summary",
        default="",
        help="open: retrain-data's JSON (default: reports/retrain/data.json)",
    )
    p.add_argument("--gate-report", default="", help="open: the gate's Markdown report")
    p.add_argument(
        "--gate-verdict",
        default="",
        help="open: the gate's JSON verdict (a rejection opens a draft)",
    )
    p.add_argument(
        "--base", default="", help="open: the branch to merge into (default: $GITHUB_REF_NAME)"
    )
    p.add_argument("--remote", default="origin", help="open: the git remote to push the branch to")
    options.flag(p, "--dvc-push", True, "open: push the new data version to the DVC remote")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import actions, github
    from ..ci import retrain_request as pr
    from ..errors import InputError
    from ..monitoring.durations import seconds

    cooldown = seconds(args.cooldown, "--cooldown")
    alert = pr.alert_payload(args.alert)
    named = str(alert.get("model_name") or "")
    if named and named != args.model_name:
        raise InputError(
            f"the alert is for model {named}; this project's model is {args.model_name}"
        )
    client = github.GitHub.from_env()
    decision = pr.decide(client, cooldown, time.time())
    if not decision.due:
        _notice(f"no retrain: {decision.reason} ({decision.blocking})")
        actions.set_outputs({"due": "false", "reason": decision.reason, "opened": "false"})
        actions.add_summary(f"## Retrain\n\nNot now: {decision.reason} ({decision.blocking}).\n")
        return 0
    if args.step == "check":
        print(f"retrain due: {decision.reason}")
        actions.set_outputs({"due": "true", "reason": decision.reason})
        return 0
    return _open(args, client, alert)


def _open(args: argparse.Namespace, client, alert: dict) -> int:
    from ..ci import actions
    from ..ci import retrain_request as pr
    from ..contracts import RetrainDataFile

    data = RetrainDataFile.read(args.data_summary or None)
    cwd = Path.cwd()
    if args.dvc_push:
        _dvc_push(cwd, data.dvc_files)
    env = os.environ
    base = args.base or env.get(names.ENV_GITHUB_REF_NAME, "") or "main"
    branch = pr.branch_name(args.model_name, data.data_md5)
    title = pr.title(args.model_name, data.rows_added, alert)
    sha = pr.push_branch(
        cwd,
        branch=branch,
        paths=data.commit_paths,
        message=f"{title}\n\nNew data version {data.data_md5} of {data.data}.",
        remote=args.remote,
        token=env.get(names.ENV_GITHUB_TOKEN, ""),
        server_url=env.get(names.ENV_GITHUB_SERVER_URL, "https://github.com"),
    )
    passed = _gate_passed(args.gate_verdict)
    report = (
        Path(args.gate_report).read_text(encoding="utf-8") if _is_file(args.gate_report) else ""
    )
    body = pr.body(
        model_name=args.model_name,
        alert=alert,
        data=data.to_dict(),
        gate_report=report,
        gate_passed=passed,
        run_url=_run_url(),
    )
    pull = client.create_pull_request(
        title=title, head=branch, base=base, body=body, draft=passed is False
    )
    try:
        client.add_labels(int(pull["number"]), [pr.LABEL])
    except Exception as exc:  # the branch prefix identifies it too; a label is a convenience
        _notice(f"could not label #{pull['number']} {pr.LABEL!r}: {exc}")
    print(f"opened {pull['html_url']} from {branch} ({sha[:12]})")
    actions.set_outputs(
        {
            "due": "true",
            "opened": "true",
            "number": pull["number"],
            "url": pull["html_url"],
            "branch": branch,
            "sha": sha,
        }
    )
    actions.add_summary(f"## Retrain\n\nOpened {pull['html_url']} (`{branch}`).\n")
    return 0


def _dvc_push(cwd: Path, dvc_files: list[str]) -> None:
    """The new data version to the default DVC remote, before the branch that points at it."""
    from ..data import dvcremote
    from ..errors import InputError, ToolkitError

    remote = dvcremote.default_remote(cwd)
    if not remote:
        raise InputError(
            "no DVC remote: the new data version would live only on this runner "
            f"(set {names.ENV_DVC_REMOTE_URL} or a default remote in .dvc/config)"
        )
    try:
        dvcremote.push(cwd, dvc_files)
    except dvcremote.DvcFailed as exc:
        where = dvcremote.remote_url(cwd, remote)
        raise ToolkitError(f"dvc push to {remote} ({where}): {exc}") from None


def _gate_passed(path: str) -> bool | None:
    if not _is_file(path):
        return None
    from ..contracts import GateFile

    return GateFile.read(path).passed


def _is_file(path: str) -> bool:
    return bool(path) and Path(path).is_file()


def _run_url() -> str:
    env = os.environ
    repo, run_id = env.get(names.ENV_GITHUB_REPOSITORY), env.get(names.ENV_GITHUB_RUN_ID)
    if not (repo and run_id):
        return ""
    return (
        f"{env.get(names.ENV_GITHUB_SERVER_URL, 'https://github.com')}/{repo}/actions/runs/{run_id}"
    )


def _notice(line: str) -> None:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::notice title=retrain::{line}")
    else:
        print(line, file=sys.stderr)
