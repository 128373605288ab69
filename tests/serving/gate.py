"""A model file whose unpickling waits for a gate file: a server's model load held open by the
test (imported by the server process under test, through PYTHONPATH)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def opened(gate: str, estimator: Any) -> Any:
    Path(f"{gate}.waiting").touch()  # the load has reached the model file
    deadline = time.monotonic() + 120
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return estimator


class Gated:
    """Pickles as `opened(gate, estimator)`: unpickled, it is the estimator, once the gate is
    there."""

    def __init__(self, estimator: Any, gate: str):
        self.estimator, self.gate = estimator, gate

    def __reduce__(self) -> tuple[Any, tuple[str, Any]]:
        return opened, (self.gate, self.estimator)
