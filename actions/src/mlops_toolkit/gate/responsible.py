"""The gate's responsible-AI checks (gate.yaml's slices and robustness, each optional): one
section of gate.json (contracts.ResponsibleChecks) whose rules count in the verdict."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .. import contracts
from . import stats
from .config import GateConfig
from .robustness import Predict


def evaluate(
    cfg: GateConfig, features: Any, y: Any, base: stats.Predictions, predict: Predict
) -> contracts.ResponsibleChecks | None:
    """The section, or None when gate.yaml asks for neither check."""
    if cfg.slices is None and cfg.robustness is None:
        return None
    checks: list[contracts.GateCheck] = []
    rows: list[contracts.SliceRow] = []
    notes: list[str] = []
    if cfg.slices is not None:
        from . import fairness

        found, rows, said = fairness.evaluate(cfg, features, y, base)
        checks += found
        notes += said
    if cfg.robustness is not None:
        from . import robustness

        found, said = robustness.evaluate(cfg, features, y, base, predict)
        checks += found
        notes += said
    return contracts.ResponsibleChecks(checks, rows, notes)


def verdict_checks(section: contracts.ResponsibleChecks | None) -> list[dict]:
    """The section's rules as rows of the verdict's checks (name, passed, value)."""
    return [
        {"name": c.name, "passed": c.passed, "value": c.value} for c in (section or _NONE).checks
    ]


def as_dict(section: contracts.ResponsibleChecks | None) -> dict | None:
    return None if section is None else asdict(section)


def failures(verdict: dict) -> list[str]:
    """One line per failed responsible-AI rule: what was seen (the slice and the gap ...)."""
    section = verdict.get("responsible") or {}
    return [c["detail"] or c["name"] for c in section.get("checks", ()) if not c["passed"]]


_NONE = contracts.ResponsibleChecks([])
