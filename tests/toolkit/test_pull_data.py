"""`mlops-toolkit pull-data` and doctor's DVC check against a real S3 API: moto's server on
loopback (MinIO images cannot be pulled here), with DVC's own S3 client (dvc-s3)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import cli, outputs
from support.servers import free_port

KEYS = {
    "AWS_ACCESS_KEY_ID": "pulldata",
    "AWS_SECRET_ACCESS_KEY": "pulldata-S3cret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ROWS = "a,b,target\n1,2,0\n3,4,1\n"


@pytest.fixture(scope="module")
def s3():
    """A bucket on moto's S3 server; yields its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket="team-data")
    yield endpoint
    server.stop()


def dvc(cwd: Path, *args: str, env: dict | None = None) -> None:
    import os

    done = subprocess.run(
        ["dvc", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def project(tmp_path) -> Path:
    """A git + DVC project whose data/external/data.csv is tracked by `dvc add`."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    dvc(tmp_path, "init", "--quiet")
    data = tmp_path / "data" / "external" / "data.csv"
    data.parent.mkdir(parents=True)
    data.write_text(ROWS)
    dvc(tmp_path, "add", "--quiet", "data/external/data.csv")
    return tmp_path


def pull(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"DVC_REMOTE_URL": "", "DVC_S3_ENDPOINT_URL": "", "GITHUB_ACTIONS": ""}
    return cli("pull-data", env={**base, "GITHUB_OUTPUT": str(cwd / "out"), **env}, cwd=cwd)


def ci_env(endpoint: str, prefix: str) -> dict[str, str]:
    return {
        **KEYS,
        "DVC_REMOTE_URL": f"s3://team-data/{prefix}",
        "DVC_S3_ENDPOINT_URL": endpoint,
    }


def push_then_forget(project: Path, env: dict[str, str]) -> None:
    """What a laptop did (push), then what a CI checkout has: the .dvc file only."""
    dvc(project, "remote", "add", "--default", "team", env["DVC_REMOTE_URL"])
    dvc(project, "remote", "modify", "--local", "team", "endpointurl", env["DVC_S3_ENDPOINT_URL"])
    dvc(project, "push", "--quiet", env=env)
    (project / "data" / "external" / "data.csv").unlink()
    subprocess.run(["rm", "-rf", ".dvc/cache", ".dvc/config.local"], cwd=project, check=True)


def test_no_dvc_in_the_project_says_so_and_succeeds(tmp_path):
    result = pull(tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert "no DVC remote configured" in result.stdout and "nothing to pull" in result.stdout
    assert outputs(tmp_path / "out") == {"pulled": "0", "remote": ""}


def test_pulls_from_s3_with_the_remote_and_keys_of_the_environment(project, s3):
    env = ci_env(s3, f"dvc-{uuid.uuid4().hex[:8]}")
    push_then_forget(project, env)
    # CI: the committed remote's URL is replaced by the variable's; keys from the secrets.
    result = pull(project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "data" / "external" / "data.csv").read_text() == ROWS
    assert "pulled 1 path(s) from DVC remote ci" in result.stdout
    assert outputs(project / "out") == {"pulled": "1", "remote": "ci"}
    assert KEYS["AWS_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr


def test_the_committed_remote_is_used_without_the_variable(project, s3):
    env = ci_env(s3, f"dvc-{uuid.uuid4().hex[:8]}")
    push_then_forget(project, env)
    result = pull(project, {**KEYS, "DVC_S3_ENDPOINT_URL": s3})
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(project / "out")["remote"] == "team"
    assert (project / "data" / "external" / "data.csv").read_text() == ROWS


def test_tracked_data_without_a_remote_is_one_line(project):
    (project / "data" / "external" / "data.csv").unlink()
    result = pull(project, {})
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "data/external/data.csv" in line and "DVC_REMOTE_URL" in line


def test_data_missing_from_the_remote_is_one_line(project, s3):
    env = ci_env(s3, f"never-pushed-{uuid.uuid4().hex[:8]}")
    (project / "data" / "external" / "data.csv").unlink()
    subprocess.run(["rm", "-rf", ".dvc/cache"], cwd=project, check=True)
    result = pull(project, env)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "dvc pull from ci (s3://team-data/never-pushed-" in line
    # Which data is missing: DVC lists it under its error line, the one line carries it.
    assert line.endswith("Checkout failed for following targets: data/external/data.csv"), line
    assert KEYS["AWS_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr


def test_an_unreachable_endpoint_is_one_line(project):
    env = ci_env(f"http://127.0.0.1:{free_port()}", "dvc")
    (project / "data" / "external" / "data.csv").unlink()
    subprocess.run(["rm", "-rf", ".dvc/cache"], cwd=project, check=True)
    result = pull(project, env)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "dvc pull from ci" in result.stderr


def test_a_remote_url_dvc_refuses_is_one_line_and_nothing_written(project):
    """DVC's own schema checks the URL (its Python API, no `dvc remote add`): one line."""
    before = (project / ".dvc" / "config").read_text()
    result = pull(project, {"DVC_REMOTE_URL": "foo://team-data/dvc"})
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "DVC_REMOTE_URL='foo://team-data/dvc': " in line and "Unsupported URL" in line
    assert (project / ".dvc" / "config").read_text() == before
    assert not (project / ".dvc" / "config.local").exists()


def doctor_dvc(cwd: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    base = {"MLFLOW_TRACKING_URI": "", "DVC_REMOTE_URL": "", "DVC_S3_ENDPOINT_URL": ""}
    # --local: the laptop's checks, DVC among them (CI's also need a tracking server).
    result = cli("doctor", "--local", env={**base, **env}, cwd=cwd)
    row = next(ln for ln in result.stdout.splitlines() if ln.startswith("| dvc remote |"))
    return result.returncode, [c.strip() for c in row.strip("|").split(" | ")][1:]


def test_doctor_checks_the_s3_remote(project, s3):
    env = ci_env(s3, f"doctor-{uuid.uuid4().hex[:8]}")
    code, row = doctor_dvc(project, env)
    assert code == 0 and row[0] == "ok" and "reachable, not in sync (dvc push)" in row[2], row
    dvc(project, "push", "--quiet", env=env)
    code, row = doctor_dvc(project, env)
    assert (code, row[0]) == (0, "ok") and row[2].startswith("ci (s3://team-data/doctor-"), row
    assert row[2].endswith("in sync") and "not in sync" not in row[2]
    code, row = doctor_dvc(
        project, {**env, "DVC_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert (code, row[0]) == (1, "FAIL") and "unreachable" in row[2], row
    assert KEYS["AWS_SECRET_ACCESS_KEY"] not in " ".join(row)


@pytest.mark.parametrize(
    "remote",
    [
        "http://alice:hunter2-dvc@{host}/team-data/dvc?token=T0KEN-dvc",
        "s3://pulldata:S3cret-in-url@team-data/never-pushed",
    ],
    ids=["http-userinfo-and-token", "s3-userinfo"],
)
def test_a_failing_pull_never_shows_the_remote_credentials(project, s3, tmp_path, remote):
    """The error line and the failure log (the PR comment) show the URL, its secrets masked."""
    url = remote.format(host=s3.removeprefix("http://"))
    (project / "data" / "external" / "data.csv").unlink()
    subprocess.run(["rm", "-rf", ".dvc/cache"], cwd=project, check=True)
    failures = tmp_path / "failures.log"
    env = {**ci_env(s3, "x"), "DVC_REMOTE_URL": url, "MLOPS_FAILURE_LOG": str(failures)}
    if url.startswith("http"):  # an HTTP remote has no S3 endpoint
        env["DVC_S3_ENDPOINT_URL"] = ""
    result = pull(project, env)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    logged = failures.read_text()
    assert "dvc pull from ci (" in line and ":***@" in line and ":***@" in logged, line
    for secret in ("hunter2-dvc", "T0KEN-dvc", "S3cret-in-url"):
        assert secret not in result.stdout + result.stderr + logged
