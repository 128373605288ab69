"""One contract, two backends: the in-memory MLflow client (tests/support/fakes/mlflow.py) and a
real `mlflow server` answer the toolkit alike (`tracking_backend`, tests/toolkit/conftest.py):
the registry, and what the toolkit reaches without a probe through `tracking.connect` (version
descriptions, the sweep's experiments and runs, the passport's artifacts, open runs).

The fake variant of each test runs in the fast tier, the real one in the full tier; a fake that
drifts from MLflow fails here, before the fast tests built on it can mislead.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TrackingBackend
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST as RESOURCE_MISSING
from mlops_toolkit import names
from mlops_toolkit.deploy import target as deploy_target
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.registry import passport
from mlops_toolkit.registry.lock import lock_name, registry_lock
from mlops_toolkit.tracking import client as tracking
from mlops_toolkit.tracking import open_runs
from mlops_toolkit.tracking.api import TrackingClient
from mlops_toolkit.tuning import study, trials


def production(backend, model_name: str) -> str | None:
    found = tracking.version_by_alias(backend.client, model_name, names.PRODUCTION)
    return found.version if found else None


def test_both_clients_satisfy_the_interface(tracking_backend):
    assert isinstance(tracking_backend.client, TrackingClient)


def assert_missing(*calls: Callable[[], object]) -> None:
    """Each call fails as MLflow answers for what it does not hold: an MlflowException whose
    error code is RESOURCE_DOES_NOT_EXIST, from the fake as from the server."""
    for call in calls:
        with pytest.raises(MlflowException) as caught:
            call()
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_missing_things_are_missing_the_same_way(tracking_backend, model_name):
    client = tracking_backend.client
    assert tracking.version_by_alias(client, model_name, "champion") is None  # no model
    assert registry.versions(client, model_name) == []
    assert_missing(lambda: client.get_registered_model(model_name))
    tracking_backend.new_version(model_name)
    assert tracking.version_by_alias(client, model_name, "champion") is None  # no alias
    with pytest.raises(ToolkitError, match=f"model version {model_name}/7 not found"):
        tracking.get_version(client, model_name, "7")
    with pytest.raises(MlflowException) as caught:
        client.set_registered_model_alias(model_name, "staging", "7")
    assert tracking.is_missing(caught.value) or caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_name_is_created_once(tracking_backend, model_name):
    client = tracking_backend.client
    client.create_registered_model(model_name, tags={"k": "v"})
    with pytest.raises(MlflowException) as caught:
        client.create_registered_model(model_name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    model = client.get_registered_model(model_name)
    assert model.tags == {"k": "v"}
    assert abs(model.creation_timestamp / 1000 - time.time()) < 600
    client.delete_registered_model(model_name)
    with pytest.raises(MlflowException):
        client.delete_registered_model(model_name)


def test_versions_count_up_carry_tags_and_page(tracking_backend, model_name):
    client = tracking_backend.client
    numbers = [tracking_backend.new_version(model_name) for _ in range(3)]
    assert numbers == ["1", "2", "3"]
    client.set_model_version_tag(model_name, "2", "team", "churn")
    assert tracking.get_version(client, model_name, "2").tags["team"] == "churn"
    first = client.search_model_versions(registry.name_filter(model_name), max_results=2)
    assert len(first) == 2 and first.token
    rest = client.search_model_versions(
        registry.name_filter(model_name), max_results=2, page_token=first.token
    )
    assert len(rest) == 1 and not rest.token
    assert sorted(str(v.version) for v in [*first, *rest]) == numbers
    assert sorted(v.version for v in registry.versions(client, model_name)) == numbers


def test_an_alias_moves_and_reads_back(tracking_backend, model_name):
    client = tracking_backend.client
    v1, v2 = (tracking_backend.new_version(model_name) for _ in range(2))
    client.set_registered_model_alias(model_name, "staging", v1)
    client.set_registered_model_alias(model_name, "staging", v2)
    found = tracking.resolve(client, model_name, "staging")
    assert (found.version, found.uri) == (v2, f"models:/{model_name}/{v2}")
    assert tracking.resolve(client, model_name, v1).version == v1


def test_promote_remembers_and_rollback_walks_back(tracking_backend, model_name):
    client = tracking_backend.client
    v1, v2, v3 = (tracking_backend.new_version(model_name) for _ in range(3))
    first = registry.promote(model_name=model_name, version=v1, actor="tester", client=client)
    assert first == {"model_name": model_name, "version": v1, "previous": "", "changed": True}
    registry.promote(model_name=model_name, version=v2, client=client)
    again = registry.promote(model_name=model_name, version=v2, client=client)
    assert again == {"model_name": model_name, "version": v2, "previous": v1, "changed": False}
    tags = tracking.get_version(client, model_name, v2).tags
    assert tags[names.TAG_PREVIOUS_PRODUCTION] == v1
    assert tags[names.TAG_PROMOTED_BY] and tags[names.TAG_PROMOTED_AT].endswith("Z")

    current, target = registry.rollback_plan(client, model_name)
    assert (current.version, target.version) == (v2, v1)
    registry.rollback_alias(client, model_name, current, target, actor="tester")
    assert production(tracking_backend, model_name) == v1
    assert tracking.get_version(client, model_name, v1).tags[names.TAG_ROLLED_BACK_FROM] == v2
    last = client.get_registered_model(model_name).tags[names.TAG_LAST_ROLLBACK]
    assert last.startswith(f"{v2} -> {v1} at ") and last.endswith(" by tester")
    with pytest.raises(ToolkitError, match="no earlier production version"):
        registry.rollback_plan(client, model_name)  # v1 replaced nothing
    registry.promote(model_name=model_name, version=v3, client=client)
    current, target = registry.rollback_plan(client, model_name, to=v2)
    assert (current.version, target.version) == (v3, v2)
    registry.rollback_alias(client, model_name, current, target)
    assert production(tracking_backend, model_name) == v2


def test_rollback_refuses_what_changed_meanwhile(tracking_backend, model_name):
    client = tracking_backend.client
    v1, v2, v3 = (tracking_backend.new_version(model_name) for _ in range(3))
    with pytest.raises(ToolkitError, match="no production version"):
        registry.rollback_plan(client, model_name)
    for version in (v1, v2):
        registry.promote(model_name=model_name, version=version, client=client)
    with pytest.raises(ToolkitError, match="already in production"):
        registry.rollback_plan(client, model_name, to=v2)
    current, target = registry.rollback_plan(client, model_name)
    registry.promote(model_name=model_name, version=v3, client=client)  # someone else
    with pytest.raises(ToolkitError, match=f"changed to {v3} during the rollback"):
        registry.rollback_alias(client, model_name, current, target)
    assert production(tracking_backend, model_name) == v3


def test_set_alias_and_find_candidate_through_the_toolkits_client(tracking_backend, model_name):
    client = tracking_backend.client
    v1, v2, v3 = (tracking_backend.new_version(model_name) for _ in range(3))
    for version, pr, commit in ((v1, "5", "a" * 40), (v2, "5", "b" * 40), (v3, "6", "c" * 40)):
        client.set_model_version_tag(model_name, version, names.TAG_PULL_REQUEST, pr)
        client.set_model_version_tag(model_name, version, names.TAG_GIT_COMMIT, commit)
    assert registry.find_candidate(model_name=model_name, pulls=[7, 5], commit="")["version"] == v2
    found = registry.find_candidate(model_name=model_name, pulls=[], commit="c" * 40)
    assert found == {"version": v3, "pull_request": "", "model_uri": f"models:/{model_name}/{v3}"}
    with pytest.raises(ToolkitError, match="no registered candidate"):
        registry.find_candidate(model_name=model_name, pulls=[8], commit="d" * 40)
    assert registry.set_alias(model_name=model_name, version=v1, alias="staging")["version"] == v1
    with pytest.raises(ToolkitError, match="production moves only through promote"):
        registry.set_alias(model_name=model_name, version=v1, alias="production")


# MLflow's filter grammar has no escapes: each name breaks a naively quoted `name = '...'`.
@pytest.mark.parametrize("suffix", ["it's", 'say "hi"', "both '\" quotes"])
def test_quoted_names_are_found_exactly(tracking_backend, model_name, suffix):
    name = f"{model_name} {suffix}"
    decoy = name.replace("'", "_").replace('"', "_")  # what a LIKE pattern also selects
    tracking_backend.new_version(decoy)
    tracking_backend.new_version(name)
    found = registry.versions(tracking_backend.client, name)
    assert [(v.name, v.version) for v in found] == [(name, "1")]


def test_the_lock_is_taken_released_and_stale_ones_taken_over(tracking_backend, model_name):
    client = tracking_backend.client
    with registry_lock(client, model_name, wait_s=5) as holder:
        tags = client.get_registered_model(lock_name(model_name)).tags
        assert tags[names.TAG_LOCK_HOLDER] == holder
        with pytest.raises(MlflowException) as caught:  # what makes it mutual exclusion
            client.create_registered_model(lock_name(model_name))
        assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException):
        client.get_registered_model(lock_name(model_name))  # released
    client.create_registered_model(
        lock_name(model_name),
        tags={names.TAG_LOCK_HOLDER: "dead-job", names.TAG_LOCK_EXPIRES: f"{time.time() - 1}"},
    )
    with registry_lock(client, model_name, wait_s=5) as holder:
        tags = client.get_registered_model(lock_name(model_name)).tags
        assert tags[names.TAG_LOCK_HOLDER] == holder != "dead-job"


def test_a_live_lock_times_out_naming_its_holder(tracking_backend, model_name):
    client = tracking_backend.client
    client.create_registered_model(
        lock_name(model_name),
        tags={names.TAG_LOCK_HOLDER: "busy-job", names.TAG_LOCK_EXPIRES: f"{time.time() + 60}"},
    )
    with pytest.raises(ToolkitError, match="busy-job"), registry_lock(client, model_name, wait_s=1):
        pass
    assert client.get_registered_model(lock_name(model_name)).tags[names.TAG_LOCK_HOLDER] == (
        "busy-job"
    )  # someone else's lock is never deleted


def test_a_lock_released_while_the_store_reads_the_clash_back_is_taken(
    tracking_backend, model_name, monkeypatch
):
    """MLflow's SQL store answers a name clash by reading the existing model back; when its
    holder deleted it in between, `create` fails RESOURCE_DOES_NOT_EXIST (seen on PostgreSQL
    with concurrent promotions). The lock is free then: taking it must go on, not fail."""
    client = tracking_backend.client
    real = client.create_registered_model
    raced = []

    def racing(name, *args, **kwargs):
        if not raced:
            raced.append(name)
            raise MlflowException(f"Registered Model with name={name} not found", RESOURCE_MISSING)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(client, "create_registered_model", racing)
    with registry_lock(client, model_name, wait_s=5) as holder:
        assert client.get_registered_model(lock_name(model_name)).tags[names.TAG_LOCK_HOLDER] == (
            holder
        )
    assert raced == [lock_name(model_name)]


class RecordingTarget:
    """A deploy target that records what it was asked to serve; `refuse` images fail."""

    kind, stage = "memory", "production"

    def __init__(self, refuse: str = ""):
        self.deployed: list[deploy_target.Release] = []
        self.refuse = refuse

    def deploy(self, release: deploy_target.Release) -> deploy_target.Deployed:
        if release.image == self.refuse:
            raise ToolkitError(f"{release.image} not healthy; the previous image serves again")
        self.deployed.append(release)
        return deploy_target.Deployed(release.image, "", "", "memory", {})

    def status(self) -> dict:
        return {"image": self.deployed[-1].image if self.deployed else ""}


def test_one_rollback_algorithm_image_first_then_the_alias(tracking_backend, model_name):
    client = tracking_backend.client
    v1, v2 = (tracking_backend.new_version(model_name) for _ in range(2))
    client.set_model_version_tag(model_name, v1, names.TAG_IMAGE, "registry/app:v1")
    for version in (v1, v2):
        registry.promote(model_name=model_name, version=version, client=client)
    refused = RecordingTarget(refuse="registry/app:v1")
    with pytest.raises(ToolkitError, match="not healthy"):
        deploy_target.rollback(refused, model_name=model_name, to=None)
    assert production(tracking_backend, model_name) == v2  # the alias waits for the image
    target = RecordingTarget()
    done = deploy_target.rollback(target, model_name=model_name, to=None)
    assert done == {"version": v1, "from": v2, "image": "registry/app:v1"}
    assert [(r.image, r.model_version) for r in target.deployed] == [("registry/app:v1", v1)]
    assert production(tracking_backend, model_name) == v1
    with pytest.raises(ToolkitError, match=f"version {v2} has no recorded image"):
        deploy_target.rollback(RecordingTarget(), model_name=model_name, to=v2)
    assert production(tracking_backend, model_name) == v1


# -- what the toolkit reaches through `tracking.connect(uri)`: no probe first (a local store, a
# server the caller expects may be gone). The fixture serves the fake there too.


@pytest.fixture
def connected(tracking_backend, monkeypatch) -> TrackingBackend:
    """The backend behind `tracking.connect` as well as `tracking.client`."""
    if tracking_backend.kind == "fake":
        monkeypatch.setattr(tracking, "connect", lambda uri=None: tracking_backend.client)
    return tracking_backend


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_description_is_written_once_and_a_teams_own_is_kept(connected, model_name):
    client = connected.client
    version = connected.new_version(model_name)
    assert not client.get_model_version(model_name, version).description  # None or ""
    tags = {names.TAG_GIT_COMMIT: "a" * 40, f"{names.TAG_METRIC_PREFIX}f1": "0.91"}
    registry.describe(model_name, version, tags, "run-1")  # through tracking.connect()
    ours = client.get_model_version(model_name, version).description
    assert ours.startswith(registry.DESCRIPTION_HEADER) and "| f1 | 0.91 |" in ours
    registry.describe_with_passport(model_name, version, "run-1", ["- **Passport**: here"])
    again = client.get_model_version(model_name, version).description
    assert again.startswith(registry.DESCRIPTION_HEADER) and again.endswith("here\n")
    updated = client.update_model_version(model_name, version, description="Written by us.")
    assert (str(updated.version), updated.description) == (version, "Written by us.")
    registry.describe(model_name, version, tags, "run-1", client=client)
    assert client.get_model_version(model_name, version).description == "Written by us."
    assert_missing(lambda: client.update_model_version(model_name, "99", description="x"))
    with pytest.raises(ToolkitError, match=f"cannot describe {model_name} version 99"):
        registry.describe(model_name, "99", tags, None, client=client)


def test_an_experiment_is_found_by_name_and_created_once(tracking_backend):
    client = tracking_backend.client
    name = unique("sweeps")
    assert client.get_experiment_by_name(name) is None
    created = client.create_experiment(name)
    found = client.get_experiment_by_name(name)
    assert isinstance(created, str) and (found.experiment_id, found.name) == (created, name)
    with pytest.raises(MlflowException) as caught:
        client.create_experiment(name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert study._experiment(client, name) == created  # the sweep's: found, not created again
    assert study._experiment(client, f"{name}-2") != created


def test_a_run_is_created_logged_renamed_and_ended(tracking_backend):
    from mlflow.entities import Metric, Param, RunTag

    client = tracking_backend.client
    experiment = client.create_experiment(unique("runs"))
    made = client.create_run(experiment, start_time=1_000, tags={"k": "v"}, run_name="trial-1")
    run_id = made.info.run_id
    run = client.get_run(run_id)
    info = run.info
    assert (info.run_id, info.experiment_id, info.run_name) == (run_id, experiment, "trial-1")
    assert (info.status, info.lifecycle_stage, info.start_time, info.end_time) == (
        "RUNNING", "active", 1_000, None,
    )  # fmt: skip
    assert run.data.tags == {"k": "v", "mlflow.runName": "trial-1"}
    assert client.create_run(experiment).info.run_name  # MLflow names an unnamed run
    client.log_batch(
        run_id,
        metrics=[Metric("cv_f1", 0.5, 2_000, 1), Metric("cv_f1", 0.25, 1_500, 0)],
        params=[Param("model.C", "0.1")],
        tags=[RunTag("t", "u")],
    )
    client.set_tag(run_id, "n", 3)
    data = client.get_run(run_id).data
    assert data.metrics == {"cv_f1": 0.5}  # the latest step's, whatever the order logged
    assert data.params == {"model.C": "0.1"}
    assert {k: data.tags[k] for k in ("k", "t", "n")} == {"k": "v", "t": "u", "n": "3"}
    client.set_terminated(run_id, "FAILED", 5_000)
    assert (client.get_run(run_id).info.status, client.get_run(run_id).info.end_time) == (
        "FAILED",
        5_000,
    )
    client.update_run(run_id, status="RUNNING")  # a sweep's parent, continued
    assert client.get_run(run_id).info.status == "RUNNING"
    client.update_run(run_id, name="sweep-s")
    renamed = client.get_run(run_id)
    assert (renamed.info.run_name, renamed.data.tags["mlflow.runName"]) == ("sweep-s", "sweep-s")
    client.set_terminated(run_id)
    ended = client.get_run(run_id).info
    assert ended.status == "FINISHED" and abs(ended.end_time / 1000 - time.time()) < 600
    assert_missing(
        lambda: client.get_run("0" * 32),
        lambda: client.set_terminated("0" * 32, "FAILED"),
        lambda: client.create_run("987654321"),
    )


def test_runs_are_searched_by_tag_page_by_page(tracking_backend):
    from types import SimpleNamespace

    client = tracking_backend.client
    experiment = client.create_experiment(unique("search"))
    other = client.create_experiment(unique("search"))
    parent = client.create_run(experiment, run_name="sweep-s").info.run_id
    children = {
        n: client.create_run(
            experiment,
            tags={names.TAG_SWEEP_PARENT: parent, names.TAG_SWEEP_TRIAL: str(n)},
            run_name=f"trial-{n}",
        ).info.run_id
        for n in range(3)
    }
    client.create_run(experiment, tags={names.TAG_SWEEP_PARENT: "another", "x": "y"})
    client.create_run(other, tags={names.TAG_SWEEP_PARENT: parent, names.TAG_SWEEP_TRIAL: "9"})
    query = f"tags.`{names.TAG_SWEEP_PARENT}` = '{parent}'"
    first = client.search_runs([experiment], query, max_results=2)
    assert len(first) == 2 and first.token
    rest = client.search_runs([experiment], query, max_results=2, page_token=first.token)
    assert len(rest) == 1 and not rest.token
    assert sorted(r.info.run_id for r in [*first, *rest]) == sorted(children.values())
    assert [r.info.run_id for r in client.search_runs([experiment], "tags.x = 'y'")] != []
    assert len(client.search_runs([experiment, other], query)) == 4
    assert trials.written_trials(client, experiment, parent) == children
    # The sweep's parent: the one the study recorded, RUNNING again; else a new one.
    client.set_terminated(parent, "KILLED")
    stored = SimpleNamespace(study_name="s", user_attrs={trials.PARENT_ATTR: parent})
    stored.set_user_attr = stored.user_attrs.__setitem__
    assert trials.parent_run(client, experiment, stored, {}) == parent
    assert client.get_run(parent).info.status == "RUNNING"
    stored.user_attrs[trials.PARENT_ATTR] = "0" * 32  # deleted meanwhile
    fresh = trials.parent_run(client, experiment, stored, {"k": "v"})
    assert fresh != parent and stored.user_attrs[trials.PARENT_ATTR] == fresh
    assert client.get_run(fresh).info.run_name == "sweep-s"


def test_artifacts_are_logged_listed_and_read_back(tracking_backend, tmp_path):
    client = tracking_backend.client
    run_id = client.create_run(client.create_experiment(unique("artifacts"))).info.run_id
    files = {
        passport.ROLES_ARTIFACT: json.dumps({"numeric": ["age"]}),
        passport.VALIDATION_ARTIFACT: json.dumps({"success": True, "evaluated": 2}),
        passport.IMPORTANCE_ARTIFACT: "feature,importance\nage,0.5\n",
    }
    for path, text in files.items():
        local = tmp_path / "out" / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text)
        folder = str(Path(path).parent)
        client.log_artifact(run_id, str(local), None if folder == "." else folder)
    listed = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert listed == {("roles.json", False), ("validation", True), ("plots", True)}
    inner = [(f.path, f.is_dir) for f in client.list_artifacts(run_id, "validation")]
    assert inner == [("validation/validation.json", False)]
    assert client.list_artifacts(run_id, "nothing-here") == []
    got = Path(client.download_artifacts(run_id, passport.ROLES_ARTIFACT, str(tmp_path / "dl")))
    assert got.is_file() and got.is_relative_to(tmp_path / "dl")
    assert json.loads(got.read_text()) == {"numeric": ["age"]}
    found = passport._run_artifacts(client, run_id)  # what the passport reads of a run
    assert found == {
        passport.ROLES_ARTIFACT: {"numeric": ["age"]},
        passport.VALIDATION_ARTIFACT: {"success": True, "evaluated": 2},
        passport.IMPORTANCE_ARTIFACT: [{"feature": "age", "importance": "0.5"}],
    }
    with pytest.raises(MlflowException):
        client.download_artifacts(run_id, "nothing-here.json", str(tmp_path / "dl"))


def test_a_run_left_running_is_ended_and_one_that_ended_is_left(connected, tmp_path):
    client = connected.client
    experiment = client.create_experiment(unique("orphans"))
    record = tmp_path / "logs" / "open-run.json"
    record.parent.mkdir()
    uri = tracking.tracking_uri()

    def orphan(run_id: str) -> str:
        record.write_text(json.dumps({"run_id": run_id, "tracking_uri": uri}))
        return open_runs.end_orphan(record)

    left = client.create_run(experiment).info.run_id
    assert orphan(left) == f"run {left} was left RUNNING by a step cut off: marked FAILED"
    assert client.get_run(left).info.status == "FAILED" and not record.exists()
    done = client.create_run(experiment).info.run_id
    client.set_terminated(done, "FINISHED")
    assert orphan(done) == "" and client.get_run(done).info.status == "FINISHED"
    assert orphan("0" * 32) == "" and not record.exists()  # deleted meanwhile: nothing to end


def test_an_experiments_tags_are_written_and_read_back(tracking_backend):
    client = tracking_backend.client
    name = unique("kinds")
    experiment = client.create_experiment(name, tags={"team": "churn"})
    found = client.get_experiment(experiment)
    assert (found.experiment_id, found.name, found.tags.get("team")) == (experiment, name, "churn")
    assert "mlflow.experimentKind" not in found.tags  # MLflow sets no kind on its own
    client.set_experiment_tag(experiment, "mlflow.experimentKind", "forecasting")
    client.set_experiment_tag(experiment, "n", 3)
    tags = client.get_experiment_by_name(name).tags
    assert (tags["mlflow.experimentKind"], tags["n"]) == ("forecasting", "3")
    found.tags["team"] = "changed"  # a copy: nothing stored changes
    assert client.get_experiment(experiment).tags["team"] == "churn"
    assert_missing(
        lambda: client.get_experiment("987654321"),
        lambda: client.set_experiment_tag("987654321", "k", "v"),
    )


def test_a_deleted_run_reads_back_deleted_and_leaves_searches(tracking_backend):
    from mlflow.entities import ViewType

    client = tracking_backend.client
    experiment = client.create_experiment(unique("deleted"))
    run_id = client.create_run(experiment, tags={"k": "v"}).info.run_id
    kept = client.create_run(experiment, tags={"k": "v"}).info.run_id
    where = client.get_run(run_id).info.artifact_uri
    assert isinstance(where, str) and run_id in where  # the doctor names it
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment], "tags.k = 'v'")] == [kept]
    everything = client.search_runs([experiment], run_view_type=ViewType.ALL)
    assert sorted(r.info.run_id for r in everything) == sorted([run_id, kept])
    deleted = client.search_runs([experiment], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    assert_missing(lambda: client.delete_run("0" * 32))
