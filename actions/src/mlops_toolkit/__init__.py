"""The CI toolkit of cookiecutter-mlops: one package behind every composite action."""

from __future__ import annotations

import importlib
import importlib.util
import sys

__version__ = "1.3.0"  # keep equal to pyproject.toml (tests/toolkit/test_cli.py checks --version)

# v1 import paths: projects generated before the domain subpackages import these flat modules
# (their actions_ref v1 installs the newest 1.x). Each old name is the new module itself, so
# fixes reach them; the names go in 2.0 (docs/upgrading.md).
V1_PATHS = {
    "tracking_check": "tracking.probe",
    "open_run": "tracking.open_runs",
    "liveness": "tracking.liveness",
    "lock": "registry.lock",
    "mlmodel": "registry.mlmodel",
    "gate_config": "gate.config",
    "gate_schema": "gate.schema",
    "stats": "gate.stats",
    "dvcremote": "data.dvcremote",
    "validate": "data.validation",
    "driftmetrics": "monitoring.driftmetrics",
    "github": "ci.github",
    "ghactions": "ci.actions",
    "report": "ci.markdown",
    "doctor": "checks.environment",
    "doctor_github": "checks.repository",
    "gpu": "compute.gpu",
    "train": "compute.training",
    "process": "core.process",
    "redact": "core.redact",
    "strictyaml": "core.strictyaml",
    "sshsetup": "deploy.ssh",
    # The sweep section is params.yaml's, so the project API's (API 1.4); config.py of projects
    # generated before imports it from tuning.
    "tuning.space": "project.sweep_space",
}


class _V1Paths:
    """`import mlops_toolkit.gpu` gives `mlops_toolkit.compute.gpu` (the same module object).

    A finder and loader by protocol (find_spec; create_module, exec_module), not by subclassing
    importlib.abc: importing that module cost every toolkit process ~13 ms (the image's
    HEALTHCHECK, every few seconds, included)."""

    def find_spec(self, fullname, path=None, target=None):
        old = fullname.removeprefix(f"{__name__}.")
        if old == fullname or old not in V1_PATHS:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = V1_PATHS[spec.name.removeprefix(f"{__name__}.")]
        return importlib.import_module(f"{__name__}.{new}")

    def exec_module(self, module):  # the new module ran already
        pass


sys.meta_path.append(_V1Paths())


def __getattr__(name: str):
    """`from mlops_toolkit import gate_config` (an attribute of the package) for v1 projects."""
    if name in V1_PATHS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
