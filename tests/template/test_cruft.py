"""`cruft update` brings a newer template to a project its team has changed, with no conflict.

The template's history is made here, in a clone: "older" is this working tree as it is (so the
test does not depend on old commits that predate .cruft.json), "newer" adds a template change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.project import ROOT

pytestmark = pytest.mark.slow

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
TEMPLATE = "{{cookiecutter.project_slug}}"
PACKAGE = "{{cookiecutter.package_name}}"


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **GIT_ENV},
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


def head(repo: Path) -> str:
    return run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


def clone_working_tree(clone: Path) -> str:
    """A clone of this repository whose HEAD ("older") is the working tree as it is now."""
    run("git", "clone", "-q", ROOT, clone, cwd=ROOT.parent)
    listing = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listing.stdout.split("\0")):
        source, target = ROOT / name, clone / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.exists():  # deleted here, not yet committed
            target.unlink()
    run("git", "add", "-A", cwd=clone)
    run("git", "commit", "-q", "--allow-empty", "-m", "older", cwd=clone)
    return head(clone)


def change_template(clone: Path) -> str:
    """The "newer" template: a README line, a params.yaml comment and a new module."""
    project = clone / TEMPLATE
    with (project / "README.md").open("a") as readme:
        readme.write("\nA line from the newer template.\n")
    params = project / "params.yaml"
    text = params.read_text()
    assert "\ndrift:\n" in text
    params.write_text(text.replace("\ndrift:\n", "\ndrift:\n  # newer template: PSI, KS.\n"))
    (project / "src" / PACKAGE / "newer.py").write_text(
        '"""A module the newer template adds."""\n\nNEWER = True\n'
    )
    run("git", "add", "-A", cwd=clone)
    run("git", "commit", "-q", "-m", "newer", cwd=clone)
    return head(clone)


def change_as_a_user(project: Path) -> None:
    """Own data, a changed hyper-parameter and a module of the team's, committed."""
    data = project / "data" / "external" / "dataset.csv"
    data.write_text("x0,x1,target\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)))
    params = project / "params.yaml"
    text = params.read_text()
    assert "    C: 1.0\n" in text
    params.write_text(text.replace("    C: 1.0\n", "    C: 0.5\n"))
    (project / "src" / "team_project" / "ours.py").write_text(
        '"""The team\'s own module."""\n\n\ndef double(x: float) -> float:\n    return 2 * x\n'
    )
    run("git", "init", "-q", cwd=project)
    run("git", "add", "-A", cwd=project)
    run("git", "commit", "-q", "-m", "our project", cwd=project)


def test_cruft_update_brings_the_newer_template_without_conflict(tmp_path):
    clone = tmp_path / "template"
    older = clone_working_tree(clone)
    out = tmp_path / "out"
    run(
        "cookiecutter",
        "--no-input",
        clone,
        "-o",
        out,
        "project_name=Team Project",
        "sample_dataset=no",
        cwd=tmp_path,
    )
    project = out / "team-project"
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(clone), older)
    change_as_a_user(project)
    assert "up to date" in run("cruft", "check", cwd=project).stdout

    newer = change_template(clone)
    check = subprocess.run(["cruft", "check"], cwd=project, capture_output=True, text=True)
    assert check.returncode == 1 and "out of date" in check.stdout
    update = run("cruft", "update", "--skip-apply-ask", cwd=project)
    assert "Failed" not in update.stdout + update.stderr, update.stdout + update.stderr

    # The template's changes arrived ...
    assert "A line from the newer template." in (project / "README.md").read_text()
    params = (project / "params.yaml").read_text()
    assert "  # newer template: PSI, KS.\n" in params
    assert (project / "src" / "team_project" / "newer.py").is_file()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == newer
    # ... and the team's stayed, with no conflict anywhere.
    assert "    C: 0.5\n" in params
    assert (project / "src" / "team_project" / "ours.py").is_file()
    assert (project / "data" / "external" / "dataset.csv").read_text().startswith("x0,x1,target")
    assert not list(project.rglob("*.rej"))
    status = run("git", "status", "--porcelain", cwd=project).stdout
    assert not [line for line in status.splitlines() if line[:2] in ("UU", "AA", "DU", "UD")]
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert "<<<<<<<" not in path.read_text(errors="replace"), path
    assert "up to date" in run("cruft", "check", cwd=project).stdout

    # The project's own tests still pass, installed as a user would (dependencies reused).
    run(sys.executable, "-m", "venv", "--system-site-packages", ".venv", cwd=project)
    python = project / ".venv" / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-e",
        ".",
        cwd=project,
    )
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in tests.stdout and " failed" not in tests.stdout


# The last template commit with the flat project layout: the project's own copies of init-data,
# validation, tracking, logs and the CLI, before they moved into mlops_toolkit.project (issue 19).
FLAT_LAYOUT = "d860822e99e58970abeafba98494e99d999278c8"


def test_cruft_update_from_the_flat_layout_onto_the_project_api(tmp_path):
    """A project generated before mlops_toolkit.project, with the team's edits, updates onto
    the thin layout: the platform copies go, the team's code stays, its tests pass; the one
    conflict is a moved file the team had edited: it is kept (docs/upgrading.md)."""
    clone = tmp_path / "template"
    run("git", "clone", "-q", ROOT, clone, cwd=ROOT.parent)
    if subprocess.run(["git", "cat-file", "-e", FLAT_LAYOUT], cwd=clone).returncode:
        pytest.skip("the flat-layout commit is not in this clone's history")
    run("git", "checkout", "-q", "-B", "main", FLAT_LAYOUT, cwd=clone)
    out = tmp_path / "out"
    run("cookiecutter", "--no-input", clone, "-o", out, "project_name=Team Project", cwd=tmp_path)
    project = out / "team-project"
    package = project / "src" / "team_project"
    assert (package / "tracking.py").is_file()
    change_as_a_user(project)  # params.yaml, a module of the team's, committed
    # A team that tuned a platform copy: its edit conflicts with the file's removal.
    logs = package / "logs.py"
    logs.write_text(logs.read_text().replace('"alembic", ', '"alembic", "botocore", '))
    run("git", "commit", "-qam", "quieter logs", cwd=project)

    listing = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    run("git", "rm", "-rqf", ".", cwd=clone)  # the newer template: this working tree, exactly
    for name in filter(None, listing.stdout.split("\0")):
        source, target = ROOT / name, clone / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    run("git", "add", "-A", cwd=clone)
    run("git", "commit", "-q", "-m", "project API", cwd=clone)

    update = subprocess.run(
        ["cruft", "update", "--skip-apply-ask"], cwd=project, capture_output=True, text=True
    )
    said = update.stdout + update.stderr
    rejected = sorted(str(p.relative_to(project)) for p in project.rglob("*.rej"))
    status = run("git", "status", "--porcelain", cwd=project).stdout.splitlines()
    conflicted = sorted(line[3:] for line in status if line[:2] in ("UU", "AA", "DU", "UD"))
    # Nothing rejected; the edited logs.py is the one file cruft cannot delete: it stays, as the
    # team left it (docs/upgrading.md), the unchanged platform copies are gone.
    assert rejected == [] and conflicted == [], said
    assert (package / "logs.py").read_text().count('"botocore"') == 1
    gone = not (package / "tracking.py").exists() and not (package / "data" / "roles.py").exists()
    assert gone, said
    assert "mlops_toolkit.project" in (package / "cli.py").read_text()
    assert "    C: 0.5\n" in (project / "params.yaml").read_text()
    assert (package / "ours.py").is_file()
    # The team resolves it: the toolkit's logging now (mlops_toolkit.project.logs.NOISY).
    (package / "logs.py").unlink()
    run(sys.executable, "-m", "venv", "--system-site-packages", ".venv", cwd=project)
    python = project / ".venv" / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-e",
        ".",
        cwd=project,
    )
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in tests.stdout and " failed" not in tests.stdout
