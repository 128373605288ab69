"""core/gc_pace.py: every entry point collects young objects every GEN0 allocations while its
heavy imports load, and the scoring server goes back to the process's own pace once its model
is loaded."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from mlops_toolkit.core import gc_pace
from projectkit import ENV


@pytest.fixture
def fresh(monkeypatch):
    """The module as in a new process; the worker's thresholds put back afterwards."""
    before = gc.get_threshold()
    monkeypatch.setattr(gc_pace, "_started_with", None)
    yield
    gc.set_threshold(*before)


def test_importing_raises_only_the_young_threshold_and_imported_restores_it(fresh):
    gc.set_threshold(700, 11, 12)
    gc_pace.importing()
    assert gc.get_threshold() == (gc_pace.GEN0, 11, 12)
    gc_pace.importing()  # idempotent: what the process started with is kept
    gc_pace.imported()
    assert gc.get_threshold() == (700, 11, 12)


@pytest.mark.parametrize("gen0", [0, 50_000])
def test_a_collector_switched_off_or_slower_already_is_left_alone(fresh, gen0):
    gc.set_threshold(gen0, 10, 10)
    gc_pace.importing()
    assert gc.get_threshold() == (gen0, 10, 10)


def _gen0_after(code: str) -> int:
    probe = f"import gc\n{code}\nprint(gc.get_threshold()[0])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=ENV, check=False
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.parametrize(
    "entry",
    [
        "from mlops_toolkit import cli\ntry: cli.main(['--version'])\nexcept SystemExit: pass",
        "import projectkit\ntry: projectkit.main(['--version'])\nexcept SystemExit: pass",
    ],
    ids=["toolkit-cli", "project-frame"],
)
def test_each_command_line_runs_at_the_import_pace(entry):
    assert _gen0_after("") < gc_pace.GEN0  # CPython's own default
    assert _gen0_after(entry) == gc_pace.GEN0


def test_the_scoring_server_is_back_at_the_process_pace_once_its_model_loads(fresh, monkeypatch):
    from mlops_toolkit.serving import app as scoring
    from mlops_toolkit.serving.settings import Settings

    monkeypatch.setattr(scoring, "load_for_serving", lambda model_dir: object())
    gc.set_threshold(700, 10, 10)
    gc_pace.importing()  # as serve() does before it imports uvicorn and loads the model
    assert gc.get_threshold()[0] == gc_pace.GEN0
    scoring.ScoringApp(Settings.from_env({}, model_dir="unused")).load()
    assert gc.get_threshold() == (700, 10, 10)
    gc.unfreeze()  # load() froze this worker's objects
