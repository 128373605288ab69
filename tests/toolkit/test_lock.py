"""The registry lock under interruption, with a real MLflow server and real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ACTIONS_SRC, register_version
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlops_toolkit import names, registry
from mlops_toolkit.lock import lock_name

# Moves production inside the lock, but first says so and hangs there (a slow registry call).
HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {src!r})
    from mlops_toolkit import registry, tracking
    from mlops_toolkit.errors import outcome
    action, name, version = sys.argv[1:4]
    client = tracking.client()
    real = client.set_registered_model_alias
    def hang(*args, **kwargs):
        print("inside", flush=True)
        time.sleep(120)
        return real(*args, **kwargs)
    client.set_registered_model_alias = hang
    try:
        if action == "promote":
            registry.promote(model_name=name, version=version, client=client)
        else:
            current, target = registry.rollback_plan(client, name, version)
            registry.rollback_alias(client, name, current, target)
    except BaseException as exc:
        code, message, _ = outcome(exc)
        print(message, file=sys.stderr)
        sys.exit(code)
""")


def production(model_name: str) -> str | None:
    try:
        return MlflowClient().get_model_version_by_alias(model_name, names.PRODUCTION).version
    except MlflowException:
        return None


def lock_exists(model_name: str) -> bool:
    try:
        MlflowClient().get_registered_model(lock_name(model_name))
    except MlflowException:
        return False
    return True


@pytest.mark.parametrize("action", ["promote", "rollback"])
def test_sigterm_inside_the_lock_releases_it(mlflow_server, logged, model_name, tmp_path, action):
    v1 = register_version(model_name, logged["good"][1])
    v2 = register_version(model_name, logged["good2"][1])
    registry.promote(model_name=model_name, version=v1)
    if action == "rollback":
        registry.promote(model_name=model_name, version=v2)
    before = production(model_name)
    script = tmp_path / "holder.py"
    script.write_text(HOLDER.format(src=str(ACTIONS_SRC)))
    proc = subprocess.Popen(
        [sys.executable, str(script), action, model_name, v2 if action == "promote" else v1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri},
    )
    assert proc.stdout.readline().strip() == "inside", proc.stderr.read()
    assert lock_exists(model_name)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "releasing it" in err and "terminated (SIGTERM)" in err
    assert not lock_exists(model_name)  # released now, not 600 s later
    assert production(model_name) == before
    registry.promote(model_name=model_name, version=v2 if action == "promote" else v1)


def test_a_waiter_says_who_holds_the_lock_and_since_when(mlflow_server, logged, model_name):
    v1 = register_version(model_name, logged["good"][1])
    client = MlflowClient()
    client.create_registered_model(
        lock_name(model_name),
        tags={
            names.TAG_LOCK_HOLDER: "runner-7:4242:991:abcd",
            names.TAG_LOCK_EXPIRES: f"{time.time() + 120:.3f}",
        },
    )
    created = client.get_registered_model(lock_name(model_name)).creation_timestamp / 1000
    since = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(created))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlops_toolkit.cli",
            "promote",
            "--model-name",
            model_name,
            "--version",
            v1,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ACTIONS_SRC),
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
        },
    )
    line = proc.stderr.readline()
    assert "held by runner-7:4242:991:abcd since " + since in line, line
    assert "expires in" in line
    client.delete_registered_model(lock_name(model_name))  # the holder finishes
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert production(model_name) == v1
