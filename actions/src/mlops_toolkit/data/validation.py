"""validate-data: run the project's validation and read its report (reports/validation.json)."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.process import run_command
from ..errors import ToolkitError

REQUIRED = ("success", "evaluated", "failed", "failures")


def read_report(path: Path) -> dict:
    if not path.is_file():
        raise ToolkitError(f"the validation command wrote no report at {path}")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ToolkitError(f"validation report {path} is not valid JSON") from exc
    missing = [k for k in REQUIRED if k not in report]
    if not isinstance(report, dict) or missing:
        raise ToolkitError(f"validation report {path} lacks {', '.join(missing)}")
    return report


def run(command: str, workdir: str, report_path: str, timeout_s: float | None) -> dict:
    """Run the validation; returns {passed, report, html, exit_code, data}."""
    base = Path(workdir)
    report_file = base / report_path
    if report_file.exists():
        report_file.unlink()  # never read a stale report from an earlier run
    code = run_command(command, base, timeout_s=timeout_s, what="validation command")
    report = read_report(report_file)
    passed = bool(report["success"]) and code == 0
    if bool(report["success"]) and code != 0:
        raise ToolkitError(f"validation command exited {code} although its report says success")
    html = report.get("html") or ""
    if html and not Path(html).is_absolute():
        html = str(base / html)
    return {
        "passed": passed,
        "report": str(report_file),
        "html": html,
        "exit_code": code,
        "data": report,
    }
