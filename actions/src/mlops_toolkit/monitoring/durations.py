"""Durations as people write them in workflow inputs: `90s`, `30m`, `6h`, `7d`, `2w`."""

from __future__ import annotations

import re

from ..errors import InputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def seconds(text: str, what: str = "duration") -> float:
    """`6h` -> 21600.0; anything else ends in one line that names the option."""
    found = _DURATION.match(str(text))
    if not found or float(found[1]) <= 0:
        raise InputError(f"{what} {text!r} is not a duration such as 30m, 6h, 7d")
    return float(found[1]) * _UNITS[found[2]]


def label(text: str, what: str = "duration") -> str:
    """The canonical spelling of a duration (`7 d` -> `7d`), as Prometheus labels show it."""
    seconds(text, what)
    found = _DURATION.match(str(text))
    assert found is not None  # checked by seconds()
    return f"{float(found[1]):g}{found[2]}"
