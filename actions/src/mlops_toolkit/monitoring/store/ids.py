"""Prediction ids: 32 hex digits, sortable by time (UUIDv7's layout, without dashes).

48 bits of milliseconds since the epoch, then the version nibble 7, then random bits: ids made
later sort later (across processes, to the millisecond), and two ids never collide in practice
(74 random bits). One `os.urandom` call per batch keeps a 10,000-row request cheap.
"""

from __future__ import annotations

import os
import time

_RANDOM_BYTES = 10


def new_ids(n: int, now: float | None = None) -> list[str]:
    """`n` fresh prediction ids for rows scored at `now` (default: the current time)."""
    ms = int((time.time() if now is None else now) * 1000)
    head = f"{ms:012x}7"
    pool = os.urandom(_RANDOM_BYTES * n).hex()
    step = _RANDOM_BYTES * 2
    # 12 hex of time + "7" + 19 hex of randomness = 32 hex digits.
    return [head + pool[i * step : i * step + 19] for i in range(n)]


def id_time(prediction_id: str) -> float:
    """The time (epoch seconds) an id was made; ValueError for what is not an id."""
    if len(prediction_id) != 32:
        raise ValueError(f"not a prediction id: {prediction_id!r}")
    return int(prediction_id[:12], 16) / 1000
