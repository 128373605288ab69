"""The test fixtures every generated project uses, as a pytest plugin (since project API 1.6).

A project's tests/conftest.py names this module in `pytest_plugins` and binds it to its own
params.yaml with one fixture, `shipped_params` (the project's typed, checked params.yaml):

- `project_root`: the folder of the project's pyproject.toml (pytest's rootdir);
- `workdir`: the test runs in a throw-away copy of params.yaml, gate.yaml and the expectation
  suite, tracking into a private SQLite MLflow store;
- `target`: the project's label column (data.target), whatever the data;
- `source`: the data the project is configured with (data.source), so a team's own data is what
  its tests train on; only a project with no data yet gets a synthetic stand-in of its task;
- `naive_floor`: the primary metric of the model that ignores the features (majority class or
  mean), the bar any trained model must clear;
- tests marked `gpu` are skipped where the platform's GPU probe finds no GPU.

pandas and scikit-learn load inside the fixtures that need them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .. import metrics as registry

COPIED = ("params.yaml", "gate.yaml", "expectations")  # what a command reads from the project


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if gpu_tests:
        from . import gpu_available

        if not gpu_available():
            for item in gpu_tests:
                item.add_marker(pytest.mark.skip(reason="no NVIDIA GPU visible"))


@pytest.fixture(scope="session")
def project_root(pytestconfig: pytest.Config) -> Path:
    return Path(pytestconfig.rootpath)


@pytest.fixture(scope="session")
def shipped_params(project_root: Path) -> Any:
    raise pytest.UsageError(
        "tests/conftest.py must define the fixture shipped_params: the project's load_params "
        "of project_root / 'params.yaml'"
    )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project_root: Path) -> Path:
    copy_project_files(project_root, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    monkeypatch.delenv("GITHUB_SHA", raising=False)  # lineage tags from this checkout only
    return tmp_path


@pytest.fixture
def target(shipped_params: Any) -> str:
    return shipped_params.data.target


@pytest.fixture
def source(workdir: Path, target: str, shipped_params: Any, project_root: Path) -> str:
    configured = configured_source(shipped_params.data.source, project_root)
    if configured.startswith("sklearn:") or Path(configured).is_file():
        return configured
    task = registry.get(shipped_params.evaluate.primary_metric).task
    return str(synthetic_source(workdir / "synthetic.csv", target, task))


@pytest.fixture
def naive_floor(shipped_params: Any) -> Callable[[Any], float]:
    evaluate = shipped_params.evaluate
    return lambda labels: naive_score(labels, evaluate.primary_metric, evaluate.average)


def copy_project_files(root: Path, into: Path) -> None:
    for name in COPIED:
        if (root / name).is_dir():
            shutil.copytree(root / name, into / name)
        elif (root / name).is_file():
            shutil.copy(root / name, into / name)


def configured_source(source: str, root: Path) -> str:
    """data.source as the tests reach it: a relative path resolves at the project's root."""
    if ":" in source or Path(source).is_absolute():
        return source
    return str(root / source)


def synthetic_source(path: Path, target: str, task: str) -> Path:
    """300 rows of 6 numeric features and `target`, seeded: a stand-in for data not there yet."""
    import pandas as pd
    from sklearn.datasets import make_classification, make_regression

    if task == registry.CLASSIFICATION:
        features, labels = make_classification(n_samples=300, n_features=6, random_state=0)
    else:
        features, labels = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(features.shape[1])])
    frame[target] = labels
    frame.to_csv(path, index=False)
    return path


def naive_score(labels: Any, primary: str, average: str = "auto") -> float:
    """`primary` of the answer that ignores the features: the majority class, or the mean.
    Constant scores rank nothing: a metric read from scores (ROC AUC) gets its chance level."""
    metric = registry.get(primary)
    if metric.source == registry.SCORES:
        return 0.5
    if metric.task == registry.CLASSIFICATION:
        naive = [labels.mode().iloc[0]] * len(labels)
    else:
        naive = [float(labels.mean())] * len(labels)
    return registry.compute(metric.task, labels, naive, None, average, [primary])[primary]
