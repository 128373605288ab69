"""mlops_toolkit.project.frame and runs: the command line every project shares, its one-line
failures and exit codes, MLflow set-up and the runs a dead command left open, and the serve and
drift commands on a project's params (a real MLflow server: conftest.mlflow_server)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import projectkit
import pytest
from conftest import log_model
from mlops_toolkit import contracts, names
from mlops_toolkit.project import runs
from projectkit import ENV, error_lines, main
from support.servers import free_port, wait_http

generated, workdir = projectkit.generated, projectkit.workdir  # fixtures
PLATFORM = ["init-data", "validate-data", "check-gate", "serve", "drift"]


def demo(*argv: str, **env: str) -> subprocess.CompletedProcess:
    """The demo project's command line in its own process."""
    code = f"import sys, projectkit; sys.exit(projectkit.main({list(argv)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**ENV, **env}
    )


@pytest.mark.parametrize("command", [*PLATFORM, "fit"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and "usage: demo" in capsys.readouterr().out


def test_help_imports_no_heavy_library():
    code = (
        "import sys, projectkit; from mlops_toolkit.project import frame;"
        " frame.build_parser(projectkit.PROJECT, projectkit.add_commands);"
        " print(sorted(m for m in ('mlflow', 'sklearn', 'pandas', 'great_expectations')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.strip() == "[]", out.stderr


def test_a_missing_params_file_is_one_line_and_exit_1(workdir, capsys):
    assert main(["--params", "nope.yaml", "validate-data"]) == 1
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "nope.yaml: no such file" in errors[0]


def test_an_unreachable_server_is_one_line_without_its_password(workdir, capsys, monkeypatch):
    failures = workdir / "failures.log"
    monkeypatch.setenv(names.ENV_FAILURE_LOG, str(failures))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ci:s3cret-pw@127.0.0.1:9")
    assert main(["fit"]) == 1
    err = capsys.readouterr().err
    errors = error_lines(err)
    assert len(errors) == 1 and "unreachable" in errors[0]
    assert "s3cret-pw" not in err + failures.read_text()
    assert failures.read_text().startswith("demo fit: ")


def test_a_credential_in_an_error_is_scrubbed_everywhere(workdir, capsys, monkeypatch):
    failures = workdir / "failures.log"
    monkeypatch.setenv(names.ENV_FAILURE_LOG, str(failures))
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-pw")
    assert main(["fit", "--fail", "leak"]) == 1
    log = next((workdir / "logs").glob("*-fit.log")).read_text()
    written = capsys.readouterr().err + failures.read_text() + log
    assert "login refused" in failures.read_text() and "Traceback" in log
    assert "s3cret-pw" not in written


def test_a_crash_is_one_line_its_traceback_in_the_log_file(workdir, capsys, monkeypatch):
    failures = workdir / "failures.log"
    monkeypatch.setenv(names.ENV_FAILURE_LOG, str(failures))
    assert main(["fit", "--fail", "crash"]) == 1
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].endswith("ZeroDivisionError: division by zero")
    log = next((workdir / "logs").glob("*-fit.log")).read_text()
    assert "Traceback" in log and "raise ZeroDivisionError" in log
    assert failures.read_text() == "demo fit: ZeroDivisionError: division by zero\n"
    assert main(["fit", "--fail", "interrupt"]) == 130


def test_the_log_level_comes_from_the_project_s_variable(workdir, capsys, monkeypatch):
    monkeypatch.setenv(projectkit.LEVEL_ENV, "WARNING")
    assert main(["check-gate"]) == 0
    assert "fit for the gate" not in capsys.readouterr().err
    assert main(["--log-level", "INFO", "check-gate"]) == 0
    assert "gate.yaml: fit for the gate" in capsys.readouterr().err


def test_a_run_left_open_by_a_dead_command_is_ended_by_the_next(workdir, mlflow_server):
    from mlflow import MlflowClient

    died = demo("fit", "--fail", "die", MLFLOW_TRACKING_URI=mlflow_server.uri)
    assert died.returncode == 9, died.stderr[-2000:]
    [entry] = json.loads((workdir / runs.OPEN_RUN_FILE).read_text())["runs"]
    client = MlflowClient(mlflow_server.uri)
    assert client.get_run(entry["run_id"]).info.status == "RUNNING"
    done = demo("fit", MLFLOW_TRACKING_URI=mlflow_server.uri)
    assert done.returncode == 0, done.stderr[-2000:]
    assert client.get_run(entry["run_id"]).info.status == "FAILED"
    assert entry["run_id"] in done.stderr  # said once, as a warning
    assert runs.open_runs.entries(workdir / runs.OPEN_RUN_FILE) == []
    ran = contracts.RunFile.read(workdir / contracts.RunFile.PATH)
    assert client.get_run(ran.run_id).info.status == "FINISHED"


def test_the_embedded_store_follows_a_moved_project(workdir, tmp_path_factory, monkeypatch):
    """MLflow writes absolute artifact paths into mlflow.db: a copied project still logged into
    the original folder until connect rewrote them."""
    import shutil

    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert main(["fit"]) == 0
    moved = tmp_path_factory.mktemp("moved") / "project"
    shutil.copytree(workdir, moved)
    monkeypatch.chdir(moved)
    # (mlflow.set_tracking_uri exported the old store to this process's environment)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    uri = runs.connect("")
    assert uri == f"sqlite:///{moved / 'mlflow.db'}"
    run_id = contracts.RunFile.read(contracts.RunFile.PATH).run_id
    assert MlflowClient(uri).get_run(run_id).info.artifact_uri.startswith(str(moved))


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if resp.headers["Content-Type"] == "application/json" else body


def test_serve_defaults_to_the_last_registered_model(workdir, mlflow_server, dataset):
    """`serve` fetches the run file's model from MLflow, answers like MLflow, and names it."""
    import mlflow

    train, holdout = dataset
    run_id, model_uri = log_model(mlflow_server.uri, train)
    # The project's registered name (params.yaml), at the version evaluate recorded.
    name = projectkit.load_params().mlflow.registered_model_name
    version = mlflow.register_model(model_uri, name).version
    contracts.RunFile(
        run_id=run_id, model_uri=model_uri, registered_model_name=name, model_version=None
    ).write(contracts.RunFile.PATH)
    contracts.RegisteredFile(
        run_id=run_id, registered_model_name=name, model_version=str(version)
    ).write(contracts.RegisteredFile.PATH)
    rows = holdout.drop(columns="target").head(25)
    expected = mlflow.pyfunc.load_model(model_uri).predict(rows).tolist()
    port = free_port()
    code = f"import sys, projectkit; sys.exit(projectkit.main(['serve', '--port', '{port}']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**ENV, "MLFLOW_TRACKING_URI": mlflow_server.uri},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=90, proc=proc)
        body = json.dumps({"dataframe_records": rows.to_dict(orient="records")}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            predictions = json.loads(resp.read())["predictions"]
        served = _get(f"http://127.0.0.1:{port}/version")
        metrics = _get(f"http://127.0.0.1:{port}/metrics").decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert predictions == pytest.approx(expected)
    # The registered name and version label /version and every metric series, never "unknown".
    assert served["model_name"] == name and served["model_version"] == str(version)
    assert f'model_name="{name}",model_version="{version}"' in metrics
    assert proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in output


def _log(directory: Path, rows: pd.DataFrame, predictions: list[Any], target: str) -> None:
    """Prediction-log lines as the server writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    features = rows.drop(columns=target)
    with open(directory / "predictions.jsonl", "w", encoding="utf-8") as fh:
        for record, prediction in zip(features.to_dict(orient="records"), predictions, strict=True):
            fh.write(json.dumps({"inputs": record, "prediction": prediction}) + "\n")


def test_drift_reads_params_and_exits_3_on_drift(workdir):
    params = projectkit.load_params()
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(rng.normal(size=(600, 4)), columns=["x0", "x1", "x2", "x3"])
    reference["target"] = (reference["x0"] > 0).astype(int)
    reference.to_csv(workdir / "reference.csv", index=False)
    same = reference.sample(200, random_state=0)
    _log(workdir / "same", same, same["target"].tolist(), "target")
    assert main(["drift", "--reference", "reference.csv", "--current", "same"]) == 0
    assert not json.loads((workdir / "reports/drift/drift.json").read_text())["drift_detected"]
    moved = same.assign(x2=same["x2"] + 2.0)
    _log(workdir / "moved", moved, moved["target"].tolist(), "target")
    argv = ["drift", "--reference", "reference.csv", "--current", "moved", "--report-dir", "out"]
    assert main(argv) == 3
    report = json.loads((workdir / "out/drift.json").read_text())
    assert report["drifted_features"] == ["x2"]
    assert report["thresholds"] == {
        "psi": params.drift.psi_threshold,
        "p_value": params.drift.p_value,
    }
    assert main(["drift", "--reference", "reference.csv", "--current", "nowhere"]) == 1
