"""The generated workflows end to end with act: pull requests, releases, a failed release and
a rollback, against a real MLflow server, Docker engine and image registry, and a loopback
stand-in of the GitHub REST API. One scenario, asserted step by step, for each deploy target
that runs here: `docker` (one host, as generated: no DOCKER_PUBLISH, so the host-network
handover) and `swarm` (services on the engine's single-node Swarm, publish host). Both with
steady load on production through the update and the rollback, and no request may fail.
The scenario itself (project, servers, moves) is in scenario.py and conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from support import dvcdata

from . import loop
from .passport import assert_passport
from .scenario import (
    OWNER_REPO,
    Scenario,
    assert_host_handover,
    assert_no_failed_request,
    assert_replicas,
    explain,
    image_tags,
    run_count,
    set_c,
)

pytestmark = [pytest.mark.act, pytest.mark.docker]
# The pull-request job is the same for every deploy target: those tests run on docker only.
DOCKER_ONLY = pytest.mark.parametrize("scenario", ["docker"], indirect=True)
# The pull-request workflow's model job alone, where a pull request must fail in it: the failure
# is then its own, never the unit tests job's (minutes of the project's tests saved a run).
MODEL_JOB = "model"


def test_lifecycle(scenario: Scenario):
    s = scenario
    # The pull request's unit-tests job and a failing gate are the same for every target: the
    # docker scenario proves them (pull request 1, whose unit tests must pass), the others run
    # the model job alone (minutes saved each). Later pull requests change a param or the
    # Dockerfile, nothing the unit tests read: the model job alone, in every scenario.
    job = None if s.target == "docker" else MODEL_JOB
    # 1. First pull request on a fresh project: no production model, bootstrap gate passes.
    first, result = s.pull_request(lambda p: None, "First model", job=job)
    assert result.returncode == 0, explain(result)
    assert s.alias("challenger") == "1"
    assert s.alias("production") is None
    body = s.comment(first)
    assert "**First model**" in body and "Data validation: passed" in body
    assert dvcdata.PULLED in result.stdout  # the data came from the DVC remote in S3 ...
    trained = s.client.get_run(s.client.get_model_version(s.model, "1").run_id).data
    assert trained.tags["mlops.data_source"] == dvcdata.SOURCE  # ... and the model learnt it
    rows = int(trained.tags["mlops.rows_train"]) + int(trained.tags["mlops.rows_holdout"])
    assert rows == dvcdata.ROWS
    assert_passport(s, "1")  # the model passport, its lineage the run's, linked from the comment
    assert "Model passport: [version 1](http://" in body

    # 2. Merge: version 1 registered, image pushed, staging then production serve it.
    sha, result = s.merge(first)
    assert result.returncode == 0, explain(result)
    assert dvcdata.PULLED in result.stdout  # the re-gate's holdout comes from the remote too
    assert (s.alias("staging"), s.alias("production")) == ("1", "1")
    assert {"1", f"sha-{sha}"} <= image_tags(f"e2e/{s.model}")
    assert (s.serving("staging"), s.serving("production")) == ("1", "1")
    assert_replicas(s, "1")
    assert_host_handover(s)
    assert_deployed_over_ssh(s, result, jobs=2)

    # 3. A clearly worse model: the gate fails, the workflow fails, production is untouched.
    if s.target == "docker":
        assert_a_worse_model_fails_the_gate(s)

    # 4. A better model, merged: version 2 in production, version 1 recorded as previous.
    better, result = s.pull_request(lambda p: set_c(p, 1.0), "Less regularisation", job=MODEL_JOB)
    assert result.returncode == 0, explain(result)
    assert "Model gate: passed" in s.comment(better)
    assert_passport(s, "2")
    with s.under_load() as load:
        _, result = s.merge(better)
    assert result.returncode == 0, explain(result)
    assert_no_failed_request(load, "1", "2")
    assert s.alias("production") == "2"
    version2 = s.client.get_model_version(s.model, "2")
    assert version2.tags["mlops.previous_production_version"] == "1"
    assert (s.serving("staging"), s.serving("production")) == ("2", "2")
    assert_replicas(s, "2")

    # 5. A merge whose image fails its smoke test: the pull request's checks pass (its model is
    #    fine) but the image caps request bodies at 64 bytes, so the smoke request is refused.
    #    The release fails; production still serves version 2, alias unmoved. The workflow's
    #    failure path is the same for every target: docker proves it here. Swarm's own half (the
    #    deploy putting the previous image back on every replica) is test_swarm's, on a real
    #    Swarm, without a pull request and a release of act (minutes of the suite each).
    if s.target == "docker":
        assert_a_failed_smoke_keeps_production(s)

    # 6. Rollback with no input: production serves version 1 again, the alias moved.
    with s.under_load() as load:
        result = s.act.run(
            "workflow_dispatch", "rollback.yml", {"inputs": {"version": ""}}, "rollback"
        )
    assert result.returncode == 0, explain(result)
    assert_no_failed_request(load, "2", "1")
    assert s.alias("production") == "1"
    assert s.serving("production") == "1"
    assert_deployed_over_ssh(s, result, jobs=1)
    if s.target == "swarm":  # the previous image is back on every production replica
        assert s.replica_images("production") == [s.image_of("1")] * 2


def assert_a_failed_smoke_keeps_production(s: Scenario) -> None:
    def cap_request_size(project: Path) -> None:
        dockerfile = project / "Dockerfile"
        text = dockerfile.read_text()
        anchor = "    SERVING_HOST=0.0.0.0 \\\n"  # a line of the ENV block, not its last one
        assert anchor in text
        dockerfile.write_text(text.replace(anchor, f"{anchor}    SERVING_MAX_BODY_BYTES=64 \\\n"))

    broken, result = s.pull_request(
        cap_request_size, "Tighten the request size limit", job=MODEL_JOB
    )
    assert result.returncode == 0, explain(result)
    assert_passport(s, "3")
    _, result = s.merge(broken)
    assert result.returncode != 0
    assert "smoke" in result.stdout + result.stderr
    # The release says why, in its job summary and on the merged pull request (its own comment
    # beside the pull request's model report).
    comments = [c["body"] for c in s.api.on(OWNER_REPO, broken)]
    release = [c for c in comments if "## Failed at step `deploy`" in c]
    assert len(release) == 1, comments
    assert "smoke request" in release[0] and "HTTP 413" in release[0], release[0]
    assert f"/{OWNER_REPO}/actions/runs/" in release[0]
    assert "Model gate: passed" in "".join(comments)  # the pull request's own report is kept
    assert s.alias("production") == "2" and s.serving("production") == "2"
    assert s.serving("staging") == "2"  # the deployment put the previous container back
    assert_replicas(s, "2")


def assert_a_worse_model_fails_the_gate(s: Scenario) -> None:
    worse, result = s.pull_request(
        lambda p: set_c(p, 1e-7), "Degenerate regularisation", job=MODEL_JOB
    )
    assert result.returncode != 0
    body = s.comment(worse)
    assert "Model gate: failed" in body and "**FAIL**" in body
    assert s.alias("production") == "1" and s.serving("production") == "1"
    registered = s.client.search_model_versions(f"name = '{s.model}'")
    assert all(v.tags.get("mlops.pull_request") != str(worse) for v in registered)


def assert_deployed_over_ssh(s: Scenario, result, jobs: int) -> None:
    """docker: every deploy job reached the engine through ssh-setup (the key from the secret,
    the pinned host key from the variable) and sshd on loopback."""
    if s.target == "docker":
        checked = re.findall(r"ssh-setup: root@127\.0\.0\.1:\d+ answers", result.stdout)
        assert len(checked) >= jobs, explain(result)


@DOCKER_ONLY
def test_a_typo_in_params_is_explained_in_the_comment(scenario: Scenario):
    """A new user's typo in params.yaml: the job fails at check-gate, before any training, and
    the sticky comment says why (the project command's line), how to fix it and where the log
    is. One target is enough: a pull request deploys nothing."""
    s = scenario

    def typo(project: Path) -> None:
        params = project / "params.yaml"
        raw = yaml.safe_load(params.read_text())
        raw["split"]["holdout_fracton"] = raw["split"].pop("holdout_fraction")
        params.write_text(yaml.safe_dump(raw, sort_keys=False))

    versions = len(s.client.search_model_versions(f"name = '{s.model}'"))
    number, result = s.pull_request(typo, "Typo in params.yaml", job=MODEL_JOB)
    assert result.returncode != 0
    body = s.comment(number)
    assert "## Failed at step `gate-config`" in body, body
    cause = "params.yaml: unknown key split.holdout_fracton (known: holdout_fraction, seed"
    assert cause in body, body
    assert "**Fix:** correct the key" in body
    assert f"/{OWNER_REPO}/actions/runs/" in body
    assert len(s.client.search_model_versions(f"name = '{s.model}'")) == versions


@DOCKER_ONLY
def test_a_fork_pull_request_never_reaches_the_training_runner(scenario: Scenario):
    """A fork's code must not train on the team's GPU machine nor see its secrets: the model job
    (self-hosted runner, tracking credentials) is skipped, nothing is trained or registered, and
    the unit tests still run on a hosted runner."""
    s = scenario
    versions = len(s.client.search_model_versions(f"name = '{s.model}'"))
    runs = run_count(s)
    _, result = s.pull_request(
        lambda p: set_c(p, 0.5), "A change from a fork", head_repo="stranger/tumor-classifier"
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, explain(result)
    # act prefixes each line with [workflow/job name]: the hosted unit tests ran, the model job
    # (its name in the workflow) never started.
    assert re.search(r"\[pull request/unit tests *\]", log), log[-3000:]
    assert not re.search(r"\[pull request/validate, train, gate, register *\]", log), log[-3000:]
    assert len(s.client.search_model_versions(f"name = '{s.model}'")) == versions
    assert run_count(s) == runs


@DOCKER_ONLY
def test_the_loop_closes(scenario: Scenario, tmp_path: Path):
    """Issue 18's loop on what the scenario left serving (production: the rolled-back version,
    its container deployed by rollback.yml with the store and feedback secrets): traffic and
    labels through production's HTTP API, `monitor` into a real Prometheus judging the
    project's alerts.yml, the alert through a real Alertmanager to the relay, which dispatches
    the retrain to the GitHub stand-in; act runs retrain.yml on it, its pull request carries the
    alert and the gate report, and merging it releases the retrained version, which production
    then serves (loop.py prints each step's duration)."""
    s = scenario
    dispatch = loop.close_the_loop(s, tmp_path)
    assert dispatch["client_payload"]["model_version"] == s.alias("production")
    loop.retrain_and_release(s, dispatch, tmp_path)
