"""Prediction ids: 32 hex digits, sortable by time (UUIDv7's layout, without dashes).

`<12 hex: milliseconds since the epoch><7><13 hex: random, one draw per batch><6 hex: row>`.
The first 26 digits are the batch id (the scoring server's `X-Prediction-Batch` header): row
`i` of a batch is the batch id followed by `i` in 6 hex digits, so ids sort by time, then row,
and a batch's ids need not travel in a header. 52 random bits per millisecond keep two batches
(across processes and replicas) apart.
"""

from __future__ import annotations

import random
import time

BATCH_DIGITS = 26
MAX_ROWS = 16**6  # rows in one batch

# The row suffixes, made once and grown on demand: formatting each row's suffix again cost the
# scoring server more than the rest of an id (a 100-row request: ~4x slower). Replaced whole,
# never extended in place: threads scoring at once each see a complete list.
CACHED_ROWS = 65536  # ~4 MB at most: a bigger batch formats its own
_suffixes: list[str] = [f"{i:06x}" for i in range(1024)]


def new_ids(n: int, now: float | None = None) -> list[str]:
    """`n` fresh prediction ids, one batch, for rows scored at `now` (default: the time)."""
    return row_ids(new_batch(now), n)


def row_ids(batch: str, n: int) -> list[str]:
    """The ids of rows 0..n-1 of `batch` (a `new_batch`)."""
    if n > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} ids in one batch, asked for {n}")
    global _suffixes
    suffixes = _suffixes
    if n > len(suffixes):
        suffixes = [f"{i:06x}" for i in range(n)]
        if n <= CACHED_ROWS:
            _suffixes = suffixes
    return [batch + suffix for suffix in suffixes[:n]]


# `ids_json`'s pieces: the JSON array of n ids split around the batch id, per n (bounded).
_pieces: dict[int, list[bytes]] = {}


def ids_json(batch: str, n: int) -> bytes:
    """The JSON array `new_ids` would give for rows 0..n-1 of `batch`, as bytes, made without a
    Python string per row: the scoring server answers every request with its rows' ids, and
    making them one by one cost it more than the rest of logging the request (the store needs
    only the batch id). One `bytes.join` (C) with the batch id between pieces made once per n."""
    if n <= 0:
        return b"[]"
    pieces = _pieces.get(n)
    if pieces is None:
        if n > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} ids in one batch, asked for {n}")
        pieces = [b'["', *(b'%06x","' % i for i in range(n - 1)), b'%06x"]' % (n - 1)]
        if n <= 1024:  # the sizes a server sees again; a bigger batch makes its own
            if len(_pieces) >= 256:
                _pieces.clear()
            _pieces[n] = pieces
    return batch.encode().join(pieces)


def new_batch(now: float | None = None) -> str:
    ms = int((time.time() if now is None else now) * 1000)
    # `random`, not os.urandom: no system call per request. Ids need to be apart, not secret;
    # the module reseeds itself in a forked child, so worker processes never share a sequence.
    return f"{ms:012x}7{random.getrandbits(52):013x}"


def batch_of(prediction_id: str) -> str:
    return prediction_id[:BATCH_DIGITS]


def id_time(prediction_id: str) -> float:
    """The time (epoch seconds) an id was made; ValueError for what is not an id."""
    if len(prediction_id) != 32:
        raise ValueError(f"not a prediction id: {prediction_id!r}")
    return int(prediction_id[:12], 16) / 1000
