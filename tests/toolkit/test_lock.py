"""The registry lock under interruption, with a real MLflow server and real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ACTIONS_SRC, cli, register_version
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlops_toolkit import names
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.registry.lock import clear_command, lock_name, registry_lock

# Moves production inside the lock, but first says so and hangs there (a slow registry call).
HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {src!r})
    from mlops_toolkit.registry import moves as registry
    from mlops_toolkit.tracking import client as tracking
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


def test_a_holder_killed_on_this_machine_is_noticed_at_once(
    mlflow_server, logged, model_name, tmp_path
):
    """SIGKILL leaves the lock behind (no `finally` runs); the next promote on the same machine
    sees that its holder's pid is gone and takes the lock over, instead of waiting 600 s."""
    v1 = register_version(model_name, logged["good"][1])
    v2 = register_version(model_name, logged["good2"][1])
    registry.promote(model_name=model_name, version=v1)
    script = tmp_path / "holder.py"
    script.write_text(HOLDER.format(src=str(ACTIONS_SRC)))
    proc = subprocess.Popen(
        [sys.executable, str(script), "promote", model_name, v2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri},
    )
    assert proc.stdout.readline().strip() == "inside", proc.stderr.read()
    proc.kill()
    proc.communicate(timeout=30)
    assert lock_exists(model_name)  # left behind: nothing released it
    started = time.monotonic()
    result = cli("promote", "--model-name", model_name, "--version", v2, timeout=90)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60  # not the lock's 600 s, nor the 300 s wait
    (line,) = [line for line in result.stderr.splitlines() if "taking the lock over" in line]
    assert f"pid {proc.pid} on " in line, line
    assert production(model_name) == v2
    assert not lock_exists(model_name)


def test_a_holder_elsewhere_is_waited_for_and_the_timeout_says_how_to_clear_it(
    mlflow_server, logged, model_name
):
    """A dead pid on another machine proves nothing here: wait, then one line naming the holder,
    since when, and the exact command that clears the lock (which works)."""
    register_version(model_name, logged["good"][1])
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    client = MlflowClient()
    client.create_registered_model(
        lock_name(model_name),
        tags={
            names.TAG_LOCK_HOLDER: "runner-9:77:991:abcd",
            names.TAG_LOCK_EXPIRES: f"{time.time() + 120:.3f}",
            names.TAG_LOCK_PREFIX + "pid": gone.stdout.strip(),
            names.TAG_LOCK_PREFIX + "host": "runner-9",
            names.TAG_LOCK_PREFIX + "machine": "runner-9|another-boot|pid:[1]",
        },
    )
    created = client.get_registered_model(lock_name(model_name)).creation_timestamp / 1000
    with pytest.raises(ToolkitError) as caught, registry_lock(client, model_name, wait_s=2):
        pass
    message = str(caught.value)
    assert "\n" not in message
    assert f"by runner-9:77:991:abcd (pid {gone.stdout.strip()} on runner-9, since " in message
    assert time.strftime("%Y-%m-%dT%H:%M", time.gmtime(created)) in message
    assert lock_exists(model_name)  # not taken over
    command = message.split("MLFLOW_TRACKING_URI set: ", 1)[1].rsplit(") and run this", 1)[0]
    assert command == clear_command(lock_name(model_name))
    cleared = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cleared.returncode == 0, cleared.stderr
    assert not lock_exists(model_name)
    with registry_lock(client, model_name, wait_s=5):
        assert lock_exists(model_name)
