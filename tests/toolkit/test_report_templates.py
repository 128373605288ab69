"""The reports' Jinja2 templates: strict, Markdown unescaped, HTML escaped (the wheel carries
them: tests/serving/test_image.py)."""

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


def test_drift_html_escapes_the_datas_column_names_and_markdown_does_not():
    from mlops_toolkit.monitoring import drift

    row = {"kind": "numeric", "psi": 0.5, "test": "ks", "statistic": 0.2, "p_value": 1e-5}
    report = {
        "drift_detected": True,
        "drifted_features": ["<b>income</b>"],
        "features": {"<b>income</b>": {**row, "drifted": True}},
        "rows": {"current": 10, "reference": 20},
        "generated_at": "2026-12-04T11:00:00+00:00",
        "thresholds": {"psi": 0.2, "p_value": 0.05},
    }
    html = drift.to_html(report)
    assert "<td>&lt;b&gt;income&lt;/b&gt;</td>" in html and "<b>income" not in html
    assert "<tr class=drift>" in html  # the template's own markup is not escaped
    assert "| <b>income</b> | numeric | 0.5000 | ks |" in drift.to_markdown(report)


def test_every_template_is_package_data():
    """A template not matched by actions/pyproject.toml's package-data renders from a checkout
    and fails from the wheel (the actions' install, the serving image)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import mlops_toolkit

    src = Path(mlops_toolkit.__file__).parent
    pyproject = src.parents[1] / "pyproject.toml"
    shipped = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    found = sorted(src.rglob("*.j2"))
    assert {p.parent.parent.name for p in found} >= {"ci", "registry", "tuning", "commands"}
    missing = []
    for template in found:
        package = ".".join(template.parent.parent.relative_to(src.parent).parts)
        inside = template.relative_to(template.parent.parent).as_posix()
        if not any(fnmatch.fnmatch(inside, glob) for glob in shipped.get(package, [])):
            missing.append(inside if package == "mlops_toolkit" else f"{package}: {inside}")
    assert missing == []
