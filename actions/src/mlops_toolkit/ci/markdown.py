"""Markdown reports for the job summary and the pull-request comment."""

from __future__ import annotations

import math


def _f(value: object, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _ci(pair: list | tuple | None, signed: bool = False) -> str:
    if not pair:
        return "n/a"
    return f"[{_f(pair[0], signed)}, {_f(pair[1], signed)}]"


def gate_markdown(verdict: dict, title: str = "Model gate") -> str:
    icon = "✅" if verdict["passed"] else "❌"
    state = "passed" if verdict["passed"] else "failed"
    lines = [f"## {icon} {title}: {state}", ""]
    cand = verdict["candidate"]
    prod = verdict.get("production")
    lines.append(f"- Candidate: `{cand['uri']}`")
    if prod:
        lines.append(f"- Production: `{prod['uri']}` (version {prod['version']})")
    if verdict["mode"] == "bootstrap":
        lines.append(
            "- **Bootstrap mode**: no model has the `production` alias yet, so only the "
            "absolute thresholds apply."
        )
    lines.append(f"- Holdout rows: {verdict['rows']:,}")
    if verdict.get("reason"):
        lines += ["", f"**Reason:** {verdict['reason']}", ""]
    boot = verdict["bootstrap"]
    level = f"{boot['confidence']:.0%}"
    lines += ["", f"**Decision rule:** pass when {verdict['decision_rule']}.", ""]
    if verdict["metrics"]:
        compare = prod is not None and verdict["mode"] == "compare"
        head = "| metric | candidate | " + (
            f"production | improvement | {level} CI of improvement |"
            if compare
            else f"{level} CI |"
        )
        lines += [head, "|---|---:|" + ("---:|---:|---:|" if compare else "---:|")]
        for name, m in verdict["metrics"].items():
            mark = " (primary)" if name == verdict["primary_metric"] else ""
            if compare:
                lines.append(
                    f"| {name}{mark} | {_f(m['candidate'])} | {_f(m['production'])} | "
                    f"{_f(m['improvement'], True)} | {_ci(m['improvement_ci'], True)} |"
                )
            else:
                lines.append(f"| {name}{mark} | {_f(m['candidate'])} | {_ci(m['candidate_ci'])} |")
        lines += [
            "",
            (
                "Improvement is oriented so that positive means better "
                f"({verdict['direction']} {verdict['primary_metric']}). Paired bootstrap: "
                f"{boot['resamples']} resamples, seed {boot['seed']}, both models scored on the "
                "same rows in the same process."
            ),
            "",
        ]
    if verdict["checks"]:
        lines += ["| check | value | result |", "|---|---:|---|"]
        for c in verdict["checks"]:
            lines.append(
                f"| {c['name']} | {_f(c['value'], '≥ -' in c['name'])} | "
                f"{'pass' if c['passed'] else '**FAIL**'} |"
            )
    return "\n".join(lines) + "\n"


def validation_markdown(report: dict, max_examples: int = 5) -> str:
    ok = report.get("success")
    icon = "✅" if ok else "❌"
    lines = [
        f"## {icon} Data validation: {'passed' if ok else 'failed'}",
        "",
        f"- Data: `{report.get('data')}`  Suite: `{report.get('suite')}`",
        (
            f"- Rows: {report.get('rows', 'n/a')}; expectations evaluated "
            f"{report.get('evaluated', 'n/a')}, successful {report.get('successful', 'n/a')}, "
            f"failed {report.get('failed', 'n/a')}"
        ),
        "",
    ]
    failures = report.get("failures") or []
    if failures:
        lines += ["| expectation | column | unexpected | what is wrong |", "|---|---|---:|---|"]
        for f in failures:
            pct = f.get("unexpected_percent")
            count = f.get("unexpected_count")
            amount = "n/a" if count is None else f"{count}"
            if pct is not None:
                amount += f" ({pct:.2f}%)"
            lines.append(
                f"| `{f.get('expectation')}` | {f.get('column') or '—'} | {amount} | "
                f"{_what(f, max_examples)} |"
            )
    return "\n".join(lines) + "\n"


def _what(failure: dict, max_examples: int) -> str:
    """The project's own readable line (values, rows, missing columns), else the examples."""
    message = failure.get("message")
    if message:
        prefix = f"{failure.get('expectation')}"
        detail = (
            message.split(": ", 1)[1] if message.startswith(prefix) and ": " in message else message
        )
        return detail.replace("|", "\\|")
    examples = ", ".join(f"`{e!r}`" for e in (failure.get("examples") or [])[:max_examples])
    return f"examples: {examples}" if examples else "—"


# The workflows' step ids (pull-request.yml, release.yml) under the names people use for them.
STEP_NAMES = {"gate-config": "check-gate", "prepare-data": "prepare"}
# What to do next, by the cause line's words first (the most precise), then by the step.
CAUSE_HINTS = (
    ("unknown key", "correct the key in the file named above (its known keys are listed)"),
    ("No columns to parse", "the data file is empty: commit a CSV with a header and rows"),
    (
        "Checkout failed for following targets",
        "the data is not on the DVC remote: `dvc push` it from where it was `dvc add`ed",
    ),
)
# A tracking server that is gone, in the words of the commands and of MLflow's HTTP client.
TRACKING_LOST = ("tracking server", "Max retries exceeded", "Connection refused")
TRACKING_HINT = (
    "check vars.MLFLOW_TRACKING_URI and that the server answers (the doctor step's rows)"
)
STEP_HINTS = {
    "pull-data": "check vars.DVC_REMOTE_URL and the remote's credentials (docs/setup.md)",
    "check-gate": "fix gate.yaml or params.yaml; the project's `check-gate` checks them locally",
    "prepare": "reproduce it locally with `make pipeline` (data.source, split in params.yaml)",
    "validate": "fix the data or expectations/dataset.json; the validation table says which rows",
    "train": "reproduce it locally with `make pipeline` (model, train in params.yaml)",
    "evaluate": "reproduce it locally with `make pipeline` (evaluate in params.yaml)",
    "gate": "check gate.yaml and the holdout; the gate's table below says which check",
    "register": "check the token's permission to write to the model registry",
    "build": "reproduce it locally with `docker build .`; the log names the failing layer",
    "deploy": "the previous version keeps serving; see the log, then rerun or roll back",
}


def fix_hint(step: str, line: str) -> str:
    """A known next step for this failure, or '' (no guess is better than a wrong one)."""
    for words, hint in CAUSE_HINTS:
        if words in line:
            return hint
    if any(words in line for words in TRACKING_LOST):
        return TRACKING_HINT
    return STEP_HINTS.get(STEP_NAMES.get(step, step), "")


def failure_markdown(step: str, line: str, log_url: str = "") -> str:
    """The failed step, its cause line (quoted as the command wrote it), the fix, the log."""
    quoted = line.replace("`", "'") or "(no error line recorded: see the job's log)"
    parts = [f"## Failed at step `{step}`", "", f"```\n{quoted}\n```", ""]
    hint = fix_hint(step, line)
    if hint:
        parts += [f"**Fix:** {hint}", ""]
    if log_url:
        parts += [f"Log: [the run's log]({log_url})", ""]
    return "\n".join(parts)


def pull_request_markdown(
    model_name: str,
    validation: dict | None,
    verdict: dict | None,
    artifact_url: str = "",
    version: str = "",
    failure: tuple[str, str] | None = None,
    log_url: str = "",
) -> str:
    """The one report comment of a pull request: validation, gate, registration, artifacts.

    `failure` is (the step that failed, its first error line), when a step before the report
    failed: named first, so a red job never reads as a gate that merely "did not run".
    """
    parts = [f"# Model report — {model_name}", ""]
    if failure is not None:
        parts.append(failure_markdown(*failure, log_url=log_url))
    if version:
        parts.append(f"Registered as version **{version}** (alias `challenger`).\n")
    elif verdict is not None:
        parts.append("Not registered.\n")
    if validation is not None:
        parts.append(validation_markdown(validation))
    else:
        parts.append("## Data validation: no report\n")
    if verdict is not None:
        parts.append(gate_markdown(verdict))
    else:
        parts.append("## Model gate: not run\n")
    if artifact_url:
        parts.append(f"Plots and reports: [workflow artifact]({artifact_url})\n")
    return "\n".join(parts)


def fork_markdown(model_name: str, head: str, number: int | None) -> str:
    """The report comment of a fork's pull request: no model job ran, and how to get one.

    Posted by the pull_request_target job (fork-pull-request.yml): on `pull_request` a fork's
    token is read-only, so the model job could not post it even if it ran."""
    fork = f" (`{head.replace('`', '')}`)" if head else ""
    branch = f"fork-pr-{number}" if number else "fork-pr-N"
    checkout = f"gh pr checkout {number}" if number else "gh pr checkout N"
    return "\n".join(
        [
            f"# Model report — {model_name}",
            "",
            f"This pull request comes from a fork{fork}: the model job (validate the data, "
            "train, gate, register) does not run on the team's runner, and the fork's code "
            "never sees the team's secrets. The unit tests still run on a GitHub-hosted runner.",
            "",
            "A maintainer can train this change: review it, push it to a branch of this "
            "repository and open a pull request from there, where the model job runs:",
            "",
            "```bash",
            f"{checkout} && git push origin HEAD:refs/heads/{branch}",
            f"gh pr create --head {branch} --fill",
            "```",
            "",
        ]
    )


def release_markdown(
    model_name: str, failure: tuple[str, str] | None, version: str = "", log_url: str = ""
) -> str:
    """A release's report (its job summary and the merged pull request's comment, kept apart
    from the pull request's model report): the step that failed, its cause, the fix, the log."""
    parts = [f"# Release — {model_name}", ""]
    if version:
        parts.append(f"Model version **{version}**.\n")
    if failure is not None:
        parts.append(failure_markdown(*failure, log_url=log_url))
    else:
        parts.append("No step failed.\n")
    return "\n".join(parts)
