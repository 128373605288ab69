"""infra/tracking/README.md tells a team what a laptop needs to check the server as CI does:
the names it gives are the ones the workflows pass and doctor reads, no more, no fewer."""

from __future__ import annotations

import re

from support.project import ROOT

PROJECT = ROOT / "{{cookiecutter.project_slug}}"
TOOLKIT = ROOT / "actions" / "src" / "mlops_toolkit"


def names_in(text: str) -> set[str]:
    """`NAME` or `NAME=value` in backticks."""
    return set(re.findall(r"`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`", text))


def test_the_laptop_check_names_what_the_workflows_pass_and_doctor_reads():
    readme = (PROJECT / "infra" / "tracking" / "README.md").read_text(encoding="utf-8")
    said = names_in(readme.split("## Users and CI", 1)[1])
    workflows = "".join(
        p.read_text(encoding="utf-8") for p in (PROJECT / ".github" / "workflows").glob("*.yml")
    )
    toolkit = "".join(p.read_text(encoding="utf-8") for p in TOOLKIT.rglob("*.py"))
    # The tracking settings of the workflows, all of them.
    tracking = set(re.findall(r"(?:vars|secrets)\.(MLFLOW_TRACKING_\w+)", workflows))
    assert tracking == {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    }
    assert tracking <= said
    # Outside CI doctor reads GitHub too (settings, toolkit ref, runners): with a token.
    assert '"GH_TOKEN"' in (TOOLKIT / "checks" / "repository.py").read_text() and "GH_TOKEN" in said
    # Its `dvc remote` row: the keys and remote settings the workflows give DVC.
    dvc = set(re.findall(r"(?:vars|secrets)\.((?:AWS|DVC)_\w+)", workflows))
    assert dvc and dvc <= said, dvc - said
    # Nothing named that neither the workflows nor the toolkit read.
    read = set(re.findall(r"(?:vars|secrets)\.(\w+)", workflows))
    read |= set(re.findall(r'"([A-Z][A-Z0-9_]+)"', toolkit))
    assert said <= read, said - read
