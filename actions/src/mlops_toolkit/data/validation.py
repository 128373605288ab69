"""validate-data: run the project's validation and read its report (reports/validation.json)."""

from __future__ import annotations

from pathlib import Path

from .. import contracts
from ..core.process import run_command
from ..errors import ToolkitError


def read_report(path: Path) -> dict:
    """The report as the contract reads it (an older project's unversioned one too)."""
    if not path.is_file():
        raise ToolkitError(f"the validation command wrote no report at {path}")
    return contracts.ValidationReport.read(path).to_dict()


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
