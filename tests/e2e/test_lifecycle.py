"""The generated workflows end to end with act: pull requests, releases, a failed release and
a rollback, against a real MLflow server, Docker engine and image registry, and a loopback
stand-in of the GitHub REST API. One scenario, asserted step by step, for each deploy target
that runs here: `docker` (one host, as generated: no DOCKER_PUBLISH, so the host-network
handover) and `swarm` (services on the engine's single-node Swarm, publish host). Both with
steady load on production through the update and the rollback, and no request may fail."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from support.github_api import GitHubStandIn
from support.load import Load
from support.project import bake, published_copy
from support.servers import free_port, start_mlflow, stop
from support.swarm import require_swarm

from . import dvcdata
from .act import Act

pytestmark = [pytest.mark.act, pytest.mark.docker]

OWNER_REPO = "acme/tumor-classifier"
TOOLKIT = "acme/cookiecutter-mlops@v1"
REGISTRY = "127.0.0.1:5000"
TOKEN = "e2e-token"
# Per deploy target: the project's name (so its containers, services, image repository and
# model never meet the other variant's when both run at once) and its extra repository vars.
TARGETS = {
    "docker": {"project_name": "Tumor Classifier", "vars": {}},
    "swarm": {
        "project_name": "Tumor Classifier Swarm",
        # This kernel has no IPVS for the routing mesh: tasks share the port on the host network.
        "vars": {"SWARM_PUBLISH": "host", "SWARM_REPLICAS": "2"},
    },
}


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
    def __init__(
        self, act: Act, project: Path, api: GitHubStandIn, client, ports: dict, target: str
    ):
        self.act, self.project, self.api, self.client, self.ports = act, project, api, client, ports
        self.target = target
        self.model = project.name  # app, registered model and image repository name
        self.next_pr = 1

    def pull_request(
        self, change, title: str, head_repo: str = OWNER_REPO
    ) -> tuple[int, subprocess.CompletedProcess]:
        """A pull request from a branch of ``head_repo`` (GitHub's payload always names it; a
        fork's is another repository)."""
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
                "head": {"sha": head, "ref": f"pr-{number}", "repo": {"full_name": head_repo}},
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
            return self.client.get_model_version_by_alias(self.model, name).version
        except Exception:
            return None

    def serving(self, stage: str) -> str:
        url = f"http://127.0.0.1:{self.ports[stage]}/version"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(json.loads(answer.read())["model_version"])

    def under_load(self) -> Load:
        """Steady load on production while it changes: both targets, as generated, promise no
        failed request (docker: the host-network handover, its default; swarm: start-first)."""
        return Load(self.ports["production"], workers=2, pause_s=0.02)

    def replica_images(self, stage: str) -> list[str]:
        """The images the stage's running tasks run (swarm)."""
        import docker

        service = docker.from_env().services.get(f"{self.model}-{stage}")
        tasks = service.tasks(filters={"desired-state": "running"})
        return sorted(
            t["Spec"]["ContainerSpec"]["Image"] for t in tasks if t["Status"]["State"] == "running"
        )

    def image_of(self, version: str) -> str:
        return self.client.get_model_version(self.model, version).tags["mlops.image"]

    def comment(self, number: int) -> str:
        comments = self.api.on(OWNER_REPO, number)
        assert len(comments) == 1, [c["body"][:80] for c in comments]
        return comments[0]["body"]


def image_tags(repository: str) -> set[str]:
    url = f"http://{REGISTRY}/v2/{repository}/tags/list"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return set(json.loads(answer.read()).get("tags") or [])


def assert_no_failed_request(load: Load, *versions: str) -> None:
    print("load on production:", load.result.summary())
    assert load.result.failed == 0, load.result.summary()
    assert set(versions) <= set(load.result.versions), load.result.summary()


def assert_host_handover(s: Scenario) -> None:
    """docker, as generated: both stages' containers run on the host network (the handover)."""
    if s.target == "docker":
        import docker

        for stage in ("staging", "production"):
            container = docker.from_env().containers.get(f"{s.model}-{stage}")
            assert container.attrs["HostConfig"]["NetworkMode"] == "host", stage


def assert_replicas(s: Scenario, version: str) -> None:
    """swarm: both stages' services run ``version``'s image on every replica."""
    if s.target == "swarm":
        expected = [s.image_of(version)] * 2
        assert s.replica_images("staging") == s.replica_images("production") == expected


def remove_deployments(target: str, app: str) -> None:
    stages = [f"{app}-staging", f"{app}-production"]
    remove = ["docker", "service", "rm"] if target == "swarm" else ["docker", "rm", "-f"]
    subprocess.run([*remove, *stages], capture_output=True, check=False)


@pytest.fixture(scope="module")
def s3():
    """The team's object storage (moto on loopback): the scenario's DVC remote."""
    with dvcdata.s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module", params=list(TARGETS))
def scenario(request, tmp_path_factory, s3):
    from mlflow import MlflowClient

    target = request.param
    if target == "swarm":
        require_swarm()
    root = tmp_path_factory.mktemp(f"e2e-{target}")
    server = start_mlflow(root / "mlflow")
    ports = {"staging": free_port(), "production": free_port()}
    project = bake(
        root / "work",
        project_name=TARGETS[target]["project_name"],
        deploy_target=target,
        container_registry=f"{REGISTRY}/e2e",
        actions_repository=TOOLKIT.split("@")[0],
        actions_ref="v1",
    )
    git(project, "init", "-q", "-b", "main")
    git(project, "remote", "add", "origin", f"https://github.com/{OWNER_REPO}.git")
    data_variables = dvcdata.push_from_a_laptop(project, s3)
    set_c(project, 0.003)  # the first model is deliberately modest: later ones must beat it
    commit(project, "Generated by cookiecutter-mlops")
    toolkit_repo = published_copy(root / "toolkit")
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
                **TARGETS[target]["vars"],
                **data_variables,
            },
            secrets=dvcdata.KEYS,
            env={"GITHUB_API_URL": api.url, "E2E_ARTIFACTS": str(root / "artifacts")},
        )
        yield Scenario(act, project, api, MlflowClient(server.uri), ports, target)
    remove_deployments(target, project.name)
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
    trained = s.client.get_run(s.client.get_model_version(s.model, "1").run_id).data
    assert trained.tags["mlops.data_source"] == dvcdata.SOURCE  # ... and the model learnt it
    rows = int(trained.tags["mlops.rows_train"]) + int(trained.tags["mlops.rows_holdout"])
    assert rows == dvcdata.ROWS

    # 2. Merge: version 1 registered, image pushed, staging then production serve it.
    sha, result = s.merge(first)
    assert result.returncode == 0, explain(result)
    assert dvcdata.PULLED in result.stdout  # the re-gate's holdout comes from the remote too
    assert (s.alias("staging"), s.alias("production")) == ("1", "1")
    assert {"1", f"sha-{sha}"} <= image_tags(f"e2e/{s.model}")
    assert (s.serving("staging"), s.serving("production")) == ("1", "1")
    assert_replicas(s, "1")
    assert_host_handover(s)

    # 3. A clearly worse model: the gate fails, the workflow fails, production is untouched.
    worse, result = s.pull_request(lambda p: set_c(p, 1e-7), "Degenerate regularisation")
    assert result.returncode != 0
    body = s.comment(worse)
    assert "Model gate: failed" in body and "**FAIL**" in body
    assert s.alias("production") == "1" and s.serving("production") == "1"
    registered = s.client.search_model_versions(f"name = '{s.model}'")
    assert all(v.tags.get("mlops.pull_request") != str(worse) for v in registered)

    # 4. A better model, merged: version 2 in production, version 1 recorded as previous.
    better, result = s.pull_request(lambda p: set_c(p, 1.0), "Less regularisation")
    assert result.returncode == 0, explain(result)
    assert "Model gate: passed" in s.comment(better)
    with s.under_load() as load:
        _, result = s.merge(better)
    assert result.returncode == 0, explain(result)
    assert_no_failed_request(load, "1", "2")
    assert s.alias("production") == "2"
    version2 = s.client.get_model_version(s.model, "2")
    assert version2.tags["mlops.previous_production_version"] == "1"
    assert (s.serving("staging"), s.serving("production")) == ("2", "2")
    assert_replicas(s, "2")

    # 5. A merge whose image fails its smoke test: the pull request's checks pass (its model
    #    and unit tests are fine) but the image caps request bodies at 64 bytes, so the smoke
    #    request is refused. The release fails; production still serves version 2, alias unmoved.
    def cap_request_size(project: Path) -> None:
        dockerfile = project / "Dockerfile"
        text = dockerfile.read_text()
        anchor = "    SERVING_HOST=0.0.0.0 \\\n"  # a line of the ENV block, not its last one
        assert anchor in text
        dockerfile.write_text(text.replace(anchor, f"{anchor}    SERVING_MAX_BODY_BYTES=64 \\\n"))

    broken, result = s.pull_request(cap_request_size, "Tighten the request size limit")
    assert result.returncode == 0, explain(result)
    _, result = s.merge(broken)
    assert result.returncode != 0
    assert "smoke" in result.stdout + result.stderr
    assert s.alias("production") == "2" and s.serving("production") == "2"
    assert s.serving("staging") == "2"  # the deployment put the previous container back
    assert_replicas(s, "2")

    # 6. Rollback with no input: production serves version 1 again, the alias moved.
    with s.under_load() as load:
        result = s.act.run(
            "workflow_dispatch", "rollback.yml", {"inputs": {"version": ""}}, "rollback"
        )
    assert result.returncode == 0, explain(result)
    assert_no_failed_request(load, "2", "1")
    assert s.alias("production") == "1"
    assert s.serving("production") == "1"
    if s.target == "swarm":  # the previous image is back on every production replica
        assert s.replica_images("production") == [s.image_of("1")] * 2


def test_a_typo_in_params_is_explained_in_the_comment(scenario: Scenario):
    """A new user's typo in params.yaml: the job fails at check-gate, before any training, and
    the sticky comment says why (the project command's line), how to fix it and where the log
    is. One target is enough: a pull request deploys nothing."""
    s = scenario
    if s.target != "docker":
        pytest.skip("the pull-request job is the same for every deploy target")

    def typo(project: Path) -> None:
        params = project / "params.yaml"
        raw = yaml.safe_load(params.read_text())
        raw["split"]["holdout_fracton"] = raw["split"].pop("holdout_fraction")
        params.write_text(yaml.safe_dump(raw, sort_keys=False))

    versions = len(s.client.search_model_versions(f"name = '{s.model}'"))
    number, result = s.pull_request(typo, "Typo in params.yaml")
    assert result.returncode != 0
    body = s.comment(number)
    assert "## Failed at step `gate-config`" in body, body
    cause = "params.yaml: unknown key split.holdout_fracton (known: holdout_fraction, seed"
    assert cause in body, body
    assert "**Fix:** correct the key" in body
    assert f"/{OWNER_REPO}/actions/runs/" in body
    assert len(s.client.search_model_versions(f"name = '{s.model}'")) == versions


def test_a_fork_pull_request_never_reaches_the_training_runner(scenario: Scenario):
    """A fork's code must not train on the team's GPU machine nor see its secrets: the model job
    (self-hosted runner, tracking credentials) is skipped, nothing is trained or registered, and
    the unit tests still run on a hosted runner."""
    s = scenario
    if s.target != "docker":
        pytest.skip("the pull-request job is the same for every deploy target")
    versions = len(s.client.search_model_versions(f"name = '{s.model}'"))
    runs = run_count(s)
    _, result = s.pull_request(
        lambda p: set_c(p, 0.5), "A change from a fork", head_repo="stranger/tumor-classifier"
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, explain(result)
    # act prefixes each line with [workflow/job name]: the hosted unit tests ran, the model job
    # (its name in the workflow) never started.
    assert re.search(r"\[pull request/unit tests *\]", log), log[-3000:]
    assert not re.search(r"\[pull request/validate, train, gate, register *\]", log), log[-3000:]
    assert len(s.client.search_model_versions(f"name = '{s.model}'")) == versions
    assert run_count(s) == runs


def run_count(s: Scenario) -> int:
    """Runs in the project's experiment (none before its first training)."""
    experiment = s.client.get_experiment_by_name(s.model)
    return len(s.client.search_runs([experiment.experiment_id])) if experiment else 0
