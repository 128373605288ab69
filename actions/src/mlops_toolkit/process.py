"""Running a project's own command (validate, train) with a timeout and clear failures."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from .errors import ToolkitError


def run_command(
    command: str,
    cwd: str | Path,
    *,
    timeout_s: float | None = None,
    env: dict[str, str] | None = None,
    what: str = "command",
) -> int:
    """Run `command` through bash in `cwd`, streaming its output; return its exit status."""
    workdir = Path(cwd)
    if not workdir.is_dir():
        raise ToolkitError(f"working directory {workdir} does not exist")
    if not command.strip():
        raise ToolkitError(f"no {what} given")
    full_env = {**os.environ, **(env or {})}
    # A session of its own so that a timeout kills the whole process tree, not just bash.
    proc = subprocess.Popen(
        ["bash", "-c", command], cwd=workdir, env=full_env, start_new_session=True
    )
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise ToolkitError(f"{what} timed out after {timeout_s:g} s and was stopped") from None
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (errors.Terminated): its own session misses it
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the command's whole process group, SIGKILL after 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
