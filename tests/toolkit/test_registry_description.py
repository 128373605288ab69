"""A registered version's description in MLflow's UI (registry/moves.py `describe`): the model,
its run, commit and pull request, the data version, the run's metrics and the gate's decision;
a description the team wrote is kept."""

from __future__ import annotations

from mlops_toolkit import names
from mlops_toolkit.registry import moves as registry


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def test_a_registered_version_is_described_from_its_lineage(mlflow_server, logged, model_name):
    run_id, uri = logged["good"]
    client = _client()
    client.set_tag(run_id, names.TAG_GATE_PASSED, "true")
    client.set_tag(run_id, names.TAG_GATE_MODE, "compare")
    run_metrics = client.get_run(run_id).data.metrics
    done = registry.register(
        model_name=model_name,
        model_uri=uri,
        run_id=run_id,
        git_commit="b" * 40,
        alias="challenger",
        pull_request="17",
        data_version="md5:1234",
    )
    text = client.get_model_version(model_name, done["version"]).description
    assert text.startswith(registry.DESCRIPTION_HEADER)
    assert f"{model_name} version {done['version']}, run `{run_id}`" in text
    assert "commit `bbbbbbbbbbbb`, pull request #17" in text
    assert "**Data version**: `md5:1234`" in text
    assert "**Gate**: passed (compare)" in text
    assert run_metrics  # the logged model's run has metrics: each is a row
    for metric, value in run_metrics.items():
        assert f"| {metric} | {value:.6g} |" in text
    # The team's own words stay; the platform's are refreshed on the next registration.
    client.update_model_version(model_name, done["version"], description="Ours: hand-checked.")
    registry.register(
        model_name=model_name, model_uri=uri, run_id=run_id, git_commit="b" * 40, alias=None
    )
    assert client.get_model_version(model_name, done["version"]).description == (
        "Ours: hand-checked."
    )


def test_a_failed_gate_and_missing_facts_read_plainly():
    tags = {
        names.TAG_GIT_COMMIT: "c" * 40,
        names.TAG_GATE_PASSED: "false",
        names.TAG_GATE_SUMMARY: "f1 0.81 < 0.85",
    }
    text = registry.description("m", "3", tags, None)
    assert "**Gate**: failed: f1 0.81 < 0.85" in text
    assert "**Data version**: `not recorded`" in text and "run `unknown`" in text
    assert "pull request" not in text and "| metric |" not in text
    assert "not judged" in registry.description("m", "3", {}, "r")


def test_the_gate_line_says_its_state_once():
    tags = {
        names.TAG_GATE_PASSED: "true",
        names.TAG_GATE_MODE: "bootstrap",
        names.TAG_GATE_SUMMARY: "gate PASSED (bootstrap): f1=0.9500",
    }
    text = registry.description("m", "1", tags, None)
    assert "**Gate**: passed (bootstrap): f1=0.9500\n" in text + "\n", text
