"""Markdown reports for the job summary and the pull-request comment.

The layout lives in Jinja2 templates (templates/*.md.j2, shipped as package data); this module
holds the hints the templates call (their number formats are ci/cells.py). jinja2 is imported
on first render, so `--help` never loads it."""

from __future__ import annotations

import functools
from pathlib import Path

from . import report_checks
from .cells import cell, interval, num

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def _templates():
    """The report templates (package data under templates/; core/templates.py), with the
    number formats and hints they call."""
    from ..core import templates

    env = templates.environment(TEMPLATES)
    env.filters.update(num=num, ci=interval, unexpected=_unexpected, what=_what)
    env.filters.update(missing_columns=missing_columns, row_failures=row_failures, cell=cell)
    env.globals["fix_hint"] = fix_hint
    env.globals["responsible_ai"] = report_checks.section  # slices, robustness (gate.json)
    return env


def _render(name: str, **context: object) -> str:
    return _templates().get_template(name).render(**context)


def gate_markdown(verdict: dict, title: str = "Model gate") -> str:
    return _render("gate.md.j2", verdict=verdict, title=title)


def validation_markdown(report: dict, max_examples: int = 5) -> str:
    return _render("validation.md.j2", report=report, max_examples=max_examples)


def missing_columns(report: dict) -> list[str]:
    """The suite's columns the data lacks: the report's list, or (a report written before it)
    the columns whose failures say so."""
    if report.get("missing_columns"):
        return list(report["missing_columns"])
    found: list[str] = []
    for failure in report.get("failures") or []:
        column = failure.get("column")
        if column and failure.get("error") == f"column {column} is not in the data":
            found += [] if column in found else [column]
    return found


def row_failures(report: dict) -> list[dict]:
    """The failures to list as rows: a missing column's are named once above the table."""
    missing = set(missing_columns(report))
    return [
        f
        for f in report.get("failures") or []
        if not (f.get("column") in missing and f.get("error", "").endswith("is not in the data"))
    ]


def _unexpected(failure: dict) -> str:
    count, pct = failure.get("unexpected_count"), failure.get("unexpected_percent")
    if count == 0:
        return "—"  # an aggregate or table check: no row was counted (not "0 (0.00%)")
    amount = "n/a" if count is None else f"{count}"
    return amount if pct is None else f"{amount} ({pct:.2f}%)"


def _what(failure: dict, max_examples: int) -> str:
    """The project's own readable line (values, rows, missing columns), else the examples."""
    message = failure.get("message")
    if message:
        prefix = f"{failure.get('expectation')}"
        detail = (
            message.split(": ", 1)[1] if message.startswith(prefix) and ": " in message else message
        )
        return cell(detail)
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
    return _render("failure.md.j2", step=step, line=line, log_url=log_url)


def pull_request_markdown(
    model_name: str,
    validation: dict | None,
    verdict: dict | None,
    artifact_url: str = "",
    version: str = "",
    failure: tuple[str, str] | None = None,
    log_url: str = "",
    passport: str = "",
) -> str:
    """The one report comment of a pull request: validation, gate, registration, artifacts.
    `passport`: the registered version's model passport (register's output: a URL in MLflow's
    UI, or its runs:/ artifact URI).

    `failure` is (the step that failed, its first error line), when a step before the report
    failed: named first, so a red job never reads as a gate that merely "did not run".
    """
    return _render(
        "pull_request.md.j2",
        model_name=model_name,
        validation=validation,
        verdict=verdict,
        artifact_url=artifact_url,
        version=version,
        failure=failure,
        log_url=log_url,
        passport=passport,
    )


def fork_markdown(model_name: str, head: str, number: int | None) -> str:
    """The report comment of a fork's pull request: no model job ran, and how to get one.

    Posted by the pull_request_target job (fork-pull-request.yml): on `pull_request` a fork's
    token is read-only, so the model job could not post it even if it ran."""
    return _render("fork.md.j2", model_name=model_name, head=head, number=number)


def release_markdown(
    model_name: str, failure: tuple[str, str] | None, version: str = "", log_url: str = ""
) -> str:
    """A release's report (its job summary and the merged pull request's comment, kept apart
    from the pull request's model report): the step that failed, its cause, the fix, the log."""
    return _render(
        "release.md.j2", model_name=model_name, failure=failure, version=version, log_url=log_url
    )
