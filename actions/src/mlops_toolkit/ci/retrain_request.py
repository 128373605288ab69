"""retrain.yml's pull request: at most one open, not more often than the cool-down, and its body.

- A retrain pull request is one whose branch starts with `retrain/` or that carries the label
  `retrain` (a team may rename the branch; GitHub drops labels for tokens without triage rights).
- `decide`: no retrain while one of them is open; none while the newest one (open or closed,
  merged or not) was created less than the cool-down ago. Judged from GitHub's own list, not a
  state file: it is what the team sees, and it survives everything.
- `push_branch`: the new `.dvc` pointers committed on `retrain/<model>-<data md5[:8]>` and
  pushed to `origin` with the job's token in git's environment (never on a command line, never
  written to .git/config).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError, ToolkitError
from .github import GitHub, PullRequest, marker

BRANCH_PREFIX = "retrain/"
LABEL = "retrain"
MARKER = marker("retrain")
TEMPLATES = Path(__file__).with_name("templates")  # retrain_pr.md.j2, package data
MAX_BODY = 60_000  # GitHub refuses a body over 65,536 characters
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


@dataclass(frozen=True)
class Decision:
    due: bool
    reason: str
    blocking: str = ""  # the pull request that holds the retrain back (its URL)


def is_retrain(pull: PullRequest | dict[str, Any]) -> bool:
    ref = str((pull.get("head") or {}).get("ref", ""))
    labels = {str(lb.get("name", "")) for lb in pull.get("labels") or []}
    return ref.startswith(BRANCH_PREFIX) or LABEL in labels


def decide(github: GitHub, cooldown_s: float, now: float) -> Decision:
    """Whether a retrain may open a pull request now."""
    for pull in github.pull_requests("open"):
        if is_retrain(pull):
            return Decision(
                False, f"retrain pull request #{pull['number']} is open", pull["html_url"]
            )
    horizon = now - cooldown_s
    for pull in github.pull_requests("all"):  # newest first: stop past the cool-down
        created = _epoch(pull.get("created_at", ""))
        if created < horizon:
            break
        if is_retrain(pull):
            after = _iso(created + cooldown_s)
            return Decision(
                False,
                f"cooling down: retrain pull request #{pull['number']} was opened at "
                f"{_iso(created)}; the next may open after {after}",
                pull["html_url"],
            )
    return Decision(True, "no retrain pull request open or within the cool-down")


def branch_name(model_name: str, data_md5: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-.") or "model"
    return f"{BRANCH_PREFIX}{slug}-{data_md5[:8]}"


def push_branch(
    cwd: Path,
    *,
    branch: str,
    paths: Iterable[str],
    message: str,
    remote: str = "origin",
    token: str = "",
    server_url: str = "https://github.com",
) -> str:
    """Commit `paths` on a new branch from HEAD and push it; returns the commit's SHA."""
    git = _git(cwd, token, server_url)
    git("checkout", "-B", branch)
    git("add", "--", *paths)
    if not git("diff", "--cached", "--name-only").strip():
        raise InputError(f"nothing to commit on {branch}: {', '.join(paths)} unchanged")
    git("-c", f"user.name={BOT[0]}", "-c", f"user.email={BOT[1]}", "commit", "-q", "-m", message)
    sha = git("rev-parse", "HEAD").strip()
    # --force: the branch is this workflow's own; one left by a closed retrain is replaced.
    git("push", "--force", "-q", remote, f"HEAD:refs/heads/{branch}")
    return sha


def _git(cwd: Path, token: str, server_url: str) -> Callable[..., str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if token:  # as actions/checkout does, but in the environment of these processes only
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{server_url.rstrip('/')}/.extraheader",
                "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
            }
        )

    def run(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            why = (lines[-1] if lines else f"exit {done.returncode}").strip()
            raise ToolkitError(f"git {args[0] if args[0] != '-c' else 'commit'}: {why[:300]}")
        return done.stdout

    return run


# --- the pull request's text -------------------------------------------------------------------


def title(model_name: str, rows_added: int, alert: dict[str, Any]) -> str:
    why = alert.get("alert") or "by hand"
    return f"Retrain {model_name} on {rows_added} labelled production row(s) ({why})"


def body(
    *,
    model_name: str,
    alert: dict[str, Any],
    data: dict[str, Any],
    gate_report: str,
    gate_passed: bool | None,
    run_url: str = "",
) -> str:
    """The pull request's body: why (the alert), what changed (the data), the gate's report;
    laid out by templates/retrain_pr.md.j2."""
    from ..core import templates  # jinja2 on the first render only: `--help` stays instant

    reason = alert.get("reason") or alert.get("summary")  # workflow_dispatch: its inputs

    # The folder's environment is shared with ci/markdown.py: the values come ready-made (no
    # filter of ours), so neither module's filters can shadow the other's.
    text = templates.render(
        TEMPLATES,
        "retrain_pr.md.j2",
        marker=MARKER,
        model_name=model_name,
        alert_rows=_alert_rows(alert),
        reason=_cell(reason) if reason else "",
        data=_data_facts(data),
        gate_report=gate_report.strip(),
        gate_passed=gate_passed,
        run_url=run_url,
    )
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - 200] + "\n\n_(cut: the whole report is in the run's artifacts)_\n"
    return text


def _alert_rows(alert: dict[str, Any]) -> list[tuple[str, str]]:
    """The alert's facts as table cells; none for a run started by hand."""
    if not alert.get("alert"):
        return []
    rows = [
        ("alert", alert.get("alert")),
        ("model version", alert.get("model_version")),
        ("environment", alert.get("environment")),
        ("severity", alert.get("severity")),
        ("summary", alert.get("summary")),
        ("firing since", alert.get("starts_at")),
        ("fingerprint", alert.get("fingerprint")),
        ("source", alert.get("url")),
    ]
    return [(key, _cell(value)) for key, value in rows if value]


def _data_facts(data: dict[str, Any]) -> dict[str, Any]:
    """retrain-data's summary as the body shows it: dates in UTC, files as inline code."""
    return {
        "rows_added": data.get("rows_added", 0),
        "data": data.get("data", "?"),
        "rows_before": data.get("rows_before", 0),
        "already": data.get("already", 0),
        "label_from": _iso(data.get("label_from")),
        "label_to": _iso(data.get("label_to")),
        "scored_from": _iso(data.get("scored_from")),
        "scored_to": _iso(data.get("scored_to")),
        "dvc_files": _codes(data.get("dvc_files", [])),
        "left_empty": _codes(data.get("left_empty") or []),
    }


def _codes(items: Iterable[Any]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def _cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")[:500]


def _iso(epoch: Any) -> str:
    if epoch in (None, ""):
        return "?"
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ToolkitError(f"GitHub answered a pull request's created_at {text!r}") from None


def alert_payload(text: str) -> dict[str, Any]:
    """The repository_dispatch's client_payload (JSON; empty for a run started by hand)."""
    if not text.strip() or text.strip() == "null":
        return {}
    try:
        payload = json.loads(text)
    except ValueError:
        raise InputError("--alert is not JSON (the event's client_payload)") from None
    if not isinstance(payload, dict):
        raise InputError("--alert is not a JSON object (the event's client_payload)")
    return payload
