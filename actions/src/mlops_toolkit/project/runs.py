"""MLflow set-up for a project's commands, the runs they leave open, and lineage tags.

`connect` points MLflow at the tracking server (or the embedded SQLite store), bounds its
retries, moves credentials out of the URI and ends the runs earlier commands left open;
`open_run` remembers a run until it has ended. The run files are `contracts.py`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sqlite3
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import contracts, names
from ..tracking import open_runs, sqlite_seed
from ..tracking import probe as tracking_check

if TYPE_CHECKING:
    from ..tracking.api import TrackingClient

log = logging.getLogger(__name__)

TRACKING_URI_ENV = names.ENV_TRACKING_URI
TAG_PREFIX = names.TAG_PREFIX  # every tag the project or the platform writes
EMBEDDED_STORE = Path("mlflow.db")
# The runs commands have open, until they end: a command cut off with the server (or killed)
# leaves its run here, and the next command marks it FAILED instead of RUNNING for ever, once
# the process that opened it is gone (a concurrent command's run is left alone).
OPEN_RUN_FILE = open_runs.OPEN_RUN_FILE
# Where the embedded store keeps artifacts: MLflow writes each as an absolute path into
# mlflow.db, so a copied or moved project still pointed at the original folder.
ARTIFACT_FOLDERS = ("mlruns", "mlartifacts")
# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, prompts); a
# project's experiment is classic model development (the value of MLflow's ExperimentKind).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
DVC_LOCK = Path("dvc.lock")
PATH_COLUMNS = {
    "experiments": ("artifact_location",),
    "runs": ("artifact_uri",),
    "logged_models": ("artifact_location",),
    "model_versions": ("source", "storage_location"),
}


def tracking_uri(configured: str = "") -> str:
    """The environment wins (CI points every step at one server), then params
    (mlflow.tracking_uri), then the embedded SQLite store."""
    uri = os.environ.get(TRACKING_URI_ENV) or configured
    return uri or f"sqlite:///{EMBEDDED_STORE.resolve()}"


def connect(configured: str = "") -> str:
    """Point MLflow at the tracking server and fail in one line if it cannot be reached.

    Returns the URI MLflow uses, never with credentials in it: those of an HTTP URI move to
    MLflow's own variables, so no run link or error MLflow prints can show the password.
    """
    import mlflow

    # Bounded retries and timeouts (the platform's): a dead server fails a command in seconds.
    tracking_check.bound_http_requests()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # logs, not a TTY
    uri = tracking_uri(configured)
    if tracking_check.is_http(uri):
        _check_reachable(uri)
        uri = _credentials_to_environment(uri)
    elif uri == f"sqlite:///{EMBEDDED_STORE.resolve()}" and EMBEDDED_STORE.is_file():
        relocate_embedded_store()
    else:
        sqlite_seed.seed(uri)  # a new SQLite store without MLflow's migrations: sqlite_seed.py
    mlflow.set_tracking_uri(uri)
    close_abandoned_run(uri)
    return uri


def _check_reachable(uri: str) -> None:
    """The platform's checks: /health, then one authenticated call; the password never shown."""
    from ..tracking.probe import TrackingUnavailable, check, check_authenticated

    try:
        check(uri)
        check_authenticated(uri)  # basic-auth leaves /health open
    except TrackingUnavailable as error:
        raise ConnectionError(str(error)) from None


def _credentials_to_environment(uri: str) -> str:
    """`http://user:pw@host` -> `http://host`, with user and password in MLflow's variables."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.username is None:
        return uri
    os.environ[names.ENV_TRACKING_USERNAME] = unquote(parts.username)
    os.environ[names.ENV_TRACKING_PASSWORD] = unquote(parts.password or "")
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@contextmanager
def open_run(uri: str, **start: Any) -> Iterator[Any]:
    """`mlflow.start_run`, remembered in OPEN_RUN_FILE until it has ended on the server.

    A new run without a name is named after the code it ran (`run_name`); its experiment is
    marked classic model development for MLflow 3's UI (`mark_experiment_kind`)."""
    import mlflow

    if start.get("run_id") is None and start.get("run_name") is None:
        start["run_name"] = run_name()
    with mlflow.start_run(**start) as run:
        open_runs.add(run.info.run_id, uri, OPEN_RUN_FILE)
        mark_experiment_kind(run.info.experiment_id)
        yield run
    open_runs.remove(run.info.run_id, OPEN_RUN_FILE)


def mark_experiment_kind(experiment_id: str, client: TrackingClient | None = None) -> None:
    """Tag the experiment as classic ML once; a kind the team chose is left alone. `client`:
    the store MLflow points at (`connect`) unless given."""
    client = _tracking_client() if client is None else client
    if EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def _tracking_client() -> TrackingClient:
    """The platform's adapter on the URI `connect` set (mlflow.set_tracking_uri)."""
    from ..tracking import client as tracking

    return tracking.connect()


def run_name() -> str | None:
    """`pr-12-1a2b3c4` in a pull request's workflow, `main-1a2b3c4` on a branch, the short sha
    alone when detached; None outside git (MLflow then picks a random name)."""
    sha = git_commit()
    if not sha:
        return None
    ref = _git_ref()
    return f"{ref}-{sha[:7]}" if ref else sha[:7]


def _git_ref() -> str | None:
    """The pull request (GITHUB_REF refs/pull/<n>/merge), else the branch of the workflow
    (GITHUB_HEAD_REF, GITHUB_REF_NAME), else git's current branch."""
    pull = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", os.environ.get("GITHUB_REF", ""))
    if pull:
        return f"pr-{pull.group(1)}"
    for variable in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    return None if branch in (None, "HEAD") else branch


def log_dataset(frame: Any, path: str | Path, context: str, target: str | None = None) -> Any:
    """`mlflow.log_input` of a table the run read: named after its file, the file's path as
    its source, its MD5 (the digest DVC records) as digest, and where dvc.lock or a .dvc file
    tracks it, `mlops.dvc_path` and `mlops.dvc_md5` on the input. Returns the dataset, for
    `mlflow.log_metrics(..., dataset=...)`."""
    import mlflow

    path = Path(path)
    digest = file_md5(path)
    with warnings.catch_warnings():  # a local path "can be interpreted in multiple ways", ...
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            frame,
            source=path.as_posix(),
            targets=target if target in frame.columns else None,
            name=path.stem,
            digest=digest,
        )
        tracked = dvc_md5(path)
        facts = {"dvc_path": path.as_posix(), "dvc_md5": tracked} if tracked else {}
        # The schema is inferred here: MLflow's hint about integer columns is for models.
        mlflow.log_input(dataset, context=context, tags=tags(**facts))
    return dataset


def logged_model_id(model_uri: str) -> str | None:
    """The MLflow 3 LoggedModel a URI names (`models:/m-...`), else None (runs:/, a version):
    metrics logged with it show on the model's page, linked to their dataset."""
    ref = model_uri.removeprefix("models:/")
    return ref if ref != model_uri and ref.startswith("m-") and "/" not in ref else None


def dvc_md5(path: Path) -> str | None:
    """The MD5 DVC records for ``path`` (a stage output in dvc.lock, or its .dvc file)."""
    import yaml

    records: list[dict] = []
    with contextlib.suppress(OSError, yaml.YAMLError, AttributeError, TypeError):
        lock = yaml.safe_load(DVC_LOCK.read_text(encoding="utf-8")) or {}
        for stage in (lock.get("stages") or {}).values():
            records += stage.get("outs") or []
    with contextlib.suppress(OSError, yaml.YAMLError, AttributeError, TypeError):
        single = Path(f"{path}.dvc")
        outs = (yaml.safe_load(single.read_text(encoding="utf-8")) or {}).get("outs") or []
        records += [{**o, "path": (path.parent / o.get("path", "")).as_posix()} for o in outs]
    wanted = path.as_posix()
    found = [r.get("md5") for r in records if isinstance(r, dict) and r.get("path") == wanted]
    return str(found[0]) if found and found[0] else None


def log_validation(report_dir: str | Path) -> None:
    """validate-data's reports (validation.json, validation.html) under the run's `validation`."""
    import mlflow

    for name in (contracts.ValidationReport.PATH.name, "validation.html"):
        report = Path(report_dir) / name
        if report.is_file():
            mlflow.log_artifact(str(report), "validation")


def log_outputs(report_dir: str | Path, log_file: str | Path | None = None) -> None:
    """What a pipeline step leaves beside its run (since 1.6): validate-data's reports (as
    `log_validation`), the rows prepare-data dropped for a missing target (the metric
    `rows_dropped_missing_target`, from contracts.PrepareFile) and the command's log file under
    `logs/`."""
    import mlflow

    log_validation(report_dir)
    dropped = prepared_rows_dropped()
    if dropped is not None:
        mlflow.log_metric("rows_dropped_missing_target", dropped)
    if log_file is not None:
        mlflow.log_artifact(str(log_file), "logs")


def prepared_rows_dropped() -> int | None:
    """Rows prepare-data dropped for a missing target (None when it left no report)."""
    if not contracts.PrepareFile.PATH.is_file():
        return None
    return contracts.PrepareFile.read().dropped_missing_target


def close_abandoned_run(uri: str) -> None:
    """Mark FAILED the runs earlier commands left open on this server, once their process is
    gone (it died, or its server did); another server's runs wait until we track there."""
    for line in open_runs.end_orphans(OPEN_RUN_FILE, uri=uri, by="command"):
        log.warning("%s", line)


def relocate_embedded_store() -> None:
    """Point mlflow.db's artifact paths at this folder when the project was copied or moved.

    MLflow stores every local artifact location as an absolute path (it resolves even a relative
    one), so a copy of the project would log into, and read from, the original folder. The
    artifacts folder travels with the project; its old absolute prefix is rewritten in place.
    """
    here = Path.cwd().resolve()
    with closing(sqlite3.connect(EMBEDDED_STORE)) as db, db:
        old = _recorded_root(db)
        if old is None or Path(old) == here:
            return
        for table, columns in PATH_COLUMNS.items():
            present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column in set(columns) & present:
                for prefix in (f"file://{old}/", f"{old}/"):
                    db.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?)"
                        f" WHERE substr({column}, 1, ?) = ?",
                        (prefix.replace(old, str(here)), len(prefix) + 1, len(prefix), prefix),
                    )
    log.warning("%s was made in %s: its artifact paths now point at %s", EMBEDDED_STORE, old, here)


def _recorded_root(db: sqlite3.Connection) -> str | None:
    """The project folder the store's experiments were created in (None: none, or not local)."""
    try:
        rows = db.execute("SELECT artifact_location FROM experiments").fetchall()
    except sqlite3.DatabaseError:
        return None  # not an MLflow store yet: MLflow creates the tables
    for (location,) in rows:
        path = str(location or "").removeprefix("file://")
        for folder in ARTIFACT_FOLDERS:
            root, sep, _ = path.rpartition(f"/{folder}/")
            if sep and root.startswith("/"):
                return root
    return None


def model_identity(uri: str, registered_name: str) -> tuple[str, str | None]:
    """The registered name and version a model URI stands for, for the server's labels.

    models:/name/3 and models:/name@alias are resolved in the registry; anything else (runs:/,
    a logged model's models:/m-...) is the project's registered model at the version `evaluate`
    registered, if any.
    """
    ref = uri.removeprefix("models:/")
    if ref != uri and not ref.startswith("m-"):
        name, sep, alias = ref.partition("@")
        if sep:
            return name, str(_tracking_client().get_model_version_by_alias(name, alias).version)
        name, _, version = ref.rpartition("/")
        return name, version
    try:
        registered = contracts.RegisteredFile.read(REGISTERED_FILE)
    except contracts.ContractError:
        return registered_name, None
    return registered_name, registered.model_version or None


def git_commit() -> str | None:
    """The commit of the working tree, or None outside a git repository."""
    return os.environ.get("GITHUB_SHA") or _git("rev-parse", "HEAD")


def _git(*args: str) -> str | None:
    """git's one-line answer in this folder, or None (no git, not a repository, no commit)."""
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def file_md5(path: str | Path) -> str:
    """The same digest DVC records for a file in dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tags(**facts: object) -> dict[str, str]:
    """Tag names with the common prefix; None values are left out."""
    return {f"{TAG_PREFIX}{key}": str(value) for key, value in facts.items() if value is not None}


# The files later steps and the CI toolkit read: their shape is the platform's (contracts.py).
RUN_FILE = contracts.RunFile.PATH
REGISTERED_FILE = contracts.RegisteredFile.PATH
# The fitted model as `train` hands it to `evaluate`: the same object MLflow logs, without the
# seconds that loading MLflow's skops format costs (it scans every scikit-learn type on import).
MODEL_FILE = Path("models") / "model.joblib"


def save_trained(model: Any) -> Path:
    """`train`'s hand-off of the fitted model to `evaluate` (MODEL_FILE; since 1.6)."""
    import joblib

    MODEL_FILE.parent.mkdir(exist_ok=True)
    joblib.dump(model, MODEL_FILE)
    return MODEL_FILE


def load_trained(model_uri: str, *, local: bool) -> Any:
    """The model `train` just fitted from its hand-off file when `local` (the run is the last
    one trained here) and the file is there; any other from MLflow (since 1.6)."""
    if local and MODEL_FILE.is_file():
        import joblib

        return joblib.load(MODEL_FILE)
    import mlflow

    return mlflow.sklearn.load_model(model_uri)


def write_run_info(**info: object) -> Path:
    """reports/run.json: how later steps (and the CI toolkit) find the last training run."""
    return contracts.RunFile(**info).write(RUN_FILE)


def read_run_info() -> contracts.RunFile:
    return contracts.RunFile.read(RUN_FILE)


def register(model_name: str, run_id: str, model_uri: str, suite: str | Path | None = None) -> str:
    """Register the run's model (once per run) as the platform's `register` does: its lineage
    tags (commit, the run's metrics, data hash, gate), its description, and its model passport
    (logged under the run's `passport/`, written to reports/passport/, linked from the
    description). Returns the version. A passport that cannot be made is one warning line: the
    version stays registered. `suite`: the project's expectation suite (validation.suite)."""
    from ..registry import moves, passport
    from ..tracking import client

    result = moves.register_run(
        model_name=model_name, model_uri=model_uri, run_id=run_id, git_commit=git_commit()
    )
    version = str(result["version"])
    how = "registered" if result["created"] else f"run {run_id} is already"
    log.info("%s %s version %s", how, model_name, version)
    try:
        published = passport.publish(
            model_name=model_name,
            version=version,
            run_id=run_id,
            suite_path=suite or passport.SUITE,
            tracking_uri=client.tracking_uri(),
        )
    except Exception as exc:  # whatever fails here, the registration above stands
        log.warning("%s version %s has no passport: %s", model_name, version, client.one_line(exc))
    else:
        log.info(
            "model passport of version %s: %s", version, published.url or published.artifact_uri
        )
    return version


def requirements(distributions: tuple[str, ...]) -> list[str]:
    """Pinned requirements for the logged model, so MLflow need not infer them (slow)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in distributions]
