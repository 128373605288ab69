"""Suite-wide rules: GPU tests run only where nvidia-smi finds a GPU; tests that share one
piece of machine state run in one pytest-xdist worker, one after the other."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _gpu_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return listing.returncode == 0 and "GPU" in listing.stdout


# Tests that share one piece of machine state run in one pytest-xdist worker, one after the
# other (`--dist loadgroup`, tests/run). A pattern matches `<path>::<test name>`, so one
# parametrized variant can have a group of its own; the first group that matches wins.
#   e2e-swarm: the act scenario on the swarm target (its own names and ports, and the swarm is
#     never left: .ci/docker-up initialises it), so it runs beside the docker one;
#   e2e: every other act scenario (fixed container names on the one engine);
#   toolkit-swarm: one module-scoped world (models, images) the module's tests share;
#   serving-image: one chain of image layers (builds of one Dockerfile in two workers at once
#     leave two cache chains, and the rebuild whose reuse the module checks may take the other);
#   serving-differential, template-git-url: one module-scoped set of slow servers or one
#     template repository and install, started once instead of once per worker.
SERIAL_GROUPS = {
    "e2e-swarm": ("tests/e2e/test_lifecycle.py::test_lifecycle[swarm]",),
    "e2e": ("tests/e2e/",),
    "toolkit-swarm": ("tests/toolkit/test_swarm.py",),
    "serving-image": ("tests/serving/test_image.py",),
    "serving-differential": ("tests/serving/test_differential.py",),
    "template-git-url": ("tests/template/test_git_url.py",),
}
# Groups of one long test each (the act scenarios, tens of minutes): they start first, each on a
# worker of its own (tests/support/scheduling.py), so they run side by side, never in a queue.
LONG_GROUPS = ("e2e", "e2e-swarm")


def _group(item: pytest.Item) -> str | None:
    where = f"{item.path.as_posix()}::{item.name}"
    for group, patterns in SERIAL_GROUPS.items():
        if any(f"/{pattern}" in where for pattern in patterns):
            return group
    return None


# tryfirst: xdist reads the group marks in its own collection hook, which otherwise runs before
# this one and sees none (the groups were then spread over workers like any other test).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = _group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if gpu_tests and not _gpu_present():
        skip = pytest.mark.skip(reason="no NVIDIA GPU here (nvidia-smi finds none)")
        for item in gpu_tests:
            item.add_marker(skip)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") != "loadgroup":
        return None
    from support.scheduling import LongGroupsApart

    return LongGroupsApart(config, log, LONG_GROUPS)
