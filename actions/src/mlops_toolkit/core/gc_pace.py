"""The garbage collector's pace while a process starts, and its last collections skipped when it
ends: every entry point (the toolkit's CLI, a project's CLI frame, the scoring server) calls
`importing()` before its command runs.

A command imports MLflow, scikit-learn, pandas, SciPy, Great Expectations or skops: millions of
objects that live as long as the process, and next to no garbage. At CPython's default pace (a
young collection every 700 net allocations of container objects) the collector ran ~1,000 times
while `import mlflow, sklearn.linear_model, great_expectations, pandas, skops.io` loaded, each
time walking a larger heap: 1.1 of its 7.9 CPU-s on this machine. Every 10,000 it runs ~70
times, for 0.3 s. The cost: cyclic garbage waits longer to be freed, at most ~10,000 young
container objects (a few MB). CPython 3.13 itself moved its default from 700 to 2,000.

A long-lived server goes back to the pace it started with once its model is loaded
(`imported()`): its requests were measured at CPython's defaults, and the benchmarks keep them.

At exit (an atexit callback) the heap is frozen (`gc.freeze`).
The interpreter's teardown then skips the collections that walk every object those imports
made: `import mlflow, great_expectations, sklearn.linear_model` took 1.3-1.5 s to exit on this
machine, 0.1 s frozen. Everything else of a normal exit still happens: threads are joined,
atexit callbacks run (logging's flush among them), files are closed as their modules are torn
down. Only garbage in reference cycles is left for the operating system to reclaim, as
`os._exit` would leave it, and Python never promised a `__del__` at exit anyway.
"""

from __future__ import annotations

import atexit
import gc

GEN0 = 10_000
_started_with: tuple[int, int, int] | None = None


def importing() -> None:
    """Collect young objects every GEN0 allocations, never more often than the process already
    did (a threshold of 0, the collector off, is left as it is), and freeze the heap at exit.
    Idempotent."""
    global _started_with
    if _started_with is None:
        _started_with = gc.get_threshold()
        atexit.register(gc.freeze)
    gen0, gen1, gen2 = _started_with
    if 0 < gen0 < GEN0:
        gc.set_threshold(GEN0, gen1, gen2)


def imported() -> None:
    """Back to the thresholds the process had before `importing()`."""
    if _started_with is not None:
        gc.set_threshold(*_started_with)
