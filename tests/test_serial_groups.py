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


def test_each_serial_group_runs_in_one_worker(tmp_path):
    tests = tmp_path / "tests"
    for module in ("e2e/test_lifecycle.py", "e2e/test_two.py", "toolkit/test_swarm.py"):
        (tests / module).parent.mkdir(parents=True, exist_ok=True)
        (tests / module).write_text(TEST)
    (tests / "toolkit" / "test_other.py").write_text(TEST)  # not in a group: spread freely
    shutil.copy(HERE / "conftest.py", tests / "conftest.py")
    log = tmp_path / "workers.log"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3"),
            *("--dist", "loadgroup", "--rootdir", str(tmp_path), str(tests)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "WORKER_LOG": str(log)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    rows = [line.split() for line in log.read_text().splitlines()]
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
