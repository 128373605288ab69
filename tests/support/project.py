"""Generating projects from the template in tests."""

from __future__ import annotations

import fnmatch
import glob
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "cookiecutter.json").read_text())
CHOICES: dict[str, list[str]] = TEMPLATE["_choices"]
# Copied without rendering: Go-template syntax there ({{ $labels }}) is theirs, not Jinja's.
VERBATIM: list[str] = TEMPLATE["_copy_without_render"]
# Template syntax left behind: a Jinja statement, or an expression that is neither a GitHub
# expression (${{ ... }}) nor a Go template of Prometheus/Grafana ({{ $labels.x }}, {{ .Value }}).
LEFTOVER = re.compile(r"\{%|%\}|\{\{(?!\s*[$.])")
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


# The template's feature code, plain Python under its Jinja-named folders: tests build models
# with it as a generated project would.
FEATURES = (
    ROOT / "{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}/models/features.py"
)


def template_features() -> ModuleType:
    """The template's models/features.py, loaded by path. No bytecode is written beside it: the
    template folder is copied whole into every project, and a stray .pyc would go along."""
    spec = importlib.util.spec_from_file_location("template_features", FEATURES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = before
    return module


def bake(output_dir: Path, **answers: Any) -> Path:
    """Generate a project with the defaults overridden by ``answers``; return its folder."""
    from cookiecutter.main import cookiecutter

    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(
            str(ROOT),
            no_input=True,
            output_dir=str(output_dir),
            extra_context={k: str(v) for k, v in answers.items()},
        )
    )


def install_over_system(project: Path, *, with_pytest: bool = True) -> Path:
    """A project's virtual environment the quick way: on top of this interpreter's packages
    (--system-site-packages), with only the project, this checkout's toolkit (editable) and
    pytest (so `make test` runs the venv's own) in it; returns its bin folder.

    uv, as the project's `make install` uses it, in one call: pip's isolated builds (a fresh
    setuptools and poetry-core per package) took half a minute a project on two shared cores.
    `make install` itself is tests/template/test_projects.py's and test_git_url.py's."""
    venv = project / ".venv"
    venv_command = [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages"]
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    assert uv, "uv not found: pip install -r tests/requirements.txt"
    install = [
        uv,
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--python",
        str(venv / "bin" / "python"),
    ]
    install += ["--editable", ".", "--editable", str(ROOT / "actions")]
    if with_pytest:  # the venv's own, though this interpreter's is visible: `make test` runs it
        install += ["--reinstall-package", "pytest", "pytest"]
    for command in ([*venv_command, str(venv)], install):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return venv / "bin"


def published_copy(dest: Path) -> Path:
    """This checkout as a runner would fetch it: the files git tracks or would track (working
    tree contents), none it ignores. act copies an action's repository for every step that
    uses it, and the ignored files here (benchmark virtualenvs, builds) run to gigabytes."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not published
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def pairwise_combinations() -> list[dict[str, str]]:
    """Every value pair of every two choice options appears; the others cycle."""
    names = list(CHOICES)
    combos: list[dict[str, str]] = []
    for first, second in itertools.combinations(names, 2):
        for a, b in itertools.product(CHOICES[first], CHOICES[second]):
            combo = {first: a, second: b}
            for offset, other in enumerate(n for n in names if n not in combo):
                values = CHOICES[other]
                combo[other] = values[(len(combos) + offset) % len(values)]
            if combo not in combos:
                combos.append(combo)
    return combos


def python_for(version: str) -> str | None:
    """An interpreter of ``version`` on this machine (PATH or pyenv), or None."""
    candidates = [shutil.which(f"python{version}")]
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{root}/versions/{version}*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def leftover_jinja(project: Path) -> list[str]:
    """Files (and lines) that still hold template syntax, outside the verbatim-copied ones."""
    found = []
    for path in project.rglob("*"):
        relative = str(path.relative_to(project))
        if (
            not path.is_file()
            or ".venv" in path.parts
            or any(fnmatch.fnmatch(relative, pattern) for pattern in VERBATIM)
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if LEFTOVER.search(GITHUB_EXPRESSION.sub("", line)):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found
