"""core/gc_pace.py: every entry point collects young objects every GEN0 allocations while its
heavy imports load, and freezes the heap when the process exits; the scoring server goes back to
the process's own pace once its model is loaded."""

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


def _output(code: str) -> str:
    """What `python -c` prints, with gc imported first."""
    done = subprocess.run(
        [sys.executable, "-c", f"import gc\n{code}"],
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _gen0_after(code: str) -> int:
    return int(_output(f"{code}\nprint(gc.get_threshold()[0])").split()[-1])


ENTRIES = [
    "from mlops_toolkit import cli\ntry: cli.main(['--version'])\nexcept SystemExit: pass",
    "import projectkit\ntry: projectkit.main(['--version'])\nexcept SystemExit: pass",
]
ENTRY_IDS = ["toolkit-cli", "project-frame"]


@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRY_IDS)
def test_each_command_line_runs_at_the_import_pace(entry):
    assert _gen0_after("") < gc_pace.GEN0  # CPython's own default
    assert _gen0_after(entry) == gc_pace.GEN0


# Registered before the entry point runs, so atexit calls it after the entry point's callback.
FROZEN_AT_EXIT = "import atexit\natexit.register(lambda: print('frozen', gc.get_freeze_count()))"


@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRY_IDS)
def test_each_command_line_freezes_the_heap_at_exit(entry):
    """The interpreter's teardown then skips collections over every imported object."""
    assert _output(FROZEN_AT_EXIT).split() == ["frozen", "0"]  # CPython's own exit
    frozen = _output(f"{FROZEN_AT_EXIT}\n{entry}").split()[-2:]  # after what --version printed
    assert frozen[0] == "frozen" and int(frozen[1]) > 10_000, frozen


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
