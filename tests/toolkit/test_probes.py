"""The platform's small probes: GPU, tracking-server health (with credentials)."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def test_no_nvidia_smi_means_cpu():
    assert gpu.detect("no-such-nvidia-smi-here") == gpu.CPU
    assert gpu.available("no-such-nvidia-smi-here") is False


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
