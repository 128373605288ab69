"""What goes into a cell of the reports' Markdown tables: figures to four places ("n/a" for
none), intervals, and text whose `|` would otherwise end the cell. One set of formats for the
gate report (ci/markdown.py) and its responsible-AI section (ci/report_checks.py)."""

from __future__ import annotations

import math


def num(value: object, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def interval(pair: list | tuple | None, signed: bool = False) -> str:
    if not pair:
        return "n/a"
    return f"[{num(pair[0], signed)}, {num(pair[1], signed)}]"


def cell(value: object) -> str:
    """A value inside a Markdown table cell: a `|` would end the cell."""
    return f"{value}".replace("|", "\\|")
