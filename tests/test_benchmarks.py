"""Every benchmark runs as documented, `python benchmarks/<x>.py`, from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))


def test_the_benchmarks_are_found():
    assert {"gate.py", "serving.py", "serving_mixed.py", "image_size.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_imports_and_answers_help_from_the_root(script):
    """--help parses after every module-level import: a missing import path fails here."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage:")


@pytest.mark.slow
def test_serving_mixed_serves_both_models_as_their_pipelines_answer():
    """--check: both models served by the real server answer as in-process (no wrk needed)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "benchmarks/serving_mixed.py", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "both servers answer as their Pipelines do in-process" in result.stdout


@pytest.mark.slow
def test_batch_score_runs_in_a_tiny_mode_with_the_pipelines_answers():
    """3,000 rows, one round: score's predictions equal predict's (else it stops before the
    table), and the table is printed. No speed is asserted: tiny files measure fixed costs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "benchmarks/batch_score.py", "--rows", "3000", "--rounds", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "differ" not in result.stderr, result.stderr[-2000:]
    assert "score + store" in result.stdout and "goal: score >= 0.8x" in result.stdout, (
        result.stdout + result.stderr[-2000:]
    )


@pytest.mark.fast
def test_the_logging_ratios_interval_covers_its_median_as_it_says(monkeypatch):
    """serving.py's interval for the median of the paired logged/ours ratios: the widest pair of
    order statistics x(j), x(n+1-j) whose binomial coverage is still >= 90 %."""
    import importlib.util

    # By its path and under its own name: `serving` is also tests/serving, imported first in
    # a worker that ran those tests. Its own imports (_project) need the folder on the path.
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_serving", ROOT / "benchmarks/serving.py")
    serving = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serving)
    cases = {3: (1, 3), 5: (1, 5), 8: (2, 7), 10: (2, 9), 16: (5, 12)}
    for n, (low, high) in cases.items():
        assert serving.median_interval([float(i) for i in range(n, 0, -1)], 0.9) == (low, high)
        j = low
        assert 1 - 2 * serving._below(j, n) >= 0.9 or j == 1
        assert 1 - 2 * serving._below(j + 1, n) < 0.9 or j + 1 > n // 2
