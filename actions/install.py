"""Install mlops-toolkit from this folder (and, for `setup`, the project) into a job's Python.

    "$PYTHON" install.py [--extras ci,dvc] [--needs dvc_s3] [--project '.[serve]'] [--group dev]...

The Python that runs this script is the one installed into. The toolkit is installed editable
from this folder: every later toolkit step of the job, whichever action it is, finds it and
installs nothing ("already installed"), unless it needs a module of more extras (`--needs`). A
project (`--project`, a pip requirement such as `.[serve]`) and its dependency groups go in the
same call.

The installer is uv when the runner has it on PATH, else pip (`MLOPS_INSTALLER=uv|pip` chooses).
pip it is, too, where pip is given an index (a `PIP_*` variable or a pip.conf) and uv is not:
uv reads neither, and would fetch from PyPI what the team gets from its own index.
uv does the same install in about a third of pip's time (a job installs twice: the toolkit,
then the project), as the generated Makefile does. Each honours its own settings from the
environment (`PIP_*`, `UV_*` and `UV_CONFIG_FILE`).

Standard library only: it runs before the toolkit exists. A failed install ends in one line
after the installer's own output, with the installer's exit status.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PIP_WITH_GROUPS = (25, 1)  # the first pip with --group (PEP 735 dependency groups)
SYSTEM_PIP_CONF = "/etc/pip.conf"
PIP_INDEX_KEYS = ("index-url", "extra-index-url", "find-links", "no-index")
UV_INDEX_VARIABLES = (
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
    "UV_CONFIG_FILE",
)


def installed_here(needs: list[str]) -> bool:
    """Whether this Python imports mlops_toolkit from this folder's source (an earlier step's
    editable install of the same ref), not from anywhere else, and finds each of `needs` (the
    modules of the extras this step adds, such as `dvc_s3`)."""
    spec = importlib.util.find_spec("mlops_toolkit")
    if spec is None or spec.origin is None:
        return False
    source = os.path.realpath(os.path.join(HERE, "src")) + os.sep
    if not os.path.realpath(spec.origin).startswith(source):
        return False
    return all(importlib.util.find_spec(name) is not None for name in needs)


def requirements(extras: str, project: str, toolkit_needed: bool) -> list[str]:
    wanted = []
    if toolkit_needed:
        extras = ",".join(e.strip() for e in extras.split(",") if e.strip())
        wanted += ["--editable", f"{HERE}[{extras}]" if extras else HERE]
    if project:
        wanted += ["--editable", project]
    return wanted


def installer(choice: str | None) -> str:
    choice = (choice or "auto").strip() or "auto"
    if choice not in ("auto", "uv", "pip"):
        raise SystemExit(f"install.py: MLOPS_INSTALLER must be uv, pip or auto, got {choice!r}")
    if choice == "auto":
        if not shutil.which("uv"):
            return "pip"
        where = pip_index_settings()
        if where and not uv_index_settings():
            # A private index set for pip only: uv would not read it, and would ask PyPI.
            print(f"install.py: pip, whose index settings ({where}) uv does not read")
            return "pip"
        return "uv"
    if choice == "uv" and not shutil.which("uv"):
        raise SystemExit("install.py: MLOPS_INSTALLER=uv but uv is not on PATH")
    return choice


def pip_index_settings() -> str | None:
    """Where pip is told of another index (an environment variable or a config file), if it is:
    the settings uv ignores. pip's own config files, in pip's order."""
    for key in PIP_INDEX_KEYS:
        variable = "PIP_" + key.upper().replace("-", "_")
        if os.environ.get(variable):
            return variable
    home = os.path.expanduser("~")
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    xdg_dirs = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    files = [
        SYSTEM_PIP_CONF,
        *(os.path.join(d, "pip", "pip.conf") for d in xdg_dirs if d),
        os.path.join(home, ".pip", "pip.conf"),
        os.path.join(xdg_home, "pip", "pip.conf"),
        os.path.join(sys.prefix, "pip.conf"),
        os.environ.get("PIP_CONFIG_FILE", ""),
    ]
    for path in files:
        if path and path != os.devnull and _sets_an_index(path):
            return path
    return None


def _sets_an_index(path: str) -> bool:
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return False  # pip would refuse it too; not ours to judge
    return any(parser.has_option(s, k) for s in parser.sections() for k in PIP_INDEX_KEYS)


def uv_index_settings() -> bool:
    """Whether uv has settings of its own (an index, or a config file naming one)."""
    return any(os.environ.get(variable) for variable in UV_INDEX_VARIABLES)


def commands(tool: str, wanted: list[str], groups: list[str]) -> list[list[str]]:
    group_args = [arg for name in groups for arg in ("--group", name)]
    if tool == "uv":
        uv = ["uv", "pip", "install", "--quiet", "--python", sys.executable]
        return [[*uv, *wanted, *group_args]]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    first = []
    if groups and _pip_version() < PIP_WITH_GROUPS:
        first = [[*pip, f"pip>={'.'.join(map(str, PIP_WITH_GROUPS))}"]]
    return [*first, [*pip, *wanted, *group_args]]


def _pip_version() -> tuple[int, ...]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return tuple(int(part) for part in version("pip").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return (0,)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install.py", description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="the toolkit's extras, comma-separated")
    parser.add_argument("--project", default="", help="a requirement to install too: '.[serve]'")
    parser.add_argument("--group", action="append", default=[], help="a dependency group")
    parser.add_argument(
        "--needs",
        default="",
        help="modules the step's extras bring (comma-separated): the toolkit is installed again "
        "when one is missing",
    )
    args = parser.parse_args(argv)
    groups = [g for name in args.group for g in name.replace(",", " ").split()]
    needs = [m.strip() for m in args.needs.split(",") if m.strip()]
    toolkit_needed = not installed_here(needs)
    if not toolkit_needed:
        print(f"mlops-toolkit already installed from {HERE}")
    wanted = requirements(args.extras, args.project.strip(), toolkit_needed)
    if not wanted and not groups:
        return 0
    tool = installer(os.environ.get("MLOPS_INSTALLER"))
    for command in commands(tool, wanted, groups):
        code = subprocess.run(command, check=False).returncode
        if code != 0:
            print(
                f"install.py: {tool} could not install {' '.join(wanted + groups)} "
                f"(exit {code}; its output is above)",
                file=sys.stderr,
            )
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
