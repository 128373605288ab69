"""docs/getting-started.md works as written: its commands, in order, on a fresh project.

Every command of the page's `bash` blocks is classified below, and an unknown one fails the
test, so the page cannot grow a step nobody ran. What this machine can do runs for real:
generation, git, `init-data` on a real dataset from a package (palmerpenguins, with its target
renamed to the page's example), `make pipeline`, `doctor --local`. What needs GitHub, the GPU
machine or a deployed server cannot run here (`gh` cannot reach GitHub); those lines are checked
for their shape instead: every `gh variable set` / `gh secret set` names a setting that
docs/setup.md documents and the workflows read, and the runner's labels cover the workflows'
`runs-on`. `SKIPPED` says why each other line is not run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from support.project import bake, install_over_system

from template.test_setup_guide import names_in, read_by_workflows

GUIDE = Path("docs") / "getting-started.md"
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
# Lines not run here, and why (matched at the start of the command).
SKIPPED = {
    "pip install cruft": "the network: the test generates from this checkout (bake)",
    "gh auth login": "gh cannot reach GitHub from here",
    "gh repo create": "gh cannot reach GitHub; its shape is checked",
    "gh variable list": "gh cannot reach GitHub",
    "gh secret list": "gh cannot reach GitHub",
    "export MLFLOW_TRACKING_URI": "the team's server (doctor's full check: test_doctor.py)",
    "read -rs": "a prompt for the password of the team's server",
    "GH_TOKEN=": "GitHub's REST API: tests/toolkit/test_doctor.py runs it against a stand-in",
    "while true": "the GPU machine's runner loop; its labels are checked",
    "TOKEN=": "the GPU machine's runner loop",
    "./run.sh": "the GPU machine's runner loop",
    "done": "the GPU machine's runner loop",
    "gh api": "gh cannot reach GitHub",
    "gh repo fork": "gh cannot reach GitHub (publishing the toolkit)",
    "git tag": "publishing the toolkit happens in the fork, not in this project",
    "git push": "no GitHub remote here",
    "git switch -c": "the pull request steps need GitHub (push, checks, merge)",
    "git commit -am": "the pull request steps need GitHub (push, checks, merge)",
    "gh pr": "gh cannot reach GitHub",
    "gh run watch": "gh cannot reach GitHub",
    "gh workflow run": "gh cannot reach GitHub",
    "curl": "needs the deployed production server",
    "docker compose": "Docker Compose is not on this machine: test_monitoring_targets.py checks "
    "the file per deploy_target (the compose specification's schema, promtool)",
}


SETTINGS = {"variable": ("Repository variables", "vars"), "secret": ("Secrets", "secrets")}


def commands(markdown: str) -> list[str]:
    """The command lines of the `bash` blocks, in order (continuations joined)."""
    found = []
    for block in BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def skipped(command: str) -> str | None:
    return next((why for start, why in SKIPPED.items() if command.startswith(start)), None)


def check_gh_setting(project: Path, command: str) -> None:
    """`gh variable|secret set NAME ...`: NAME is documented and read by the workflows."""
    words = shlex.split(command.split("<", 1)[0])
    kind, name = words[1], words[3]
    guide = (project / "docs" / "setup.md").read_text()
    heading, read = {
        "variable": ("Repository variables", "vars"),
        "secret": ("Secrets", "secrets"),
    }[kind]
    assert name in names_in(guide, heading), f"{command}: {name} not in docs/setup.md"
    assert name in read_by_workflows(project)[read], f"{command}: no workflow reads {name}"
    if kind == "secret":
        assert "--body" not in words, f"{command}: a secret on the command line stays in history"


def self_hosted_labels(project: Path) -> list[set[str]]:
    found = []
    for workflow in (project / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            labels = job["runs-on"]
            if isinstance(labels, list) and "self-hosted" in labels:
                found.append({label.lower() for label in labels})
    return found


def check_runner(project: Path, command: str) -> None:
    """`./config.sh ... --labels a,b --ephemeral`: with the defaults, covers every runs-on."""
    words = shlex.split(command)
    assert "--ephemeral" in words and "--unattended" in words
    given = {"self-hosted", "linux", "x64"} | set(words[words.index("--labels") + 1].split(","))
    wanted = self_hosted_labels(project)
    assert wanted and all(labels <= {g.lower() for g in given} for labels in wanted), command


def check_repo_create(project: Path, command: str) -> None:
    words = shlex.split(command)
    assert words[4:] == ["--private", "--source", ".", "--push"], command
    assert words[3].endswith(f"/{project.name}"), command


CHECKED = {
    "gh variable set": check_gh_setting,
    "gh secret set": check_gh_setting,
    "./config.sh": check_runner,
    "gh repo create": check_repo_create,
}


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {
            "deploy_target": "kubernetes",
            "container_registry": "registry.example.com/team",
            "gpu_runner_labels": "self-hosted, a100, cuda12",
        },
        {"gpu_runner_labels": "", "deploy_target": "swarm"},
    ],
    ids=["default", "kubernetes-own-registry-labels", "cpu-only-swarm"],
)
def test_the_lines_that_need_github_name_real_settings(tmp_path, answers):
    project = bake(tmp_path, **answers)
    lines = commands((project / GUIDE).read_text())
    checked = 0
    for command in lines:
        for start, check in CHECKED.items():
            if command.startswith(start):
                check(project, command)
                checked += 1
    set_lines = [c for c in lines if c.startswith(("gh variable set", "gh secret set"))]
    assert "gh variable set MLFLOW_TRACKING_URI" in " ".join(set_lines)
    assert (any(c.startswith("./config.sh") for c in lines)) == bool(self_hosted_labels(project))
    assert checked >= len(set_lines) + 1


# --- the walk: every command this machine can run, in order --------------------------------

TARGET = "churned"  # the page's example target: penguins' `species`, renamed


def run(project: Path, command: list[str] | str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        cwd=project,
        env=env,
        shell=isinstance(command, str),
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def install(project: Path) -> None:
    """`make install`, substituted: a venv over this interpreter's packages with the project and
    this checkout's toolkit (support.project.install_over_system). `make install` itself (uv and
    pip, from a git URL) is tests/template/test_git_url.py's; on two shared cores it would take
    minutes here."""
    install_over_system(project, with_pytest=False)


def own_data(project: Path, command: str) -> None:
    """The file the page names, from a real dataset: strings, missing values, three classes."""
    from palmerpenguins import load_penguins

    source = shlex.split(command)[shlex.split(command).index("--source") + 1]
    assert TARGET in command, command
    load_penguins().rename(columns={"species": TARGET}).to_csv(project / source, index=False)


def git_repository(project: Path, env: dict) -> None:
    """Generation makes the project a git repository on main; until every generation path does,
    the walk makes one the same way (so the page's git lines run either way)."""
    inside = subprocess.run(["git", "-C", str(project), "rev-parse"], capture_output=True)
    if inside.returncode != 0:
        run(project, ["git", "init", "--quiet", "--initial-branch", "main"], env)


def check_success(project: Path, command: str, result: subprocess.CompletedProcess) -> None:
    """What the page says success looks like, where it says more than exit status 0."""
    out = result.stdout
    if command == "git status --short --branch":
        assert out.startswith("## main") or out.startswith("## No commits yet on main"), out
    elif command == "git status --short":
        assert out == "", f"left out of the commit:\n{out}"
    elif command == "make pipeline":
        assert "Holdout metrics" in out and "Model registered in MLflow" in out, out
    elif command.startswith("mlops-toolkit doctor --local"):
        assert "| python | ok |" in out and "| tracking store | ok |" in out, out


@pytest.mark.slow
def test_the_walkthrough_runs_in_order_on_a_fresh_project(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITHUB_"))}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@t", "GH_TOKEN": ""}
    # Generation first: the page's commands are read from the project it generated.
    project = bake(tmp_path)
    git_repository(project, env)
    lines = commands((project / GUIDE).read_text())
    assert lines[1].startswith("cruft create") and lines[2] == f"cd {project.name}", lines[:3]
    ran, skips = [lines[1]], []  # cruft create: substituted by bake, from this checkout
    for command in lines[2:]:
        why = skipped(command)
        if why:
            skips.append((command, why))
            continue
        ran.append(command)
        if command.startswith("cd "):
            continue  # the project's folder: every command runs there
        if command == "make install":
            install(project)
        elif command == "source .venv/bin/activate":
            env["PATH"] = f"{project / '.venv' / 'bin'}:{env['PATH']}"
            env["VIRTUAL_ENV"] = str(project / ".venv")
        elif " init-data " in command:
            own_data(project, command)
            if not (project / ".dvc" / "config").exists():  # until generation runs dvc init
                run(project, ["make", ".dvc/config"], env)
            run(project, command, env)
        elif command.startswith(tuple(CHECKED)):
            CHECKED[next(s for s in CHECKED if command.startswith(s))](project, command)
        else:
            check_success(project, command, run(project, command, env))
    assert [c.split()[0] for c in ran].count("git") >= 3, ran
    assert any(c.startswith("make pipeline") for c in ran) and any("--local" in c for c in ran)
    assert ("gh pr create --fill", SKIPPED["gh pr"]) in skips
