"""Suite-wide rules: GPU tests run only where nvidia-smi finds a GPU; tests that share one
piece of machine state run in one pytest-xdist worker, one after the other; the act scenarios
start first."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from mlops_toolkit.core import gc_pace

# The shared helpers' asserts explain their failures as the tests' do, and a helper that is
# also a plugin (`pytest_plugins = ["support.stores"]`) is no longer "already imported so
# cannot be rewritten" (a warning in every worker): marked before the first import below.
pytest.register_assert_rewrite("support")

from support.ordering import long_groups_first  # noqa: E402 - after the mark above


def pytest_configure(config: pytest.Config) -> None:
    # Every pytest process (the controller, each worker) imports what the commands import and
    # keeps it for the whole run: the commands' pace (core/gc_pace.py).
    gc_pace.importing()


def _gpu_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return listing.returncode == 0 and "GPU" in listing.stdout


# Tests that share one piece of machine state run in one pytest-xdist worker, one after the
# other (`--dist loadgroup`, tests/run). A pattern matches `<path>::<test name>`, so one
# parametrized variant can have a group of its own; the first group that matches wins.
#   e2e-swarm: the act scenario on the swarm target (its own names and ports, and the swarm is
#     never left: .ci/docker-up initialises it), so it runs beside the docker one;
#   e2e-failures: the act scenario of failing pull requests and releases (its own project, names,
#     ports and MLflow server, which its tests kill and restart), beside the others;
#   e2e: every other act scenario (fixed container names on the one engine);
#   toolkit-swarm: one module-scoped world (models, images) the module's tests share;
#   serving-image: one chain of image layers (builds of one Dockerfile in two workers at once
#     leave two cache chains, and the rebuild whose reuse the module checks may take the other);
#   serving-differential, template-git-url: one module-scoped set of slow servers or one
#     template repository and install, started once instead of once per worker.
SERIAL_GROUPS = {
    "e2e-swarm": ("tests/e2e/test_lifecycle.py::test_lifecycle[swarm]",),
    "e2e-failures": ("tests/e2e/test_pull_request_failures.py",),
    "e2e": ("tests/e2e/",),
    "toolkit-swarm": ("tests/toolkit/test_swarm.py",),
    "serving-image": ("tests/serving/test_image.py",),
    "serving-differential": ("tests/serving/test_differential.py",),
    "template-git-url": ("tests/template/test_git_url.py",),
}


# Module worlds: the tests of a module that use one of its module-scoped fixtures (an install, a
# built image, a server, a set of models) run in one worker, one group per parameter of that
# fixture, so the world is built once (per parameter) instead of once in every worker that
# draws one of its tests. Other tests of the module spread as usual. Checked in
# tests/test_serial_groups.py; measured in the README ("Running the tests").
WORLDS = {
    "tests/template/test_projects.py": ("installed",),
    "tests/template/test_tracking_hardening.py": ("project",),
    "tests/template/test_generation.py": ("generated",),
    "tests/template/test_setup_guide.py": ("project",),
    "tests/template/test_workflows.py": ("project",),
    "tests/template/test_kubernetes.py": ("project",),
    "tests/toolkit/test_docker.py": ("world",),
    "tests/toolkit/test_doctor.py": ("auth_mlflow", "project"),
    "tests/toolkit/test_team_tracking.py": ("team_server",),
    "tests/toolkit/test_postgres.py": ("pg_mlflow",),
    "tests/serving/test_server.py": ("clf", "reg", "mixed", "limited"),
    "tests/serving/test_compiled.py": ("penguins",),
    "tests/serving/test_drift_workflow.py": ("repo",),
    "tests/serving/test_workflow.py": ("workflow",),
}


def _world(item: pytest.Item) -> str | None:
    path = item.path.as_posix()
    module = next((m for m in WORLDS if path.endswith(f"/{m}")), None)
    if module is None:
        return None
    used = [name for name in WORLDS[module] if name in getattr(item, "fixturenames", ())]
    if not used:
        return None
    indices = getattr(getattr(item, "callspec", None), "indices", {})
    split = "-".join(str(indices[name]) for name in used if name in indices)
    name = "world-" + module.removeprefix("tests/").removesuffix(".py").replace("/", "-")
    return f"{name}-{split}" if split else name


def _group(item: pytest.Item) -> str | None:
    where = f"{item.path.as_posix()}::{item.name}"
    for group, patterns in SERIAL_GROUPS.items():
        if any(f"/{pattern}" in where for pattern in patterns):
            return group
    if item.get_closest_marker("xdist_group") is not None:
        return None  # a group of the module's own (test_own_data.py)
    return _world(item)


# A wrapper: the group marks go on before xdist's own hook reads them (it adds the group to the
# test's id), and the order is set after every other hook (pytest's fixture reordering too).
@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    for item in items:
        group = _group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if gpu_tests and not _gpu_present():
        skip = pytest.mark.skip(reason="no NVIDIA GPU here (nvidia-smi finds none)")
        for item in gpu_tests:
            item.add_marker(skip)
    result = yield
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")  # set in xdist's workers only
    if workers:
        # Every worker sorts its collection alike; the controller queues units in this order
        # (--no-loadscope-reorder, pyproject.toml): tests/support/ordering.py says why.
        items[:] = long_groups_first(items, int(workers))
    return result


@pytest.fixture(autouse=True)
def _root_logging_restored():
    """Each test leaves the root logger as it found it.

    Commands run in-process configure logging for their one run (`sweep`, the project CLI's
    `logs.configure`): their StreamHandler holds the sys.stderr of that test, which capsys
    closes afterwards, so a later test's log line in the same worker would fail to print.
    """
    import logging

    def ours(handler: logging.Handler) -> bool:  # pytest's capture handlers come and go per phase
        return not type(handler).__module__.startswith("_pytest")

    root = logging.getLogger()
    handlers, level = [h for h in root.handlers if ours(h)], root.level
    yield
    for handler in [h for h in root.handlers if ours(h) and h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
