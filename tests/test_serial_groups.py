"""The suite's serial groups really reach pytest-xdist: every test of a group runs in one worker,
and the act scenarios start first, side by side, with the suite's own configuration (pyproject's
addopts, tests/conftest.py) and nothing but pytest-xdist's public `--dist loadgroup`."""

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


XDIST = ("-p", "xdist.plugin", "-n")


def run_suite(tmp_path: Path, modules: dict[str, str], workers: int) -> list[list[str]]:
    """Run a small suite of `modules` (path under tests/: text) with the suite's own pyproject
    (its addopts), conftest and support package, `-n workers` and nothing else; the rows its
    tests wrote to WORKER_LOG."""
    tests = tmp_path / "tests"
    for module, text in modules.items():
        (tests / module).parent.mkdir(parents=True, exist_ok=True)
        (tests / module).write_text(text)
    shutil.copy(HERE / "conftest.py", tests / "conftest.py")
    shutil.copytree(HERE / "support", tests / "support")
    shutil.copy(HERE.parent / "pyproject.toml", tmp_path / "pyproject.toml")
    log = tmp_path / "workers.log"
    result = subprocess.run(
        # xdist named, no plugin autoloaded: as tests/run starts the suite.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *XDIST, str(workers)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "WORKER_LOG": str(log), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    return [line.split() for line in log.read_text().splitlines()]


WORLD = """\
import os
import time

import pytest


@pytest.fixture(scope="module", params=["a", "b"])
def installed(request):
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(f"built-{request.param} world {os.environ['PYTEST_XDIST_WORKER']}\\n")
    return request.param


@pytest.mark.parametrize("i", range(4))
def test_in_the_world(installed, i):
    time.sleep(0.05)


def test_without_it():
    time.sleep(0.05)
"""


def test_each_group_runs_in_one_worker(tmp_path):
    grouped = ("e2e/test_lifecycle.py", "e2e/test_two.py", "toolkit/test_swarm.py")
    # toolkit/test_other.py is in no group: its tests spread freely.
    modules = {module: TEST for module in (*grouped, "toolkit/test_other.py")}
    # A module world (tests/conftest.py's WORLDS): each `installed` parameter's tests run in
    # one worker, which builds it once.
    modules["template/test_projects.py"] = WORLD
    rows = run_suite(tmp_path, modules, workers=3)
    built = sorted(name for name, _, _ in rows if name.startswith("built-"))
    assert built == ["built-a", "built-b"], rows
    rows = [row for row in rows if not row[0].startswith("built-")]
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


LOG = """\
import os
import time


def timed(name, seconds):
    start = time.time()
    time.sleep(seconds)
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']} {start} {time.time()}\\n")
"""

E2E = """\
import pytest
from timed import timed


@pytest.mark.parametrize("target", ["docker", "swarm"])
def test_lifecycle(target):
    timed(target, 2)


@pytest.mark.parametrize("i", range(2))
def test_after_the_scenario(i):
    timed(f"{__name__}-{i}", 0.05)
"""

QUICK = """\
import pytest
from timed import timed


@pytest.mark.parametrize("i", range(8))
def test_quick(i):
    timed(f"{__name__}-{i}", 0.05)
"""


SLOW = """\
import pytest
from timed import timed


@pytest.mark.slow
@pytest.mark.parametrize("i", range(3))
def test_slow(i):
    timed(f"{__name__}-{i}", 0.05)
"""


def test_the_long_groups_start_first_side_by_side(tmp_path):
    """Each act scenario is the first test of its worker, they overlap, and the test queued
    behind one is a quick test, not a group. Plain loadgroup starts the group of eight first
    (units queued largest first) or the slow tests collected first (--no-loadscope-reorder),
    and may queue the second scenario behind the first on one worker."""
    modules = {
        "timed.py": LOG,
        "api/test_first.py": SLOW,  # collected before the scenarios
        "e2e/test_lifecycle.py": E2E,  # the two scenarios, two more tests in the e2e group
        "toolkit/test_swarm.py": QUICK,  # one group of eight
        "toolkit/test_other.py": QUICK,  # eight of their own
    }
    rows = run_suite(tmp_path, modules, workers=2)
    assert len(rows) == 23
    runs = {name: (worker, float(start), float(end)) for name, worker, start, end in rows}
    (docker_worker, docker_start, docker_end), (swarm_worker, swarm_start, swarm_end) = (
        runs["docker"],
        runs["swarm"],
    )
    assert docker_worker != swarm_worker, rows
    for worker, start in ((docker_worker, docker_start), (swarm_worker, swarm_start)):
        assert min(s for w, s, _ in runs.values() if w == worker) == start, rows
    assert docker_start < swarm_end and swarm_start < docker_end, rows  # they overlapped
    after_swarm = min(
        (s, name) for name, (w, s, _) in runs.items() if w == swarm_worker and s > swarm_start
    )
    assert after_swarm[1].startswith("test_other"), rows  # neither slow nor a group
