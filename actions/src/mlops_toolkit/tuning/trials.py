"""The sweep's records: each finished trial in the study's storage, then as an MLflow child run.

One writer thread does both, in that order, once a trial has finished, so a trial's thread never
waits for a database or the tracking server, and MLflow's client is used by one thread only. The
child runs of the trials that finished within a couple of seconds are written together
(childruns.py: one transaction on MLflow's SQL store instead of six per run).
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
import time
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
    the durable record, one append or transaction) at once, then, with the others that finished
    within FLUSH_S, as child runs in one batch (`childruns.sink`: one transaction on MLflow's SQL
    store). The study is the record: child runs still pending when the sweep dies are written
    by the next run of the study (`written_trials`, `write_all`). `submit` from any thread."""

    FLUSH_S = 2.0  # how long a finished trial may wait for its child run

    def __init__(
        self,
        client: Any,
        experiment_id: str,
        parent: str,
        study_name: str,
        metric: str,
        persist: Callable[[Any], int],
    ):
        from . import childruns

        self.sink = childruns.sink(client, experiment_id)
        self.parent, self.study_name, self.metric = parent, study_name, metric
        self.persist = persist
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
        pending: list[Any] = []
        due = None  # when the oldest pending child run must be written
        while True:
            wait = None if due is None else max(0.0, due - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is STOP:
                break
            if item is not None and (run := self._stored(*item)) is not None:
                pending.append(run)
                due = due or time.monotonic() + self.FLUSH_S
            if due is not None and time.monotonic() >= due:
                self._flush(pending)
                pending, due = [], None
        self._flush(pending)

    def _stored(self, trial: Any, new: bool) -> Any | None:
        """The trial stored (when new), as the child run to write; None when storing failed."""
        try:
            number = self.persist(trial) if new else trial.number
            return self.child(trial, number)
        except Exception as error:  # reported by close(); the next sweep reconciles
            self._failed(f"trial {trial.number}", error)
            return None

    def _flush(self, pending: list[Any]) -> None:
        if not pending:
            return
        try:
            self.runs.update(self.sink(pending))
        except Exception as error:  # none of the batch written: the next sweep writes them
            numbers = ", ".join(str(run.number) for run in pending)
            self._failed(f"trial(s) {numbers}", error)

    def _failed(self, what: str, error: Exception) -> None:
        from ..tracking.client import one_line

        self.errors.append(f"{what}: {one_line(error)}")

    def child(self, trial: Any, number: int) -> Any:
        """The child run of a finished trial: its state, values and fold means."""
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        from .childruns import ChildRun

        now = int(time.time() * 1000)
        start = _millis(trial.datetime_start) or now
        end = _millis(trial.datetime_complete) or now
        points = [(v, start, step) for step, v in sorted(trial.intermediate_values.items())]
        if trial.value is not None:
            points.append((trial.value, end, len(points)))
        return ChildRun(
            number=number,
            name=f"trial-{number}",
            start=start,
            end=end,
            failed=trial.state.name == "FAIL",
            tags={
                MLFLOW_PARENT_RUN_ID: self.parent,
                names.TAG_SWEEP_PARENT: self.parent,
                names.TAG_SWEEP_STUDY: self.study_name,
                names.TAG_SWEEP_TRIAL: str(number),
                names.TAG_SWEEP_STATE: trial.state.name,
            },
            params={f"model.{k}": str(v) for k, v in trial.params.items()},
            points=points,
            key=metric_key(self.metric),
        )


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
