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


@pytest.mark.parametrize("i", range(6))
def test_here(i):
    time.sleep(0.05)
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(f"{__name__} {os.environ['PYTEST_XDIST_WORKER']}\\n")
"""


def test_each_serial_group_runs_in_one_worker(tmp_path):
    tests = tmp_path / "tests"
    for module in ("e2e/test_one.py", "e2e/test_two.py", "toolkit/test_swarm.py"):
        (tests / module).parent.mkdir(parents=True, exist_ok=True)
        (tests / module).write_text(TEST)
    (tests / "toolkit" / "test_other.py").write_text(TEST)  # not in a group: spread freely
    shutil.copy(HERE / "conftest.py", tests / "conftest.py")
    log = tmp_path / "workers.log"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3"]
        + ["--dist", "loadgroup", "--rootdir", str(tmp_path), str(tests)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "WORKER_LOG": str(log)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    rows = [line.split() for line in log.read_text().splitlines()]
    grouped = {worker for module, worker in rows if not module.endswith("test_other")}
    assert len(rows) == 24
    assert len(grouped) == 1, rows
