"""docs/setup.md documents exactly what the generated workflows read from GitHub's settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from support.project import bake

VARIANTS = {
    "gpu-runner": {},
    "cpu-only": {"gpu_runner_labels": "", "python_version": "3.12"},
    "regression-xgboost": {
        "task": "regression",
        "model_family": "xgboost",
        "gpu_runner_labels": "self-hosted,a100",
    },
    "swarm": {"deploy_target": "swarm"},
    "kubernetes": {"deploy_target": "kubernetes", "gpu_runner_labels": ""},
}
READ = re.compile(r"\b(vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)")
# GitHub's own secret, not one the team sets.
BUILT_IN = {("secrets", "GITHUB_TOKEN")}


@pytest.fixture(scope="module", params=list(VARIANTS))
def project(request, tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("setup"), **VARIANTS[request.param])


def table(markdown: str, heading: str) -> list[list[str]]:
    """The rows (cells, without the header) of the first table under `## heading`."""
    section = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def names_in(markdown: str, heading: str) -> set[str]:
    """Names in the first column of a table: `NAME` (environments: `pull-request` too)."""
    found = set()
    for cells in table(markdown, heading):
        match = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_-]*)`", cells[0])
        assert match, f"{heading}: first cell {cells[0]!r} is not one `NAME`"
        found.add(match[1])
    return found


def read_by_workflows(project: Path) -> dict[str, set[str]]:
    read: dict[str, set[str]] = {"vars": set(), "secrets": set()}
    for workflow in (project / ".github" / "workflows").glob("*.yml"):
        for kind, name in READ.findall(workflow.read_text()):
            if (kind, name) not in BUILT_IN:
                read[kind].add(name)
    return read


def test_the_readme_links_the_guide(project):
    assert "(docs/setup.md)" in (project / "README.md").read_text()


def test_every_variable_and_secret_is_documented_and_no_more(project):
    guide = (project / "docs" / "setup.md").read_text()
    read = read_by_workflows(project)
    assert read["vars"] and read["secrets"]  # the scan itself works
    assert names_in(guide, "Repository variables") == read["vars"]
    assert names_in(guide, "Secrets") == read["secrets"]


def test_every_environment_and_runner_is_documented(project):
    guide = (project / "docs" / "setup.md").read_text()
    environments, runners = set(), set()
    for workflow in (project / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            if "environment" in job:
                environments.add(job["environment"])
            labels = job["runs-on"]
            runners.add(tuple(labels) if isinstance(labels, list) else (labels,))
    assert names_in(guide, "Environments") == environments
    documented = {tuple(re.findall(r"`([^`]+)`", cells[0])) for cells in table(guide, "Runners")}
    assert documented == runners
    production = next(c for c in table(guide, "Environments") if c[0] == "`production`")
    assert "required reviewers" in production[2]


def doctor_rows(project: Path, *args: str) -> set[str]:
    """The check names of one real `mlops-toolkit doctor` table, run in the project."""
    import os
    import subprocess
    import sys

    from support.project import ROOT
    from support.servers import free_port

    dead = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "actions" / "src"),
        "MLFLOW_TRACKING_URI": "",
        "DOCKER_HOST": f"tcp://{dead}",
        "GITHUB_API_URL": f"http://{dead}",  # no network: the GitHub rows fail, but appear
        "GITHUB_ACTIONS": "",
        "GITHUB_REPOSITORY": "team/project",
        "GH_TOKEN": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mlops_toolkit.cli", "doctor", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("| ")][1:]
    assert lines, result.stdout + result.stderr
    return {ln.strip("|").split(" | ")[0].strip() for ln in lines}


def test_the_guide_claims_exactly_the_checks_doctor_makes(project):
    guide = (project / "docs" / "setup.md").read_text()
    section = guide.split("| row | what it checks |", 1)[1].split("\n\n", 1)[0]
    documented = {
        name
        for row in re.findall(r"^\| (.+?) \|", section, re.M)
        for name in re.findall(r"`([^`]+)`", row)
    }
    full = doctor_rows(project, "--docker", "--image-registry", "127.0.0.1:1")
    local = doctor_rows(project, "--local")
    assert documented == full, (documented, full)
    local_paragraph = guide.split("`mlops-toolkit doctor --local` checks only the laptop", 1)[1]
    local_paragraph = local_paragraph.split("\n\n", 1)[0]
    assert local == set(
        re.findall(r"`(python|tracking store|dvc remote|docker host|gpu)`", local_paragraph)
    ), local
