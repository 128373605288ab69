"""Running a project's own command (validate, train) with a timeout and clear failures."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ToolkitError

# The command's first word, after any `NAME=value` assignments, when it is a plain word (no
# quotes, expansions or subshells: those are left to bash). Followed by a blank, `;`, `&`, `|`.
FIRST_WORD = re.compile(r"\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([A-Za-z0-9_./+-]+)(?:$|[\s;&|])")


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
    _check_executable(command, workdir, full_env)
    # A session of its own so that a timeout kills the whole process tree, not just bash.
    with _signals_deferred() as pending:
        proc = subprocess.Popen(
            ["bash", "-c", command], cwd=workdir, env=full_env, start_new_session=True
        )
    try:
        for signum in pending:  # arrived while the command started: handled as usual now
            signal.raise_signal(signum)
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise ToolkitError(f"{what} timed out after {timeout_s:g} s and was stopped") from None
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (errors.Terminated): its own session misses it
        _stop(proc)
        raise


@contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Ctrl-C or SIGTERM while Popen starts the command would interrupt Popen itself, after the
    fork: no `proc` to stop, and the command (its own session) would run on, holding our
    stdout and stderr open. Such a signal is kept and re-raised once `proc` exists."""
    pending: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # Signals reach the main thread only; a handler set outside Python (None) cannot be put back.
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield pending
        return

    def keep(signum: int, _frame: object) -> None:
        pending.append(signum)

    for signum in previous:
        signal.signal(signum, keep)
    try:
        yield pending
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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


def _check_executable(command: str, workdir: Path, env: dict[str, str]) -> None:
    """One line naming the command and the fix when its executable is not there.

    Bash would say `bash: line 1: my-project: command not found` and exit 127, which reads as
    the project's failure; the usual cause is a project not installed, or not activated.
    """
    match = FIRST_WORD.match(command)
    if not match:
        return
    word = match.group(1)
    if "/" in word:
        if not (workdir / word).exists():
            raise ToolkitError(f"`{word}`: no such file in {workdir}")
        return
    if shutil.which(word, path=env.get("PATH", os.defpath)) or _is_shell_word(word, env):
        return
    raise ToolkitError(
        f"`{word}`: command not found; run `make install`, or activate the project's "
        "environment (. .venv/bin/activate)"
    )


def _is_shell_word(word: str, env: dict[str, str]) -> bool:
    """A bash builtin or keyword (`cd`, `if`, `source`): no file, and no error."""
    done = subprocess.run(
        ["bash", "-c", 'type -t -- "$1"', "_", word], env=env, capture_output=True, text=True
    )
    return bool(done.stdout.strip())
