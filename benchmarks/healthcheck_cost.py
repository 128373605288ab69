"""What a serving container's Docker HEALTHCHECK costs the host, at the image's pace and at 5 s.

Each check is a `docker exec` of the image's command: dockerd, containerd and runc start a
process in the container. This runs N idle containers of one serving image for a window, three
ways in turn (no check, the image's own interval, a 5 s interval), and reads the host's busy CPU
from /proc/stat; the figure is CPU-s per container-minute above the no-check run, and each
pace's share of the 5 s pace's in the same run.

    python benchmarks/healthcheck_cost.py --image IMAGE [--containers 4] [--window 60]

IMAGE: a serving image built from a generated project (`mlops-toolkit build-image`, or any tag
the suite's scenarios pushed to 127.0.0.1:5000). Linux only (/proc/stat); the containers use the
host network on free ports and are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time

import _project  # noqa: F401 - first: the repository's import paths
from support.servers import free_port

START_PERIOD_S = 70  # past the image's start period (60 s): the checks run at their pace


def busy_seconds() -> float:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def measure(image: str, flags: list[str], containers: int, window: float) -> float:
    """Host CPU-s per minute with `containers` idle containers run with `flags`."""
    ids = []
    try:
        for _ in range(containers):
            env = ["-e", f"SERVING_PORT={free_port()}"]
            ids.append(docker("run", "-d", "--network", "host", *env, *flags, image).strip())
        time.sleep(START_PERIOD_S)
        start = busy_seconds()
        time.sleep(window)
        return (busy_seconds() - start) * 60 / window
    finally:
        if ids:
            docker("rm", "-f", *ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--containers", type=int, default=4)
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured per run")
    args = parser.parse_args()
    check = json.loads(
        docker("image", "inspect", "--format", "{{json .Config.Healthcheck}}", args.image)
    )
    if not check or not check.get("Test") or check["Test"][0] == "NONE":
        raise SystemExit(f"{args.image} has no HEALTHCHECK")
    own = check.get("Interval") or 30 * 10**9
    runs = {
        "no check": ["--no-healthcheck"],
        f"image's pace ({own / 1e9:g} s)": [],
        "5 s": ["--health-interval", "5s"],
    }
    per_minute = {
        name: measure(args.image, flags, args.containers, args.window)
        for name, flags in runs.items()
    }
    base = per_minute.pop("no check")
    print(f"{args.containers} idle containers of {args.image}, {args.window:g} s each")
    print(f"no check: {base:.2f} CPU-s per minute on the host (the floor)")
    cost = {name: (value - base) / args.containers for name, value in per_minute.items()}
    for name, value in cost.items():
        share = value / 60
        print(
            f"{name}: {value:.2f} CPU-s per container-minute for its checks ({share:.1%} of a core)"
        )
    pace, fast = cost.values()
    print(
        f"image's pace / 5 s: x{pace / fast:.2f}"
        if fast > 0
        else "5 s pace cost nothing measurable"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
