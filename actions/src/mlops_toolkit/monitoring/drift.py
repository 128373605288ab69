"""Drift of a current batch (logged predictions) against the training reference.

Per feature: the population stability index (PSI, on the reference's quantile bins or its
categories) and a test, Kolmogorov-Smirnov for numeric and chi-squared for categorical features.
A feature drifts when its PSI is above `drift.psi_threshold` *and* the test's p-value is below
`drift.p_value`: the move is both large and not chance. Predictions drift by the same rule,
against the model's predictions on the reference (or the reference target when no model is
given). Reports: drift.json, drift.md, drift.html and drift.prom (Prometheus textfile).
"""

from __future__ import annotations

import glob
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DriftDetected, InputError

TEMPLATES = Path(__file__).with_name("templates")

PREDICTION_COLUMN = "prediction"
DRIFT_EXIT_CODE = DriftDetected.exit_code  # "drift found", apart from 1 for "the job failed"
EPSILON = 1e-4  # floor of a bin's share, so an empty bin gives a large but finite PSI


class DriftInputError(InputError):
    """The reference or the current batch cannot be compared (missing, empty, wrong columns)."""


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    p_value: float = 0.01
    bins: int = 10


# -- statistics ---------------------------------------------------------------------------------
def psi_numeric(reference: Any, current: Any, bins: int) -> float:
    """PSI on the reference's quantile bins (open-ended at both ends)."""
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(
        np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1
    ) / len(ref)
    cur_share = np.bincount(
        np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1
    ) / len(cur)
    return _psi(ref_share, cur_share)


def psi_categorical(reference: Any, current: Any) -> float:
    ref_share, cur_share = _category_counts(reference, current)
    return _psi(ref_share / ref_share.sum(), cur_share / cur_share.sum())


def _psi(ref_share: Any, cur_share: Any) -> float:
    import numpy as np

    ref = np.clip(ref_share, EPSILON, None)
    cur = np.clip(cur_share, EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _category_counts(reference: Any, current: Any) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    ref = pd.Series(reference).astype(str).value_counts()
    cur = pd.Series(current).astype(str).value_counts()
    categories = sorted(set(ref.index) | set(cur.index))
    return (
        np.array([ref.get(c, 0) for c in categories], dtype=float),
        np.array([cur.get(c, 0) for c in categories], dtype=float),
    )


def ks_test(reference: Any, current: Any) -> tuple[float, float]:
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def chi2_test(reference: Any, current: Any) -> tuple[float, float]:
    import numpy as np
    from scipy.stats import chi2_contingency

    ref, cur = _category_counts(reference, current)
    if len(ref) < 2:
        return 0.0, 1.0  # one category on both sides: nothing can have moved
    table = np.vstack([ref, cur])
    statistic, p_value, _, _ = chi2_contingency(table)
    return float(statistic), float(p_value)


# Unseen categories named per column in the report (the count covers them all).
UNSEEN_SHOWN = 5


def compare(
    reference: Any, current: Any, thresholds: Thresholds, categorical: bool | None = None
) -> dict[str, Any]:
    """PSI and the fitting test for one column (NaNs dropped); `drifted` applies both rules."""
    import pandas as pd

    ref = pd.Series(reference).dropna()
    cur = pd.Series(current).dropna()
    if categorical is None:
        categorical = not (
            pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur)
        ) or pd.api.types.is_bool_dtype(ref)
    if len(ref) == 0 or len(cur) == 0:
        return {
            "kind": "categorical" if categorical else "numeric",
            "psi": None,
            "test": None,
            "statistic": None,
            "p_value": None,
            "drifted": False,
            "note": "no values to compare",
            "reference_mean": None,
            "current_mean": None,
        }
    unseen: dict[str, Any] = {}
    if categorical:
        psi = psi_categorical(ref, cur)
        test, (statistic, p_value) = "chi2", chi2_test(ref, cur)
        # Categories training never saw: the model encodes them as all zeros, so count them.
        new = cur[~cur.isin(set(ref))]
        unseen = {
            "unseen_rows": len(new),
            "unseen_categories": [str(v) for v in new.value_counts().index[:UNSEEN_SHOWN]],
        }
    else:
        psi = psi_numeric(ref, cur, thresholds.bins)
        test, (statistic, p_value) = "ks", ks_test(ref, cur)
    return unseen | {
        "kind": "categorical" if categorical else "numeric",
        "psi": round(psi, 6),
        "test": test,
        "statistic": round(statistic, 6),
        "p_value": p_value,
        "drifted": bool(psi > thresholds.psi and p_value < thresholds.p_value),
        "reference_mean": None if categorical else float(ref.mean()),
        "current_mean": None if categorical else float(cur.mean()),
    }


# -- inputs -------------------------------------------------------------------------------------
def read_reference(path: str | Path, target: str | None) -> tuple[Any, Any]:
    import pandas as pd

    if not Path(path).is_file():
        raise DriftInputError(f"reference data {path} does not exist")
    frame = pd.read_csv(path)
    if frame.empty:
        raise DriftInputError(f"reference data {path} has no rows")
    labels = frame.pop(target) if target and target in frame.columns else None
    return frame, labels


def read_current(source: str | Path) -> Any:
    """Prediction logs (JSON lines from the server: a file, a directory or a glob) or a CSV."""
    import pandas as pd

    files = _expand(str(source))
    if not files:
        raise DriftInputError(
            f"no current data at {source} (expected *.jsonl prediction logs or a CSV)"
        )
    frames = []
    for file in files:
        if file.endswith(".csv"):
            frames.append(pd.read_csv(file))
            continue
        rows = []
        with open(file, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    rows.append({**record["inputs"], PREDICTION_COLUMN: record.get("prediction")})
                except (ValueError, KeyError, TypeError):
                    raise DriftInputError(
                        f"{file}:{number}: not a prediction log line "
                        '(expected {"inputs": {...}, "prediction": ...})'
                    ) from None
        frames.append(pd.DataFrame(rows))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frame.empty:
        raise DriftInputError(f"the current data at {source} has no rows")
    return frame


def _expand(source: str) -> list[str]:
    if os.path.isdir(source):
        return sorted(
            glob.glob(os.path.join(source, "*.jsonl")) + glob.glob(os.path.join(source, "*.csv"))
        )
    if any(ch in source for ch in "*?["):
        return sorted(glob.glob(source))
    return [source] if os.path.isfile(source) else []


def reference_predictions(model_dir: str | None, reference: Any, labels: Any) -> Any:
    """What the model predicts on the reference, or the reference labels without a model."""
    if not model_dir:
        return labels
    from ..registry.mlmodel import Batch, load_model

    model = load_model(model_dir)
    frame = reference[model.names]
    if model.numeric:
        batch = Batch(len(frame), matrix=frame.to_numpy(dtype=float))
    else:
        batch = Batch(len(frame), columns={c: frame[c].to_numpy() for c in model.names})
    return model.predict(batch)


# -- the report ---------------------------------------------------------------------------------
def detect(
    reference: Any,
    current: Any,
    thresholds: Thresholds,
    reference_preds: Any = None,
    categorical_prediction: bool | None = None,
) -> dict[str, Any]:
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise DriftInputError(f"the current data lacks feature column(s): {', '.join(missing)}")
    features = {
        name: compare(reference[name], current[name], thresholds) for name in reference.columns
    }
    prediction = None
    if reference_preds is not None and PREDICTION_COLUMN in current.columns:
        prediction = compare(
            reference_preds,
            current[PREDICTION_COLUMN],
            thresholds,
            categorical=categorical_prediction,
        )
    drifted = sorted(name for name, result in features.items() if result["drifted"])
    now = time.time()
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "timestamp": now,
        "rows": {"reference": len(reference), "current": len(current)},
        "thresholds": {"psi": thresholds.psi, "p_value": thresholds.p_value},
        "bins": thresholds.bins,
        "features": features,
        "prediction": prediction,
        "drifted_features": drifted,
        "drift_detected": bool(drifted or (prediction and prediction["drifted"])),
    }


def write_reports(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """drift.json (contracts.DataDriftReport), drift.md, drift.html and drift.prom."""
    from ..contracts import DataDriftReport
    from .driftmetrics import write_textfile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"drift.{kind}" for kind in ("json", "md", "html", "prom")}
    contract = DataDriftReport.build(report)
    contract.write(paths["json"])
    paths["md"].write_text(to_markdown(report), encoding="utf-8")
    paths["html"].write_text(to_html(report), encoding="utf-8")
    write_textfile(contract, str(paths["prom"]))
    return paths


def _rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = sorted(
        report["features"].items(),
        key=lambda item: (not item[1]["drifted"], -(item[1]["psi"] or 0.0)),
    )
    if report.get("prediction"):
        rows.insert(0, ("(prediction)", report["prediction"]))
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return (
            f"{value:.3g}" if value and (abs(value) < 1e-3 or math.isinf(value)) else f"{value:.4f}"
        )
    return str(value)


def to_markdown(report: dict[str, Any]) -> str:
    return _render("drift.md.j2", report)


def to_html(report: dict[str, Any]) -> str:
    return _render("drift.html.j2", report)  # autoescaped: column names are the data's


def _render(name: str, report: dict[str, Any]) -> str:
    """A report from its template (templates/, package data; core/templates.py)."""
    from ..core import templates

    env = templates.environment(TEMPLATES)
    env.filters["fmt"] = _fmt
    return env.get_template(name).render(report=report, rows=_rows(report))


def run(
    reference_path: str | Path,
    current_source: str | Path,
    out_dir: str | Path,
    thresholds: Thresholds,
    target: str | None = None,
    model_dir: str | None = None,
    task: str | None = None,
) -> dict[str, Any]:
    """Read both sides, compare, write the reports; the report says whether drift was found."""
    reference, labels = read_reference(reference_path, target)
    current = read_current(current_source)
    preds = reference_predictions(model_dir, reference, labels)
    categorical = None if task is None else task == "classification"
    report = detect(reference, current, thresholds, preds, categorical)
    report["paths"] = {k: str(v) for k, v in write_reports(report, out_dir).items()}
    return report
