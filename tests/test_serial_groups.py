"""The suite's serial groups really reach pytest-xdist: every test of a group runs in one worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

TEST = """\
import os
import time

import pytest


def _log(request):
    time.sleep(0.05)
    mark = request.node.get_closest_marker("xdist_group")
    group = mark.args[0] if mark else "-"
    with open(os.environ["WORKER_LOG"], "a") as log:
        where = f"{__name__}::{request.node.name}"
        log.write(f"{where} {group} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.mark.parametrize("i", range(6))
def test_here(i, request):
    _log(request)


@pytest.mark.parametrize("target", ["docker", "swarm"])
def test_lifecycle(target, request):
    _log(request)
"""


def run_suite(tmp_path: Path, modules: dict[str, str], workers: int) -> list[list[str]]:
    """Run a small suite of `modules` (path under tests/: text) with the suite's own conftest
    and support package under `--dist loadgroup`; the rows its tests wrote to WORKER_LOG."""
    tests = tmp_path / "tests"
    for module, text in modules.items():
        (tests / module).parent.mkdir(parents=True, exist_ok=True)
        (tests / module).write_text(text)
    shutil.copy(HERE / "conftest.py", tests / "conftest.py")
    shutil.copytree(HERE / "support", tests / "support")
    log = tmp_path / "workers.log"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-n", str(workers), "--dist", "loadgroup", "--rootdir", str(tmp_path)),
            *("-o", f"pythonpath={tests}", str(tests)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "WORKER_LOG": str(log)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    return [line.split() for line in log.read_text().splitlines()]


def test_each_serial_group_runs_in_one_worker(tmp_path):
    grouped = ("e2e/test_lifecycle.py", "e2e/test_two.py", "toolkit/test_swarm.py")
    # toolkit/test_other.py is in no group: its tests spread freely.
    modules = {module: TEST for module in (*grouped, "toolkit/test_other.py")}
    rows = run_suite(tmp_path, modules, workers=3)
    assert len(rows) == 4 * 8
    workers: dict[str, set[str]] = {}
    for _, group, worker in rows:
        workers.setdefault(group, set()).add(worker)
    assert set(workers) == {"e2e", "e2e-swarm", "toolkit-swarm", "-"}, rows
    for group in ("e2e", "e2e-swarm", "toolkit-swarm"):
        assert len(workers[group]) == 1, (group, rows)
    group_of = {where.split(".")[-1]: group for where, group, _ in rows}
    # Only the swarm variant of the act scenario leaves the e2e group (it runs beside it).
    assert group_of["test_lifecycle::test_lifecycle[swarm]"] == "e2e-swarm"
    assert group_of["test_lifecycle::test_lifecycle[docker]"] == "e2e"
    assert group_of["test_two::test_lifecycle[swarm]"] == "e2e"


LONG = """\
import os
import time

import pytest


@pytest.mark.parametrize("target", ["docker", "swarm"])
def test_lifecycle(target):
    start = time.time()
    time.sleep(2)
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(f"{target} {os.environ['PYTEST_XDIST_WORKER']} {start} {time.time()}\\n")
"""

QUICK = """\
import time

import pytest


@pytest.mark.parametrize("i", range(8))
def test_quick(i):
    time.sleep(0.05)
"""


def test_the_long_groups_run_side_by_side(tmp_path):
    """Plain loadgroup queues the second act scenario behind the first on one worker (a group
    of eight quick tests keeps the other worker busy when the first one is handed out)."""
    modules = {
        "e2e/test_lifecycle.py": LONG,
        "toolkit/test_swarm.py": QUICK,  # one group of eight
        "toolkit/test_other.py": QUICK,  # eight of their own
    }
    rows = run_suite(tmp_path, modules, workers=2)
    runs = {target: (worker, float(start), float(end)) for target, worker, start, end in rows}
    (docker_worker, docker_start, docker_end), (swarm_worker, swarm_start, swarm_end) = (
        runs["docker"],
        runs["swarm"],
    )
    assert docker_worker != swarm_worker, runs
    assert docker_start < swarm_end and swarm_start < docker_end, runs  # they overlapped
