"""The generated project's infra/tracking: MLflow on PostgreSQL, artifacts in S3, basic-auth.

Run for real here as the plain-process set-up of its README: the toolkit's start-up
(`python -m mlops_toolkit.tracking.server`, tracking/server.py) against PostgreSQL
(.ci/postgres-up) and moto's S3 server on loopback (MinIO images cannot be pulled here), then
the toolkit's doctor, gate, register and promote through it with credentials from the
environment. The compose file is checked for structure only (no image can be pulled here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import yaml
from conftest import REPO, cli, log_model, run_gate
from support.servers import free_port, wait_http

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

INFRA = REPO / "{{cookiecutter.project_slug}}" / "infra" / "tracking"
PG_PORT = int(os.environ.get("MLOPS_PG_PORT", "5433"))
ADMIN, PASSWORD = "admin", "Team-adm1n:pw"
# The suite's PostgreSQL (.ci/postgres-up); a database name goes with it.
PG = {"host": "127.0.0.1", "port": PG_PORT, "user": "mlflow", "password": "mlflow"}
BUCKET = "team-artifacts"
SERVER = [sys.executable, "-m", "mlops_toolkit.tracking.server"]


def serve_env(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    return {**keep, **extra}


def refused(extra: dict[str, str]) -> subprocess.CompletedProcess:
    """The start-up with these settings alone, where it must refuse before MLflow starts."""
    return subprocess.run(
        SERVER,
        env=serve_env(extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    import boto3
    import psycopg2
    from moto.server import ThreadedMotoServer

    up = subprocess.run([str(REPO / ".ci" / "postgres-up")], capture_output=True, text=True)
    assert up.returncode == 0, up.stdout + up.stderr
    suffix = uuid.uuid4().hex[:8]
    dbs = [f"teamsetup_mlflow_{suffix}", f"teamsetup_auth_{suffix}"]
    conn = psycopg2.connect(**PG, dbname="postgres")
    conn.autocommit = True
    for db in dbs:
        conn.cursor().execute(f"CREATE DATABASE {db}")
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port)
    moto.start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    keys = {
        "AWS_ACCESS_KEY_ID": "teamsetup",
        "AWS_SECRET_ACCESS_KEY": "teamsetup-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=BUCKET)
    port = free_port()
    pg = f"postgresql+psycopg2://mlflow:mlflow@127.0.0.1:{PG_PORT}"
    env = serve_env({
        **keys,
        "MLFLOW_BACKEND_STORE_URI": f"{pg}/{dbs[0]}",
        "MLFLOW_AUTH_DATABASE_URI": f"{pg}/{dbs[1]}",
        "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{BUCKET}/artifacts",
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN, "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "teamsetup-tests-only",
        "MLFLOW_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
        "MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port), "MLFLOW_WORKERS": "1",
    })  # fmt: skip
    log = open(tmp_path_factory.mktemp("team") / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        SERVER,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(uri + "/health", timeout=120, proc=proc)
        # Every process the server started (the start-up execs into it: one session).
        listing = subprocess.run(["ps", "-s", str(proc.pid), "-o", "args="], capture_output=True)
        yield uri, s3, listing.stdout.decode(), dbs[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        moto.stop()
        for db in dbs:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        conn.close()


@pytest.fixture
def credentials(monkeypatch):
    """The admin's credentials in this process's environment, as CI's secrets give them."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    return {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": PASSWORD}


def test_serve_names_every_missing_setting_in_one_line():
    result = refused({})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "MLFLOW_BACKEND_STORE_URI" in result.stderr and "MLFLOW_AUTH_ADMIN_PASSWORD" in (
        result.stderr
    )


@pytest.mark.parametrize("ttl", ["1m", "-5", "²"])
def test_a_cache_ttl_that_is_not_whole_seconds_is_one_line(ttl):
    required = {
        "MLFLOW_BACKEND_STORE_URI": "postgresql+psycopg2://u:p@127.0.0.1:1/m",
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://b/a",
        "MLFLOW_AUTH_DATABASE_URI": "postgresql+psycopg2://u:p@127.0.0.1:1/a",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "pw",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "k",
    }
    result = refused({**required, "MLFLOW_AUTH_CACHE_TTL_SECONDS": ttl})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mlops_toolkit.tracking.server: error: MLFLOW_AUTH_CACHE_TTL_SECONDS must be whole "
        f"seconds (0: no cache), not {ttl!r}"
    ]


def test_a_checked_password_is_not_checked_again_on_every_request(team_server):
    """The start-up turns MLflow's credential cache on (60 s unless MLFLOW_AUTH_CACHE_TTL_SECONDS
    says otherwise): the server checks a user's scrypt hash once, not on each of a CI job's
    hundreds of requests. What a client can see of it is the README's stated price: a password
    changed in the database behind the server's back still lets the old one in, for a while."""
    import psycopg2
    import requests
    from werkzeug.security import generate_password_hash

    uri, _, _, auth_db = team_server
    user, old, new = f"bot-{uuid.uuid4().hex[:6]}", "Old-password-1234", "New-password-5678"
    created = requests.post(
        f"{uri}/api/2.0/mlflow/users/create",
        json={"username": user, "password": old},
        auth=(ADMIN, PASSWORD),
        timeout=60,
    )
    assert created.status_code == 200, created.text

    def answer(password: str) -> int:
        search = f"{uri}/api/2.0/mlflow/experiments/search?max_results=1"
        return requests.get(search, auth=(user, password), timeout=60).status_code

    assert answer(old) == 200  # checked against the hash, and remembered
    assert answer("not-the-password") == 401  # a refusal is never remembered
    conn = psycopg2.connect(**PG, dbname=auth_db)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "UPDATE users SET password_hash = %s WHERE username = %s",
                (generate_password_hash(new), user),
            )
            assert cursor.rowcount == 1
    finally:
        conn.close()
    assert answer(new) == 200  # the database's hash
    assert answer(old) == 200  # the cache's: no hash check for a password seen a moment ago


def test_gate_register_promote_through_auth_postgres_and_s3(
    team_server, credentials, dataset, holdout_csv, gate_yaml, tmp_path
):
    import mlflow
    from mlflow import MlflowClient

    uri, s3, _, _ = team_server
    env = {"MLFLOW_TRACKING_URI": uri, **credentials}
    doctor = cli("doctor", "--model-name", "team", env=env, cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "| artifact store | ok |" in doctor.stdout and "| model registry | ok |" in doctor.stdout

    old = mlflow.get_tracking_uri()
    try:
        run_id, model_uri = log_model(uri, dataset[0])
    finally:
        mlflow.set_tracking_uri(old)
    name = f"team-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "gate"
    gate = run_gate(name, model_uri, holdout_csv, gate_yaml(), out, **env)
    assert gate.returncode == 0, gate.stderr
    assert json.loads((out / "gate.json").read_text())["passed"] is True
    register = cli(
        "register",
        "--model-name",
        name,
        "--model-uri",
        model_uri,
        "--run-id",
        run_id,
        "--git-commit",
        "c" * 40,
        "--alias",
        "staging",
        env=env,
    )
    assert register.returncode == 0, register.stderr
    promote = cli("promote", "--model-name", name, "--version", "1", env=env)
    assert promote.returncode == 0, promote.stderr

    client = MlflowClient(uri)
    assert client.get_model_version_by_alias(name, "production").version == "1"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="artifacts/")["Contents"]]
    assert any(k.endswith("/MLmodel") for k in keys), keys[:20]  # the model went to S3


def test_the_server_starts_without_mlflows_genai_job_runner(team_server):
    """The start-up turns MLflow 3's job execution off (a job runner and seven huey consumers)."""
    _, _, processes, _ = team_server
    assert "mlflow server" in processes, processes
    assert "huey" not in processes and "_job_runner" not in processes, processes


def test_wrong_credentials_are_one_clear_line(team_server, tmp_path):
    uri, _, _, _ = team_server
    env = {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_TRACKING_USERNAME": ADMIN,
        "MLFLOW_TRACKING_PASSWORD": "hunter2-wrong",
    }
    result = cli("promote", "--model-name", "team", "--version", "1", env=env)
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"mlops-toolkit promote: error: MLflow tracking server {uri} refused the credentials "
        "(HTTP 401): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or "
        "MLFLOW_TRACKING_TOKEN) to a valid user"
    ]


def test_the_compose_file_wires_postgres_s3_and_basic_auth():
    """Structure only: images cannot be pulled here, so `docker compose up` is not run."""
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "minio", "create-bucket", "mlflow"}
    mlflow_env = services["mlflow"]["environment"]
    assert mlflow_env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert mlflow_env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert mlflow_env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert services["mlflow"]["build"] == "."
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert '"mlops-toolkit @ ${TOOLKIT}"' in dockerfile
    assert 'CMD ["python", "-m", "mlops_toolkit.tracking.server"]' in dockerfile
    # Every setting the start-up requires is given, and every secret must come from .env.
    from mlops_toolkit.tracking.server import REQUIRED

    assert set(REQUIRED) <= set(mlflow_env)
    for secret in ("POSTGRES_PASSWORD", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_SECRET_KEY"):
        assert f"${{{secret}:?" in (INFRA / "compose.yaml").read_text()
    depends = services["mlflow"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["create-bucket"]["condition"] == "service_completed_successfully"
    example = dict(
        line.split("=", 1)
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {
        "POSTGRES_PASSWORD",
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
        "MLFLOW_ADMIN_PASSWORD",
        "MLFLOW_SECRET_KEY",
    } <= set(example)


def test_the_image_s_toolkit_requirement_installs_the_start_up_from_an_archive(tmp_path):
    """The generated Dockerfile's pip requirement, `mlops-toolkit @ <archive>#subdirectory=actions`
    (GitHub's archive of the actions ref: no git in the slim image), served here from loopback:
    pip takes the subdirectory, and the installed start-up refuses an empty environment in one
    line, as in the image."""
    import http.server
    import tarfile
    import threading

    from support.project import bake

    dockerfile = (bake(tmp_path / "out") / "infra" / "tracking" / "Dockerfile").read_text()
    default = next(line for line in dockerfile.splitlines() if line.startswith("ARG TOOLKIT="))
    assert default == (
        "ARG TOOLKIT=https://github.com/your-org/cookiecutter-mlops/archive/v1.tar.gz"
        "#subdirectory=actions"
    )
    # The archive as GitHub makes it: one top folder holding the repository's tree.
    archive = tmp_path / "v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(
            REPO / "actions",
            "cookiecutter-mlops-1/actions",
            filter=lambda info: None if "__pycache__" in info.name else info,
        )
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1.tar.gz#subdirectory=actions"
        target = tmp_path / "site"
        install = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
             "--target", str(target), f"mlops-toolkit @ {url}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        server.shutdown()
    assert install.returncode == 0, install.stdout + install.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "mlops_toolkit.tracking.server"],
        env={**serve_env({}), "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("mlops_toolkit.tracking.server: error: set ")
    # The installed copy answered, not this checkout's.
    where = subprocess.run(
        [sys.executable, "-c", "import mlops_toolkit.tracking.server as m; print(m.__file__)"],
        env={**os.environ, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
