"""Fixtures for the serving/monitoring tests: a generated project and a real MLflow model."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.project import bake


def save_model(path: Path, C: float = 1.0) -> Path:
    """An sklearn Pipeline logged the way the project's train step logs it (skops, signature,
    input example, pinned requirements)."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = Pipeline(
        [("scale", StandardScaler()), ("model", LogisticRegression(C=C, max_iter=1000))]
    ).fit(X, y)
    if path.exists():
        shutil.rmtree(path)
    example = X.head(5)
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=[_pinned("scikit-learn"), _pinned("skops")],
    )
    return path


def _pinned(distribution: str) -> str:
    from importlib.metadata import version

    return f"{distribution}=={version(distribution)}"


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default generated project."""
    return bake(tmp_path_factory.mktemp("serving-project"))


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: apt-get install prometheus (see .ci/serving-up)")
    return path


def run(
    *cmd: str, cwd: Path | None = None, check: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=check
    )


def start_server(project: Path, model: Path, port: int, **env: str) -> subprocess.Popen:
    """The platform's scoring server (what the project's image runs) on 127.0.0.1:``port``."""
    import os
    import sys

    command = [sys.executable, "-m", "mlops_toolkit.serving", "--model-dir", str(model)]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def write_drift_report(
    path: Path,
    features: dict[str, tuple[float, float]],
    *,
    prediction: tuple[str, float, float] | None = None,
    timestamp: float = 1e9,
) -> Path:
    """A drift.json as the drift job writes it (contracts.DataDriftReport), 400 reference and
    100 current rows: `features` name -> (PSI, KS p-value); `prediction` (kind, PSI, p-value).
    A column drifted where both rules say so (PSI above 0.2, p-value below 0.01)."""
    import time

    from mlops_toolkit.contracts import ColumnDrift, DataDriftReport, DriftRows, DriftThresholds

    thresholds = DriftThresholds(psi=0.2, p_value=0.01)

    def column(kind: str, psi: float, p_value: float) -> ColumnDrift:
        test = "ks" if kind == "numeric" else "chi2"
        drifted = psi > thresholds.psi and p_value < thresholds.p_value
        return ColumnDrift(kind=kind, psi=psi, test=test, p_value=p_value, drifted=drifted)

    columns = {name: column("numeric", *figures) for name, figures in features.items()}
    predicted = column(*prediction) if prediction else None
    drifted = [name for name, c in columns.items() if c.drifted]
    return DataDriftReport(
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)),
        timestamp=timestamp,
        rows=DriftRows(reference=400, current=100),
        thresholds=thresholds,
        bins=10,
        features=columns,
        prediction=predicted,
        drifted_features=drifted,
        drift_detected=bool(drifted) or bool(predicted and predicted.drifted),
    ).write(path)
