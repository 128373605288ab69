"""A generated, installed project for benchmarks (made once per output folder, then reused)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def installed_project(workdir: Path, **answers: str) -> Path:
    """Generate the template with ``answers`` into ``workdir`` and `make install` it."""
    from cookiecutter.main import cookiecutter

    workdir.mkdir(parents=True, exist_ok=True)
    project = Path(
        cookiecutter(str(ROOT), no_input=True, output_dir=str(workdir), extra_context=answers,
                     overwrite_if_exists=True)
    )
    if not (project / ".venv" / "bin" / project.name).exists():
        subprocess.run(["make", "install", f"PYTHON={sys.executable}"], cwd=project, check=True,
                       env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
                       stdout=subprocess.DEVNULL)
    return project
