"""What a deploy hands on to the serving containers: the prediction store and the feedback token
from the deploy step's environment, and the stage, for every target (docker and swarm here;
the real containers of the e2e scenario log to PostgreSQL through it)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mlops_toolkit import names
from mlops_toolkit.deploy import dockerhost, swarm
from mlops_toolkit.deploy.target import serving_env

pytestmark = pytest.mark.fast
STORE = "postgresql://u:pw@127.0.0.1:5433/store"


@pytest.fixture
def step_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(names.ENV_PREDICTION_STORE, STORE)
    monkeypatch.setenv(names.ENV_FEEDBACK_TOKEN, "tok")


def test_the_set_variables_and_the_stage(step_env, monkeypatch) -> None:
    assert serving_env("production") == {
        names.ENV_PREDICTION_STORE: STORE,
        names.ENV_FEEDBACK_TOKEN: "tok",
        names.ENV_ENVIRONMENT: "production",
    }
    monkeypatch.setenv(names.ENV_FEEDBACK_TOKEN, "")  # an unset secret is an empty variable
    monkeypatch.delenv(names.ENV_PREDICTION_STORE)
    assert serving_env("staging") == {names.ENV_ENVIRONMENT: "staging"}


def test_the_release_variable_makes_the_server_store_probabilities(monkeypatch) -> None:
    from mlops_toolkit.serving.settings import Settings

    monkeypatch.setenv(names.ENV_STORE_SCORES, "1")
    env = serving_env("production")
    assert env[names.ENV_STORE_SCORES] == "1"
    assert Settings.from_env(env).store_scores is True
    monkeypatch.setenv(names.ENV_STORE_SCORES, "0")
    assert Settings.from_env(serving_env("production")).store_scores is False


class Engine:
    """containers.run recorded (the docker SDK's call)."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.containers = SimpleNamespace(run=self._run)

    def _run(self, image: str, **options: Any) -> str:
        self.runs.append(options)
        return options["name"]


@pytest.mark.parametrize("host_network", [True, False])
def test_docker_containers_get_it_beside_their_port(step_env, host_network) -> None:
    engine = Engine()
    env = serving_env("production")
    dockerhost.start(
        engine, "img", "app-production", labels={}, bind="127.0.0.1", port=8080,
        host_network=host_network, env=env,
    )  # fmt: skip
    given = engine.runs[0]["environment"]
    assert {k: given[k] for k in env} == env
    assert ("SERVING_PORT" in given) is host_network


@pytest.mark.parametrize("publish", ["host", "ingress"])
def test_swarm_services_get_it_in_their_spec(step_env, publish) -> None:
    target = swarm.SwarmTarget(app="app", stage="staging", port=8081, publish=publish)
    no_objects = SimpleNamespace(list=lambda: [])
    engine = SimpleNamespace(secrets=no_objects, configs=no_objects)
    spec = swarm.spec(engine, target, "img", "m", "1")
    given = spec["TaskTemplate"]["ContainerSpec"]["Env"]
    assert f"{names.ENV_PREDICTION_STORE}={STORE}" in given
    assert f"{names.ENV_FEEDBACK_TOKEN}=tok" in given
    assert f"{names.ENV_ENVIRONMENT}=staging" in given
    assert ("SERVING_REUSE_PORT=1" in given) is (publish == "host")
    # Only the pace of the image's check: Docker takes the rest from the image.
    check = spec["TaskTemplate"]["ContainerSpec"]["HealthCheck"]
    assert check == {"Interval": int(swarm.ROLLOUT_CHECK_S * 1e9)}
