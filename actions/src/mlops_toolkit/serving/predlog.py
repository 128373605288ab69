"""Sampled logging of inputs and predictions as JSON lines, the drift job's input.

One file per UTC day and process: `<dir>/predictions-YYYYMMDD-<host>-<pid>.jsonl`; each line is
one row: `{"ts": ..., "model_name": ..., "model_version": ..., "inputs": {...}, "prediction": ...}`.
Whole requests are sampled (rate in [0, 1]) so a batch is never split.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from typing import IO, Any

import orjson

from ..registry.mlmodel import Batch

log = logging.getLogger(__name__)


class PredictionLogger:
    def __init__(
        self, directory: str, sample_rate: float, model_name: str, model_version: str
    ) -> None:
        self.directory = directory
        self.sample_rate = sample_rate
        self.model = {"model_name": model_name, "model_version": model_version}
        self._day = ""
        self._fh: IO[bytes] | None = None
        self._random = random.Random()
        # Large batches are scored in worker threads: one writer at a time keeps lines whole.
        self._lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)

    def maybe_log(self, names: list[str], batch: Batch, predictions: list[Any]) -> None:
        """Log the request with probability `sample_rate`; never fail the request."""
        if self.sample_rate <= 0 or self._random.random() >= self.sample_rate:
            return
        try:
            if batch.matrix is not None:
                rows: Any = batch.matrix.tolist()
            else:
                rows = zip(*(batch.columns[n].tolist() for n in names), strict=False)
            ts = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
            stamp += f".{int(ts % 1 * 1e3):03d}Z"
            lines = [
                orjson.dumps(
                    {
                        "ts": stamp,
                        **self.model,
                        "inputs": dict(zip(names, row, strict=True)),
                        "prediction": pred,
                    },
                    option=orjson.OPT_SERIALIZE_NUMPY,
                )
                for row, pred in zip(rows, predictions, strict=True)
            ]
            with self._lock:
                fh = self._file(ts)
                fh.write(b"\n".join(lines) + b"\n")
                fh.flush()
        except (OSError, TypeError, ValueError) as exc:
            log.warning("prediction log write failed: %s", exc)

    def _file(self, ts: float) -> IO[bytes]:
        day = time.strftime("%Y%m%d", time.gmtime(ts))
        if self._fh is None or day != self._day:
            self.close()
            name = f"predictions-{day}-{socket.gethostname()}-{os.getpid()}.jsonl"
            self._fh = open(os.path.join(self.directory, name), "ab")  # noqa: SIM115
            self._day = day
        return self._fh

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
