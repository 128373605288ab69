"""Fixtures: a throw-away copy of the project's configuration with its own MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlops_toolkit.project import gpu_available

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests run only where the platform's GPU probe (NVML, else nvidia-smi) sees one."""
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if gpu_tests and not gpu_available():
        for item in gpu_tests:
            item.add_marker(pytest.mark.skip(reason="no NVIDIA GPU visible"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a copy of params.yaml, gate.yaml and the suite, tracking into a private store."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copy(ROOT / "gate.yaml", tmp_path / "gate.yaml")
    shutil.copytree(ROOT / "expectations", tmp_path / "expectations")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    return tmp_path


def _configured_source() -> str:
    """data.source of the project's own params.yaml; a relative path resolves at the root."""
    from {{ cookiecutter.package_name }}.config import load_params

    source = load_params(ROOT / "params.yaml").data.source
    if ":" in source or Path(source).is_absolute():
        return source
    return str(ROOT / source)


@pytest.fixture
def target() -> str:
    """The project's label column (params.yaml data.target), whatever the data."""
    from {{ cookiecutter.package_name }}.config import load_params

    return load_params(ROOT / "params.yaml").data.target


@pytest.fixture
def source(workdir: Path, target: str) -> str:
    """The data the project is configured with (data.source), so own data is what is tested.

    Only a project that has no data yet (data.source names a file not there) gets a synthetic
    stand-in, written where data.source points.
    """
    configured = _configured_source()
    if configured.startswith("sklearn:") or Path(configured).is_file():
        return configured
    import pandas as pd
{%- if cookiecutter.task == "classification" %}
    from sklearn.datasets import make_classification

    features, labels = make_classification(n_samples=300, n_features=6, random_state=0)
{%- else %}
    from sklearn.datasets import make_regression

    features, labels = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
{%- endif %}
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(features.shape[1])])
    frame[target] = labels
    path = workdir / "synthetic.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture
def naive_floor():
    """The primary metric of the model that ignores the features (majority class or mean).

    Whatever the data, a trained model must beat it: the same bar the gate sets.
    """
{%- if cookiecutter.task == "classification" %}
    from mlops_toolkit import metrics as registry
{% endif %}
    from {{ cookiecutter.package_name }}.config import load_params
    from {{ cookiecutter.package_name }}.pipelines import metrics

    def floor(labels) -> float:
        params = load_params(ROOT / "params.yaml")
        primary = params.evaluate.primary_metric
{%- if cookiecutter.task == "classification" %}
        if registry.get(primary).source == registry.SCORES:
            return 0.5  # constant scores rank nothing (ROC AUC)
        naive = [labels.mode().iloc[0]] * len(labels)
{%- else %}
        naive = [float(labels.mean())] * len(labels)
{%- endif %}
        return metrics.compute(labels, naive, None, params.evaluate.average)[primary]

    return floor
