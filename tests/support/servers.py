"""Real servers the tests start on 127.0.0.1: MLflow, and waiting for any HTTP endpoint."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Return once ``url`` answers 200; raise when the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass
class MlflowServer:
    uri: str
    root: Path
    proc: subprocess.Popen

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"


def start_mlflow(root: Path, backend: str | None = None) -> MlflowServer:
    """`mlflow server` with a SQLite (or the given) backend and local artifact storage."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    backend = backend or f"sqlite:///{root / 'mlflow.db'}"
    log = open(root / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
         "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(uri + "/health", timeout=90, proc=proc)
    except RuntimeError:
        proc.kill()
        raise RuntimeError((root / "server.log").read_text()[-2000:]) from None
    return MlflowServer(uri, root, proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
