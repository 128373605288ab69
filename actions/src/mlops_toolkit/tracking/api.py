"""The part of MLflow's client the toolkit uses, as one typed interface.

`mlflow.MlflowClient` satisfies it (the real adapter: `client.client()` once the server answers,
`client.connect(uri)` without that probe); the tests' in-memory
stand-in (tests/support/fakes/mlflow.py) satisfies it too, and one set of contract tests runs
against both (tests/toolkit/test_tracking_contract.py), so code typed against `TrackingClient`
behaves the same on either. Errors are `mlflow.exceptions.MlflowException` with MLflow's
`error_code` (RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS, ...) on both.

Add a method here only together with its contract test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


class ModelVersionLike(Protocol):
    name: str
    version: Any  # MLflow hands out a string or an int depending on the call: use str()
    run_id: str | None
    source: str
    tags: dict[str, str]
    description: str | None  # None or "" when unset


class RegisteredModelLike(Protocol):
    name: str
    tags: dict[str, str]
    creation_timestamp: int | None  # milliseconds since the epoch


class RunInfoLike(Protocol):
    run_id: str
    experiment_id: str
    run_name: str | None
    status: str  # RUNNING, FINISHED, FAILED, KILLED, SCHEDULED
    lifecycle_stage: str  # "active" or "deleted"
    start_time: int | None  # milliseconds since the epoch
    end_time: int | None
    artifact_uri: str  # where the run's artifacts live (the doctor's round trip names it)


class RunDataLike(Protocol):
    metrics: dict[str, float]  # each key's latest value
    params: dict[str, str]
    tags: dict[str, str]


class RunLike(Protocol):
    info: RunInfoLike
    data: RunDataLike


class LoggedModelLike(Protocol):
    source_run_id: str | None


class ExperimentLike(Protocol):
    experiment_id: str
    name: str
    tags: dict[str, str]  # mlflow.experimentKind among them once set (project/runs.py)


class FileInfoLike(Protocol):
    """One entry of a run's artifacts: `path` from the run's artifact root ("a/b.json")."""

    path: str
    is_dir: bool


class Page(Protocol):
    """One page of a search: iterable, with the next page's `token` (None or "" at the end)."""

    token: str | None

    def __iter__(self) -> Any: ...


@runtime_checkable
class TrackingClient(Protocol):
    # Registered models (the registry lock is one too, registry/lock.py).
    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModelLike: ...

    def get_registered_model(self, name: str) -> RegisteredModelLike: ...

    def delete_registered_model(self, name: str) -> None: ...

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None: ...

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None: ...

    # Model versions.
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> ModelVersionLike: ...

    def get_model_version(self, name: str, version: str) -> ModelVersionLike: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionLike: ...

    def update_model_version(
        self, name: str, version: str, description: str | None = None
    ) -> ModelVersionLike: ...

    def set_model_version_tag(self, name: str, version: str, key: str, value: Any) -> None: ...

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = ...,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Page: ...

    def get_logged_model(self, model_id: str) -> LoggedModelLike: ...

    # Experiments (the sweep's, tuning/study.py; the doctor's, checks/environment.py; the
    # project's kind, project/runs.py). A missing id raises RESOURCE_DOES_NOT_EXIST.
    def get_experiment(self, experiment_id: str) -> ExperimentLike: ...

    def get_experiment_by_name(self, name: str) -> ExperimentLike | None: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None: ...

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str: ...

    # Runs.
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> RunLike: ...

    def get_run(self, run_id: str) -> RunLike: ...

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None
    ) -> None: ...

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: int = ...,
        max_results: int = ...,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Page: ...

    def set_tag(self, run_id: str, key: str, value: Any) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Any] = (),
        params: Sequence[Any] = (),
        tags: Sequence[Any] = (),
    ) -> None: ...

    def set_terminated(
        self, run_id: str, status: str | None = None, end_time: int | None = None
    ) -> None: ...

    def delete_run(self, run_id: str) -> None:
        """Soft delete: get_run still answers, with lifecycle_stage "deleted"."""
        ...

    # A run's artifacts (the model passport, registry/passport.py).
    def log_artifact(
        self, run_id: str, local_path: str, artifact_path: str | None = None
    ) -> None: ...

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfoLike]: ...

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str: ...
