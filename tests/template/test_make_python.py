"""`make install` finds the project's Python (PATH or pyenv) and never lets uv download one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.project import bake, python_for

PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("py312"), python_version="3.12")


def make(project: Path, path: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`make -n` (print, do not run) with a PATH of our choosing and nothing else inherited."""
    full = {"HOME": str(project), "PATH": path, **env}
    return subprocess.run(
        ["make", "-n", "install", *args],
        cwd=project,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def bare_path(tmp_path: Path) -> str:
    """/usr/bin:/bin (Debian's python3.11, no 3.12) and uv; never pyenv or its shims."""
    assert not list(Path("/usr/bin").glob("python3.12")), "this machine has a system 3.12"
    uv = shutil.which("uv")
    if uv:
        resolved = subprocess.run(["pyenv", "which", "uv"], capture_output=True, text=True)
        real = resolved.stdout.strip() if resolved.returncode == 0 else uv
        (tmp_path / "uv").symlink_to(real)
    return f"{tmp_path}:/usr/bin:/bin"


def test_no_python_312_is_one_line_saying_how_to_point_at_one(project, tmp_path):
    result = make(project, bare_path(tmp_path))
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "no Python 3.12" in lines[0]
    assert lines[0].endswith("run make install PYTHON=/path/to/python3.12.  Stop.")
    assert not (project / ".venv").exists()


def test_a_python_of_another_version_is_refused(project, tmp_path):
    result = make(project, bare_path(tmp_path), "PYTHON=/usr/bin/python3")
    assert result.returncode != 0 and "no Python 3.12 at /usr/bin/python3" in result.stderr


def test_python_given_by_path_is_used_and_uv_never_downloads(project, tmp_path):
    python = python_for("3.12")
    if python is None:
        pytest.skip("no Python 3.12 on this machine")
    real = subprocess.run(
        [python, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    result = make(project, bare_path(tmp_path), f"PYTHON={real}")
    assert result.returncode == 0, result.stderr
    assert f'--no-python-downloads --python "{real}"' in result.stdout


def test_pyenv_versions_are_found_without_shims_on_path(project, tmp_path):
    if not (PYENV_ROOT / "bin" / "pyenv").exists() or not list(
        PYENV_ROOT.glob("versions/3.12.*/bin/python3.12")
    ):
        pytest.skip("no pyenv with a 3.12 here")
    path = f"{PYENV_ROOT / 'bin'}:{bare_path(tmp_path)}"
    result = make(project, path, PYENV_ROOT=str(PYENV_ROOT))
    assert result.returncode == 0, result.stderr
    assert f'--python "{PYENV_ROOT}/versions/3.12' in result.stdout


def test_make_alone_lists_the_targets(project):
    """`make` (and `make help`) lists every target with its `## ` line, nothing else."""
    for args in ([], ["help"]):
        done = subprocess.run(
            ["make", *args], cwd=project, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        listed = [line.split()[0] for line in done.stdout.splitlines()]
        assert listed == [
            "help",
            "install",
            "remote",
            "pipeline",
            "test",
            "lint",
            "format",
            "clean",
        ], done.stdout
        assert "  install   virtual environment" in done.stdout
    assert not (project / ".venv").exists()
