"""Wall time of the default pipeline (`dvc repro` of all four stages) and the share of training.

Also reported: the one-off DVC set-up and the push to the local remote that `make pipeline`
adds around it.

Usage: python benchmarks/pipeline.py [--workdir DIR] [--warm-rounds N]
Target: under 30 s wall time after install. "Training" is the model's fit() itself, as logged
by the train step (metric fit_seconds); the rest is the pipeline's own overhead (process starts,
imports, validation, MLflow logging, plots).

`--warm-rounds N`: instead, `dvc repro` with the stages' commands forked from one warm
interpreter (the toolkit's core/warm.py, as `make pipeline` and CI jobs run them) against each
command importing its libraries anew (`MLOPS_WARM=0`), taking turns N times: wall time and CPU
seconds (this process's children, and the warm server with the commands it forked and reaped),
medians and their ratio. Goal: warm at most 0.8x the CPU of cold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
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


def warm_against_cold(project: Path, env: dict[str, str], rounds: int) -> bool:
    """Print cold and warm `dvc repro` (wall, CPU) medians and ratios; whether the goal held."""
    import statistics

    results: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
    for _ in range(rounds):
        for mode in results:
            fresh(project)
            timed(["make", ".dvc/config"], project, env)
            with tempfile.TemporaryDirectory(prefix="warm-bench-") as folder:
                run_env = {**env, "MLOPS_WARM": folder if mode == "warm" else "0"}
                before = _children_cpu()
                wall = timed([str(project / ".venv" / "bin" / "dvc"), "repro"], project, run_env)
                cpu = _children_cpu() - before + _server_cpu(Path(folder))
            results[mode].append((wall, cpu))  # the folder gone: the server leaves
    medians = {
        mode: tuple(statistics.median(r[i] for r in runs) for i in (0, 1))
        for mode, runs in results.items()
    }
    for mode, (wall, cpu) in medians.items():
        print(f"dvc repro {mode}: {wall:.1f} s wall, {cpu:.1f} CPU-s (medians of {rounds})")
    wall_ratio = medians["warm"][0] / medians["cold"][0]
    cpu_ratio = medians["warm"][1] / medians["cold"][1]
    met = cpu_ratio <= 0.8
    print(f"warm/cold: wall x{wall_ratio:.3f}, CPU x{cpu_ratio:.3f}")
    print(f"goal CPU <= x0.8: {'met' if met else 'NOT met'}")
    return met


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def _server_cpu(folder: Path) -> float:
    """The warm server's CPU, its own and its reaped children's (the commands), read from /proc
    before it leaves; 0 where none started."""
    total = 0.0
    for mark in folder.glob("*.id"):
        pid = int(mark.read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after the name
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mlops-bench")
    parser.add_argument("--warm-rounds", type=int, default=0, help="compare warm and cold")
    args = parser.parse_args()
    project = installed_project(args.workdir)
    fresh(project)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    bin_dir = project / ".venv" / "bin"
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    if args.warm_rounds:
        return 0 if warm_against_cold(project, env, args.warm_rounds) else 1
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
