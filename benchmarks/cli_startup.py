"""`<project> --help` start-up time against `mlflow --help`, in one run, same virtual environment.

Usage: python benchmarks/cli_startup.py [--runs N] [--workdir DIR]
Target: the project's --help under 0.3 s (heavy libraries are imported inside the commands).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _project import installed_project


def timed(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, check=True, capture_output=True)  # warm the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mlops-bench")
    args = parser.parse_args()
    project = installed_project(args.workdir)
    bin_dir = project / ".venv" / "bin"
    ours = timed([str(bin_dir / project.name), "--help"], args.runs)
    peer = timed([str(bin_dir / "mlflow"), "--help"], args.runs)
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    print(f"{project.name} --help: median {ours_median:.3f} s, max {max(ours):.3f} s")
    print(f"mlflow --help:        median {peer_median:.3f} s, max {max(peer):.3f} s")
    print(f"ratio (ours / mlflow): {ours_median / peer_median:.2f}")
    print(f"target < 0.3 s: {'met' if ours_median < 0.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
