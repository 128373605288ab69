"""Robustness: the candidate scored again on the holdout under two perturbations.

- numeric noise: every numeric feature plus e ~ N(0, noise x the column's standard deviation
  on the holdout), seeded: relative to the column's spread, not to each value (1 % of 2007 would
  move a year by 20), and integer columns stay whole numbers;
- missing optional values: every optional column set to missing (a model that cannot score
  such rows fails the check, with the model's own line).

Which columns are numeric and which may be missing is the data contract's: gate.yaml may name
them; otherwise params.yaml's data.roles (a column listed nowhere: the role training infers) and
the expectation suite (a column it does not require to be present), else the holdout's own
missing values. The rules: the share of predictions that change, and the primary metric's drop
(point estimate; its paired-bootstrap interval is in the detail).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import contracts
from .. import metrics as registry
from ..errors import ToolkitError
from . import stats
from .config import GateConfig, RobustnessRule

KIND = "robustness"
NOT_NULL = "expect_column_values_to_not_be_null"
Predict = Callable[[Any], stats.Predictions]


def evaluate(
    cfg: GateConfig, features: Any, y: Any, base: stats.Predictions, predict: Predict
) -> tuple[list[contracts.GateCheck], list[str]]:
    """The rules and notes for gate.yaml's robustness section."""
    rule = cfg.robustness
    assert rule is not None
    numeric, optional, source = contract_columns(rule, features)
    notes = [f"robustness: numeric {_names(numeric)}; optional {_names(optional)} ({source})"]
    checks: list[contracts.GateCheck] = []
    if numeric:
        what = f"numeric noise {_percent(rule.noise)}"
        checks += _judge(cfg, what, y, base, lambda: predict(noisy(features, numeric, rule, cfg)))
    else:
        notes.append("robustness: no numeric column: the noise check did not run")
    if rule.missing and optional:
        what = "optional values missing"
        checks += _judge(cfg, what, y, base, lambda: predict(blanked(features, optional)))
    elif rule.missing:
        notes.append("robustness: no optional column: the missing-values check did not run")
    return checks, notes


def _percent(share: float) -> str:
    return f"{share * 100:g} %"


def _names(columns: list[str]) -> str:
    return ", ".join(columns) if columns else "none"


def noisy(features: Any, columns: list[str], rule: RobustnessRule, cfg: GateConfig) -> Any:
    """The holdout with Gaussian noise on `columns`, `noise` of each column's standard
    deviation (seeded by the gate's seed)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([cfg.seed, 7])
    out = features.copy()
    for column in columns:
        values = out[column]
        plain = values.astype("float64")
        spread = float(plain.std()) if plain.notna().sum() > 1 else 0.0
        moved = plain + rng.normal(0.0, rule.noise * (spread or 1.0), len(values))
        if pd.api.types.is_integer_dtype(values):
            moved = moved.round().astype(values.dtype)
        out[column] = moved
    return out


def blanked(features: Any, columns: list[str]) -> Any:
    """The holdout with `columns` missing in every row (None in text columns, NaN in numbers)."""
    import numpy as np
    import pandas as pd

    out = features.copy()
    for column in columns:
        numeric = pd.api.types.is_numeric_dtype(out[column])
        out[column] = np.nan if numeric else pd.Series([None] * len(out), index=out.index)
    return out


def _judge(
    cfg: GateConfig, what: str, y: Any, base: stats.Predictions, rescore: Callable[[], Any]
) -> list[contracts.GateCheck]:
    import numpy as np

    rule = cfg.robustness
    assert rule is not None
    try:
        moved = rescore()
    except Exception as exc:  # the model's own failure on such rows is the finding
        line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return [
            contracts.GateCheck(
                f"robustness, {what}: the candidate scores the rows", KIND, False, None, None,
                f"robustness, {what}: the candidate cannot score them ({line})",
            )
        ]  # fmt: skip
    checks = []
    if rule.max_changed is not None:
        share = _changed(cfg, y, base, moved)
        checks.append(
            contracts.GateCheck(
                f"robustness, {what}: changed predictions ≤ {_percent(rule.max_changed)}",
                KIND, share <= rule.max_changed, share, rule.max_changed,
                f"robustness, {what}: {share:.2%} of {len(np.asarray(y)):,} predictions changed",
            )
        )  # fmt: skip
    if rule.max_drop is not None:
        checks.append(_drop(cfg, what, y, base, moved))
    return checks


def _changed(cfg: GateConfig, y: Any, base: stats.Predictions, moved: stats.Predictions) -> float:
    """The share of rows whose prediction changed: another label, or a regression value moved
    by more than regression_change standard deviations of the target."""
    import numpy as np

    before, after = np.asarray(base.labels), np.asarray(moved.labels)
    if cfg.task == registry.CLASSIFICATION:
        return float(np.mean(before != after))
    rule = cfg.robustness
    assert rule is not None
    scale = float(np.std(np.asarray(y, dtype=np.float64))) or 1.0
    delta = np.abs(after.astype(np.float64) - before.astype(np.float64))
    return float(np.mean(~(delta <= rule.regression_change * scale)))  # NaN counts as changed


def _drop(
    cfg: GateConfig, what: str, y: Any, base: stats.Predictions, moved: stats.Predictions
) -> contracts.GateCheck:
    """The primary metric's drop: paired bootstrap of the perturbed against the plain scores."""
    rule = cfg.robustness
    assert rule is not None and rule.max_drop is not None
    metric = cfg.primary.metric
    result = stats.evaluate(
        [metric],
        y,
        [moved, base],
        **cfg.resampling,
    )[metric]
    drop = -result.diff if result.diff is not None else math.nan
    low, high = (-result.diff_ci[1], -result.diff_ci[0]) if result.diff_ci else (math.nan,) * 2
    passed = not math.isnan(drop) and drop <= rule.max_drop
    return contracts.GateCheck(
        f"robustness, {what}: {metric} drop ≤ {rule.max_drop:g}",
        KIND, passed, drop, rule.max_drop,
        f"robustness, {what}: {metric} {result.values[1]:.4f} -> {result.values[0]:.4f} "
        f"(drop {drop:+.4f}, CI [{low:+.4f}, {high:+.4f}])",
    )  # fmt: skip


# --- the data contract: which columns are numeric, which may be missing ----------------------


def contract_columns(rule: RobustnessRule, features: Any) -> tuple[list[str], list[str], str]:
    """(numeric columns, optional columns, where they came from), all in the holdout."""
    params = _params(Path(rule.params))
    roles = ((params.get("data") or {}).get("roles") or {}) if params else {}
    for given in (rule.numeric or (), rule.optional or ()):
        unknown = [c for c in given if c not in features.columns]
        if unknown:
            raise ToolkitError(
                f"gate config: robustness: the holdout has no column(s) {', '.join(unknown)}"
            )
    numeric = list(rule.numeric) if rule.numeric is not None else _numeric(roles, features)
    if rule.numeric is not None:
        sources = ["numeric: gate.yaml"]
    else:
        sources = [f"numeric: {rule.params}'s roles" if roles else "numeric: inferred"]
    excluded = set(roles.get("excluded") or ())
    if rule.optional is not None:
        optional, where = list(rule.optional), "gate.yaml"
    else:
        optional, where = _optional(params, features, excluded)
    sources.append(f"optional: {where}")
    return numeric, optional, "; ".join(sources)


def _params(path: Path) -> dict:
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ToolkitError(f"robustness: {path} cannot be read ({exc.__class__.__name__})") from exc
    return data if isinstance(data, dict) else {}


def _numeric(roles: dict, features: Any) -> list[str]:
    """params.yaml's role of each holdout column, else the role training would infer."""
    from ..data import column_roles as inference  # what `train` infers for unlisted ones

    listed = {c: role for role, columns in roles.items() for c in (columns or ())}
    return [
        str(c)
        for c in features.columns
        if listed.get(c) == "numeric"
        or (c not in listed and inference.infer_one(features[c]) == "numeric")
    ]


def _optional(params: dict, features: Any, excluded: set[str]) -> tuple[list[str], str]:
    """Columns the expectation suite lets be missing; without a suite, those missing here."""
    suite_path = (params.get("validation") or {}).get("suite") if params else None
    if suite_path and Path(suite_path).is_file():
        try:
            suite = json.loads(Path(suite_path).read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise ToolkitError(f"robustness: {suite_path} is not readable JSON") from exc
        required = {
            (e.get("kwargs") or {}).get("column")
            for e in suite.get("expectations") or ()
            if isinstance(e, dict)
            and e.get("type") == NOT_NULL
            and (e.get("kwargs") or {}).get("mostly", 1) >= 1
        }
        columns = [str(c) for c in features.columns if c not in required and c not in excluded]
        return columns, f"not required by {suite_path}"
    columns = [str(c) for c in features.columns if features[c].isna().any() and c not in excluded]
    return columns, "missing in the holdout"
