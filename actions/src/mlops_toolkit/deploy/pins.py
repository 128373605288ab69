"""Print the model's own version pins for the libraries the serving environment has.

`python pins.py MODEL_DIR/requirements.txt` (stdlib only: build-image stages this file beside
the platform's wheel, and the Dockerfile runs it before the platform is installed). The model
was pickled with, say, scikit-learn 1.5.2; the image must load it with that version, not
whatever the `serve` extra resolved today. MLflow itself and anything the image does not have
are left out; `xgboost` pins apply to `xgboost-cpu` (same module, no CUDA libraries) when that
is what the image installed.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

ALIASES = {"xgboost": "xgboost-cpu"}
SKIP = re.compile(r"^mlflow(-skinny|-tracing)?$")
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str], installed: set[str]) -> list[str]:
    chosen = []
    for line in lines:
        match = PIN.match(line)
        if not match:
            continue
        name, version = canonical(match.group(1)), match.group(2)
        if SKIP.match(name):
            continue
        if name not in installed and ALIASES.get(name) in installed:
            name = ALIASES[name]
        if name in installed:
            chosen.append(f"{name}=={version}")
    return chosen


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pins.py REQUIREMENTS_TXT", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return 0  # a model without requirements.txt: keep what the serve extra resolved
    installed = {canonical(d.metadata["Name"]) for d in metadata.distributions()}
    print("\n".join(pins(lines, installed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
