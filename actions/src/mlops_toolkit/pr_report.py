"""The one sticky pull-request report: data validation, gate verdict, registration, artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from . import report

REPORT_KEY = "model-report"


def _load(path: str | None) -> dict | None:
    if not path or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        return None


def markdown(model_name: str, validation: str | None, gate: str | None,
             version: str | None, artifact_url: str | None) -> str:
    """Every section that ran, and a plain line for each that did not."""
    parts = [f"# Model report — `{model_name}`", ""]
    data = _load(validation)
    parts.append(report.validation_markdown(data) if data else
                 "## Data validation\n\nDid not run (see the workflow log).\n")
    verdict = _load(gate)
    parts.append(report.gate_markdown(verdict) if verdict else
                 "## Model gate\n\nDid not run: the steps before it failed.\n")
    if version:
        parts.append(f"## Registered\n\nVersion {version} of `{model_name}` has the alias "
                     "`challenger`; merging promotes it through staging to production.\n")
    if artifact_url:
        parts.append(f"## Plots and reports\n\n[Download the plots and reports]({artifact_url})"
                     " (confusion matrix / ROC or residuals, feature importance, data docs).\n")
    return "\n".join(parts)
