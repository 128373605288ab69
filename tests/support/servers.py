"""Real servers the tests start on 127.0.0.1: MLflow, and waiting for any HTTP endpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_toolkit.tracking import sqlite_seed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    """`probe()`'s first truthy value; an OSError (not up yet) counts as nothing yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
            if value:
                return value
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Return once ``url`` answers 200; raise when the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = proc.stdout.read() if proc.stdout else ""  # it exited: read() cannot block
            said = said.decode(errors="replace") if isinstance(said, bytes) else said
            raise RuntimeError(
                f"server exited with {proc.returncode} before answering {url}: {said[-2000:]}"
            )
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


# The credential cache as the toolkit's tracking start-up (tracking/server.py) turns it on:
# without it the server checks the password's scrypt hash (~0.1 CPU-s) on every request of a test.
AUTH_INI = """\
[mlflow]
default_permission = READ
database_uri = {database}
admin_username = {user}
admin_password = {password}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 600
"""


def start_mlflow(
    root: Path,
    backend: str | None = None,
    *,
    artifacts: str | None = None,
    auth: tuple[str, str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> MlflowServer:
    """`mlflow server` with a SQLite (or the given) backend and local (or given) artifacts.

    `auth=(admin, password)` runs MLflow's basic-auth app with that admin user; `env` adds
    variables to the server's environment (an S3 endpoint and keys, for example); `port` brings
    a stopped server back where its clients knew it.
    """
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    backend = backend or f"sqlite:///{root / 'mlflow.db'}"
    # A new SQLite store as the toolkit's project commands start one: a copy of the empty schema,
    # not MLflow's migrations run again in every server (mlops_toolkit/tracking/sqlite_seed.py).
    sqlite_seed.seed(backend)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        artifacts or str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # MLflow 3 starts a job runner and seven huey consumers beside every server (GenAI jobs the
    # platform never uses): eight more interpreters importing mlflow at each start.
    full_env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    if auth:
        ini = root / "basic_auth.ini"
        ini.write_text(
            AUTH_INI.format(
                database=f"sqlite:///{root / 'auth.db'}", user=auth[0], password=auth[1]
            )
        )
        full_env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
        full_env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", "tests-only-secret-key")
        command += ["--app-name", "basic-auth"]
    log = open(root / "server.log", "a")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
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
