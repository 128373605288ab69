"""The platform's small probes: GPU, tracking-server health (with credentials)."""

from __future__ import annotations

import base64
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import cli
from mlops_toolkit.compute import gpu
from mlops_toolkit.tracking import probe as tracking_check
from support.servers import free_port

NVIDIA_SMI_CSV = "NVIDIA H100 80GB HBM3, 550.54.15\nNVIDIA H100 80GB HBM3, 550.54.15\n"


def test_gpu_rows_become_one_compute():
    compute = gpu.parse(NVIDIA_SMI_CSV)
    assert (compute.count, compute.name, compute.driver) == (
        2,
        "NVIDIA H100 80GB HBM3",
        "550.54.15",
    )
    assert compute.kind == "gpu" and compute.tags()["mlops.gpu.count"] == "2"
    assert gpu.parse("\n") == gpu.CPU and gpu.CPU.kind == "cpu"


def test_no_nvml_and_no_nvidia_smi_means_cpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # the bindings not installed
    assert gpu.detect("no-such-nvidia-smi-here") == gpu.CPU
    assert gpu.available("no-such-nvidia-smi-here") is False


def _nvidia_smi(tmp_path: Path) -> str:
    """A stand-in nvidia-smi that prints the CSV rows of two GPUs (there is no GPU here)."""
    exe = tmp_path / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\nprintf '{NVIDIA_SMI_CSV}'\n")
    exe.chmod(0o755)
    return str(exe)


def test_nvidia_smi_answers_when_the_driver_library_cannot_load(tmp_path):
    """The real nvidia-ml-py, on a machine without libnvidia-ml: NVML fails, nvidia-smi counts."""
    pytest.importorskip("pynvml")
    if gpu.from_nvml() is not None:
        pytest.skip("NVML loads here (a GPU host): its own answer is asked first")
    assert gpu.detect(_nvidia_smi(tmp_path)).count == 2


def test_nvidia_smi_answers_without_the_bindings(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert gpu.detect(_nvidia_smi(tmp_path)) == gpu.parse(NVIDIA_SMI_CSV)


class _NVML:
    """NVML as nvidia-ml-py exposes it, for two GPUs (NVML itself cannot load here)."""

    NVMLError = type("NVMLError", (Exception,), {})
    GPUS = (b"NVIDIA H200", "NVIDIA H100 80GB HBM3")  # bytes from nvidia-ml-py < 11
    shut = False

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None:
        _NVML.shut = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.GPUS)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return self.GPUS[handle]

    def nvmlSystemGetDriverVersion(self) -> str:
        return "570.86.15"


def test_nvml_is_asked_before_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _NVML())
    compute = gpu.detect(_nvidia_smi(tmp_path))
    assert (compute.count, compute.name, compute.driver) == (
        2,
        "NVIDIA H100 80GB HBM3 + NVIDIA H200",
        "570.86.15",
    )
    assert _NVML.shut  # NVML is shut down again: a long job does not hold the handle


class AuthServer:
    """A loopback stand-in for a tracking server behind basic auth (a reverse proxy)."""

    def __init__(self, user: str, password: str):
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.seen: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.seen.append(self.headers.get("Authorization"))
                ok = self.path == "/health" and self.headers.get("Authorization") == expected
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auth_server():
    server = AuthServer("alice", "s3cr@t:pw")
    yield server
    server.close()


def test_real_server_is_healthy_and_a_dead_one_is_one_line(mlflow_server):
    tracking_check.check(mlflow_server.uri)
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(tracking_check.TrackingUnavailable, match=f"{dead} is unreachable"):
        tracking_check.check(dead, timeout_s=5)
    tracking_check.check("sqlite:///nowhere.db")  # nothing to ask: no error


def test_credentials_in_the_uri_go_as_basic_auth(auth_server, monkeypatch):
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    tracking_check.check(f"http://alice:s3cr%40t%3Apw@127.0.0.1:{auth_server.port}")
    assert auth_server.seen[-1] == "Basic " + base64.b64encode(b"alice:s3cr@t:pw").decode()


def test_credentials_from_mlflow_variables(auth_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cr@t:pw")
    tracking_check.check(f"http://127.0.0.1:{auth_server.port}")


def test_the_password_is_never_shown(auth_server, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    uri = f"http://alice:hunter2-wrong@127.0.0.1:{auth_server.port}"
    with pytest.raises(tracking_check.TrackingUnavailable) as refused:
        tracking_check.check(uri)
    assert "hunter2" not in str(refused.value)
    assert str(refused.value).endswith(
        f"alice:***@127.0.0.1:{auth_server.port} is unhealthy: HTTP 401"
    )
    dead = f"http://bob:hunter2@127.0.0.1:{free_port()}"
    with pytest.raises(tracking_check.TrackingUnavailable) as unreachable:
        tracking_check.check(dead, timeout_s=5)
    assert "hunter2" not in str(unreachable.value) and "bob:***@" in str(unreachable.value)


def test_the_cli_never_prints_the_password():
    uri = f"http://carol:hunter2@127.0.0.1:{free_port()}"
    result = cli("promote", "--model-name", "m", "--version", "1", env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"mlops-toolkit promote: error: MLflow tracking server {tracking_check.redact(uri)} is "
        "unreachable: [Errno 111] Connection refused"
    ]
