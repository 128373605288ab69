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


# Tests that use the engine's one Docker Swarm (init, services, leave) must not overlap: a
# worker leaving the swarm it created would pull it from under another. `--dist loadgroup`
# (tests/run) sends each group to one worker.
SERIAL_GROUPS = {
    "orchestrator": ("tests/e2e/", "tests/toolkit/test_swarm.py"),
}


def _group(item: pytest.Item) -> str | None:
    path = item.path.as_posix()
    for group, prefixes in SERIAL_GROUPS.items():
        if any(f"/{prefix}" in path or path.endswith(f"/{prefix}") for prefix in prefixes):
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
