"""`mlops-toolkit ARGS` of this checkout in its own process, as the composite actions run it: the
one runner every test package uses (tests/toolkit/conftest.py, the e2e loop).

Each call is a fresh process with its own environment, working directory, stdin, stdout, stderr,
exit status and `atexit`, as `python -m mlops_toolkit.cli` would be. It is forked from a server
process that imported the CLI's heavy libraries once (multiprocessing's forkserver): a new
interpreter spent ~1.5-3 s of CPU importing MLflow, scikit-learn and pandas on each of hundreds
of calls a run (measured). The server itself never runs a command, so every child starts from
modules as imported, never from a state that an earlier command or test left behind. Where a
call's environment would change how an interpreter starts (a PYTHON* variable), or the toolkit
imported here is not this checkout's, the call is a plain subprocess instead."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ACTIONS_SRC = Path(__file__).resolve().parents[2] / "actions" / "src"
# What the forkserver imports before its first fork: what every toolkit command's start imports,
# and what most commands load next (the registry, the models, the data). skops.io first, as the
# commands that load a model import it (registry/mlmodel.py `import_skops_first`).
PRELOAD = ("skops.io", "mlops_toolkit.cli", "mlflow", "sklearn", "pandas")
_state: dict[str, object] = {}


def cli(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the real CLI of this checkout (its source first on PYTHONPATH, ``env`` over the
    process's environment); output captured as text, the exit status left to the caller."""
    full_env = {**os.environ, "PYTHONPATH": str(ACTIONS_SRC), **(env or {})}
    command = [sys.executable, "-m", "mlops_toolkit.cli", *args]
    context = _forkserver(full_env)
    if context is None:
        return subprocess.run(
            command, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    return _forked(context, command, list(args), full_env, cwd, timeout)


def _forkserver(env: dict[str, str]):
    """The forkserver context, started once per test process; None where a fork would not be
    the same as a new interpreter."""
    if os.environ.get("MLOPS_TESTS_CLI_SUBPROCESS") or not _interpreter_env_same(env):
        return None
    if "context" not in _state:
        _state["context"] = _start_forkserver()
    return _state["context"]


def _interpreter_env_same(env: dict[str, str]) -> bool:
    """Whether the variables that shape an interpreter's start (PYTHON*) are this process's."""
    started = _state.setdefault("env", dict(os.environ))
    keys = {k for k in (*env, *started) if k.startswith("PYTHON")} - {"PYTHONPATH"}
    return all(env.get(k) == started.get(k) for k in keys)


def _start_forkserver():
    import importlib.util
    import multiprocessing

    spec = importlib.util.find_spec("mlops_toolkit")
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or ACTIONS_SRC not in origin.parents:
        return None  # another toolkit is installed here: the subprocess's PYTHONPATH wins
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _forked(context, command, args, env, cwd, timeout) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="toolkit-cli-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        out.touch()
        err.touch()
        cwd = str(cwd) if cwd is not None else os.getcwd()
        process = context.Process(target=_child, args=(args, env, cwd, str(out), str(err)))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(command, timeout, _read(out), _read(err))
        code = process.exitcode
        # A signal's death reads as -N, as subprocess reports it.
        return subprocess.CompletedProcess(command, code, _read(out), _read(err))


def _read(path: Path) -> str:
    # As subprocess's text mode decodes: the locale's encoding, universal newlines.
    with open(path, encoding=None, newline=None) as handle:
        return handle.read()


def _child(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In the forked process: become `python -m mlops_toolkit.cli ARGS`, then exit with its
    status, never returning into multiprocessing's own exit path."""
    import atexit
    import traceback

    atexit._clear()  # the server's registrations are not this command's
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, out, os.O_WRONLY),
        (2, err, os.O_WRONLY),
    ):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, errors="backslashreplace", buffering=1)  # noqa: SIM115
    from mlops_toolkit import cli as toolkit_cli

    sys.argv = [toolkit_cli.__file__, *args]
    try:
        code = toolkit_cli.main(args)
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit((code or 0) & 0xFF)
