"""The set-up checks of `mlops-toolkit doctor`: one function per check, one `Result` each.

A check never raises: it returns what it found, so that one broken piece of the set-up does not
hide the state of the others. Messages may quote a library's error; the command scrubs every
known secret out of the table before printing it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import names
from ..compute import gpu
from ..errors import ToolkitError
from ..tracking import probe as tracking_check

if TYPE_CHECKING:
    from ..tracking.api import TrackingClient

OK, FAIL, SKIP = "ok", "FAIL", "skip"
DOCTOR_EXPERIMENT = "mlops-doctor"
DOCTOR_MODEL_PREFIX = "mlops-doctor."
DOCTOR_ALIAS = "doctor"
ROUND_TRIP_TEXT = "mlops-toolkit doctor round trip\n"


@dataclass(frozen=True)
class Result:
    check: str
    status: str  # OK, FAIL or SKIP
    detail: str
    required: bool = True
    missing: tuple[str, ...] = ()  # settings to set, named in the command's last line

    @property
    def failed(self) -> bool:
        return self.status == FAIL and self.required


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:240]


def tracking(uri: str) -> Result:
    """The server answers /health and accepts our credentials (basic-auth leaves /health open).

    CI needs a server: a store inside the runner loses every run, version and alias with it.
    """
    setting = f"{names.ENV_TRACKING_URI} (repository variable)"
    if not uri:
        detail = f"{names.ENV_TRACKING_URI} not set: CI would track into the runner and lose it"
        return Result("tracking server", FAIL, detail, missing=(setting,))
    if not tracking_check.is_http(uri):
        detail = f"{uri} is a local store: CI needs the team's server (https://...)"
        return Result("tracking server", FAIL, detail, missing=(setting,))
    try:
        # Generous: a busy server hashes basic-auth passwords slowly; this runs once per job.
        tracking_check.check(uri, timeout_s=30)
        tracking_check.check_authenticated(uri, timeout_s=30)
    except ToolkitError as exc:
        return Result("tracking server", FAIL, str(exc))
    return Result("tracking server", OK, f"{tracking_check.redact(uri)} reachable, authenticated")


class Probe:
    """One throw-away run (artifact round trip) and registered model (version + alias)."""

    def __init__(self, uri: str, model_name: str):
        # The platform's adapter: bounded retries and quiet downloads come with it.
        from ..tracking import client as tracking_client

        self.client: TrackingClient = tracking_client.connect(uri)
        suffix = uuid.uuid4().hex[:8]
        self.model = f"{DOCTOR_MODEL_PREFIX}{model_name or 'probe'}.{suffix}"
        self.run_id: str | None = None

    def artifacts(self) -> Result:
        try:
            self.run_id = self._start_run()
            with tempfile.TemporaryDirectory() as tmp:
                sent = Path(tmp) / "sent" / "doctor.txt"
                sent.parent.mkdir()
                sent.write_text(ROUND_TRIP_TEXT)
                self.client.log_artifact(self.run_id, str(sent), artifact_path="doctor")
                got = self.client.download_artifacts(self.run_id, "doctor/doctor.txt", tmp)
                if Path(got).read_text() != ROUND_TRIP_TEXT:
                    return Result("artifact store", FAIL, "the artifact read back differs")
            where = self.client.get_run(self.run_id).info.artifact_uri
        except Exception as exc:
            return Result("artifact store", FAIL, f"cannot write and read back: {_first_line(exc)}")
        return Result("artifact store", OK, f"round trip through {where}")

    def _start_run(self) -> str:
        experiment = self.client.get_experiment_by_name(DOCTOR_EXPERIMENT)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else self.client.create_experiment(DOCTOR_EXPERIMENT)
        )
        return self.client.create_run(experiment_id, run_name="doctor").info.run_id

    def registry(self) -> Result:
        if self.run_id is None:
            return Result("model registry", SKIP, "needs the artifact store's run")
        try:
            self.client.create_registered_model(self.model)
            version = self.client.create_model_version(
                self.model, f"runs:/{self.run_id}/doctor", run_id=self.run_id
            ).version
            self.client.set_registered_model_alias(self.model, DOCTOR_ALIAS, version)
        except Exception as exc:
            return Result("model registry", FAIL, f"{self.model}: {_first_line(exc)}")
        return Result("model registry", OK, f"created version {version}, set an alias, deleted")

    def clean_up(self) -> None:
        """Best effort: the probe's model and run go, whatever failed before."""
        for call, arg in (
            (self.client.delete_registered_model, self.model),
            (self.client.delete_run, self.run_id),
        ):
            if arg is None:
                continue
            # Not created, or no permission to delete: nothing more to undo.
            with contextlib.suppress(Exception):
                call(arg)


def registry_and_artifacts(uri: str, model_name: str) -> list[Result]:
    """Artifact round trip, then a model version + alias of a throw-away model; cleaned up."""
    try:
        probe = Probe(uri, model_name)
    except Exception as exc:
        message = f"MLflow client unavailable: {_first_line(exc)}"
        return [Result("artifact store", FAIL, message), Result("model registry", FAIL, message)]
    try:
        return [probe.artifacts(), probe.registry()]
    finally:
        probe.clean_up()


def dvc(mode: str, working_directory: Path) -> Result:
    """The default DVC remote answers (`dvc status --cloud`), when the project uses DVC.

    `DVC_REMOTE_URL` and `DVC_S3_ENDPOINT_URL` of the environment are applied first, as
    `pull-data` applies them in CI (`.dvc/config.local`).
    """
    from ..data import dvcremote

    required = mode == "true"
    if mode == "false":
        return Result("dvc remote", SKIP, "not asked", False)
    if not dvcremote.is_dvc_project(working_directory):
        status = FAIL if required else SKIP
        return Result("dvc remote", status, "no .dvc/config here (DVC not set up)", required)
    if importlib.util.find_spec("dvc") is None:  # the settings and the probe are in process
        status = FAIL if required else SKIP
        return Result("dvc remote", status, "dvc is not installed", required)
    try:
        remote = dvcremote.configure(
            working_directory,
            os.environ.get(names.ENV_DVC_REMOTE_URL, ""),
            os.environ.get(names.ENV_DVC_S3_ENDPOINT_URL, ""),
        )
    except ToolkitError as exc:  # a URL DVC refuses
        return Result("dvc remote", FAIL, str(exc))
    if remote is None:
        # DVC set up, nothing to share the data through: the team's CI cannot pull it.
        detail = f"no DVC remote configured (dvc remote add -d ..., or {names.ENV_DVC_REMOTE_URL})"
        return Result("dvc remote", FAIL, detail)
    url = dvcremote.remote_url(working_directory, remote)
    try:
        in_sync = dvcremote.cloud_in_sync(working_directory)
    except dvcremote.DvcFailed as exc:
        return Result("dvc remote", FAIL, f"{remote} ({url}) unreachable: {exc}")
    state = "in sync" if in_sync else "reachable, not in sync (dvc push)"
    return Result("dvc remote", OK, f"{remote} ({url}): {state}")


def docker_host() -> tuple[Result, Any]:
    """The engine of DOCKER_HOST answers a ping."""
    from ..deploy import dockerhost

    try:
        client = dockerhost.connect()
    except ToolkitError as exc:
        return Result("docker host", FAIL, str(exc)), None
    where = os.environ.get(names.ENV_DOCKER_HOST) or "local socket"
    return Result("docker host", OK, f"{where}: {client.version().get('Version', '?')}"), client


def image_registry(client: Any, registry: str, username: str, password: str) -> Result:
    """`docker login` to the image registry with the given user (password from the env)."""
    if client is None:
        return Result("image registry", SKIP, "needs the Docker host")
    if not username or not password:
        return Result("image registry", FAIL, f"{registry}: no username or password given")
    try:
        client.login(username=username, password=password, registry=registry, reauth=True)
    except Exception as exc:
        return Result("image registry", FAIL, f"{registry}: login refused: {_first_line(exc)}")
    return Result("image registry", OK, f"{registry}: logged in as {username}")


def gpu_visible(required: bool) -> Result:
    compute = gpu.detect()
    if compute.count:
        return Result(
            "gpu", OK, f"{compute.count} x {compute.name} (driver {compute.driver})", required
        )
    return Result("gpu", FAIL if required else SKIP, "no GPU visible to nvidia-smi", required)


# --- `doctor --local`: the laptop only ---------------------------------------------------------


def python_version(project: Path) -> Result:
    """This interpreter fits the project's `requires-python` and can import MLflow."""
    import sys
    import tomllib

    here = ".".join(map(str, sys.version_info[:3]))
    try:
        meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        wanted = meta.get("project", {}).get("requires-python", "")
    except (OSError, ValueError):
        wanted = ""
    if wanted:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            fits = here in SpecifierSet(wanted)
        except InvalidSpecifier:
            fits = True
        if not fits:
            return Result("python", FAIL, f"{sys.executable} is {here}; the project needs {wanted}")
    if importlib.util.find_spec("mlflow") is None:
        return Result("python", FAIL, f"{sys.executable} {here}: mlflow missing (make install)")
    return Result("python", OK, f"{sys.executable} {here}" + (f" ({wanted})" if wanted else ""))


def _configured_uri(project: Path) -> str:
    """MLFLOW_TRACKING_URI, else params.yaml's mlflow.tracking_uri, else the embedded store."""
    uri = os.environ.get(names.ENV_TRACKING_URI, "")
    if not uri:
        try:
            import yaml

            params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8")) or {}
            uri = str((params.get("mlflow") or {}).get("tracking_uri") or "")
        except (OSError, ValueError, AttributeError):
            uri = ""
    return uri or f"sqlite:///{(project / 'mlflow.db').resolve()}"


def embedded_store(project: Path) -> Result:
    """The store `make pipeline` writes to: a local one must be writable (no server asked)."""
    uri = _configured_uri(project)
    if tracking_check.is_http(uri):
        detail = f"{tracking_check.redact(uri)} is a server: run doctor without --local for it"
        return Result("tracking store", SKIP, detail, False)
    folder = project.resolve()
    if not os.access(folder, os.W_OK):
        return Result("tracking store", FAIL, f"{folder} is not writable: {uri} cannot be created")
    return Result("tracking store", OK, f"{uri} (local, writable)")


def docker_if_present() -> list[Result]:
    """The Docker engine, when this laptop has one (serving locally needs it; training not)."""
    if not shutil.which("docker") and not os.environ.get(names.ENV_DOCKER_HOST):
        return [Result("docker host", SKIP, "no docker here (needed only to serve locally)", False)]
    host, _ = docker_host()
    return [Result(host.check, host.status, host.detail, False)]
