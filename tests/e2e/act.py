"""Running the generated project's workflow files with nektos act on this host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from support.act_env import host_env

STANDINS = Path(__file__).parent / "standins"
# Every runner label the generated workflows use runs directly on this host.
LABELS = ("ubuntu-latest", "self-hosted", "linux", "gpu")


def one_checkout_per_job(repo: Path) -> None:
    """A runner fetches an action repository once per job (`_actions/owner/name/ref`), so every
    toolkit action of a job runs from one folder and finds the editable install of the first
    ("already installed"). act copies the repository for each action it runs, and each copy
    reinstalled the toolkit (pip, about 20 s a step on two busy cores, most of a job's time).
    The copies share the package's source through a symlink (act keeps symlinks), so the
    actions' own check sees one source as on a runner; pyproject.toml sits beside it, so the
    image still builds the toolkit's wheel from that folder. Two jobs of a run at once share
    it too (a runner would not): the editable builds both rewrite its egg-info with the same
    bytes, and their metadata and files come from their own build folders."""
    src = repo / "actions" / "src"
    if src.is_symlink():
        return
    shared = repo.parent / f"{repo.name}-runner" / "actions"
    shutil.copytree(repo / "actions", shared, ignore=shutil.ignore_patterns("src"))
    shutil.move(src, shared / "src")
    src.symlink_to(shared / "src", target_is_directory=True)


@dataclass
class Act:
    """One project repository and everything act needs to run its workflows here."""

    project: Path
    toolkit_repo: Path
    toolkit: str  # owner/name@ref the workflows use
    variables: dict[str, str]
    env: dict[str, str]
    token: str
    logs: Path
    runs: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # beside GITHUB_TOKEN
    current: Path | None = None  # the log of the run going on

    def __post_init__(self) -> None:
        one_checkout_per_job(self.toolkit_repo)

    def _standins(self) -> list[str]:
        """--local-repository for each pinned marketplace action the workflows use."""
        args = []
        for workflow in (self.project / ".github" / "workflows").glob("*.yml"):
            for job in yaml.safe_load(workflow.read_text())["jobs"].values():
                for step in job.get("steps", []):
                    uses = step.get("uses", "")
                    if uses.startswith("actions/"):
                        name = uses.split("@")[0].split("/")[1]
                        mapping = f"{uses}={STANDINS / name}"
                        if mapping not in args:
                            args += ["--local-repository", mapping]
        return args

    def run(
        self, event: str, workflow: str, payload: dict, name: str, job: str | None = None
    ) -> subprocess.CompletedProcess:
        """`act EVENT -W workflow` (only ``job`` when given); the output is kept in
        logs/<name>.log."""
        event_file = self.logs / f"{name}.event.json"
        event_file.write_text(json.dumps(payload))
        command = [
            shutil.which("act") or "act",
            event,
            "-W",
            f".github/workflows/{workflow}",
            "-e",
            str(event_file),
            "--action-offline-mode",
            # act copies each used action's repository here for a run; a run cut short leaves it.
            "--action-cache-path",
            str(self.logs.parent / "act-cache"),
            "--local-repository",
            f"{self.toolkit}={self.toolkit_repo}",
            "-s",
            f"GITHUB_TOKEN={self.token}",
        ]
        if job:
            command += ["-j", job]
        command += self._standins()
        for label in LABELS:
            command += ["-P", f"{label}=-self-hosted"]
        for key, value in self.secrets.items():
            command += ["-s", f"{key}={value}"]
        for key, value in self.variables.items():
            command += ["--var", f"{key}={value}"]
        for key, value in {**host_env(), **self.env}.items():
            command += ["--env", f"{key}={value}"]
        log, errors = self.logs / f"{name}.log", self.logs / f"{name}.stderr"
        # The log is written as act runs (self.current): a test may wait for a step's line.
        self.current = log
        try:
            with log.open("w") as out, errors.open("w") as err:
                done = subprocess.run(
                    command,
                    cwd=self.project,
                    stdout=out,
                    stderr=err,
                    timeout=1200,
                    check=False,
                    env={**os.environ, "NO_COLOR": "1"},
                )
        finally:
            self.current = None
        stdout, stderr = log.read_text(), errors.read_text()
        log.write_text(stdout + stderr)
        errors.unlink()
        self.runs.append(name)
        return subprocess.CompletedProcess(done.args, done.returncode, stdout, stderr)

    def step_done(self, step: str, outcome: str = "Success") -> bool:
        """Whether the run going on has ended the workflow step named ``step`` (its name in
        the workflow) with ``outcome`` ("Success" or "Failure"): act's own line for it."""
        log = self.current
        return log is not None and f"  {outcome} - Main {step} [" in log.read_text()
