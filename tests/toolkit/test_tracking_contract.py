"""One contract, two backends: the in-memory MLflow client (tests/support/fakes/mlflow.py) and a
real `mlflow server` answer the toolkit alike (`tracking_backend`, tests/toolkit/conftest.py).

The fake variant of each test runs in the fast tier, the real one in the full tier; a fake that
drifts from MLflow fails here, before the fast tests built on it can mislead.
"""

from __future__ import annotations

import time

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST as RESOURCE_MISSING
from mlops_toolkit import names
from mlops_toolkit.deploy import target as deploy_target
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.registry.lock import lock_name, registry_lock
from mlops_toolkit.tracking import client as tracking
from mlops_toolkit.tracking.api import TrackingClient


def production(backend, model_name: str) -> str | None:
    found = tracking.version_by_alias(backend.client, model_name, names.PRODUCTION)
    return found.version if found else None


def test_both_clients_satisfy_the_interface(tracking_backend):
    assert isinstance(tracking_backend.client, TrackingClient)


def test_missing_things_are_missing_the_same_way(tracking_backend, model_name):
    client = tracking_backend.client
    assert tracking.version_by_alias(client, model_name, "champion") is None  # no model
    assert registry.versions(client, model_name) == []
    with pytest.raises(MlflowException) as caught:
        client.get_registered_model(model_name)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
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
