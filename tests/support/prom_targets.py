"""The scrape targets a generated project's monitoring/compose.yaml gives Prometheus (its
`serving_targets` config, file_sd groups) as Docker Compose would write them: `${VAR:-default}`
filled from the environment given, else the default. Compose itself is not on this machine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env.get(m[1]) or (m[2] or ""), text)


def serving_targets(project: Path, **env: str) -> list[dict[str, Any]]:
    """The file_sd groups (one per stage, labelled with its environment)."""
    compose = yaml.safe_load((project / "monitoring/compose.yaml").read_text())
    return yaml.safe_load(interpolate(compose["configs"]["serving_targets"]["content"], env))
