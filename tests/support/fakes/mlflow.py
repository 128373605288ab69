"""An in-memory MLflow tracking client: `mlops_toolkit.tracking.api.TrackingClient`.

It keeps registered models, versions, aliases, tags, experiments, runs and their artifacts in
dictionaries and fails the way
a real `mlflow server` does (MlflowException with its error_code): the contract tests
(tests/toolkit/test_tracking_contract.py) hold both to the same behaviour. Only the methods of
the interface exist, so code that reaches past it fails here first.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE as INVALID
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS as EXISTS
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST as MISSING


def _error(message: str, code: int) -> MlflowException:
    return MlflowException(message, error_code=code)  # .error_code is then the code's name


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FakeVersion:
    name: str
    version: str
    source: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    creation_timestamp: int = field(default_factory=_now_ms)
    description: str | None = None


@dataclass
class FakeModel:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    creation_timestamp: int = field(default_factory=_now_ms)
    versions: dict[str, FakeVersion] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeRunInfo:
    run_id: str
    experiment_id: str = "0"
    run_name: str | None = None
    status: str = "RUNNING"
    lifecycle_stage: str = "active"
    start_time: int | None = field(default_factory=_now_ms)
    end_time: int | None = None
    artifact_uri: str = ""  # the store's own scheme, as MLflow's mlflow-artifacts:/...

    def __post_init__(self) -> None:
        self.artifact_uri = self.artifact_uri or (
            f"fake-artifacts:/{self.experiment_id}/{self.run_id}/artifacts"
        )


@dataclass
class FakeRunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeRun:
    info: FakeRunInfo
    data: FakeRunData
    inputs: Any = None  # MLflow's logged datasets (registry/passport.py reads them when there)
    # Stored runs only: each metric's latest point (step, timestamp, value), as MLflow keeps it;
    # the run's artifacts, path -> bytes.
    latest: dict[str, tuple[int, int, float]] = field(default_factory=dict, repr=False)
    artifacts: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass
class FakeExperiment:
    experiment_id: str
    name: str
    lifecycle_stage: str = "active"
    tags: dict[str, str] = field(default_factory=dict)

    def view(self) -> FakeExperiment:
        """A copy, as the real client hands out: changing it changes nothing stored."""
        return FakeExperiment(self.experiment_id, self.name, self.lifecycle_stage, dict(self.tags))


@dataclass
class FakeFileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass
class FakeLoggedModel:
    model_id: str
    source_run_id: str | None


class FakePage(list):
    """A search page, like MLflow's PagedList: a list with the next page's token."""

    def __init__(self, items: list, token: str | None):
        super().__init__(items)
        self.token = token


# MLflow's search grammar as the toolkit uses it: one `name = '...'`, `name = "..."` or
# `name LIKE '...'` clause (registry/moves.py name_filter).
_FILTER = re.compile(r"""^name\s+(=|LIKE|ILIKE)\s+(['"])(.*)\2$""", re.S)


# MLflow's run search as the toolkit uses it (tuning/trials.py): `tags.<key> = '<value>'` (the
# key in backquotes or bare; also params.), clauses joined by AND.
_RUN_CLAUSE = re.compile(r"""^(tags|params)\.(`[^`]+`|[\w.]+)\s*=\s*(['"])(.*)\3$""", re.S)


def _run_matcher(filter_string: str):
    clauses = []
    for clause in (
        re.split(r"\s+and\s+", filter_string.strip(), flags=re.I) if filter_string else []
    ):
        found = _RUN_CLAUSE.match(clause.strip())
        if found is None:
            raise _error(f"Invalid filter '{filter_string}' (the fake knows tags. =)", INVALID)
        kind, key, _, value = found.groups()
        clauses.append((kind, key.strip("`"), value))

    def matches(run: FakeRun) -> bool:
        data = run.data
        return all(getattr(data, kind).get(key) == value for kind, key, value in clauses)

    return matches


_NAMES = itertools.count(1)


def _matcher(filter_string: str | None):
    if not filter_string:
        return lambda name: True
    found = _FILTER.match(filter_string.strip())
    if found is None:
        raise _error(f"Invalid filter '{filter_string}' (the fake knows name = and LIKE)", INVALID)
    op, _, value = found.groups()
    if op == "=":
        return lambda name: name == value
    # SQL LIKE: % any run, _ one character; case-insensitive as SQLite's LIKE (the real
    # server's default store), so callers must keep exact matches themselves.
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
    regex = re.compile(f"^{pattern}$", re.S | re.I)
    return lambda name: regex.match(name) is not None


class FakeMlflowClient:
    """One shared in-memory tracking store; safe across threads (the lock tests use them)."""

    def __init__(self) -> None:
        self._models: dict[str, FakeModel] = {}
        self._runs: dict[str, FakeRun] = {}
        self._logged: dict[str, FakeLoggedModel] = {}
        self._experiments: dict[str, FakeExperiment] = {"0": FakeExperiment("0", "Default")}
        self._mutex = threading.RLock()

    # -- test set-up (not part of the interface) -------------------------------------------
    def add_run(self, metrics: dict | None = None, tags: dict | None = None) -> str:
        run_id = uuid.uuid4().hex
        data = FakeRunData(dict(metrics or {}), {}, {k: str(v) for k, v in (tags or {}).items()})
        self._runs[run_id] = FakeRun(FakeRunInfo(run_id), data)
        return run_id

    def add_logged_model(self, run_id: str | None) -> str:
        model_id = f"m-{uuid.uuid4().hex}"
        self._logged[model_id] = FakeLoggedModel(model_id, run_id)
        return model_id

    # -- registered models -----------------------------------------------------------------
    def _model(self, name: str) -> FakeModel:
        try:
            return self._models[name]
        except KeyError:
            raise _error(f"Registered Model with name={name} not found", MISSING) from None

    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> FakeModel:
        if not name or "/" in name or ":" in name:
            raise _error(f"Invalid model name: '{name}'", INVALID)
        with self._mutex:
            if name in self._models:
                raise _error(f"Registered Model (name={name}) already exists.", EXISTS)
            model = FakeModel(name, {k: str(v) for k, v in (tags or {}).items()}, description)
            self._models[name] = model
            return model

    def get_registered_model(self, name: str) -> FakeModel:
        with self._mutex:
            model = self._model(name)
            return FakeModel(
                model.name, dict(model.tags), model.description, model.creation_timestamp
            )

    def delete_registered_model(self, name: str) -> None:
        with self._mutex:
            self._model(name)
            del self._models[name]

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        with self._mutex:
            self._model(name).tags[key] = str(value)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        with self._mutex:
            model = self._model(name)
            self._version(model, version)
            model.aliases[alias] = str(version)

    # -- versions --------------------------------------------------------------------------
    def _version(self, model: FakeModel, version: Any) -> FakeVersion:
        try:
            return model.versions[str(version)]
        except KeyError:
            raise _error(
                f"Model Version (name={model.name}, version={version}) not found", MISSING
            ) from None

    def _view(self, model: FakeModel, found: FakeVersion) -> FakeVersion:
        """A copy, as the real client hands out: changing it changes nothing stored."""
        aliases = [a for a, v in model.aliases.items() if v == found.version]
        return FakeVersion(
            found.name,
            found.version,
            found.source,
            found.run_id,
            dict(found.tags),
            aliases,
            found.creation_timestamp,
            found.description,
        )

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **_: Any,
    ) -> FakeVersion:
        with self._mutex:
            model = self._model(name)
            number = str(max((int(v) for v in model.versions), default=0) + 1)
            tags = {k: str(v) for k, v in (tags or {}).items()}
            model.versions[number] = FakeVersion(name, number, source, run_id, tags)
            return self._view(model, model.versions[number])

    def get_model_version(self, name: str, version: str) -> FakeVersion:
        with self._mutex:
            model = self._model(name)
            return self._view(model, self._version(model, version))

    def get_model_version_by_alias(self, name: str, alias: str) -> FakeVersion:
        with self._mutex:
            model = self._model(name)
            if alias not in model.aliases:
                raise _error(f"Registered model alias {alias} not found.", INVALID)
            return self._view(model, model.versions[model.aliases[alias]])

    def update_model_version(
        self, name: str, version: str, description: str | None = None
    ) -> FakeVersion:
        with self._mutex:
            model = self._model(name)
            found = self._version(model, version)
            if description is not None:
                found.description = description
            return self._view(model, found)

    def set_model_version_tag(self, name: str, version: str, key: str, value: Any) -> None:
        with self._mutex:
            self._version(self._model(name), version).tags[key] = str(value)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> FakePage:
        matches = _matcher(filter_string)
        with self._mutex:
            found = [
                self._view(model, version)
                for model in self._models.values()
                if matches(model.name)
                for version in model.versions.values()
            ]
        # MLflow's default order: newest first.
        found.sort(key=lambda v: (v.creation_timestamp, v.name, int(v.version)), reverse=True)
        start = int(page_token or 0)
        end = start + max_results
        return FakePage(found[start:end], str(end) if end < len(found) else None)

    def get_logged_model(self, model_id: str) -> FakeLoggedModel:
        try:
            return self._logged[model_id]
        except KeyError:
            raise _error(f"Logged model with ID '{model_id}' not found", MISSING) from None

    # -- experiments -----------------------------------------------------------------------
    def _experiment(self, experiment_id: str) -> FakeExperiment:
        try:
            return self._experiments[str(experiment_id)]
        except KeyError:
            raise _error(f"No Experiment with id={experiment_id} exists", MISSING) from None

    def get_experiment(self, experiment_id: str) -> FakeExperiment:
        with self._mutex:
            return self._experiment(experiment_id).view()

    def get_experiment_by_name(self, name: str) -> FakeExperiment | None:
        with self._mutex:
            found = [e for e in self._experiments.values() if e.name == name]
            return found[0].view() if found else None

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        with self._mutex:
            self._experiment(experiment_id).tags[key] = str(value)

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict | None = None
    ) -> str:
        if not name:
            raise _error("Invalid experiment name: ''", INVALID)
        with self._mutex:
            if self.get_experiment_by_name(name) is not None:
                raise _error(f"Experiment(name={name}) already exists.", EXISTS)
            experiment_id = str(max(int(e) for e in self._experiments) + 1)
            kept = {k: str(v) for k, v in (tags or {}).items()}
            self._experiments[experiment_id] = FakeExperiment(experiment_id, name, tags=kept)
            return experiment_id

    # -- runs ------------------------------------------------------------------------------
    def _run(self, run_id: str) -> FakeRun:
        try:
            return self._runs[run_id]
        except KeyError:
            raise _error(f"Run with id={run_id} not found", MISSING) from None

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> FakeRun:
        with self._mutex:
            if str(experiment_id) not in self._experiments:
                raise _error(f"No Experiment with id={experiment_id} exists", MISSING)
            run_id = uuid.uuid4().hex
            name = run_name or f"fake-run-{next(_NAMES)}"  # MLflow: a random adjective-noun-n
            tags = {**{k: str(v) for k, v in (tags or {}).items()}, "mlflow.runName": name}
            info = FakeRunInfo(run_id, str(experiment_id), name, "RUNNING", "active")
            info.start_time = start_time if start_time is not None else _now_ms()
            self._runs[run_id] = FakeRun(info, FakeRunData(tags=tags))
            return self.get_run(run_id)

    def get_run(self, run_id: str) -> FakeRun:
        with self._mutex:
            run = self._run(run_id)
            data = FakeRunData(dict(run.data.metrics), dict(run.data.params), dict(run.data.tags))
            info = FakeRunInfo(**vars(run.info))
            return FakeRun(info, data, run.inputs)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        with self._mutex:
            run = self._run(run_id)
            if status:
                run.info.status = status
            if name:
                run.info.run_name = name
                run.data.tags["mlflow.runName"] = name

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: int = 1,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> FakePage:
        matches = _run_matcher(filter_string)
        wanted = {str(e) for e in experiment_ids}
        # MLflow's ViewType: 1 ACTIVE_ONLY, 2 DELETED_ONLY, 3 ALL.
        stages = {1: {"active"}, 2: {"deleted"}}.get(run_view_type, {"active", "deleted"})
        with self._mutex:
            found = [
                self.get_run(run_id)
                for run_id, run in self._runs.items()
                if run.info.experiment_id in wanted
                and run.info.lifecycle_stage in stages
                and matches(run)
            ]
        # MLflow's default order: the latest started first.
        found.sort(key=lambda r: (-(r.info.start_time or 0), r.info.run_id))
        start = int(page_token or 0)
        end = start + max_results
        return FakePage(found[start:end], str(end) if end < len(found) else None)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        with self._mutex:
            self._run(run_id).data.tags[key] = str(value)

    def log_batch(self, run_id: str, metrics=(), params=(), tags=(), **_: Any) -> None:
        with self._mutex:
            run = self._run(run_id)
            for m in metrics:  # the latest: the greatest (step, timestamp, value), as MLflow
                point = (int(m.step), int(m.timestamp), float(m.value))
                if m.key not in run.latest or point > run.latest[m.key]:
                    run.latest[m.key] = point
                    run.data.metrics[m.key] = point[2]
            run.data.params.update({p.key: str(p.value) for p in params})
            run.data.tags.update({t.key: str(t.value) for t in tags})

    def set_terminated(
        self, run_id: str, status: str | None = None, end_time: int | None = None
    ) -> None:
        with self._mutex:
            run = self._run(run_id)
            run.info.status = status or "FINISHED"
            run.info.end_time = end_time if end_time is not None else _now_ms()

    def delete_run(self, run_id: str) -> None:
        with self._mutex:
            self._run(run_id).info.lifecycle_stage = "deleted"  # MLflow's soft delete

    # -- artifacts -------------------------------------------------------------------------
    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        source = Path(local_path)
        with self._mutex:
            run = self._run(run_id)
            files = [source] if source.is_file() else sorted(source.rglob("*"))
            for file in (f for f in files if f.is_file()):
                inner = file.name if file == source else f"{source.name}/{file.relative_to(source)}"
                key = f"{artifact_path.strip('/')}/{inner}" if artifact_path else inner
                run.artifacts[key] = file.read_bytes()

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FakeFileInfo]:
        prefix = f"{path.strip('/')}/" if path and path.strip("/") else ""
        with self._mutex:
            found: dict[str, FakeFileInfo] = {}
            for key, content in self._run(run_id).artifacts.items():
                if not key.startswith(prefix):
                    continue
                head, _, rest = key[len(prefix) :].partition("/")
                entry = prefix + head
                found[entry] = (
                    FakeFileInfo(entry, True) if rest else FakeFileInfo(entry, False, len(content))
                )
            return [found[k] for k in sorted(found)]

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        path = path.strip("/")
        with self._mutex:
            stored = self._run(run_id).artifacts
            chosen = {k: v for k, v in stored.items() if k == path or k.startswith(f"{path}/")}
        if not chosen:
            raise _error(f"No such file or directory: '{path}'", MISSING)
        root = Path(dst_path or tempfile.mkdtemp(prefix="fake-artifacts-"))
        for key, content in chosen.items():
            target = root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return str(root / path)
