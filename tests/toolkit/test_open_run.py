"""logs/open-run.json against a real MLflow server and real processes: a run whose process is
alive is never ended by another command in the same checkout; once that process is killed, it
is marked FAILED. Where only the record's logic is the subject (a writer on another machine), the
in-memory tracking store stands in for the server (tests/support/fakes/mlflow.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import ACTIONS_SRC
from mlops_toolkit.tracking import liveness
from mlops_toolkit.tracking import open_runs as open_run

# Starts a run and lists it as the generated project does, then lives on (a long `train`).
HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {src!r})
    from pathlib import Path
    from mlflow import MlflowClient
    from mlops_toolkit.tracking import open_runs as open_run
    uri, experiment, path = sys.argv[1:4]
    run = MlflowClient(uri).create_run(experiment)
    open_run.add(run.info.run_id, uri, Path(path))
    print(run.info.run_id, flush=True)
    time.sleep(300)
""")


def hold_a_run(uri: str, experiment: str, path: Path) -> tuple[subprocess.Popen, str]:
    script = path.parent.parent / "holder.py"
    script.write_text(HOLDER.format(src=str(ACTIONS_SRC)))
    proc = subprocess.Popen(
        [sys.executable, str(script), uri, experiment, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.stderr.read()
    return proc, run_id


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def test_a_live_run_stays_running_and_a_killed_one_is_failed(mlflow_server, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"open-runs-{tmp_path.name}")
    path = tmp_path / "logs" / "open-run.json"
    first, run_a = hold_a_run(mlflow_server.uri, experiment, path)
    second, run_b = hold_a_run(mlflow_server.uri, experiment, path)
    try:
        listed = open_run.entries(path)
        assert [e["run_id"] for e in listed] == [run_a, run_b]  # the second kept the first
        assert {e["pid"] for e in listed} == {str(first.pid), str(second.pid)}
        assert all(e["host"] and e["machine"] == liveness.machine() for e in listed)

        # Another command in the same checkout, and the report step: both processes live.
        assert open_run.end_orphans(path, uri=mlflow_server.uri, by="command") == []
        assert open_run.end_orphan(path) == ""
        assert client.get_run(run_a).info.status == "RUNNING"
        assert client.get_run(run_b).info.status == "RUNNING"

        kill(first)
        said = open_run.end_orphans(path, uri=mlflow_server.uri, by="command")
        assert said == [f"run {run_a} was left RUNNING by a command cut off: marked FAILED"]
        assert client.get_run(run_a).info.status == "FAILED"
        assert client.get_run(run_b).info.status == "RUNNING"  # its process lives on
        assert [e["run_id"] for e in open_run.entries(path)] == [run_b]
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                kill(proc)
    assert open_run.end_orphan(path).endswith("marked FAILED")
    assert client.get_run(run_b).info.status == "FAILED" and not path.exists()


def test_a_run_opened_on_another_machine(tmp_path, monkeypatch):
    """Its pid means nothing here: left RUNNING with one line, except at the end of a CI job
    (the report step), whose earlier steps are over whichever container they ran in."""
    from mlops_toolkit.tracking import client as tracking
    from support.fakes.mlflow import FakeMlflowClient

    client = FakeMlflowClient()
    uri = "http://tracking.example:5000"  # the record's server: `tracking.connect` is the fake
    monkeypatch.setattr(tracking, "connect", lambda at=None: client if at == uri else None)
    run_id = client.create_run(client.create_experiment(f"elsewhere-{tmp_path.name}")).info.run_id
    path = tmp_path / "logs" / "open-run.json"
    path.parent.mkdir()
    entry = {"run_id": run_id, "tracking_uri": uri, "pid": str(os.getpid())}
    entry |= {"host": "runner-3", "machine": "runner-3|other-boot|pid:[1]", "process_start": "9"}
    path.write_text(json.dumps({"runs": [entry]}))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (line,) = open_run.end_orphans(path, uri=uri)
    assert line.startswith(f"run {run_id} is open in pid {os.getpid()} on runner-3, which ")
    assert client.get_run(run_id).info.status == "RUNNING" and path.exists()
    # The report step waits for a server that does not answer, not for a run left alone.
    started = time.monotonic()
    assert open_run.end_orphan(path, wait_s=600) == line
    assert time.monotonic() - started < 60
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert open_run.end_orphan(path).endswith("marked FAILED")
    assert client.get_run(run_id).info.status == "FAILED" and not path.exists()


def test_liveness_tells_a_reused_pid_and_another_machine_apart():
    """The record's writer: this process is alive; the same pid with another start time is a
    later process (the writer is dead); another machine's pid cannot be judged here."""
    me = liveness.identity()
    assert liveness.state(me) == liveness.ALIVE
    assert liveness.state({**me, "process_start": str(int(me["process_start"]) + 1)}) == "dead"
    assert liveness.state({**me, "machine": "elsewhere|boot|pid:[1]"}) == liveness.ELSEWHERE
    assert liveness.state({"run_id": "x", "tracking_uri": "y"}) == liveness.UNKNOWN
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    assert liveness.state({**me, "pid": gone, "process_start": ""}) == liveness.DEAD
