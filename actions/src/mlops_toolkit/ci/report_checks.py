"""The gate report's responsible-AI section: slices and robustness (gate.json's `responsible`).

Rendered into the gate's Markdown (the job summary and the pull request's comment) through the
templates' `responsible_ai` global (ci/markdown.py); empty when gate.yaml asks for neither check.
The rules themselves are rows of the gate's checks table; here each failed one is one line
saying what was seen (the slice, its value, the gap), then the slice table and the notes.
"""

from __future__ import annotations

from pathlib import Path

from .cells import cell, interval, num

TEMPLATES = Path(__file__).with_name("templates")  # responsible.md.j2, package data


def section(verdict: dict) -> str:
    """The Markdown section (templates/responsible.md.j2), or '' when the verdict has no
    responsible-AI checks."""
    checks = verdict.get("responsible")
    if not checks:
        return ""
    from ..core import templates  # jinja2 on the first render only: `--help` stays instant

    # The folder's environment is shared with ci/markdown.py: the values come ready-made (no
    # filter of ours), so a direct call needs none of the gate report's filters either.
    return templates.render(
        TEMPLATES,
        "responsible.md.j2",
        level=f"{verdict.get('bootstrap', {}).get('confidence', 0.95):.0%}",
        failed=[cell(c["detail"] or c["name"]) for c in checks["checks"] if not c["passed"]],
        slices=[_slice_row(row) for row in checks["slices"]],
        notes=[cell(note) for note in checks["notes"]],
    )


def _slice_row(row: dict) -> dict:
    return {
        "column": cell(row["column"]),
        "slice": cell(row["slice"]),
        "rows": row["rows"],
        "judged": row["judged"],
        "metric": row["metric"],
        "value": num(row["value"]),
        "ci": interval(row["ci"]),
    }
