"""The sweep's child runs written a batch at a time: one transaction on MLflow's SQL store.

Through MLflow's client a child run is three calls (`create_run` with its tags, `log_batch`,
`set_terminated`), six transactions of the embedded SQLite store: ~17 ms of CPU a run, as much as
a fifth of a sample trial, spent in the writer thread beside the trials (and the trials wait for
the GIL it holds). When the client's store is MLflow's SQLAlchemy store (the embedded `mlflow.db`,
or a database URL as the tracking URI), a batch of finished runs is inserted in one session with
MLflow's own table models, as its `create_run`, `log_batch` and `update_run_info` fill them:
the run row with its final status and end time, its tags (the run name's too), params, metric
points and latest metric (~1 ms a run). MLflow's validation of keys and values runs first. Any
other store (a tracking server over HTTP), or an MLflow whose internals moved, gets the client's
three calls per run. A run reads back the same either way (tests/toolkit/test_sweep_records.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
Sink = Callable[[list["ChildRun"]], dict[int, str]]


@dataclass(frozen=True)
class ChildRun:
    """One finished trial as a child run; times in epoch milliseconds."""

    number: int
    name: str
    start: int
    end: int
    failed: bool
    tags: dict[str, str]
    params: dict[str, str]
    points: list[tuple[float, int, int]] = field(default_factory=list)  # `key`: value, time, step
    key: str = ""


def sink(client: Any, experiment_id: str) -> Sink:
    """The writer for ``client``'s store: one transaction per batch where it can, else calls."""
    bulk = _bulk_sink(client, experiment_id)
    if bulk is not None:
        return bulk

    def calls(runs: list[ChildRun]) -> dict[int, str]:
        return {run.number: _by_client(client, experiment_id, run) for run in runs}

    return calls


def _by_client(client: Any, experiment_id: str, run: ChildRun) -> str:
    from mlflow.entities import Metric, Param, RunStatus

    created = client.create_run(
        experiment_id, start_time=run.start, tags=run.tags, run_name=run.name
    )
    run_id = created.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(run.key, *point) for point in run.points],
        params=[Param(k, v) for k, v in run.params.items()],
    )
    status = RunStatus.FAILED if run.failed else RunStatus.FINISHED
    client.set_terminated(run_id, RunStatus.to_string(status), run.end)
    return run_id


def _bulk_sink(client: Any, experiment_id: str) -> Sink | None:
    try:
        from mlflow.store.tracking.dbmodels import models
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
        from mlflow.utils.uri import append_to_uri_path
        from mlflow.utils.validation import _validate_batch_log_data

        store = client._tracking_client.store
    except (ImportError, AttributeError):  # another MLflow: its public calls still work
        return None
    if not isinstance(store, SqlAlchemyStore):
        return None
    probe = ChildRun(0, "probe", 0, 0, False, {"t": "v"}, {"p": "v"}, [(0.5, 0, 0)], "m")
    try:  # the same calls as a write, but no session: an MLflow whose models or checks moved
        _validate(probe, _validate_batch_log_data)
        _rows(models, store, probe, "0" * 32, experiment_id, "")
    except (TypeError, AttributeError) as error:
        log.debug("child runs through MLflow's client: %s", error)
        return None
    artifacts = store.get_experiment(experiment_id).artifact_location

    def write(runs: list[ChildRun]) -> dict[int, str]:
        rows, ids = [], {}
        for run in runs:
            run_id = uuid.uuid4().hex
            _validate(run, _validate_batch_log_data)
            location = append_to_uri_path(artifacts, run_id, SqlAlchemyStore.ARTIFACTS_FOLDER_NAME)
            rows.extend(_rows(models, store, run, run_id, experiment_id, location))
            ids[run.number] = run_id
        with store.ManagedSessionMaker(read_only=False) as session:  # commits on exit
            session.add_all(rows)
        return ids

    return write


def _validate(run: ChildRun, validate: Callable[..., Any]) -> None:
    from mlflow.entities import Metric, Param, RunTag

    validate(
        [Metric(run.key, *point) for point in run.points],
        [Param(k, v) for k, v in run.params.items()],
        [RunTag(k, v) for k, v in run.tags.items()],
    )


def _rows(
    models: Any, store: Any, run: ChildRun, run_id: str, experiment_id: str, location: str
) -> list[Any]:
    """The rows MLflow's create_run, log_batch and set_terminated leave for ``run``."""
    from mlflow.entities import LifecycleStage, RunStatus, SourceType
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER

    status = RunStatus.FAILED if run.failed else RunStatus.FINISHED
    row = models.SqlRun(
        name=run.name,
        artifact_uri=location,
        run_uuid=run_id,
        experiment_id=experiment_id,
        source_type=SourceType.to_string(SourceType.UNKNOWN),
        source_name="",
        entry_point_name="",
        user_id=run.tags.get(MLFLOW_USER, "unknown"),
        status=RunStatus.to_string(status),
        start_time=run.start,
        end_time=run.end,
        deleted_time=None,
        source_version="",
        lifecycle_stage=LifecycleStage.ACTIVE,
    )
    tags = {**run.tags, MLFLOW_RUN_NAME: run.name}
    row.tags = [models.SqlTag(key=k, value=v) for k, v in tags.items()]
    row.params = [models.SqlParam(key=k, value=v) for k, v in run.params.items()]
    points = []
    for value, timestamp, step in run.points:
        is_nan, stored = store.sanitize_metric_value(value)
        points.append((step, timestamp, stored, is_nan))
    found = [row]
    fields = ("step", "timestamp", "value", "is_nan")
    for point in points:
        metric = dict(zip(fields, point, strict=True))
        found.append(models.SqlMetric(run_uuid=run_id, key=run.key, **metric))
    if points:  # MLflow's latest: the greatest (step, timestamp, value)
        latest = dict(zip(fields, max(points), strict=True))
        found.append(models.SqlLatestMetric(run_uuid=run_id, key=run.key, **latest))
    return found
