"""The sweep's child runs on a real embedded MLflow store (SQLite): a batch written in one
transaction reads back as MLflow's own three calls leave a run, and child runs still pending
when a sweep dies are written by the next run of the study, from the study's journal; the
study's records also on the in-memory tracking store (the interface alone: the client's calls)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mlops_toolkit import names
from mlops_toolkit.tuning import childruns, study, trials

SPACE = {"C": {"low": 0.001, "high": 100.0, "log": True}}


@pytest.fixture
def client(tmp_path: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture(params=["sqlite", "fake"])
def store(request, tmp_path: Path, monkeypatch) -> tuple[Any, str]:
    """(client, tracking URI): the embedded store, or the in-memory fake (tests/support/fakes/
    mlflow.py) that `tracking.connect` hands the sweep; its URI only places the study's journal."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    if request.param == "sqlite":
        return request.getfixturevalue("client"), uri
    from mlops_toolkit.tracking import client as tracking
    from support.fakes.mlflow import FakeMlflowClient

    fake = FakeMlflowClient()
    monkeypatch.setattr(tracking, "connect", lambda uri=None: fake)
    return fake, uri


def child(number: int, failed: bool = False) -> childruns.ChildRun:
    points = [(0.5, 1_000, 0), (0.75, 1_000, 1)] + ([] if failed else [(0.625, 2_500, 2)])
    return childruns.ChildRun(
        number=number,
        name=f"trial-{number}",
        start=1_000,
        end=2_500,
        failed=failed,
        tags={"mlflow.parentRunId": "p" * 32, names.TAG_SWEEP_TRIAL: str(number)},
        params={"model.C": "0.125", "model.solver": "lbfgs"},
        points=points,
        key="cv_f1",
    )


def as_read(client, run_id: str) -> dict:
    """Everything MLflow's client answers about a run, but its id."""
    run = client.get_run(run_id)
    info = run.info
    return {
        "info": (info.run_name, info.status, info.start_time, info.end_time, info.user_id),
        "stage": info.lifecycle_stage,
        "artifacts": info.artifact_uri.replace(run_id, "<id>"),
        "tags": run.data.tags,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "history": [
            (m.value, m.timestamp, m.step) for m in client.get_metric_history(run_id, "cv_f1")
        ],
    }


@pytest.mark.parametrize("failed", [False, True])
def test_a_batch_written_child_run_reads_back_as_the_clients_calls_leave_it(client, failed):
    experiment = client.create_experiment("sweeps")
    by_calls = childruns._by_client(client, experiment, child(1, failed))  # the same trial
    batch = childruns._bulk_sink(client, experiment)
    assert batch is not None  # the embedded store takes the one-transaction writer
    written = batch([child(1, failed), child(2)])
    assert set(written) == {1, 2}
    expected = as_read(client, by_calls)
    assert as_read(client, written[1]) == expected
    assert expected["info"][1] == ("FAILED" if failed else "FINISHED")
    found = client.search_runs([experiment], f"tags.`{names.TAG_SWEEP_TRIAL}` = '2'")
    assert [r.info.run_id for r in found] == [written[2]]


def test_an_mlflow_whose_models_moved_gets_the_clients_calls(client, monkeypatch):
    """A changed signature found before anything is written: the calls, not a failed sweep."""

    def moved(*args, **kwargs):
        raise TypeError("SqlRun() got an unexpected keyword argument 'source_type'")

    monkeypatch.setattr(childruns, "_rows", moved)
    experiment = client.create_experiment("sweeps")
    assert childruns._bulk_sink(client, experiment) is None
    written = childruns.sink(client, experiment)([child(3)])
    assert client.get_run(written[3]).data.params == child(3).params


def project() -> SimpleNamespace:
    """What study.run reads of a project when every trial is stored already."""
    return SimpleNamespace(
        metric="f1",
        direction="maximize",
        sweep=SimpleNamespace(space=SPACE),
        family="sklearn",
        task="classification",
    )


def finished(value: float) -> object:
    import optuna

    return optuna.trial.create_trial(
        params={"C": value},
        distributions={"C": optuna.distributions.FloatDistribution(0.001, 100.0, log=True)},
        value=value,
        intermediate_values={0: value / 2, 1: value},
    )


def test_child_runs_pending_at_a_crash_are_written_by_the_next_run(store, monkeypatch):
    monkeypatch.setattr(trials.ChildWriter, "FLUSH_S", 3600.0)  # nothing flushed before the end
    client, uri = store
    url = study.storage_url(uri)
    stored = study._open(project(), url, "s")
    experiment = client.create_experiment("exp-sweeps")
    parent = trials.parent_run(client, experiment, stored, {})
    writer = trials.ChildWriter(client, experiment, parent, "s", "f1", study._persister(stored, 0))
    for value in (0.25, 0.5, 0.125):
        writer.submit(None, finished(value))
    deadline = time.monotonic() + 30
    while len(stored.get_trials()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(stored.get_trials()) == 3  # in the journal...
    assert trials.written_trials(client, experiment, parent) == {}  # ...no child run yet
    # The sweep dies here (its writer never closed); the next run of the study runs nothing more
    # and writes the three child runs from the journal under the same parent.
    outcome = study.run(project(), study.Settings(trials=3, study="s"), uri, "exp")
    assert outcome.ran == 0 and outcome.parent_run_id == parent
    runs = trials.written_trials(client, experiment, parent)
    assert sorted(runs) == [0, 1, 2]
    values = {n: client.get_run(r).data.metrics["cv_f1"] for n, r in runs.items()}
    assert values == {0: 0.25, 1: 0.5, 2: 0.125}
    assert outcome.best_trial == 1 and outcome.best_run_id == runs[1]
    assert client.get_run(parent).data.tags[names.TAG_SWEEP_BEST_RUN] == runs[1]


def test_a_child_run_is_written_while_the_sweep_goes_on(store, monkeypatch):
    """The batch is flushed FLUSH_S after its first trial, not only when the sweep ends."""
    monkeypatch.setattr(trials.ChildWriter, "FLUSH_S", 0.2)
    client, uri = store
    url = study.storage_url(uri)
    stored = study._open(project(), url, "s")
    experiment = client.create_experiment("exp-sweeps")
    parent = trials.parent_run(client, experiment, stored, {})
    writer = trials.ChildWriter(client, experiment, parent, "s", "f1", study._persister(stored, 0))
    writer.submit(None, finished(0.25))
    deadline = time.monotonic() + 30
    while not writer.runs and time.monotonic() < deadline:  # set once the batch is committed
        time.sleep(0.05)
    assert list(writer.runs) == [0]
    assert trials.written_trials(client, experiment, parent) == writer.runs
    writer.close()
