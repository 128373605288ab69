"""The platform's test fixtures (mlops_toolkit.project.testing: workdir, source, target,
naive_floor; tests marked gpu skipped without a GPU), bound to this project's params.yaml."""

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import Params, load_params

pytest_plugins = ["mlops_toolkit.project.testing"]


@pytest.fixture(scope="session")
def shipped_params(project_root: Path) -> Params:
    return load_params(project_root / "params.yaml")
