"""validate-data and train run the project's own commands (here: small contract stand-ins)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
from conftest import HERE, cli, outputs, run_gate
from mlops_toolkit import names
from mlops_toolkit.compute import gpu
from mlops_toolkit.project import gpu_available

PROJECT = HERE / "fixtures" / "project"


@pytest.fixture
def project(tmp_path, dataset) -> Path:
    shutil.copytree(PROJECT, tmp_path / "project")
    dataset[0].to_csv(tmp_path / "project" / "train.csv", index=False)
    return tmp_path / "project"


def test_valid_data_passes(project, tmp_path):
    out, summary = tmp_path / "out", tmp_path / "summary.md"
    r = cli(
        "validate-data",
        "--command",
        "python validate.py train.csv",
        "--working-directory",
        str(project),
        env={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert r.returncode == 0, r.stderr
    o = outputs(out)
    assert o["passed"] == "true"
    assert o["report"] == str(project / "reports" / "validation.json")
    assert o["html"] == str(project / "reports" / "validation.html")
    assert "Data validation: passed" in summary.read_text()


def test_invalid_data_lists_failures_with_examples(project, tmp_path):
    frame = pd.read_csv(project / "train.csv")
    frame.loc[:3, "mean radius"] = [-1.0, 99.5, 1234.0, -7.25]
    frame.loc[5, "mean texture"] = None
    frame.to_csv(project / "bad.csv", index=False)
    out, summary = tmp_path / "out", tmp_path / "summary.md"
    r = cli(
        "validate-data",
        "--command",
        "python validate.py bad.csv",
        "--working-directory",
        str(project),
        env={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert r.returncode == 2
    assert "2 expectation(s) not met" in r.stderr
    assert outputs(out)["passed"] == "false"
    text = summary.read_text()
    assert "`expect_column_values_to_be_between`" in text and "99.5" in text and "1234.0" in text
    assert "expect_column_values_to_not_be_null" in text and "mean texture" in text


def test_invalid_data_can_be_reported_without_failing(project, tmp_path):
    frame = pd.read_csv(project / "train.csv")
    frame.loc[0, "mean radius"] = -5
    frame.to_csv(project / "bad.csv", index=False)
    r = cli(
        "validate-data",
        "--command",
        "python validate.py bad.csv",
        "--working-directory",
        str(project),
        "--no-fail-on-invalid",
    )
    assert r.returncode == 0 and "output passed=false" in r.stdout


def test_broken_csv_is_a_one_line_error_without_stale_report(project):
    (project / "reports").mkdir()
    (project / "reports" / "validation.json").write_text('{"success": true}')  # stale
    (project / "broken.csv").write_bytes(b"\x00\x01not,a\ncsv")
    r = cli(
        "validate-data",
        "--command",
        "python validate.py missing.csv 2>/dev/null",
        "--working-directory",
        str(project),
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"mlops-toolkit validate-data: error: the validation command wrote no report at "
        f"{project / 'reports' / 'validation.json'}"
    ]


def test_train_outputs_run_and_tags_compute(mlflow_server, project, tmp_path, monkeypatch):
    out = tmp_path / "out"
    r = cli(
        "train",
        "--command",
        "python train.py train.csv",
        "--working-directory",
        str(project),
        "--timeout-minutes",
        "5",
        env={"GITHUB_OUTPUT": str(out)},
    )
    assert r.returncode == 0, r.stderr
    o = outputs(out)
    assert o["model-uri"] == f"runs:/{o['run-id']}/model"
    from mlflow import MlflowClient

    tags = MlflowClient().get_run(o["run-id"]).data.tags
    expected = gpu.detect()
    assert tags[names.TAG_COMPUTE] == expected.kind == o["compute"]
    assert tags[names.TAG_GPU_COUNT] == str(expected.count)
    assert tags["mlops.compute_seen_by_project"] == expected.kind


def fake_nvidia_smi(directory: Path, output: str) -> Path:
    """nvidia-smi answering like two A100s (this machine has no GPU to ask)."""
    exe = directory / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_gpu_detection_parses_nvidia_smi(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, "NVIDIA A100-SXM4-80GB, 550.54.15\nNVIDIA A100-SXM4-80GB, 550.54.15")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    compute = gpu.detect()
    assert (compute.kind, compute.count, compute.name, compute.driver) == (
        "gpu",
        2,
        "NVIDIA A100-SXM4-80GB",
        "550.54.15",
    )
    assert gpu_available()  # the project API's probe (1.4) is this one


def test_require_gpu_fails_fast_without_one(project, tmp_path):
    if gpu.detect().count:
        pytest.skip("this runner has a GPU")
    r = cli(
        "train",
        "--command",
        "touch ran && python train.py train.csv",
        "--working-directory",
        str(project),
        "--require-gpu",
    )
    assert r.returncode == 1
    assert "require-gpu is set but nvidia-smi finds no GPU" in r.stderr
    assert not (project / "ran").exists()


@pytest.mark.gpu
def test_real_gpu_is_detected():
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no nvidia-smi here")
    compute = gpu.detect()
    assert compute.count >= 1 and compute.driver not in ("", "none")


def test_train_timeout_stops_the_command(project, mlflow_server):
    r = cli(
        "train",
        "--command",
        "sleep 60 & echo $! > child.pid; wait",
        "--working-directory",
        str(project),
        "--timeout-minutes",
        "0.05",
    )
    assert r.returncode == 1 and "timed out after 3 s" in r.stderr
    pid = int((project / "child.pid").read_text())
    import time

    time.sleep(0.5)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_train_failure_is_one_line(project, mlflow_server):
    r = cli("train", "--command", "exit 7", "--working-directory", str(project))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "mlops-toolkit train: error: training command exited with status 7"
    ]


def test_generated_project_through_the_toolkit(mlflow_server, tmp_path):
    """A real generated project: its validate-data and train, then gate and register."""
    import json
    import subprocess
    import sys

    from conftest import ACTIONS_SRC, REPO

    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(REPO), "--no-input", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    project = next(p for p in tmp_path.iterdir() if (p / "gate.yaml").is_file())
    package = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").is_file())
    env = {"PYTHONPATH": os.pathsep.join([str(project / "src"), str(ACTIONS_SRC)])}
    run = [sys.executable, "-m", package]
    prepared = subprocess.run(
        [*run, "prepare-data"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert prepared.returncode == 0, prepared.stderr[-2000:]
    out = tmp_path / "out"
    env["GITHUB_OUTPUT"] = str(out)
    validated = cli(
        "validate-data",
        "--command",
        f"{sys.executable} -m {package} validate-data",
        "--working-directory",
        str(project),
        env=env,
    )
    assert validated.returncode == 0, validated.stderr[-2000:]
    trained = cli(
        "train",
        "--command",
        f"{sys.executable} -m {package} train",
        "--working-directory",
        str(project),
        env=env,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    written = outputs(out)
    run_json = json.loads((project / "reports" / "run.json").read_text())
    assert written["run-id"] == run_json["run_id"] and written["passed"] == "true"
    name = run_json["registered_model_name"] + "-" + written["run-id"][:6]
    holdout = project / "data" / "processed" / "holdout.csv"
    gated = run_gate(
        name, written["model-uri"], holdout, project / "gate.yaml", tmp_path / "gate", **env
    )
    assert gated.returncode == 0, gated.stderr[-2000:]
    registered = cli(
        "register",
        "--model-name",
        name,
        "--model-uri",
        written["model-uri"],
        "--git-commit",
        "f" * 40,
        "--alias",
        "challenger",
        env=env,
    )
    assert registered.returncode == 0, registered.stderr[-2000:]
    from mlflow import MlflowClient

    client = MlflowClient()
    version = client.get_model_version_by_alias(name, "challenger")
    assert version.tags[names.TAG_GATE_PASSED] == "true"
    assert version.tags[names.TAG_SOURCE_RUN] == written["run-id"]
    assert version.tags[names.TAG_DATA_VERSION]  # the project's data hash
    assert client.get_run(written["run-id"]).data.tags[names.TAG_COMPUTE] in ("cpu", "gpu")
    # The project's own evaluate (params.yaml's mlflow.register: true, a run outside CI)
    # registers the run under the project's name as `register` does: lineage and passport.
    evaluated = subprocess.run(
        [*run, "evaluate"], cwd=project, capture_output=True, text=True, env={**os.environ, **env}
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "has no passport" not in evaluated.stderr, evaluated.stderr[-2000:]
    own = json.loads((project / "reports" / "registered.json").read_text())
    mine = client.get_model_version(own["registered_model_name"], own["model_version"])
    assert mine.run_id == written["run-id"] and mine.tags[names.TAG_SOURCE_RUN] == mine.run_id
    experiment = client.get_run(mine.run_id).info.experiment_id
    link = f"#/experiments/{experiment}/runs/{mine.run_id}/artifacts/passport/passport.html"
    assert link in mine.description, mine.description
    facts = json.loads(
        Path(
            client.download_artifacts(mine.run_id, "passport/passport.json", str(tmp_path))
        ).read_text()
    )  # the run's passport is now this version's, not the one `register` logged above
    assert facts["model"]["name"] == own["registered_model_name"]
    assert facts["model"]["version"] == mine.version
    assert (project / "reports" / "passport" / "passport.html").is_file()
