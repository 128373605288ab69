"""The `serve` and `drift` subcommands: the platform's server and drift job on this project.

The server and the drift statistics themselves are the platform's (mlops_toolkit) and tested
there; these tests check what this project adds: its trained model, its params and its names.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import TASK, load_params


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if resp.headers["Content-Type"] == "application/json" else body


def _wait_healthy(proc: subprocess.Popen, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.1)


def test_serve_defaults_to_the_last_registered_model(workdir: Path, source: str) -> None:
    """`serve` fetches the project's model from MLflow, answers like MLflow, and names it."""
    import mlflow

    assert main(["prepare-data", "--source", source]) == 0
    assert main(["train", "--run-name", "serve"]) == 0
    assert main(["evaluate", "--register"]) == 0
    params = load_params("params.yaml")
    registered = json.loads(Path("reports/registered.json").read_text())
    holdout = pd.read_csv(params.data.holdout).drop(columns=params.data.target).head(25)
    run = json.loads(Path("reports/run.json").read_text())
    expected = mlflow.pyfunc.load_model(run["model_uri"]).predict(holdout).tolist()

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(proc, port, timeout=90)
        # Own data carries strings and missing values: JSON sends a missing value as null.
        records = holdout.astype(object).where(holdout.notna(), None).to_dict(orient="records")
        body = json.dumps({"dataframe_records": records}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            predictions = json.loads(resp.read())["predictions"]
        version = _get(f"http://127.0.0.1:{port}/version")
        metrics = _get(f"http://127.0.0.1:{port}/metrics").decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert predictions == pytest.approx(expected)
    # The registered name and version label /version and every metric series, never "unknown".
    name = params.mlflow.registered_model_name
    assert version["model_name"] == name
    assert version["model_version"] == str(registered["model_version"])
    assert f'model_name="{name}",model_version="{registered["model_version"]}"' in metrics
    assert proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in output


def _log(directory: Path, rows: pd.DataFrame, predictions: list[Any], target: str) -> None:
    """Prediction-log lines as the server writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    features = rows.drop(columns=target)
    with open(directory / "predictions.jsonl", "w", encoding="utf-8") as fh:
        for record, prediction in zip(features.to_dict(orient="records"), predictions, strict=True):
            fh.write(json.dumps({"inputs": record, "prediction": prediction}) + "\n")


def test_drift_command_reads_params_and_exits_3_on_drift(workdir: Path) -> None:
    params = load_params("params.yaml")
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(rng.normal(size=(600, 4)), columns=["x0", "x1", "x2", "x3"])
    target = params.data.target  # whatever the project's own label column is called
    if TASK == "classification":
        reference[target] = (reference["x0"] > 0).astype(int)
    else:
        reference[target] = reference["x0"] * 3.0
    ref_path = workdir / "reference.csv"
    reference.to_csv(ref_path, index=False)

    same = reference.sample(200, random_state=0)
    _log(workdir / "same", same, same[target].tolist(), target)
    assert main(["drift", "--reference", str(ref_path), "--current", "same"]) == 0
    assert not json.loads((workdir / "reports/drift/drift.json").read_text())["drift_detected"]

    moved = same.assign(x2=same["x2"] + 2.0)
    _log(workdir / "moved", moved, moved[target].tolist(), target)
    assert (
        main(["drift", "--reference", str(ref_path), "--current", "moved", "--report-dir", "out"])
        == 3
    )
    report = json.loads((workdir / "out/drift.json").read_text())
    assert report["drifted_features"] == ["x2"]
    assert report["thresholds"] == {
        "psi": params.drift.psi_threshold,
        "p_value": params.drift.p_value,
    }

    assert main(["drift", "--reference", str(ref_path), "--current", "nowhere"]) == 1
