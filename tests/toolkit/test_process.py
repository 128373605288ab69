"""core.process: a signal that arrives while the project's command is being started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlops_toolkit.core import process
from support.signals import python_defaults

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_start_still_stops_the_command(tmp_path, monkeypatch, signum):
    """The signal lands inside Popen, after the fork (as on a busy runner: the command wrote its
    first line before Popen returned). The command must still be stopped, not left running in
    its own session."""
    real_popen = subprocess.Popen

    def popen_then_signal(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        _wait_for(tmp_path / "child.pid")  # the command runs ...
        os.kill(os.getpid(), signum)  # ... and the signal lands before Popen returns
        time.sleep(0.2)  # the handler runs here, inside "Popen"
        return proc

    monkeypatch.setattr(process.subprocess, "Popen", popen_then_signal)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # as errors.raise_on_sigterm does
    try:
        with python_defaults(), pytest.raises(KeyboardInterrupt):
            process.run_command("sleep 60 & echo $! > child.pid; wait", tmp_path)
    finally:
        signal.signal(signal.SIGTERM, previous)
    child = int(_wait_for(tmp_path / "child.pid"))
    assert _gone(child), "the command's child still runs after the signal"


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return path.read_text()


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists() or " Z " in stat.read_text():
            return True
        time.sleep(0.05)
    return False
