"""The generated workflows end to end with act: pull requests, releases, a failed release and
a rollback, against a real MLflow server, Docker engine and image registry, and a loopback
stand-in of the GitHub REST API. One scenario, asserted step by step."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from support.github_api import GitHubStandIn
from support.project import ROOT, bake
from support.servers import free_port, start_mlflow, stop

from . import dvcdata
from .act import Act

pytestmark = [pytest.mark.act, pytest.mark.docker]

OWNER_REPO = "acme/tumor-classifier"
TOOLKIT = "acme/cookiecutter-mlops@v1"
REGISTRY = "127.0.0.1:5000"
TOKEN = "e2e-token"


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(project: Path, message: str) -> str:
    git(project, "add", "-A")
    git(
        project,
        "-c",
        "user.name=dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "--allow-empty",
        "-qm",
        message,
    )
    return git(project, "rev-parse", "HEAD")


def set_c(project: Path, value: float) -> None:
    """The logistic regression's regularisation: tiny C makes a degenerate model."""
    params = project / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    raw["model"]["params"]["C"] = value
    params.write_text(yaml.safe_dump(raw, sort_keys=False))


class Scenario:
    def __init__(self, act: Act, project: Path, api: GitHubStandIn, client, ports: dict):
        self.act, self.project, self.api, self.client, self.ports = act, project, api, client, ports
        self.next_pr = 1

    def pull_request(self, change, title: str) -> tuple[int, subprocess.CompletedProcess]:
        number = self.next_pr
        self.next_pr += 1
        git(self.project, "checkout", "-q", "-b", f"pr-{number}", "main")
        change(self.project)
        head = commit(self.project, title)
        payload = {
            "number": number,
            "action": "synchronize",
            "pull_request": {
                "number": number,
                "head": {"sha": head, "ref": f"pr-{number}"},
                "base": {"ref": "main"},
                "title": title,
            },
            "repository": {"full_name": OWNER_REPO},
        }
        result = self.act.run("pull_request", "pull-request.yml", payload, f"pr-{number}")
        git(self.project, "checkout", "-q", "main")
        return number, result

    def merge(self, number: int) -> tuple[str, subprocess.CompletedProcess]:
        git(
            self.project,
            "-c",
            "user.name=dev",
            "-c",
            "user.email=dev@example.com",
            "merge",
            "-q",
            "--no-ff",
            f"pr-{number}",
            "-m",
            f"Merge pull request #{number}",
        )
        sha = git(self.project, "rev-parse", "HEAD")
        self.api.associate(OWNER_REPO, sha, number)
        payload = {"ref": "refs/heads/main", "after": sha, "repository": {"full_name": OWNER_REPO}}
        return sha, self.act.run("push", "release.yml", payload, f"release-{number}")

    def alias(self, name: str) -> str | None:
        try:
            return self.client.get_model_version_by_alias("tumor-classifier", name).version
        except Exception:
            return None

    def serving(self, stage: str) -> str:
        url = f"http://127.0.0.1:{self.ports[stage]}/version"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(json.loads(answer.read())["model_version"])

    def comment(self, number: int) -> str:
        comments = self.api.on(OWNER_REPO, number)
        assert len(comments) == 1, [c["body"][:80] for c in comments]
        return comments[0]["body"]


def image_tags(repository: str) -> set[str]:
    url = f"http://{REGISTRY}/v2/{repository}/tags/list"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return set(json.loads(answer.read()).get("tags") or [])


@pytest.fixture(scope="module")
def s3():
    """The team's object storage (moto on loopback): the scenario's DVC remote."""
    with dvcdata.s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, s3):
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("e2e")
    server = start_mlflow(root / "mlflow")
    ports = {"staging": free_port(), "production": free_port()}
    project = bake(
        root / "work",
        container_registry=f"{REGISTRY}/e2e",
        actions_repository=TOOLKIT.split("@")[0],
        actions_ref="v1",
    )
    git(project, "init", "-q", "-b", "main")
    git(project, "remote", "add", "origin", f"https://github.com/{OWNER_REPO}.git")
    data_variables = dvcdata.push_from_a_laptop(project, s3)
    set_c(project, 0.003)  # the first model is deliberately modest: later ones must beat it
    commit(project, "Generated by cookiecutter-mlops")
    toolkit_repo = root / "toolkit"
    shutil.copytree(
        ROOT,
        toolkit_repo,
        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "tests"),
    )
    logs = root / "logs"
    logs.mkdir()
    with GitHubStandIn(token=TOKEN) as api:
        act = Act(
            project=project,
            toolkit_repo=toolkit_repo,
            toolkit=TOOLKIT,
            token=TOKEN,
            logs=logs,
            variables={
                "MLFLOW_TRACKING_URI": server.uri,
                "DOCKER_HOST": "unix:///var/run/docker.sock",
                "REQUIRE_GPU": "false",
                "REGISTRY": REGISTRY,
                "DOCKER_BUILD_NETWORK": "host",
                "STAGING_PORT": str(ports["staging"]),
                "PRODUCTION_PORT": str(ports["production"]),
                "DEPLOY_HOST": "127.0.0.1",
                **data_variables,
            },
            secrets=dvcdata.KEYS,
            env={"GITHUB_API_URL": api.url, "E2E_ARTIFACTS": str(root / "artifacts")},
        )
        yield Scenario(act, project, api, MlflowClient(server.uri), ports)
    subprocess.run(
        ["docker", "rm", "-f", "tumor-classifier-staging", "tumor-classifier-production"],
        capture_output=True,
        check=False,
    )
    stop(server.proc)


def explain(result: subprocess.CompletedProcess) -> str:
    """The tail of every failed job's own lines (act interleaves jobs), then the run's tail."""
    lines = (result.stdout + result.stderr).splitlines()
    failed = {line.split("]", 1)[0] + "]" for line in lines if "❌" in line and "]" in line}
    parts = []
    for job in sorted(failed):
        own = [line for line in lines if line.startswith(job)]
        parts.append("\n".join(own[-60:]))
    return "\n\n".join([*parts, result.stdout[-3000:] + result.stderr[-1000:]])


def test_lifecycle(scenario: Scenario):
    s = scenario
    # 1. First pull request on a fresh project: no production model, bootstrap gate passes.
    first, result = s.pull_request(lambda p: None, "First model")
    assert result.returncode == 0, explain(result)
    assert s.alias("challenger") == "1"
    assert s.alias("production") is None
    body = s.comment(first)
    assert "Bootstrap mode" in body and "Data validation: passed" in body
    assert dvcdata.PULLED in result.stdout  # the data came from the DVC remote in S3 ...
    trained = s.client.get_run(s.client.get_model_version("tumor-classifier", "1").run_id).data
    assert trained.tags["mlops.data_source"] == dvcdata.SOURCE  # ... and the model learnt it
    rows = int(trained.tags["mlops.rows_train"]) + int(trained.tags["mlops.rows_holdout"])
    assert rows == dvcdata.ROWS

    # 2. Merge: version 1 registered, image pushed, staging then production serve it.
    sha, result = s.merge(first)
    assert result.returncode == 0, explain(result)
    assert dvcdata.PULLED in result.stdout  # the re-gate's holdout comes from the remote too
    assert (s.alias("staging"), s.alias("production")) == ("1", "1")
    assert {"1", f"sha-{sha}"} <= image_tags("e2e/tumor-classifier")
    assert (s.serving("staging"), s.serving("production")) == ("1", "1")

    # 3. A clearly worse model: the gate fails, the workflow fails, production is untouched.
    worse, result = s.pull_request(lambda p: set_c(p, 1e-7), "Degenerate regularisation")
    assert result.returncode != 0
    body = s.comment(worse)
    assert "Model gate: failed" in body and "**FAIL**" in body
    assert s.alias("production") == "1" and s.serving("production") == "1"
    registered = s.client.search_model_versions("name = 'tumor-classifier'")
    assert all(v.tags.get("mlops.pull_request") != str(worse) for v in registered)

    # 4. A better model, merged: version 2 in production, version 1 recorded as previous.
    better, result = s.pull_request(lambda p: set_c(p, 1.0), "Less regularisation")
    assert result.returncode == 0, explain(result)
    assert "Model gate: passed" in s.comment(better)
    _, result = s.merge(better)
    assert result.returncode == 0, explain(result)
    assert s.alias("production") == "2"
    version2 = s.client.get_model_version("tumor-classifier", "2")
    assert version2.tags["mlops.previous_production_version"] == "1"
    assert (s.serving("staging"), s.serving("production")) == ("2", "2")

    # 5. A merge whose image fails its smoke test: the pull request's checks pass (its model
    #    and unit tests are fine) but the image caps request bodies at 64 bytes, so the smoke
    #    request is refused. The release fails; production still serves version 2, alias unmoved.
    def cap_request_size(project: Path) -> None:
        dockerfile = project / "Dockerfile"
        text = dockerfile.read_text()
        assert "    SERVING_PORT=8080\n" in text
        dockerfile.write_text(
            text.replace(
                "    SERVING_PORT=8080\n",
                "    SERVING_PORT=8080 \\\n    SERVING_MAX_BODY_BYTES=64\n",
            )
        )

    broken, result = s.pull_request(cap_request_size, "Tighten the request size limit")
    assert result.returncode == 0, explain(result)
    _, result = s.merge(broken)
    assert result.returncode != 0
    assert "smoke" in result.stdout + result.stderr
    assert s.alias("production") == "2" and s.serving("production") == "2"
    assert s.serving("staging") == "2"  # the deployment put the previous container back

    # 6. Rollback with no input: production serves version 1 again, the alias moved.
    result = s.act.run("workflow_dispatch", "rollback.yml", {"inputs": {"version": ""}}, "rollback")
    assert result.returncode == 0, explain(result)
    assert s.alias("production") == "1"
    assert s.serving("production") == "1"
