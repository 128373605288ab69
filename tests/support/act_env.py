"""The environment every act run of the generated workflows gets on this host (`--env`)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

# The installs inside the jobs (actions/install.py: uv, which this host has, else pip) build the
# toolkit and the project (editable) with the backends this host already has (setuptools,
# poetry-core): an isolated build fetched them through the proxy for every install, about 25 s of
# a job on two busy cores, a third of a scenario. The isolated build a team's runner does is
# proven by the template's install tests (uv, in isolation: test_git_url, test_getting_started);
# here it would only add minutes. No dependency resolution either: every job's environment sees
# this host's packages (the stand-in setup-python), where they are all installed and satisfied
# already, and pip's resolver reading their metadata was most of each editable install (4.4 s
# against 1.7 s idle, about 10 s on two busy cores; the toolkit and the project install in every
# job, over a hundred in the suite). For the same reason pytest in a job (the project's unit
# tests) autoloads no plugin: the ones installed here (hypothesis, hydra, anyio) are not the
# project's, and cost ~3 s of CPU a run.
HOST_ENV = {
    "PIP_NO_BUILD_ISOLATION": "0",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_DEPS": "1",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    # uv (install.py would pick pip: this host gives pip an index of wheels, which uv does not
    # read), with the same two settings as pip's; what it fetches is constrained (host_env).
    "MLOPS_INSTALLER": "uv",
    "UV_CONFIG_FILE": str(Path(__file__).with_name("uv-host.toml")),
}


@cache
def host_env() -> dict[str, str]:
    """HOST_ENV, and the host's versions as uv's constraints: uv does not count the system
    site-packages a job's environment sees as installed, so what a job names itself (the dev
    group: pytest, ruff, dvc) would come at the index's newest versions beside the host's own
    dependencies. Constrained, uv installs the versions pip finds satisfied."""
    return {**HOST_ENV, "UV_CONSTRAINT": str(_host_constraints())}


def env_args() -> list[str]:
    """host_env() as act's `--env KEY=VALUE` arguments."""
    return [arg for key, value in host_env().items() for arg in ("--env", f"{key}={value}")]


def _host_constraints() -> Path:
    """`name==version` of every distribution installed here from an index (not the editable
    or local ones: the toolkit and projects install from their folders)."""
    pins, local = {}, set()
    for dist in distributions():
        name, direct = dist.metadata["Name"], dist.read_text("direct_url.json")
        if direct and "url" in json.loads(direct):
            local.add(name)
        elif name and name not in pins:
            pins[name] = dist.version
    pins = {name: version for name, version in pins.items() if name not in local}
    text = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    # Named by its content: every worker and every run with these packages shares one file,
    # and /tmp gains nothing per process.
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"mlops-tests-uv-constraints-{digest}.txt"
    if not path.is_file():
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)  # whole or absent: another worker may be reading it
    return path
