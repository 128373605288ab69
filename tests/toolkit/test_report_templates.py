"""The Markdown reports' Jinja2 templates render strictly (the wheel carries them: test_image)."""

from __future__ import annotations

import pytest
from mlops_toolkit.ci import markdown as report


def test_a_missing_key_fails_instead_of_printing_nothing():
    """StrictUndefined: a renamed key of the gate's verdict is an error, not an empty cell."""
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="bootstrap"):
        report.gate_markdown({"passed": True, "candidate": {"uri": "u"}, "mode": "compare"})


def test_a_pipe_in_a_finding_stays_inside_its_cell():
    text = report.validation_markdown(
        {"success": False, "failures": [{"expectation": "e", "message": "e: a | b"}]}
    )
    row = text.strip().splitlines()[-1]
    assert row == "| `e` | — | n/a | a \\| b |"
