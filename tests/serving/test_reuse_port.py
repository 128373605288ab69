"""Replicas sharing one port (SERVING_REUSE_PORT=1): real server processes on 127.0.0.1.

What Swarm (publish host) and the docker target's handover rely on: a new server takes no
connection before its model is loaded, and the image's health check judges its own process,
never whichever replica the shared port hands the probe to.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import free_port

from .conftest import save_model
from .gate import Gated

ACTIONS_SRC = Path(__file__).resolve().parents[2] / "actions" / "src"
TESTS = Path(__file__).resolve().parents[1]


def _env(port: int, sock: Path, **extra: str) -> dict[str, str]:
    # The toolkit of this checkout; tests/ for the gate module the gated model unpickles with.
    path = os.pathsep.join([str(ACTIONS_SRC), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        "PYTHONPATH": path,
        "SERVING_PORT": str(port),
        "SERVING_REUSE_PORT": "1",
        "SERVING_HEALTH_SOCKET": str(sock),
        **extra,
    }


class Replica:
    def __init__(self, port: int, model: Path, version: str, workdir: Path, **env: str):
        self.sock = workdir / f"health-{version}.sock"
        self.log = workdir / f"server-{version}.log"
        self.env = _env(port, self.sock, MODEL_VERSION=version, **env)
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mlops_toolkit.serving", "--model-dir", str(model)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def healthcheck(self) -> subprocess.CompletedProcess:
        """The image's HEALTHCHECK command, as Docker runs it inside this replica."""
        return subprocess.run(
            [sys.executable, "-m", "mlops_toolkit.serving.healthcheck"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            if self.healthcheck().returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"not healthy in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def versions(port: int, n: int) -> Counter:
    """GET /version on ``n`` new connections: which replica answered, or why none did."""
    seen: Counter = Counter()
    for _ in range(n):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as answer:
                seen[json.loads(answer.read())["model_version"]] += 1
        except OSError as exc:
            seen[f"failed: {exc}"] += 1
    return seen


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("reuse") / "model")


@pytest.fixture
def gated(tmp_path: Path) -> tuple[Path, Path]:
    """A model whose load blocks until the returned gate file exists."""
    import mlflow
    import sklearn

    path = save_model(tmp_path / "gated-src")
    estimator = mlflow.sklearn.load_model(str(path))
    gated_dir = tmp_path / "gated"
    mlflow.sklearn.save_model(
        estimator,
        str(gated_dir),
        serialization_format="pickle",
        signature=mlflow.models.get_model_info(str(path)).signature,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    gate = tmp_path / "gate"
    (gated_dir / "model.pkl").write_bytes(pickle.dumps(Gated(estimator, str(gate))))
    return gated_dir, gate


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.stop()


def test_a_new_replica_takes_no_connection_before_its_model_is_loaded(
    model: Path, gated: tuple[Path, Path], replicas: list[Replica], tmp_path: Path
) -> None:
    port = free_port()
    old = Replica(port, model, "1", tmp_path)
    replicas.append(old)
    old.wait_healthy()

    gated_model, gate = gated
    new = Replica(port, gated_model, "2", tmp_path)
    replicas.append(new)
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.waiting").exists():  # the new one is inside its model load
        assert time.monotonic() < deadline and new.proc.poll() is None, new.log.read_text()
        time.sleep(0.05)
    # Every connection reaches the old replica while the new one loads; the new one is unhealthy.
    assert versions(port, 200) == Counter({"1": 200})
    assert new.healthcheck().returncode == 1

    gate.touch()
    new.wait_healthy()
    # Both listen now: the kernel spreads new connections over the two, none fails.
    seen = versions(port, 200)
    assert set(seen) == {"1", "2"}, seen


def test_health_check_asks_its_own_process_not_the_shared_port(
    model: Path, replicas: list[Replica], tmp_path: Path
) -> None:
    port = free_port()
    first, second = Replica(port, model, "1", tmp_path), Replica(port, model, "2", tmp_path)
    replicas += [first, second]
    first.wait_healthy()
    second.wait_healthy()

    second.proc.kill()  # no cleanup: its socket file stays behind
    second.proc.wait()
    assert versions(port, 50) == Counter({"1": 50})  # the port still answers, from `first`
    check = second.healthcheck()
    assert check.returncode == 1
    assert (
        check.stderr.startswith("unhealthy: no answer on") and len(check.stderr.splitlines()) == 1
    )
    assert first.healthcheck().returncode == 0

    # On a shared port a TCP probe would be answered by `first`: refused without the socket.
    env = {**second.env, "SERVING_HEALTH_SOCKET": ""}
    without = subprocess.run(
        [sys.executable, "-m", "mlops_toolkit.serving.healthcheck"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert without.returncode == 1 and "needs SERVING_HEALTH_SOCKET" in without.stderr


def test_a_replica_whose_model_cannot_load_never_binds(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_toolkit.serving", "--model-dir", str(tmp_path / "none")],
        env=_env(port, tmp_path / "health.sock"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "no MLmodel file" in errors[0]
    assert not (tmp_path / "health.sock").exists()


def test_replicas_handing_over_under_load_drop_no_request(
    model: Path, replicas: list[Replica], tmp_path: Path
) -> None:
    """What a start-first update does, three times: a new replica joins, turns healthy, the
    old one gets SIGTERM and drains; steady load on the port throughout."""
    from support.load import Load

    port = free_port()
    old = Replica(port, model, "0", tmp_path)
    replicas.append(old)
    old.wait_healthy()
    with Load(port, workers=4, pause_s=0.0) as load:
        for version in ("1", "2", "3"):
            new = Replica(port, model, version, tmp_path)
            replicas.append(new)
            new.wait_healthy()
            old.proc.terminate()
            old.proc.wait(20)  # uvicorn re-raises the SIGTERM once drained: 143
            old = new
            time.sleep(0.5)
    print("handovers under load:", load.result.summary())
    assert load.result.failed == 0, load.result.summary()
    assert load.result.sent > 300 and {"0", "3"} <= set(load.result.versions)


def test_health_check_without_a_socket_probes_the_port_of_a_lone_server(
    model: Path, replicas: list[Replica], tmp_path: Path
) -> None:
    """Not sharing the port (publish port, local runs): /health on 127.0.0.1:SERVING_PORT."""
    port = free_port()
    lone = Replica(port, model, "1", tmp_path, SERVING_REUSE_PORT="0", SERVING_HEALTH_SOCKET="")
    replicas.append(lone)
    lone.wait_healthy()
    lone.stop()
    check = lone.healthcheck()
    assert check.returncode == 1 and f"127.0.0.1:{port}" in check.stderr
