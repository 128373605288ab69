"""One pass of gate -> register -> promote -> rollback on MLflow backed by real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from conftest import REPO, cli, log_model, run_gate
from mlops_toolkit import names
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.tracking import client as tracking
from support.servers import start_mlflow, stop
from test_registry import chain_is_complete, run_concurrent_promotions

pytestmark = pytest.mark.postgres

PORT = int(os.environ.get("MLOPS_PG_PORT", "5433"))


@pytest.fixture(scope="module")
def pg_mlflow(tmp_path_factory, dataset):
    result = subprocess.run([str(REPO / ".ci" / "postgres-up")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    import mlflow
    import psycopg2

    db = f"mlflow_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(
        host="127.0.0.1", port=PORT, user="mlflow", password="mlflow", dbname="postgres"
    )
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {db}")
    server = start_mlflow(
        tmp_path_factory.mktemp("pg-mlflow"),
        backend=f"postgresql+psycopg2://mlflow:mlflow@127.0.0.1:{PORT}/{db}",
    )
    old_env, old_uri = os.environ.get("MLFLOW_TRACKING_URI"), mlflow.get_tracking_uri()
    os.environ["MLFLOW_TRACKING_URI"] = server.uri
    models = {kind: log_model(server.uri, dataset[0], kind) for kind in ("good", "good2", "bad")}
    yield server, models
    stop(server.proc)
    if old_env is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old_env
    mlflow.set_tracking_uri(old_uri)
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    conn.close()


def test_gate_register_promote_rollback_on_postgres(pg_mlflow, holdout_csv, gate_yaml, tmp_path):
    from mlflow import MlflowClient

    server, models = pg_mlflow
    name = f"pg-{uuid.uuid4().hex[:8]}"
    env = {"MLFLOW_TRACKING_URI": server.uri}
    config = gate_yaml()

    def gate(kind: str, commit: str):
        out = tmp_path / f"gate-{kind}"
        r = run_gate(name, models[kind][1], holdout_csv, config, out, **env)
        return r, json.loads((out / "gate.json").read_text())

    def register(kind: str, commit: str) -> str:
        r = cli(
            "register",
            "--model-name",
            name,
            "--model-uri",
            models[kind][1],
            "--run-id",
            models[kind][0],
            "--git-commit",
            commit,
            "--alias",
            "staging",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        return registry.register(
            model_name=name,
            model_uri=models[kind][1],
            run_id=models[kind][0],
            git_commit=commit,
            alias="staging",
        )["version"]

    r, verdict = gate("good", "a")
    assert r.returncode == 0 and verdict["mode"] == "bootstrap"
    v1 = register("good", "a" * 40)
    assert registry.promote(model_name=name, version=v1)["changed"]

    r, verdict = gate("good2", "b")
    assert r.returncode == 0, r.stderr
    assert verdict["mode"] == "compare" and verdict["production"]["version"] == v1
    v2 = register("good2", "b" * 40)
    assert v2 != v1 and register("good2", "b" * 40) == v2  # idempotent on PostgreSQL too
    tags = MlflowClient(server.uri).get_model_version(name, v2).tags
    assert tags[names.TAG_GATE_PASSED] == "true" and tags[names.TAG_GIT_COMMIT] == "b" * 40
    promoted = cli("promote", "--model-name", name, "--version", v2, env=env)
    assert promoted.returncode == 0, promoted.stderr

    r, verdict = gate("bad", "c")
    assert r.returncode == 2 and not verdict["passed"]

    def rollback():  # the registry only: no container to redeploy here
        return cli(
            *("rollback", "--model-name", name, "--app", "pg", "--port", "1"),
            "--no-redeploy",
            env=env,
        )

    rolled = rollback()
    assert rolled.returncode == 0, rolled.stderr
    client = MlflowClient(server.uri)
    assert tracking.version_by_alias(client, name, names.PRODUCTION).version == v1
    again = rollback()
    assert again.returncode == 1 and "no earlier production version" in again.stderr
    assert tracking.version_by_alias(client, name, names.PRODUCTION).version == v1


def test_concurrent_promotions_on_postgres(pg_mlflow, tmp_path):
    import mlflow

    server, models = pg_mlflow
    name = f"pgc-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(server.uri)
    versions = [str(mlflow.register_model(models["good"][1], name).version) for _ in range(5)]
    registry.promote(model_name=name, version=versions[0])
    events = run_concurrent_promotions(tmp_path, name, versions[1:], unlocked=False)
    assert chain_is_complete(events, versions[1:], versions[0])
