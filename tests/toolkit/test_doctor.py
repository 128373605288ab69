"""`mlops-toolkit doctor` against real MLflow servers (plain and basic-auth), DVC and Docker; its
registry and artifact probe also on the in-memory MLflow client (fast tier)."""

from __future__ import annotations

import contextlib
import subprocess
from urllib.parse import quote

import pytest
from conftest import cli
from support.github_api import GitHubStandIn
from support.project import bake
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
        from mlops_toolkit.tracking import probe as tracking_check

        tracking_check.check_authenticated(server.uri, timeout_s=120)
    yield server
    stop(server.proc)


# Outside CI unless a test says so; no GitHub token of the machine leaks into a test.
GITHUB_VARS = ("GITHUB_ACTIONS", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL")


def doctor(*args: str, env: dict[str, str], cwd=None) -> subprocess.CompletedProcess:
    base = {name: "" for name in AUTH_VARS + GITHUB_VARS}
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
    from mlops_toolkit.compute import gpu

    if gpu.available():
        pytest.skip("a GPU is visible here")
    result = doctor(
        "--require-gpu",
        "--no-registry-checks",
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri},
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert rows(result.stdout)["gpu"][:2] == ["FAIL", "yes"]
    assert result.stderr.strip().endswith("failed: gpu")


def test_dvc_remote_is_checked_when_the_project_uses_dvc(tmp_path):
    subprocess.run(["dvc", "init", "--no-scm", "--quiet"], cwd=tmp_path, check=True)
    off = ["--local"]
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
        "--no-registry-checks",
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


# --- the registry and artifact probe on the in-memory client (tracking.connect) ----------------


@pytest.fixture
def fake(monkeypatch):
    """The in-memory client behind `tracking.connect`; `fake.made`: the models it registered."""
    from mlops_toolkit.tracking import client as tracking
    from support.fakes.mlflow import FakeMlflowClient

    client = FakeMlflowClient()
    monkeypatch.setattr(tracking, "connect", lambda uri=None: client)
    client.made = []
    create = client.create_registered_model

    def recorded(name, *args, **kwargs):
        client.made.append(name)
        return create(name, *args, **kwargs)

    monkeypatch.setattr(client, "create_registered_model", recorded)
    return client


def probe_leftovers(fake) -> tuple[list[str], list[str]]:
    """(the probe runs' lifecycle stages, the probe models still registered)."""
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException
    from mlops_toolkit.checks import environment

    experiment = fake.get_experiment_by_name(environment.DOCTOR_EXPERIMENT)
    found = fake.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
    kept = []
    for name in fake.made:
        with contextlib.suppress(MlflowException):
            kept.append(fake.get_registered_model(name).name)
    return [r.info.lifecycle_stage for r in found], kept


def test_the_probe_round_trips_registers_and_cleans_up(fake):
    from mlops_toolkit.checks import environment

    for _ in range(2):  # the second finds the doctor's experiment
        artifacts, registry = environment.registry_and_artifacts("http://mlflow.invalid", "m")
        assert artifacts.status == "ok" and "fake-artifacts:/" in artifacts.detail
        assert (registry.status, registry.detail) == (
            "ok", "created version 1, set an alias, deleted",
        )  # fmt: skip
    assert len(fake.made) == 2 and all(m.startswith("mlops-doctor.m.") for m in fake.made)
    assert probe_leftovers(fake) == (["deleted", "deleted"], [])


def test_a_refused_version_fails_the_registry_and_still_cleans_up(fake, monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED
    from mlops_toolkit.checks import environment

    def refuse(*args, **kwargs):
        raise MlflowException("Permission denied for model versions", PERMISSION_DENIED)

    monkeypatch.setattr(fake, "create_model_version", refuse)
    artifacts, registry = environment.registry_and_artifacts("http://mlflow.invalid", "m")
    assert artifacts.status == "ok" and registry.status == "FAIL"
    assert registry.detail.startswith("mlops-doctor.m.") and "Permission denied" in registry.detail
    assert probe_leftovers(fake) == (["deleted"], [])


# --- strict: what CI needs, named --------------------------------------------------------------


@pytest.mark.parametrize("uri", ["", "sqlite:///mlflow.db"])
def test_a_missing_or_local_tracking_uri_fails_and_names_the_setting(tmp_path, uri):
    result = doctor("--dvc", "false", env={"MLFLOW_TRACKING_URI": uri}, cwd=tmp_path)
    assert result.returncode == 1
    assert rows(result.stdout)["tracking server"][:2] == ["FAIL", "yes"]
    assert result.stderr.splitlines() == [
        "mlops-toolkit doctor: error: 1 required check(s) failed: tracking server; "
        "missing: MLFLOW_TRACKING_URI (repository variable)"
    ]


def test_local_checks_only_the_laptop(tmp_path):
    result = doctor("--local", env={"MLFLOW_TRACKING_URI": ""}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert set(table) == {"python", "tracking store", "dvc remote", "docker host", "gpu"}
    assert table["tracking store"][0] == "ok" and "mlflow.db" in table["tracking store"][2]
    assert not (tmp_path / "mlflow.db").exists()  # checked, not created
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.99"\n')
    result = doctor("--local", env={"MLFLOW_TRACKING_URI": ""}, cwd=tmp_path)
    assert result.returncode == 1 and "the project needs >=3.99" in rows(result.stdout)["python"][2]


# --- GitHub: the toolkit's ref and the runners (loopback stand-in of the REST API) -------------

REPO, TOOLKIT, SHA = "team/tumor", "your-org/cookiecutter-mlops", "a1b2c3d4e5f6" * 3 + "abcd"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return bake(tmp_path_factory.mktemp("doctor-gh"))  # gpu labels: self-hosted, linux, gpu


@pytest.fixture
def github():
    with GitHubStandIn() as api:
        yield api


def gh_doctor(project, github, mlflow_server, **env: str) -> subprocess.CompletedProcess:
    base = {
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPO,
        "GH_TOKEN": github.token,
    }
    return doctor("--no-registry-checks", "--dvc", "false", env={**base, **env}, cwd=project)


def test_an_unpublished_toolkit_and_no_runner_fail_in_one_line_each(project, github, mlflow_server):
    result = gh_doctor(project, github, mlflow_server)
    assert result.returncode == 1
    table = rows(result.stdout)
    assert table["toolkit ref"][0] == "FAIL"
    assert table["toolkit ref"][2].startswith(f"{TOOLKIT}@v1 does not resolve (HTTP 404)")
    assert table["runners"] == [
        "FAIL",
        "yes",
        f"no runner of {REPO} carries [self-hosted, linux, gpu]: its jobs queue 24 h, then fail "
        "(register one: docs/getting-started.md)",
    ]
    assert table["github settings"] == [
        "FAIL",
        "yes",
        f"missing on {REPO}: gh variable set MLFLOW_TRACKING_URI",
    ]
    assert result.stderr.strip().endswith(
        "failed: github settings, toolkit ref, runners; missing: MLFLOW_TRACKING_URI (variable)"
    )
    assert github.token not in result.stdout + result.stderr


def test_a_published_ref_and_a_labelled_runner_pass(project, github, mlflow_server):
    github.add_setting(REPO, "variables", "MLFLOW_TRACKING_URI")
    github.refs[(TOOLKIT, "refs/tags/v1")] = SHA
    github.add_runner(REPO, "cpu-box", ("self-hosted", "linux", "x64"))
    github.add_runner(REPO, "gpu-1", ("self-hosted", "Linux", "X64", "gpu"))
    result = gh_doctor(project, github, mlflow_server)
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert table["toolkit ref"] == ["ok", "yes", f"{TOOLKIT}@v1 = {SHA[:12]}"]
    assert table["runners"] == ["ok", "yes", "[self-hosted, linux, gpu]: gpu-1 online"]
    assert table["github settings"] == ["ok", "yes", f"MLFLOW_TRACKING_URI set on {REPO}"]
    assert ("GET", f"/repos/{REPO}/actions/runners?per_page=100") in github.requests


def test_an_offline_runner_or_an_unknown_ref_fail(project, github, mlflow_server):
    github.refs[(TOOLKIT, "refs/tags/v2")] = SHA  # the repository exists, v1 does not
    github.add_runner(REPO, "gpu-1", ("self-hosted", "linux", "gpu"), status="offline")
    table = rows(gh_doctor(project, github, mlflow_server).stdout)
    assert table["toolkit ref"][2].startswith(f"{TOOLKIT}@v1 does not resolve (HTTP 422)")
    assert table["runners"][:2] == ["FAIL", "yes"] and "gpu-1 offline" in table["runners"][2]


def test_without_a_token_a_public_ref_resolves_and_runners_name_gh_token(
    project, github, mlflow_server
):
    github.refs[(TOOLKIT, "refs/tags/v1")] = SHA
    github.public.add(TOOLKIT)
    table = rows(gh_doctor(project, github, mlflow_server, GH_TOKEN="").stdout)
    assert table["toolkit ref"][0] == "ok"
    assert table["runners"][0] == "FAIL" and "GH_TOKEN" in table["runners"][2]


def test_in_ci_github_checks_are_skipped(project, github, mlflow_server):
    result = gh_doctor(project, github, mlflow_server, GITHUB_ACTIONS="true")
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert table["toolkit ref"][:2] == table["runners"][:2] == ["skip", "no"]
    assert table["github settings"][:2] == ["skip", "no"]
    assert not github.requests


def test_settings_count_in_an_environment_and_a_private_registry_needs_its_password(
    tmp_path, github, mlflow_server
):
    own = bake(tmp_path, container_registry="registry.example.com/team", gpu_runner_labels="")
    github.add_setting(REPO, "variables", "MLFLOW_TRACKING_URI", where="environments/production/")
    result = gh_doctor(own, github, mlflow_server)
    table = rows(result.stdout)
    assert table["github settings"][:2] == ["FAIL", "yes"], table
    assert table["github settings"][2] == f"missing on {REPO}: gh secret set REGISTRY_PASSWORD"
    assert "missing: REGISTRY_PASSWORD (secret)" in result.stderr
    github.add_setting(REPO, "secrets", "REGISTRY_PASSWORD", where="actions/organization-")
    assert rows(gh_doctor(own, github, mlflow_server).stdout)["github settings"][0] == "ok"
