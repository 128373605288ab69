"""The repository's own Python is ruff clean (the template's is checked per generated project)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    result = subprocess.run(
        ["ruff", "check", "--no-cache", "actions", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean_over_the_whole_repository():
    """`ruff format --check` at the root: actions, tests, benchmarks, hooks and the guard."""
    result = subprocess.run(
        ["ruff", "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_ruff_at_the_root_reads_its_config():
    """A bare `ruff check` / `ruff format --check` must not trip over the template's Jinja TOML."""
    for command in (["ruff", "check", "--no-cache"], ["ruff", "format", "--check", "--no-cache"]):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        # Exit 2 is ruff's "could not run" (e.g. a pyproject.toml it cannot parse).
        assert result.returncode != 2, result.stderr
        assert "ruff failed" not in result.stderr
