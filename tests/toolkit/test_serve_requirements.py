"""What the serving image's dependency layer installs (deploy/serve_requirements.py): the
project's `serve` extra with the platform's line replaced by the platform's own dependencies,
read from a wheel's METADATA; a project without the extra is one line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from mlops_toolkit.deploy.serve_requirements import platform_requirements, serve_requirements
from mlops_toolkit.errors import ToolkitError

METADATA = """Metadata-Version: 2.4
Name: mlops-toolkit
Version: 9.9.9
Requires-Dist: pyyaml>=6
Requires-Dist: pydantic<3,>=2.7
Requires-Dist: numpy>=1.26; extra == "serve"
Requires-Dist: uvloop>=0.19; sys_platform != "win32" and extra == "serve"
Requires-Dist: tomli>=2; python_version < "3.11"
Requires-Dist: scipy>=1.11; extra == "drift"
Requires-Dist: mlflow<4,>=3.17; extra == 'ci'
Requires-Dist: psycopg[binary]>=3.1; extra == "serve"

The long description, never read.
Requires-Dist: not-a-header
"""


def _wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "mlops_toolkit-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mlops_toolkit/__init__.py", "")
        archive.writestr("mlops_toolkit-9.9.9.dist-info/METADATA", METADATA)
    return wheel


def _pyproject(tmp_path: Path, serve: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "p"\n[project.optional-dependencies]\nserve = {serve}\n')
    return path


def test_the_serve_extra_and_the_base_dependencies_keep_their_environment_markers() -> None:
    assert platform_requirements(METADATA) == [
        "pyyaml>=6",
        "pydantic<3,>=2.7",
        "numpy>=1.26",
        'uvloop>=0.19; sys_platform != "win32"',
        'tomli>=2; python_version < "3.11"',
        "psycopg[binary]>=3.1",
    ]


def test_the_platform_line_gives_way_to_its_dependencies_and_xgboost_to_its_cpu_build(
    tmp_path: Path,
) -> None:
    serve = '["mlops-toolkit[serve]>=1.3,<2", "scikit-learn>=1.4", "xgboost>=2.1", "XGBoost"]'
    lines = serve_requirements(_pyproject(tmp_path, serve), _wheel(tmp_path))
    assert lines[:3] == ["scikit-learn>=1.4", "xgboost-cpu>=2.1", "xgboost-cpu"]
    assert lines[3:] == platform_requirements(METADATA)
    assert not [line for line in lines if "mlops" in line]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[project]\nname = 'p'\n", "has no list [project.optional-dependencies] serve"),
        ("[project\n", "cannot read pyproject.toml"),
    ],
)
def test_a_project_the_image_cannot_be_built_from_is_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ToolkitError) as error:
        serve_requirements(tmp_path / "pyproject.toml", _wheel(tmp_path))
    assert message in str(error.value) and "\n" not in str(error.value)
