"""A Python command run with `-X importtime`: which modules it imported, in what order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def finished_imports(
    args: list[str], cwd: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `python -X importtime ARGS`: its result, and the modules in the order their imports
    finished (a package after the modules it imports)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    finished = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    ]
    return result, finished
