"""The gate report's responsible-AI section: slices and robustness (gate.json's `responsible`).

Rendered into the gate's Markdown (the job summary and the pull request's comment) through the
templates' `responsible_ai` global (ci/markdown.py); empty when gate.yaml asks for neither check.
The rules themselves are rows of the gate's checks table; here each failed one is one line
saying what was seen (the slice, its value, the gap), then the slice table and the notes.
"""

from __future__ import annotations

import math


def _num(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"


def _cell(value: object) -> str:
    return f"{value}".replace("|", "\\|")


def section(verdict: dict) -> str:
    """The Markdown section, or '' when the verdict has no responsible-AI checks."""
    checks = verdict.get("responsible")
    if not checks:
        return ""
    level = f"{verdict.get('bootstrap', {}).get('confidence', 0.95):.0%}"
    lines = ["", "### Responsible-AI checks", ""]
    failed = [c for c in checks["checks"] if not c["passed"]]
    lines += [f"**FAILED:** {_cell(c['detail'] or c['name'])}" for c in failed]
    if failed:
        lines.append("")
    if checks["slices"]:
        lines += [f"| slice | rows | metric | value | {level} CI |", "|---|---:|---|---:|---:|"]
        for row in checks["slices"]:
            ci = "n/a" if not row["ci"] else f"[{_num(row['ci'][0])}, {_num(row['ci'][1])}]"
            rows = f"{row['rows']:,}" + ("" if row["judged"] else " (not judged)")
            lines.append(
                f"| {_cell(row['column'])} = {_cell(row['slice'])} | {rows} | {row['metric']} "
                f"| {_num(row['value'])} | {ci} |"
            )
        lines.append("")
    lines += [f"- {_cell(note)}" for note in checks["notes"]]
    return "\n".join(lines) + "\n"
