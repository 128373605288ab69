"""A warning a step gives: a GitHub Actions annotation there (`::warning title=...::`, shown on
the run's summary page), a plain `warning:` line on stderr everywhere else. One writer, so every
command's warnings read alike and reach the run page."""

from __future__ import annotations

import os
import sys


def warning(message: str, title: str = "") -> None:
    """``message`` on stderr, as an annotation with ``title`` on GitHub Actions."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        head = f"::warning title={title}::" if title else "::warning::"
        print(f"{head}{message}", file=sys.stderr)
    else:
        print(f"warning: {message}", file=sys.stderr)
