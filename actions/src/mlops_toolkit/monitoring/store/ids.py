"""Prediction ids: 32 hex digits, sortable by time (UUIDv7's layout, without dashes).

`<12 hex: milliseconds since the epoch><7><13 hex: random, one draw per batch><6 hex: row>`.
The first 26 digits are the batch id (the scoring server's `X-Prediction-Batch` header): row
`i` of a batch is the batch id followed by `i` in 6 hex digits, so ids sort by time, then row,
and a batch's ids need not travel in a header. 52 random bits per millisecond keep two batches
(across processes and replicas) apart.
"""

from __future__ import annotations

import os
import time

BATCH_DIGITS = 26
MAX_ROWS = 16**6  # rows in one batch


def new_ids(n: int, now: float | None = None) -> list[str]:
    """`n` fresh prediction ids, one batch, for rows scored at `now` (default: the time)."""
    if n > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} ids in one batch, asked for {n}")
    batch = new_batch(now)
    return [f"{batch}{i:06x}" for i in range(n)]


def new_batch(now: float | None = None) -> str:
    ms = int((time.time() if now is None else now) * 1000)
    return f"{ms:012x}7{os.urandom(7).hex()[:13]}"


def batch_of(prediction_id: str) -> str:
    return prediction_id[:BATCH_DIGITS]


def id_time(prediction_id: str) -> float:
    """The time (epoch seconds) an id was made; ValueError for what is not an id."""
    if len(prediction_id) != 32:
        raise ValueError(f"not a prediction id: {prediction_id!r}")
    return int(prediction_id[:12], 16) / 1000
