"""The toolkit's one exception base, and the one mapping from an exception to an exit code.

Every failure the toolkit foresees is a `ToolkitError` subclass that carries its exit code:

| exit | meaning                                                          |
|------|------------------------------------------------------------------|
| 0    | done                                                             |
| 1    | could not run: bad input or data, a server down (`ToolkitError`) |
| 2    | judged and found wanting: gate failed, data invalid (`Rejected`) |
| 3    | drift detected (`DriftDetected`)                                 |
| 130  | interrupted (Ctrl-C)                                             |
| 143  | terminated (SIGTERM, e.g. a cancelled CI job)                    |

Anything else is a bug or an unforeseen failure: exit 1 with one line, the traceback only when
`MLOPS_DEBUG` is set.
"""

from __future__ import annotations

import signal
from types import FrameType

from . import names

DEBUG_ENV = names.ENV_DEBUG

EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class ToolkitError(Exception):
    """A foreseen failure with a message fit for one line of CI output."""

    exit_code = 1

    def lines(self) -> list[str]:
        """What the failure reports, one line each: the message on one line. An error that
        names several independent problems (labels refused for duplicates and unknown ids at
        once) gives one line for each, so that one fix of the input can cover them all."""
        return [one_line(str(self))]


class InputError(ToolkitError):
    """Bad data or input: a missing file, invalid JSON, a wrong value."""

    exit_code = 1


class Rejected(ToolkitError):
    """The thing checked was judged and found wanting (gate failed, data invalid)."""

    exit_code = 2


class DriftDetected(ToolkitError):
    """The drift check ran and found drift: a result, not a crash."""

    exit_code = 3


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that `finally` blocks (lock release, restores) still run.

    A KeyboardInterrupt, not a ToolkitError: the `except Exception` blocks that turn library
    errors into one-line failures must not swallow it.
    """


def raise_on_sigterm() -> None:
    """Turn SIGTERM (a cancelled job, `docker stop`) into `Terminated` in the main thread."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)


def outcome(exc: BaseException) -> tuple[int, str, bool]:
    """(exit code, one-line message, whether it is unexpected) for any exception; the message
    of a ToolkitError that reports several lines is its last (`report_lines` gives them all)."""
    if isinstance(exc, ToolkitError):
        return exc.exit_code, exc.lines()[-1], False
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED, "terminated (SIGTERM)", False
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted", False
    lines = str(exc).strip().splitlines()
    first = one_line(lines[0])[:300] if lines else ""
    return EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {first}".rstrip(": "), True


def report_lines(exc: BaseException) -> list[str]:
    """Every line a failure reports: `outcome`'s message, after the lines before it."""
    before = exc.lines()[:-1] if isinstance(exc, ToolkitError) else []
    return [*before, outcome(exc)[1]]


def one_line(text: str) -> str:
    """The message on one line: CI annotations and log greps expect exactly one."""
    return " ".join(text.split())
