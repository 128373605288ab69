"""The act scenario the e2e tests share: one generated project, its MLflow server, registry and
GitHub stand-in, and the moves a team makes on it (pull requests, merges, rollbacks)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import yaml
from support.github_api import GitHubStandIn
from support.load import Load
from support.servers import MlflowServer

from .act import Act

OWNER_REPO = "acme/tumor-classifier"
TOOLKIT = "acme/cookiecutter-mlops@v1"
REGISTRY = "127.0.0.1:5000"
TOKEN = "e2e-token"
# Per deploy target: the project's name (so its containers, services, image repository and
# model never meet the other variant's when both run at once) and its extra repository vars.
TARGETS = {
    "docker": {"project_name": "Tumor Classifier", "deploy_target": "docker", "vars": {}},
    "swarm": {
        "project_name": "Tumor Classifier Swarm",
        "deploy_target": "swarm",
        # This kernel has no IPVS for the routing mesh: tasks share the port on the host network.
        "vars": {"SWARM_PUBLISH": "host", "SWARM_REPLICAS": "2"},
    },
    # Failing pull requests and releases, and a tracking server killed mid-job
    # (test_pull_request_failures.py): a scenario and an xdist group of its own.
    "failures": {
        "project_name": "Tumor Classifier Failures",
        "deploy_target": "docker",
        "vars": {},
    },
}
# Scenarios that only the modules naming them (indirect parametrize) use; the rest is every
# module's default.
OWN_SCENARIOS = ("failures",)


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
        self,
        act: Act,
        project: Path,
        api: GitHubStandIn,
        client,
        ports: dict,
        target: str,
        server: MlflowServer | None = None,
    ):
        self.act, self.project, self.api, self.client, self.ports = act, project, api, client, ports
        self.target = target
        self.server = server  # the scenario's own tracking server (a test may restart it)
        self.model = project.name  # app, registered model and image repository name
        self.store: str | None = None  # the prediction store its servers log to (docker)
        self.next_pr = 1

    def pull_request(
        self, change, title: str, head_repo: str = OWNER_REPO, job: str | None = None
    ) -> tuple[int, subprocess.CompletedProcess]:
        """A pull request from a branch of ``head_repo`` (GitHub's payload always names it; a
        fork's is another repository); ``job``: that job of the workflow alone."""
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
        result = self.act.run("pull_request", "pull-request.yml", payload, f"pr-{number}", job)
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


def explain(result: subprocess.CompletedProcess) -> str:
    """The tail of every failed job's own lines (act interleaves jobs), then the run's tail."""
    lines = (result.stdout + result.stderr).splitlines()
    failed = {line.split("]", 1)[0] + "]" for line in lines if "❌" in line and "]" in line}
    parts = []
    for job in sorted(failed):
        own = [line for line in lines if line.startswith(job)]
        parts.append("\n".join(own[-60:]))
    return "\n\n".join([*parts, result.stdout[-3000:] + result.stderr[-1000:]])


def run_count(s: Scenario) -> int:
    """Runs in the project's experiment (none before its first training)."""
    experiment = s.client.get_experiment_by_name(s.model)
    return len(s.client.search_runs([experiment.experiment_id])) if experiment else 0
