"""Signals as a fresh process gets them, for the tests of how our code handles a delivered one.

A pytest worker runs many tests in one process, and a library one of them used can leave SIGINT
ignored or blocked (DVC's stage runner puts back a previous SIG_DFL as nothing; uvloop blocks
signals around its forks). A process started from such a worker inherits both. Seen once in a
full run (2026-12-07): both SIGINT tests on one worker, and only there."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


def fresh_signals() -> None:
    """`preexec_fn` for a command under test: SIGINT and SIGTERM unblocked, at their defaults."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_DFL)


@contextmanager
def python_defaults() -> Iterator[None]:
    """In this process: SIGINT raising KeyboardInterrupt and both delivered, as at the
    interpreter's start; the worker's state put back after."""
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
