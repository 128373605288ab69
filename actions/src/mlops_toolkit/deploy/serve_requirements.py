"""What the serving image's dependency layer installs, written by build-image into the context.

The project's `serve` extra (pyproject.toml) names the platform itself (`mlops-toolkit[serve]`)
beside the model's libraries. The image installs the platform from its own wheel, in a small
layer of its own, after everything else. So the dependency layer installs the extra without the
platform's line, plus the dependencies the platform's wheel declares for `serve`: this text
alone keys that layer's cache, and a new platform version with the same dependencies reuses it
(no reinstall, no new 400 MB layer to push and pull). `xgboost` becomes `xgboost-cpu`: the same
module without the CUDA libraries (scoring needs no GPU).
"""

from __future__ import annotations

import re
import zipfile
from email.parser import Parser
from pathlib import Path

from ..errors import ToolkitError
from .pins import canonical

PLATFORM = "mlops-toolkit"
EXTRA = "serve"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# setuptools writes one Requires-Dist per extra: `...; extra == "serve"`, or an environment
# marker and then the extra's clause (`sys_platform != "win32" and extra == "serve"`).
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_AND_EXTRA = re.compile(r"""\s*(?:\band\s+)?extra\s*==\s*["'][^"']+["']""")


def _name(requirement: str) -> str:
    found = _NAME.match(requirement)
    return canonical(found.group(1)) if found else ""


def platform_requirements(metadata: str) -> list[str]:
    """The platform's base dependencies and its `serve` extra's, from its wheel's METADATA; an
    environment marker stays (pip judges it in the image), the extra's clause goes."""
    wanted = []
    for line in Parser().parsestr(metadata, headersonly=True).get_all("Requires-Dist") or []:
        spec, _, marker = (part.strip() for part in line.partition(";"))
        extras = _EXTRA.findall(marker)
        if extras and extras != [EXTRA]:
            continue  # another extra's dependency
        marker = _AND_EXTRA.sub("", marker).strip()
        wanted.append(f"{spec}; {marker}" if marker else spec)
    return wanted


def serve_requirements(pyproject: Path, wheel: Path) -> list[str]:
    """The dependency layer's list: the project's `serve` extra, the platform's line replaced by
    the platform's own dependencies."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise ToolkitError("build-image needs Python 3.11 or newer (tomllib)") from None
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ToolkitError(f"cannot read {pyproject.name}: {exc}") from None
    serve = project.get("project", {}).get("optional-dependencies", {}).get(EXTRA)
    if not isinstance(serve, list) or not all(isinstance(d, str) for d in serve):
        raise ToolkitError(
            f"{pyproject.name} has no list [project.optional-dependencies] {EXTRA}: the image "
            "installs that list (the platform and the model's libraries)"
        )
    own = [d for d in serve if _name(d) != PLATFORM]
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        platform = platform_requirements(archive.read(name).decode("utf-8"))
    # A library both name keeps both lines: pip installs what meets the two.
    return [_cpu_build(d) for d in own + platform]


def _cpu_build(requirement: str) -> str:
    if _name(requirement) != "xgboost":
        return requirement
    return _NAME.sub(
        lambda found: found.group(0).replace(found.group(1), "xgboost-cpu"), requirement, 1
    )
