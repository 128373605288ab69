"""`mlops-toolkit ARGS` of this checkout in a subprocess, as the composite actions run it: the
one runner every test package uses (tests/toolkit/conftest.py, the e2e loop)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ACTIONS_SRC = Path(__file__).resolve().parents[2] / "actions" / "src"


def cli(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the real CLI of this checkout (its source first on PYTHONPATH, ``env`` over the
    process's environment); output captured as text, the exit status left to the caller."""
    full_env = {**os.environ, "PYTHONPATH": str(ACTIONS_SRC), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mlops_toolkit.cli", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
