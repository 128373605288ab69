"""The sweep's records: each finished trial in the study's storage, then as an MLflow child run.

One writer thread does both, in that order, once a trial has finished, so a trial's thread never
waits for a database or the tracking server, and MLflow's client is used by one thread only.
Child runs are a projection of the stored study (values, fold means as steps, state, times): a
sweep cut off after storing a trial but before its child run leaves the storage ahead of MLflow,
and the next run of the same study writes the missing child runs first (`write_all`), so the
runs and the study agree whatever happened.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .. import names

log = logging.getLogger(__name__)
PARENT_ATTR = "mlflow_parent_run_id"  # the study's user attribute naming its parent run
STOP = object()


def metric_key(metric: str) -> str:
    """The cross-validated metric's key in MLflow (beside the holdout's own name)."""
    return f"cv_{metric}"


def parent_run(client: Any, experiment_id: str, study: Any, tags: dict[str, str]) -> str:
    """The study's parent run: the one recorded in the study (set RUNNING again), else a new one."""
    recorded = study.user_attrs.get(PARENT_ATTR)
    if recorded:
        try:
            run = client.get_run(recorded)
        except Exception:  # another tracking store, or the run was deleted: start a new parent
            run = None
        if run is not None and run.info.lifecycle_stage == "active":
            client.update_run(recorded, status="RUNNING")
            return recorded
    run = client.create_run(experiment_id, tags=tags, run_name=f"sweep-{study.study_name}")
    study.set_user_attr(PARENT_ATTR, run.info.run_id)
    return run.info.run_id


def written_trials(client: Any, experiment_id: str, parent: str) -> dict[int, str]:
    """Trial number -> child run id, for the trials that have one under ``parent``."""
    found: dict[int, str] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{names.TAG_SWEEP_PARENT}` = '{parent}'",
            max_results=1000,
            page_token=token,
        )
        found.update((int(run.data.tags[names.TAG_SWEEP_TRIAL]), run.info.run_id) for run in page)
        token = page.token
        if not token:
            return found


class ChildWriter:
    """One thread that records each finished trial: first in the study's storage (`persist`:
    the durable record, one transaction), then as a child run. `submit` from any thread."""

    def __init__(
        self,
        client: Any,
        experiment_id: str,
        parent: str,
        study_name: str,
        metric: str,
        persist: Callable[[Any], int],
    ):
        self.client, self.experiment_id, self.parent = client, experiment_id, parent
        self.study_name, self.metric, self.persist = study_name, metric, persist
        self.runs: dict[int, str] = {}  # trial number (the storage's) -> child run id
        self.errors: list[str] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="sweep-records", daemon=True)
        self._thread.start()

    def submit(self, study: Any, trial: Any) -> None:
        """Optuna's callback signature: (study, frozen trial): a trial just finished."""
        self._queue.put((trial, True))

    def write_all(self, trials: Iterable[Any]) -> None:
        """Child runs for trials the storage holds already (a sweep cut off before them)."""
        for trial in trials:
            self._queue.put((trial, False))

    def close(self) -> None:
        """Wait for every queued record; a failed write is one line, raised here."""
        self._queue.put(STOP)
        self._thread.join()
        if self.errors:
            from ..errors import ToolkitError

            raise ToolkitError(f"could not record {len(self.errors)} trial(s): {self.errors[0]}")

    def _work(self) -> None:
        while (item := self._queue.get()) is not STOP:
            trial, new = item
            try:
                number = self.persist(trial) if new else trial.number
                self.runs[number] = self.write(trial, number)
            except Exception as error:  # reported by close(); the next sweep reconciles
                from ..tracking.client import one_line

                self.errors.append(f"trial {trial.number}: {one_line(error)}")

    def write(self, trial: Any, number: int) -> str:
        from mlflow.entities import Metric, Param, RunStatus
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        state = trial.state.name
        tags = {
            MLFLOW_PARENT_RUN_ID: self.parent,
            names.TAG_SWEEP_PARENT: self.parent,
            names.TAG_SWEEP_STUDY: self.study_name,
            names.TAG_SWEEP_TRIAL: str(number),
            names.TAG_SWEEP_STATE: state,
        }
        start = _millis(trial.datetime_start)
        run = self.client.create_run(
            self.experiment_id, start_time=start, tags=tags, run_name=f"trial-{number}"
        )
        key = metric_key(self.metric)
        points = [
            Metric(key, value, start, step)
            for step, value in sorted(trial.intermediate_values.items())
        ]
        if trial.value is not None:
            points.append(Metric(key, trial.value, _millis(trial.datetime_complete), len(points)))
        params = [Param(f"model.{k}", str(v)) for k, v in trial.params.items()]
        self.client.log_batch(run.info.run_id, metrics=points, params=params)
        status = RunStatus.to_string(RunStatus.FAILED if state == "FAIL" else RunStatus.FINISHED)
        self.client.set_terminated(run.info.run_id, status, _millis(trial.datetime_complete))
        return run.info.run_id


def finish_parent(
    client: Any, parent: str, metric: str, best: Any, best_run: str | None, status: str
) -> None:
    """The best trial on the parent: its value as a metric, its number, run and params as tags
    (one batch: each call is a transaction of the store, a request to a server)."""
    if best is not None:
        import time

        from mlflow.entities import Metric, RunTag

        tags = {
            names.TAG_SWEEP_BEST_TRIAL: str(best.number),
            names.TAG_SWEEP_BEST_PARAMS: json.dumps(best.params, sort_keys=True),
        }
        if best_run:
            tags[names.TAG_SWEEP_BEST_RUN] = best_run
        value = Metric(f"best_{metric_key(metric)}", best.value, int(time.time() * 1000), 0)
        client.log_batch(parent, metrics=[value], tags=[RunTag(k, v) for k, v in tags.items()])
    client.set_terminated(parent, status)


def _millis(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None
