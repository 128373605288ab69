"""Progress bars for long work: live on a terminal, quiet in CI logs.

One helper for every long loop of the toolkit (init-data's steps, a sweep's trials, batch
scoring's rows, the gate's bootstrap). tqdm draws the bar: it is small, pure Python, and already
in every environment that does long work (Optuna, DVC and Great Expectations require it; the
`ci` and `score` extras name it). Where it is missing, the work runs without a bar.

- On a terminal (stderr is a TTY and `CI` is not set): a tqdm bar on stderr, drawn only once the
  work has taken `DELAY_S`, so quick work draws nothing.
- Elsewhere (a CI log, a pipe, a file): no bar, since every redraw would be a line of the log.
  Work that took at least `SUMMARY_AFTER_S` leaves one summary line on stderr when it ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

ENV_CI = "CI"  # set to anything but "", "0" or "false" by GitHub Actions, GitLab, act, ...
DELAY_S = 1.0  # a bar appears only for work that lasts longer than this
SUMMARY_AFTER_S = 5.0  # off a terminal, shorter work leaves no line at all
SCALE_FROM = 10_000  # totals from here on are shown scaled (12.3k), smaller ones as they are


def live(stream: TextIO | None = None) -> bool:
    """Whether a bar may be drawn on `stream` (stderr): a terminal, and not a CI job."""
    if os.environ.get(ENV_CI, "").strip().lower() not in ("", "0", "false"):
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """What the work calls: `advance(n)` after each piece, `step(text)` to name the current one."""

    def __init__(self, bar: Any | None) -> None:
        self._bar = bar
        self.done = 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def step(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def next(self, text: str) -> None:
        """One piece done; `text` names the next."""
        self.advance()
        self.step(text)


@contextlib.contextmanager
def bar(
    total: int | None,
    what: str,
    unit: str = "",
    *,
    enabled: bool = True,
    summary_after_s: float = SUMMARY_AFTER_S,
    stream: TextIO | None = None,
) -> Iterator[Progress]:
    """A bar for `total` pieces of work named `what` (None: unknown total), or none at all.

    `enabled` is the command's own switch (`--no-progress`); the terminal test comes on top.
    """
    stream = stream if stream is not None else sys.stderr
    started = time.monotonic()
    drawn = _tqdm(total, what, unit, stream) if enabled and live(stream) else None
    progress = Progress(drawn)
    try:
        yield progress
    finally:
        if drawn is not None:
            drawn.close()
    elapsed = time.monotonic() - started
    if enabled and drawn is None and elapsed >= summary_after_s:
        count = f"{progress.done:,}" if total is None else f"{progress.done:,}/{total:,}"
        print(f"{what}: {count}{unit} in {elapsed:.1f} s", file=stream, flush=True)


def _tqdm(total: int | None, what: str, unit: str, stream: TextIO) -> Any | None:
    try:
        from tqdm import tqdm
    except ImportError:  # an environment without tqdm: the work runs without a bar
        return None
    return tqdm(
        total=total,
        desc=what,
        unit=unit or "it",
        unit_scale=total is None or total >= SCALE_FROM,  # 1.2M rows; but 3/5 steps
        file=stream,
        delay=DELAY_S,
        mininterval=0.2,
        dynamic_ncols=True,
    )
