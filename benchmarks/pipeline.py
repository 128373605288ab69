"""Wall time of the default pipeline (`dvc repro` of all four stages) and the share of training.

Also reported: the one-off DVC set-up and the push to the local remote that `make pipeline`
adds around it.

Usage: python benchmarks/pipeline.py [--workdir DIR]
Target: under 30 s wall time after install. "Training" is the model's fit() itself, as logged
by the train step (metric fit_seconds); the rest is the pipeline's own overhead (process starts,
imports, validation, MLflow logging, plots).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from _project import installed_project

STAMP = "%Y-%m-%d %H:%M:%S"  # the log format's asctime, without milliseconds
GENERATED = (
    "data/raw",
    "data/processed",
    "reports",
    "metrics",
    "plots",
    "logs",
    "mlflow.db",
    "mlruns",
    "dvc.lock",
    ".dvc",
    ".dvcignore",
    ".dvc-remote",
)


def fresh(project: Path) -> None:
    for name in GENERATED:
        path = project / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def stage_times(project: Path) -> dict[str, float]:
    """Each command's wall time, from the first and last line of its log file."""
    times = {}
    for log in sorted((project / "logs").glob("*.log")):
        lines = log.read_text().splitlines()
        if lines:
            first, last = (time.strptime(x[:19], STAMP) for x in (lines[0], lines[-1]))
            times[log.stem.split("-", 2)[-1]] = time.mktime(last) - time.mktime(first)
    return times


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mlops-bench")
    args = parser.parse_args()
    project = installed_project(args.workdir)
    fresh(project)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    bin_dir = project / ".venv" / "bin"
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    init = timed(["make", ".dvc/config"], project, env)  # once per project
    wall = timed([str(bin_dir / "dvc"), "repro"], project, env)  # the pipeline: 4 stages
    push = timed([str(bin_dir / "dvc"), "push", "--quiet"], project, env)
    with sqlite3.connect(project / "mlflow.db") as db:
        (fit,) = db.execute("select value from metrics where key = 'fit_seconds'").fetchone()
    print(f"dvc repro (prepare, validate, train, evaluate): {wall:.1f} s wall")
    print(
        f"  around it in make pipeline: DVC init and remote {init:.1f} s (once per project), "
        f"push {push:.1f} s"
    )
    print(f"training itself (fit): {fit:.3f} s = {100 * fit / wall:.1f} % of the pipeline")
    print(f"pipeline overhead: {wall - fit:.1f} s = {100 * (wall - fit) / wall:.1f} %")
    for stage, seconds in stage_times(project).items():
        print(f"  {stage:<14} ~{seconds:.0f} s inside the command (log timestamps)")
    print(f"target < 30 s: {'met' if wall < 30 else 'MISSED'} ({wall:.2f} s)")


if __name__ == "__main__":
    main()
