"""`mlops-toolkit doctor` against real MLflow servers (plain and basic-auth), DVC and Docker."""

from __future__ import annotations

import subprocess
from urllib.parse import quote

import pytest
from conftest import cli
from support.servers import free_port, start_mlflow, stop

ADMIN, PASSWORD = "admin", "Adm1n-s3cr3t:pw@x"
AUTH_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture(scope="module")
def auth_mlflow(tmp_path_factory):
    server = start_mlflow(tmp_path_factory.mktemp("mlflow-auth"), auth=(ADMIN, PASSWORD))
    # The auth app's first authenticated request (user store set-up) can take a while: pay it here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        mp.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
        from mlops_toolkit import tracking_check

        tracking_check.check_authenticated(server.uri, timeout_s=120)
    yield server
    stop(server.proc)


def doctor(*args: str, env: dict[str, str], cwd=None) -> subprocess.CompletedProcess:
    base = {name: "" for name in AUTH_VARS}
    return cli("doctor", "--model-name", "doctor-test", *args, env={**base, **env}, cwd=cwd)


def rows(stdout: str) -> dict[str, list[str]]:
    """check name -> [status, required, detail] from the printed table."""
    table = [line.strip("|").split(" | ") for line in stdout.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in table[1:]}


def probe_models(uri: str, **auth: str) -> list[str]:
    import mlflow

    env = dict(auth)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        found = mlflow.MlflowClient(uri).search_registered_models("name LIKE 'mlops-doctor.%'")
    return [m.name for m in found]


def test_every_check_passes_against_a_real_server_and_cleans_up(mlflow_server, tmp_path):
    result = doctor(env={"MLFLOW_TRACKING_URI": mlflow_server.uri}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert table["tracking server"][0] == "ok"
    assert table["artifact store"][0] == "ok" and "round trip" in table["artifact store"][2]
    assert table["model registry"] == ["ok", "yes", "created version 1, set an alias, deleted"]
    assert table["dvc remote"][0] == "skip" and table["gpu"][0] in ("skip", "ok")
    assert probe_models(mlflow_server.uri) == []


def test_basic_auth_with_credentials_from_the_environment(auth_mlflow, tmp_path):
    env = {
        "MLFLOW_TRACKING_URI": auth_mlflow.uri,
        "MLFLOW_TRACKING_USERNAME": ADMIN,
        "MLFLOW_TRACKING_PASSWORD": PASSWORD,
    }
    result = doctor(env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [
        rows(result.stdout)[c][0] for c in ("tracking server", "artifact store", "model registry")
    ] == ["ok"] * 3
    assert PASSWORD not in result.stdout + result.stderr
    assert (
        probe_models(
            auth_mlflow.uri, MLFLOW_TRACKING_USERNAME=ADMIN, MLFLOW_TRACKING_PASSWORD=PASSWORD
        )
        == []
    )


def test_basic_auth_with_credentials_in_the_uri(auth_mlflow, tmp_path):
    host = auth_mlflow.uri.split("//", 1)[1]
    uri = f"http://{ADMIN}:{quote(PASSWORD, safe='')}@{host}"
    result = doctor(env={"MLFLOW_TRACKING_URI": uri}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ADMIN}:***@{host}" in result.stdout
    assert quote(PASSWORD, safe="") not in result.stdout + result.stderr


@pytest.mark.parametrize("where", ["env", "uri"])
def test_wrong_credentials_are_one_clear_line_and_no_secret(auth_mlflow, tmp_path, where):
    wrong = "hunter2-Wrong-pw"
    host = auth_mlflow.uri.split("//", 1)[1]
    env = (
        {
            "MLFLOW_TRACKING_URI": auth_mlflow.uri,
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": wrong,
        }
        if where == "env"
        else {"MLFLOW_TRACKING_URI": f"http://{ADMIN}:{wrong}@{host}"}
    )
    result = doctor(env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert wrong not in result.stdout + result.stderr
    table = rows(result.stdout)
    assert table["tracking server"][0] == "FAIL"
    assert "refused the credentials (HTTP 401)" in table["tracking server"][2]
    assert table["model registry"][0] == "skip"
    assert result.stderr.splitlines() == [
        "mlops-toolkit doctor: error: 1 required check(s) failed: tracking server"
    ]


def test_a_dead_server_fails_and_the_rest_still_report(tmp_path):
    result = doctor(
        env={"MLFLOW_TRACKING_URI": f"http://u:hunter2@127.0.0.1:{free_port()}"}, cwd=tmp_path
    )
    assert result.returncode == 1 and "hunter2" not in result.stdout + result.stderr
    table = rows(result.stdout)
    assert "unreachable" in table["tracking server"][2] and "gpu" in table


def test_a_required_gpu_that_is_missing_fails(mlflow_server, tmp_path):
    from mlops_toolkit import gpu

    if gpu.available():
        pytest.skip("a GPU is visible here")
    result = doctor(
        "--require-gpu",
        "true",
        "--registry-checks",
        "false",
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri},
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert rows(result.stdout)["gpu"][:2] == ["FAIL", "yes"]
    assert result.stderr.strip().endswith("failed: gpu")


def test_dvc_remote_is_checked_when_the_project_uses_dvc(tmp_path):
    subprocess.run(["dvc", "init", "--no-scm", "--quiet"], cwd=tmp_path, check=True)
    off = ["--registry-checks", "false"]
    result = doctor(*off, env={"MLFLOW_TRACKING_URI": ""}, cwd=tmp_path)
    assert result.returncode == 1 and "no DVC remote" in rows(result.stdout)["dvc remote"][2]
    (tmp_path / "store").mkdir()
    subprocess.run(
        ["dvc", "remote", "add", "-d", "team", str(tmp_path / "store")], cwd=tmp_path, check=True
    )
    result = doctor(*off, env={"MLFLOW_TRACKING_URI": ""}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(result.stdout)["dvc remote"][:1] == ["ok"]
    assert rows(result.stdout)["dvc remote"][2].startswith("team (")


def test_docker_host_and_registry_login_never_show_the_password(tmp_path):
    dead = f"tcp://127.0.0.1:{free_port()}"
    result = doctor(
        "--registry-checks",
        "false",
        "--image-registry",
        "127.0.0.1:5000",
        "--registry-username",
        "ci",
        env={
            "MLFLOW_TRACKING_URI": "",
            "DOCKER_HOST": dead,
            "REGISTRY_PASSWORD": "hunter2-registry",
        },
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "hunter2-registry" not in result.stdout + result.stderr
    table = rows(result.stdout)
    assert table["docker host"][0] == "FAIL" and dead in table["docker host"][2]
    assert table["image registry"][0] == "skip"
