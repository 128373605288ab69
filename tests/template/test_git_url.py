"""A project generated from a git URL of the template installs its platform from that URL.

The template is served as a real git remote (tests/support/template_remote.py): a bare
repository over ``file://``, made from this checkout's working tree and tagged ``v1``, reached
through ``https://github.com/`` redirected by git's ``url.<base>.insteadOf``, so the project keeps
its product defaults (``your-org/cookiecutter-mlops@v1`` on github.com) and nothing about it
knows it is a test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.project import TEMPLATE, python_for
from support.template_remote import generate, run, serve_template

pytestmark = pytest.mark.slow

REPOSITORY = TEMPLATE["actions_repository"]  # the product's default: your-org/cookiecutter-mlops
REF = TEMPLATE["actions_ref"]  # v1


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    """(project generated from the URL, the environment that redirects github.com, v1's SHA)."""
    root = tmp_path_factory.mktemp("git-url")
    remote = serve_template(root, REPOSITORY, REF)
    project = generate(remote, root / "out", REF, project_name="From Url")
    return project, remote.env, remote.sha


def test_generated_from_a_url_records_no_local_toolkit(world):
    project, _, _ = world
    assert not (project / ".toolkit-source").exists()
    assert (project / "Makefile").is_file()


def test_make_install_takes_the_platform_from_the_repository_at_v1(world):
    project, env, sha = world
    python = python_for("3.11")
    if python is None:
        pytest.skip("no Python 3.11 on this machine")
    # Without bytecode compilation (a minute here): test_projects.py checks that default.
    install_env = {**env, "UV_COMPILE_BYTECODE": "0"}
    run("make", "install", f"PYTHON={python}", cwd=project, env=install_env)
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    assert not (site / "mlflow" / "__pycache__").exists(), "compiled though told not to"
    dist = next(site.glob("mlops_toolkit-*.dist-info"))
    origin = json.loads((dist / "direct_url.json").read_text())
    # uv records the URL it was given (before git's redirection) and the commit of v1.
    assert origin["url"].endswith(f"github.com/{REPOSITORY}"), origin
    assert origin["vcs_info"]["commit_id"] == sha, origin
    assert origin["subdirectory"] == "actions", origin
    help_text = run(project / ".venv" / "bin" / "mlops-toolkit", "--help", cwd=project, env=env)
    assert "usage" in help_text.stdout.lower()


def test_pip_takes_the_same_requirement(world, tmp_path):
    """The pip branch of `make install` (no uv on PATH): its requirement resolves as written."""
    project, env, sha = world
    bare_path = "/usr/bin:/bin"  # git and Debian's python3.11, no uv
    assert not shutil.which("uv", path=bare_path)
    dry = run(
        "make",
        "-n",
        "install",
        "PYTHON=/usr/bin/python3",
        cwd=project,
        env={**env, "PATH": bare_path},
    )
    requirement = f"mlops-toolkit[serve,drift] @ git+https://github.com/{REPOSITORY}@{REF}#subdirectory=actions"
    assert f'--no-deps "{requirement}"' in dry.stdout, dry.stdout
    # pip itself: clone through the redirection, check out v1, build the package's metadata.
    report = tmp_path / "report.json"
    run(
        "python3",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--dry-run",
        "--ignore-installed",
        "--report",
        report,
        requirement,
        cwd=tmp_path,
        env=env,
    )
    installed = json.loads(report.read_text())["install"]
    assert [i["download_info"]["vcs_info"]["commit_id"] for i in installed] == [sha]
