"""`<project> --help` start-up time against `mlflow --help`, in one run, same virtual environment.

Usage: python benchmarks/cli_startup.py [--runs N] [--workdir DIR]
Target: the project's --help under 0.3 s (heavy libraries are imported inside the commands).

`--imports`: instead, what a command that loads a model (the gate, batch scoring) spends on its
imports: skops.io, MLflow and mlflow.sklearn, with skops.io imported first (as those commands do,
registry/mlmodel.py `import_skops_first`) against after MLflow. CPU seconds of fresh
interpreters, the two orders taking turns; medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
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


ORDERS = {
    "skops.io first": ("skops.io", "mlflow", "mlflow.sklearn"),
    "after MLflow": ("mlflow", "skops.io", "mlflow.sklearn"),
}
IMPORT_CPU = (
    "import importlib, sys, time\n"
    "started = time.process_time()\n"
    "for name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    "print(time.process_time() - started)"
)


def import_cpu(runs: int) -> None:
    seconds: dict[str, list[float]] = {order: [] for order in ORDERS}
    for _ in range(runs):
        for order, modules in ORDERS.items():
            out = subprocess.run(
                [sys.executable, "-c", IMPORT_CPU, *modules],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds[order].append(float(out.split()[-1]))
    medians = {order: statistics.median(values) for order, values in seconds.items()}
    for order, median in medians.items():
        print(f"{order:15s} {' '.join(ORDERS[order])}: median {median:.2f} CPU-s")
    ratio = medians["skops.io first"] / medians["after MLflow"]
    print(f"ratio (skops.io first / after MLflow): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mlops-bench")
    parser.add_argument("--imports", action="store_true", help="a model-loading command's imports")
    args = parser.parse_args()
    if args.imports:
        import_cpu(args.runs)
        return
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
