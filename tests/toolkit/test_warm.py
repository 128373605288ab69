"""The job's warm process (core/warm.py): a command forked from it behaves as the same command
started cold, and whatever goes wrong before it takes a command leaves the command to run cold.

Real processes throughout: a probe script (an entry point that delegates as the CLIs do), the
toolkit's own CLI, a server started by the first command as a job's first step starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ACTIONS_SRC = Path(__file__).resolve().parents[2] / "actions" / "src"

PROBE = """\
import json, os, signal, sys, time
from mlops_toolkit.core import warm

code = warm.delegate()
if code is not None:
    sys.exit(code)
import numpy

if os.environ.get("PROBE_SLEEP"):
    signal.signal(signal.SIGTERM, lambda *_: (print("terminated", flush=True), sys.exit(143)))
    open(os.environ["PROBE_SLEEP"], "w").write(str(os.getpid()))
    time.sleep(60)
out = open(os.environ["PROBE_OUT"], "a") if os.environ.get("PROBE_OUT") else None
facts = {
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "cwd": os.getcwd(),
    "argv": sys.argv[1:],
    "x": os.environ.get("X"),
    "umask": os.umask(0),
    "draw": int(numpy.random.randint(1 << 30)),
    "path0": sys.path[0],
}
print(json.dumps(facts))
print("stdin:", sys.stdin.read().strip())
print("to stderr", file=sys.stderr)
# Buffered and never closed: only the interpreter's own exit flushes it.
if out is not None:
    out.write("flushed at exit")
sys.exit(int(os.environ.get("CODE", "0")))
"""


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A job's $RUNNER_TEMP with the probe beside it; its servers stopped afterwards (as a
    runner empties the folder after the job)."""
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    (tmp_path / "probe.py").write_text(PROBE)
    yield runner_temp
    for mark in runner_temp.glob("*.id"):
        mark.unlink()  # the server sees its socket gone and exits within a second


def env_of(job: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_WARM", "PYTHONPATH")}
    env.update(GITHUB_ACTIONS="true", RUNNER_TEMP=str(job), PYTHONPATH=str(ACTIONS_SRC))
    env.update(extra)
    return env


def probe(job: Path, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(job.parent / "probe.py"), *args],
        input=stdin,
        env=env_of(job, **extra),
        cwd=job.parent,
        capture_output=True,
        text=True,
        timeout=180,
    )


def facts(done: subprocess.CompletedProcess) -> dict:
    import json

    return json.loads(done.stdout.splitlines()[0])


def server_pids(job: Path) -> set[int]:
    """The servers of this job: their command line names the job's folder (read from /proc, not
    pgrep: procps is not among what .ci installs)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if "warm.serve(" in text and f"'{job}/mlops-warm-" in text:
            found.add(int(cmdline.parent.name))
    return found


def test_a_command_forked_from_the_warm_process_is_the_command_run_cold(job: Path) -> None:
    cold = probe(job, "a", "b c", stdin="hello", X="1", CODE="3", MLOPS_WARM="0")
    first = probe(job, "a", "b c", stdin="hello", X="1", CODE="3", PROBE_OUT=str(job / "o1"))
    second = probe(job, "a", "b c", stdin="again", X="2", CODE="0")
    assert (cold.returncode, first.returncode, second.returncode) == (3, 3, 0)
    assert cold.stderr == first.stderr == second.stderr == "to stderr\n"
    c, f, s = facts(cold), facts(first), facts(second)
    for key in ("cwd", "argv", "umask", "path0"):
        assert c[key] == f[key] == s[key], key
    assert (c["x"], f["x"], s["x"]) == ("1", "1", "2")
    assert first.stdout.splitlines()[1] == "stdin: hello"
    assert second.stdout.splitlines()[1] == "stdin: again"
    assert (job / "o1").read_text() == "flushed at exit"
    # Cold, the probe is the process started; warm, both are children of one server that
    # started them, and each draws its own random numbers, as fresh interpreters do.
    assert f["ppid"] == s["ppid"] != c["ppid"]
    assert server_pids(job) == {f["ppid"]}
    assert f["draw"] != s["draw"]


def test_the_toolkits_cli_delegates_and_answers_as_cold(job: Path) -> None:
    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mlops_toolkit.cli", *args],
            env=env_of(job, **extra),
            capture_output=True,
            text=True,
            timeout=180,
        )

    args = ("gate", "--model-name", "m", "--holdout", "h.csv", "--no-such-option")
    cold = cli(*args, MLOPS_WARM="0")
    assert not list(job.glob("*.id"))  # off: no server
    warm = cli(*args)
    assert list(job.glob("*.id")) and server_pids(job)  # the CLI started the job's server
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, "", cold.stderr)
    assert cold.returncode == 2 and "unrecognized arguments: --no-such-option" in cold.stderr
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("mlops-toolkit ")


def test_signals_reach_the_command_and_a_dead_client_takes_it_along(job: Path) -> None:
    def sleeping(name: str) -> tuple[subprocess.Popen, int]:
        pid_file = job.parent / name
        client = subprocess.Popen(
            [sys.executable, str(job.parent / "probe.py")],
            env=env_of(job, PROBE_SLEEP=str(pid_file)),
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and client.poll() is None
            time.sleep(0.05)
        return client, int(pid_file.read_text())

    client, command = sleeping("first.pid")
    assert command != client.pid  # forked from the server
    client.send_signal(signal.SIGTERM)
    out, _ = client.communicate(timeout=30)
    assert (client.returncode, out) == (143, "terminated\n")

    client, command = sleeping("second.pid")
    client.kill()
    client.wait()
    deadline = time.monotonic() + 30
    while _alive(command):
        assert time.monotonic() < deadline, "the command outlived its client"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_another_environment_replaces_the_server_and_an_emptied_folder_stops_it(
    job: Path, tmp_path: Path
) -> None:
    first = facts(probe(job))
    extra = tmp_path / "more"
    extra.mkdir()
    # A package installed into the job's interpreter since: the old imports may be stale.
    changed = facts(probe(job, PYTHONPATH=f"{ACTIONS_SRC}:{extra}"))
    assert changed["ppid"] != first["ppid"]
    deadline = time.monotonic() + 30
    while _alive(first["ppid"]):
        assert time.monotonic() < deadline, "the replaced server did not go"
        time.sleep(0.1)
    for mark in job.glob("*.id"):
        mark.unlink()
    while _alive(changed["ppid"]):
        assert time.monotonic() < deadline, "the server outlived its job's folder"
        time.sleep(0.1)


def test_a_server_that_cannot_start_leaves_every_command_cold(job: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "pandas").mkdir(parents=True)
    (broken / "pandas" / "__init__.py").write_text("raise RuntimeError('a broken install')\n")
    env = {"PYTHONPATH": f"{ACTIONS_SRC}:{broken}"}
    first = probe(job, "x", **env)
    assert first.returncode == 0, first.stderr
    assert facts(first)["ppid"] == os.getpid()  # ran here, cold
    assert "a broken install" in next(job.glob("*.log")).read_text()
    log_size = next(job.glob("*.log")).stat().st_size
    second = probe(job, "y", **env)
    assert facts(second)["ppid"] == os.getpid()
    # Not tried again by every step: the log did not grow.
    assert next(job.glob("*.log")).stat().st_size == log_size


def test_off_outside_a_runner_and_on_where_asked(tmp_path: Path) -> None:
    from mlops_toolkit.core import warm

    assert warm.folder({}) is None
    assert warm.folder({"GITHUB_ACTIONS": "true"}) is None  # no RUNNER_TEMP
    assert warm.folder({"GITHUB_ACTIONS": "true", "RUNNER_TEMP": "/r"}) == Path("/r")
    assert warm.folder({"GITHUB_ACTIONS": "true", "RUNNER_TEMP": "/r", "MLOPS_WARM": "0"}) is None
    assert warm.folder({"MLOPS_WARM": str(tmp_path)}) == tmp_path
    assert warm.folder({"MLOPS_WARM": "1", "RUNNER_TEMP": "/r"}) == Path("/r")
    assert warm.folder({"MLOPS_WARM": "1"}).name == f"mlops-warm-{os.getuid()}"
