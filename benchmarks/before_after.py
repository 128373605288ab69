"""Benchmarks before and after a change, in one run: each benchmark runs at an older commit (a
temporary git worktree) and at the working tree, alternately, and their ratio lines are printed
side by side. Every benchmark already reports ratios against a peer or a floor measured in its
own run, so the two columns compare like with like on a busy machine.

    python benchmarks/before_after.py --ref <commit> gate serving pipeline
    python benchmarks/before_after.py --ref <commit> gate --arg gate=--rows=200000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATIO = re.compile(r"(\bx\s?\d+(\.\d+)?\b|ratio|/floor|goal)", re.IGNORECASE)


def worktree(ref: str, where: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), ref],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return where


def run(tree: Path, name: str, extra: list[str]) -> list[str]:
    """The benchmark's ratio lines (the whole tail if it printed none)."""
    # The tree's own toolkit for the benchmark and every process it starts (a floor app, a
    # server): never the environment's installed copy.
    paths = [str(tree / "actions" / "src"), os.environ.get("PYTHONPATH", "")]
    result = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", *extra],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
    )
    lines = result.stdout.splitlines()
    picked = [line for line in lines if RATIO.search(line)] or lines[-10:]
    if result.returncode != 0:  # a goal missed, or a crash: its last line of stderr says which
        last = (result.stderr.strip().splitlines() or [""])[-1]
        picked.append(f"(exit {result.returncode}) {last}")
    return picked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the commit to compare against")
    parser.add_argument(
        "benchmarks", nargs="+", help="names under benchmarks/ (gate, serving, ...)"
    )
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        help="NAME=ARG: one argument for one benchmark (repeatable), e.g. gate=--rows=200000",
    )
    args = parser.parse_args()
    extra: dict[str, list[str]] = {}
    for item in args.arg:
        name, _, value = item.partition("=")
        extra.setdefault(name, []).append(value)
    with tempfile.TemporaryDirectory() as tmp:
        before = worktree(args.ref, Path(tmp) / "before")
        try:
            for name in args.benchmarks:
                old = run(before, name, extra.get(name, []))
                new = run(ROOT, name, extra.get(name, []))
                print(f"== {name}: before ({args.ref[:10]})")
                print("\n".join(f"   {line}" for line in old))
                print(f"== {name}: after (working tree)")
                print("\n".join(f"   {line}" for line in new), flush=True)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
