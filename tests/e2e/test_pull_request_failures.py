"""Pull requests that fail, each the way a team makes them fail, under act with a real MLflow
server, DVC remote, Docker engine and registry: the sticky comment names the step, quotes the
command's own one-line cause and links the run's log. And a run orphaned by a tracking server
that dies mid-training ends FAILED once the server is back: the pull request's report step, the
job's last, ends it (a runner's checkout, and the project's record of the open run, are gone
after).

Its own scenario (TARGETS["failures"]: own project, MLflow server, ports, xdist group), so the
tests may kill and restart that server; the model job alone runs for a pull request (the unit
tests job fails nothing here). A gate that rejects the candidate is asserted in
test_lifecycle (step 3), a typo in params.yaml (check-gate) there too, and a failing release
(step 5: its smoke request refused; the job summary and the merged pull request's comment say
why) there as well.

One act run per mechanism, not per command (each is about two minutes of a worker): a server
killed mid-job is shown once for a toolkit command (register) and once for a project command
(train, the orphan). Each command's own line is its own module's test: a build error in
test_docker; an unreachable server in any project command, evaluate too, in
test_project_frame, and that line in the comment in test_github_comment. The runs dropped for
this (a server killed during evaluate, an image that does not build) showed nothing more.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from support import dvcdata
from support.servers import start_mlflow

from .scenario import OWNER_REPO, Scenario, explain, set_c

pytestmark = [
    pytest.mark.act,
    pytest.mark.docker,
    pytest.mark.parametrize("scenario", ["failures"], indirect=True),
]
MODEL_JOB = "model"  # the pull-request workflow's job that validates, trains, gates, registers
LOG_LINK = f"/{OWNER_REPO}/actions/runs/"


def failing_pull_request(s: Scenario, change: Callable[[Path], None], title: str) -> str:
    """The model job of a pull request that must fail; its sticky comment."""
    number, result = s.pull_request(change, title, job=MODEL_JOB)
    assert result.returncode != 0, explain(result)
    return s.comment(number)


def assert_explained(body: str, step: str, cause: str, fix: str = "**Fix:**") -> None:
    """The step that failed, the command's own line, a fix and the run's log."""
    assert f"## Failed at step `{step}`" in body, body
    assert cause in body, body
    assert fix in body, body
    assert LOG_LINK in body, body


def sample(rows: int):
    """The scenario's data as a team exports it (the sample's snake_case columns)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.head(rows)
    frame.columns = [re.sub(r"[^0-9a-zA-Z]+", "_", str(c)).strip("_").lower() for c in frame]
    return frame


def set_params(project: Path, section: str, key: str, value: object) -> None:
    params = project / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    raw[section][key] = value
    params.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_data_added_but_never_pushed_fails_at_pull_data(scenario: Scenario):
    """New data `dvc add`ed on a laptop, the .dvc file committed, `dvc push` forgotten."""

    def new_data_not_pushed(project: Path) -> None:
        sample(dvcdata.ROWS - 50).to_csv(project / dvcdata.SOURCE, index=False)
        dvcdata._dvc(project, ["add", "--quiet", dvcdata.SOURCE])
        # The laptop keeps the data and its cache; neither is in the commit.
        (project / dvcdata.SOURCE).unlink()
        shutil.rmtree(project / ".dvc" / "cache")

    body = failing_pull_request(scenario, new_data_not_pushed, "Fresher data")
    cause = (
        f"mlops-toolkit pull-data: dvc pull from ci (s3://{dvcdata.BUCKET}/dvc): failed to pull"
        f" data from the cloud - Checkout failed for following targets: {dvcdata.SOURCE}"
    )
    assert_explained(body, "pull-data", cause, "**Fix:** the data is not on the DVC remote")


def test_an_empty_csv_fails_at_prepare(scenario: Scenario):
    def empty_csv(project: Path) -> None:
        (project / "data" / "external" / "empty.csv").write_text("")
        set_params(project, "data", "source", "data/external/empty.csv")

    body = failing_pull_request(scenario, empty_csv, "Read the new export")
    cause = f"{scenario.model} prepare-data: data/external/empty.csv:"
    assert_explained(body, "prepare-data", cause)
    assert "## Data validation: no report" in body


def test_data_violating_the_suite_fails_at_validate(scenario: Scenario):
    """A new export in micrometres: mean_radius is a thousand times the suite's range."""

    def micrometres(project: Path) -> None:
        frame = sample(120)
        frame["mean_radius"] *= 1000
        frame.to_csv(project / "data" / "external" / "tumors-um.csv", index=False)
        set_params(project, "data", "source", "data/external/tumors-um.csv")

    body = failing_pull_request(scenario, micrometres, "Export from the new scanner")
    cause = f"{scenario.model} validate-data: data/raw/dataset.csv: 1 expectation(s) failed"
    assert_explained(body, "validate", cause)
    assert "## ❌ Data validation: failed" in body
    assert "mean_radius" in body  # the validation table says which column


def test_a_param_scikit_learn_rejects_fails_at_train(scenario: Scenario):
    s = scenario
    body = failing_pull_request(s, lambda p: set_c(p, -1.0), "Negative regularisation")
    cause = "The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf]"
    assert_explained(body, "train", f"{s.model} train: InvalidParameterError: {cause}")
    assert "RUNNING" not in run_statuses(s)  # the run that failed says so


def test_a_holdout_moved_in_params_fails_at_gate(scenario: Scenario):
    """params.yaml moves the holdout; the workflow gates on data/processed/holdout.csv."""
    s = scenario

    def move_holdout(project: Path) -> None:
        set_params(project, "data", "holdout", "data/processed/test.csv")

    body = failing_pull_request(s, move_holdout, "Call the holdout a test set")
    cause = "mlops-toolkit gate: holdout data/processed/holdout.csv not found"
    assert_explained(body, "gate", cause, "**Fix:** check gate.yaml and the holdout")
    assert not s.client.search_model_versions(f"name = '{s.model}'")


def test_a_tracking_outage_after_the_gate_fails_at_register(scenario: Scenario):
    """The gate passes (bootstrap: no production yet) and records its verdict on the run; the
    server dies before the candidate is registered."""
    s = scenario
    before = set(run_statuses(s))

    # The gate step over: its verdict is recorded (every call answered), register is starting.
    with server_killed_when(s, lambda: s.act.step_done("Gate against production")) as outage:
        body = failing_pull_request(s, lambda p: set_c(p, 0.7), "Regularise a little less")
    assert outage["killed"]
    cause = f"mlops-toolkit register: MLflow tracking server {s.server.uri} is unreachable"
    assert_explained(body, "register", cause, "**Fix:** check vars.MLFLOW_TRACKING_URI")
    assert "Model gate: passed" in body
    assert _new_run_tagged(s, before, "mlops.gate.summary")  # the verdict is on the run
    assert not s.client.search_model_versions(f"name = '{s.model}'")


def test_a_run_orphaned_by_a_dead_server_ends_failed_after_the_job(scenario: Scenario):
    """The team's training sleeps after the fit; the server is killed while it sleeps, so the
    run stays RUNNING (its end cannot be recorded). Once `train` has failed the server comes
    back on the same port and store; the report step marks the run FAILED and says so."""
    s = scenario
    before = set(run_statuses(s))
    started = time.time()

    def slow_after_the_fit(project: Path) -> None:
        train = next(project.glob("src/*/pipelines/train.py"))
        text = train.read_text()
        anchor = '        mlflow.log_metric("fit_seconds", fit_seconds)\n'
        assert anchor in text
        text = text.replace(anchor, f"{anchor}        time.sleep(12)  # a slower step\n")
        train.write_text(text)

    def fitted() -> bool:
        run = _new_run(s, before)
        return run is not None and "fit_seconds" in run.data.metrics

    def train_failed() -> bool:  # the job's failure log, in act's copy of the repository
        logs = (s.act.logs.parent / "act-cache").glob("*/hostexecutor/.mlops-failures.log")
        return any(
            f"{s.model} train:" in log.read_text() for log in logs if log.stat().st_mtime >= started
        )

    with server_killed_when(s, fitted, back_when=train_failed) as outage:
        body = failing_pull_request(s, slow_after_the_fit, "A slower training step")
    assert outage["killed"] and outage["back"]
    assert_explained(body, "train", f"{s.model} train: the MLflow tracking server stopped")
    run = _new_run(s, before)
    assert run is not None and "fit_seconds" in run.data.metrics
    assert run.info.status == "FAILED", run.info
    assert f"run {run.info.run_id} was left RUNNING by a step cut off: marked FAILED" in body


# --- the scenario's tracking server, killed and brought back ----------------------------------


def run_statuses(s: Scenario) -> dict[str, str]:
    experiment = s.client.get_experiment_by_name(s.model)
    if experiment is None:
        return {}
    runs = s.client.search_runs([experiment.experiment_id])
    return {r.info.run_id: r.info.status for r in runs}


def _new_run(s: Scenario, before: set[str]):
    """The run this pull request's job started (None before it has)."""
    experiment = s.client.get_experiment_by_name(s.model)
    if experiment is None:
        return None
    runs = s.client.search_runs([experiment.experiment_id])
    fresh = [r for r in runs if r.info.run_id not in before]
    return fresh[0] if fresh else None


def _new_run_tagged(s: Scenario, before: set[str], tag: str) -> bool:
    run = _new_run(s, before)
    return run is not None and tag in run.data.tags


@contextlib.contextmanager
def server_killed_when(
    s: Scenario, when: Callable[[], bool], back_when: Callable[[], bool] | None = None
) -> Iterator[dict]:
    """While the block runs a job: SIGKILL the scenario's own tracking server as soon as
    `when()` holds, and start it again (same port, same store) once `back_when()` holds, else
    when the block ends. Yields {"killed": bool, "back": bool}."""
    state = {"killed": False, "back": False}
    done = threading.Event()

    def wait_for(condition: Callable[[], bool]) -> bool:
        while not done.is_set():
            with contextlib.suppress(Exception):  # the server is busy, or the file half written
                if condition():
                    return True
            time.sleep(0.2)
        return False

    def watch() -> None:
        if not wait_for(when):
            return
        os.killpg(s.server.proc.pid, signal.SIGKILL)  # its own session: the workers go too
        s.server.proc.wait()
        state["killed"] = True
        if back_when is not None and wait_for(back_when):
            restart(s)
            state["back"] = True

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield state
    finally:
        done.set()
        watcher.join()
        if state["killed"] and not state["back"]:
            restart(s)


def restart(s: Scenario) -> None:
    port = int(s.server.uri.rsplit(":", 1)[1])
    s.server = start_mlflow(s.server.root, port=port)
