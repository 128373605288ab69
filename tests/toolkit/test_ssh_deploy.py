"""`ssh-setup` and deploys over DOCKER_HOST=ssh:// against a real sshd on loopback (in front of
this machine's engine) and a real registry that demands a login."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from conftest import cli, outputs
from support.servers import free_port
from support.sshd import auth_registry, keygen, sshd

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def server(docker_engine, tmp_path_factory):
    with sshd(tmp_path_factory.mktemp("sshd")) as found:
        yield found


def key_body(key: str) -> str:
    """The secret part of an OpenSSH private key: what must never appear in any output."""
    return "".join(key.strip().splitlines()[1:-1])


def ssh_setup(tmp_path: Path, env: dict[str, str], *args: str):
    runner = tmp_path / "runner"
    runner.mkdir(parents=True, exist_ok=True)
    files = {n: tmp_path / n.lower() for n in ("GITHUB_PATH", "GITHUB_ENV", "GITHUB_OUTPUT")}
    for path in files.values():
        path.touch()
    full = {"RUNNER_TEMP": str(runner), **{k: str(v) for k, v in files.items()}, **env}
    return cli("ssh-setup", *args, env=full, timeout=120)


def later_step_env(tmp_path: Path, server) -> dict[str, str]:
    """What the runner gives the next steps: $GITHUB_PATH first on PATH, $GITHUB_ENV set."""
    extra = (tmp_path / "github_path").read_text().split()
    exported = dict(
        line.split("=", 1) for line in (tmp_path / "github_env").read_text().splitlines()
    )
    path = os.pathsep.join([*extra, os.environ["PATH"]])
    return {"DOCKER_HOST": server.docker_host, "PATH": path, "HOME": "/nonexistent", **exported}


def test_ssh_setup_writes_the_key_privately_and_reaches_the_engine(server, tmp_path):
    result = ssh_setup(tmp_path, server.env())
    assert result.returncode == 0, result.stderr
    assert "answers (Docker engine" in result.stdout
    assert key_body(server.key) not in result.stdout + result.stderr
    key = tmp_path / "runner" / "mlops-ssh" / "id_deploy"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() == server.key.strip()
    assert "StrictHostKeyChecking yes" in (key.parent / "config").read_text()
    assert outputs(tmp_path / "github_output")["engine-version"]
    # A later step's docker CLI (and the SDK, which runs the same `ssh`) goes through it, with
    # no ~/.ssh at all.
    env = {**os.environ, **later_step_env(tmp_path, server)}
    before = logins(server)
    for _ in range(3):
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], env=env, capture_output=True
        )
        assert info.returncode == 0, info.stderr
    # ... over the one connection ssh-setup opened (ControlMaster): no new login per call.
    assert logins(server) == before, (server.root / "sshd.log").read_text()[-2000:]


def logins(server) -> int:
    """Connections the host has authenticated so far (sshd's log)."""
    return (server.root / "sshd.log").read_text().count("Accepted publickey")


def wrong_host_key(server, tmp_path: Path) -> str:
    other = keygen(tmp_path / "other-host").with_suffix(".pub").read_text().split()[:2]
    return f"[127.0.0.1]:{server.port} {' '.join(other)}\n"


REFUSALS = {
    "no key": (lambda s, t: {"DEPLOY_SSH_KEY": ""}, "DEPLOY_SSH_KEY is empty"),
    "not a key": (
        lambda s, t: {"DEPLOY_SSH_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n"},
        "DEPLOY_SSH_KEY is not a usable private key",
    ),
    "no known_hosts": (
        lambda s, t: {"DEPLOY_SSH_KNOWN_HOSTS": " \n"},
        "DEPLOY_SSH_KNOWN_HOSTS is empty",
    ),
    "unpinned host": (
        lambda s, t: {"DEPLOY_SSH_KNOWN_HOSTS": s.known_hosts.replace(f"]:{s.port} ", "]:1 ")},
        "has no key for [127.0.0.1]:{port}: pin it with ssh-keyscan -p {port} 127.0.0.1",
    ),
    "key not authorized": (
        lambda s, t: {"DEPLOY_SSH_KEY": keygen(t / "stranger").read_text()},
        "the host refused the key in DEPLOY_SSH_KEY",
    ),
    "host key mismatch": (
        lambda s, t: {"DEPLOY_SSH_KNOWN_HOSTS": wrong_host_key(s, t)},
        "host key verification failed",
    ),
    "not ssh": (
        lambda s, t: {"DOCKER_HOST": "tcp://127.0.0.1:2375"},
        "DOCKER_HOST must be ssh://user@host[:port]",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_ssh_setup_refuses_in_one_line(server, tmp_path, case):
    change, expected = REFUSALS[case]
    env = {**server.env(), **change(server, tmp_path)}
    result = ssh_setup(tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected.format(port=server.port) in lines[0], result.stderr
    for key in (server.key, env["DEPLOY_SSH_KEY"]):
        if key_body(key):
            assert key_body(key) not in result.stdout + result.stderr
    assert (tmp_path / "github_path").read_text() == ""  # nothing exported for later steps


@pytest.fixture(scope="module")
def private_image(docker_engine, tmp_path_factory):
    """A tiny server (/health answers 200) pushed to a registry that demands a login, and absent
    from this engine: the deploy must pull it, with credentials."""
    root = tmp_path_factory.mktemp("registry")
    with auth_registry(root / "registry") as reg:
        context = root / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(
            "FROM python:3.11-slim\nRUN mkdir /srv/www && echo ok > /srv/www/health\n"
            'CMD ["python", "-m", "http.server", "8080", "-d", "/srv/www"]\n'
        )
        image = f"{reg.address}/h3ssh/tiny:{uuid.uuid4().hex[:8]}"
        docker_engine.images.build(path=str(context), tag=image)
        auth = {"username": reg.username, "password": reg.password}
        for line in docker_engine.images.push(image, auth_config=auth, stream=True, decode=True):
            assert "error" not in line, line
        docker_engine.images.remove(image)  # the layers stay (the base); the reference goes
        yield reg, image


def deploy(env: dict[str, str], image: str, app: str, port: int):
    return cli(
        "deploy",
        "--image",
        image,
        "--stage",
        "staging",
        "--app",
        app,
        "--port",
        str(port),
        "--publish",
        "ingress",
        "--no-smoke",
        "--health-timeout",
        "60",
        env=env,
        timeout=300,
    )


def test_deploy_over_ssh_pulls_a_private_image_with_the_registry_login(
    server, private_image, tmp_path, docker_engine
):
    reg, image = private_image
    app, port = f"h3ssh-{uuid.uuid4().hex[:6]}", free_port()
    try:
        # Without the login the remote engine cannot pull: the registry really demands it.
        bare = ssh_setup(tmp_path / "bare", server.env())
        assert bare.returncode == 0, bare.stderr
        refused = deploy(later_step_env(tmp_path / "bare", server), image, app, port)
        assert refused.returncode == 1 and "cannot pull" in refused.stderr, refused.stderr

        wrong = ssh_setup(
            tmp_path / "wrong",
            {**server.env(), "REGISTRY_PASSWORD": "not-it"},
            "--registry",
            reg.address,
            "--registry-username",
            reg.username,
        )
        assert wrong.returncode == 1 and "could not log in to" in wrong.stderr, wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1 and "not-it" not in wrong.stderr

        env = {**server.env(), "REGISTRY_PASSWORD": reg.password}
        args = ("--registry", reg.address, "--registry-username", reg.username)
        logged_in = ssh_setup(tmp_path / "login", env, *args)
        assert logged_in.returncode == 0, logged_in.stderr
        assert reg.password not in logged_in.stdout + logged_in.stderr
        config = Path(later_step_env(tmp_path / "login", server)["DOCKER_CONFIG"])
        assert stat.S_IMODE((config / "config.json").stat().st_mode) == 0o600
        assert not str(config).startswith(str(Path.cwd()))  # under RUNNER_TEMP

        result = deploy(later_step_env(tmp_path / "login", server), image, app, port)
        assert result.returncode == 0, result.stderr
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        for container in docker_engine.containers.list(all=True, filters={"name": app}):
            container.remove(force=True)
        for found in docker_engine.images.list(name=image.rsplit(":", 1)[0]):
            docker_engine.images.remove(found.id, force=True)
