"""Suite-wide rules: GPU tests run only where nvidia-smi finds a GPU."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _gpu_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return listing.returncode == 0 and "GPU" in listing.stdout


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if gpu_tests and not _gpu_present():
        skip = pytest.mark.skip(reason="no NVIDIA GPU here (nvidia-smi finds none)")
        for item in gpu_tests:
            item.add_marker(skip)
