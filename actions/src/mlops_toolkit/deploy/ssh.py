"""The runner's way to a Docker engine over `DOCKER_HOST=ssh://user@host[:port]`.

The deploy key (a secret) and the pinned host key (a repository variable) are written under
$RUNNER_TEMP, never in the workspace, next to an ssh config that uses only them
(StrictHostKeyChecking yes: an unknown or changed host key is refused, never accepted), and one
connection for the job's calls (OpenSSH's ControlMaster, `_control_path`): a deploy makes a
hundred docker calls, each an ssh client, and each new connection cost ~0.1 CPU-s of key
exchange and authentication on the runner, and more on the host (measured). A
wrapper named `ssh`, first on PATH for the later steps, applies that config: the Docker SDK
(`use_ssh_client`, see deploy/dockerhost.py) and the docker CLI both run `ssh` from PATH, and
OpenSSH reads ~/.ssh from the passwd entry, not $HOME, so PATH is the one place both honour.

A registry login (optional) goes into a Docker client config (DOCKER_CONFIG, also under
$RUNNER_TEMP): the SDK sends its credentials with every pull, so the remote engine can pull a
private image. The login itself is checked by the remote engine, which is the one that pulls.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError, ToolkitError

ENV_KEY = "DEPLOY_SSH_KEY"
ENV_KNOWN_HOSTS = "DEPLOY_SSH_KNOWN_HOSTS"
ENV_REGISTRY_PASSWORD = "REGISTRY_PASSWORD"
DIR_NAME = "mlops-ssh"
TIMEOUT_S = 60
CONTROL_PERSIST_S = 30


@dataclass(frozen=True)
class SshHost:
    """The engine's host as DOCKER_HOST=ssh://user@host[:port] names it."""

    user: str
    host: str
    port: int

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names this host (OpenSSH brackets a port other than 22)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"


def parse_docker_host(url: str) -> SshHost:
    parts = urlsplit(url.strip())
    if parts.scheme != "ssh" or not parts.hostname:
        raise InputError(f"DOCKER_HOST must be ssh://user@host[:port], not {url.strip()!r}")
    try:
        port = parts.port or 22
    except ValueError:
        raise InputError(f"DOCKER_HOST has an invalid port: {url.strip()!r}") from None
    return SshHost(user=parts.username or "", host=parts.hostname, port=port)


def setup(
    docker_host: str,
    key: str,
    known_hosts: str,
    base: Path,
    registry: str = "",
    username: str = "",
    password: str = "",
) -> dict[str, str]:
    """Write key, known_hosts, config and wrapper under base/mlops-ssh; check the engine answers.
    Returns the environment later steps need (PATH prefix, DOCKER_CONFIG) and the engine version."""
    remote = parse_docker_host(docker_host)
    if not key.strip():
        raise InputError(f"{ENV_KEY} is empty: set the deploy key as the secret {ENV_KEY}")
    if not known_hosts.strip():
        raise InputError(
            f"{ENV_KNOWN_HOSTS} is empty: pin the host key, e.g. "
            f"ssh-keyscan -p {remote.port} {remote.host} | gh variable set {ENV_KNOWN_HOSTS}"
        )
    home = base / DIR_NAME
    shutil.rmtree(home, ignore_errors=True)
    (home / "bin").mkdir(parents=True, mode=0o700)
    key_file = _write_private(home / "id_deploy", _normalised(key))
    _check_key(key_file)
    hosts_file = home / "known_hosts"
    hosts_file.write_text(_normalised(known_hosts), encoding="utf-8")
    _check_pinned(hosts_file, remote)
    config = home / "config"
    control = _control_path(home)
    if control is not None:  # a connection of an earlier setup in this job (another key): not it
        control.unlink(missing_ok=True)
    config.write_text(_config(remote, key_file, hosts_file, control), encoding="utf-8")
    wrapper = home / "bin" / "ssh"
    real = _real_ssh(skip=home / "bin")
    wrapper.write_text(f'#!/bin/sh\nexec "{real}" -F "{config}" "$@"\n', encoding="utf-8")
    wrapper.chmod(stat.S_IRWXU)
    version = check_engine(wrapper, remote)
    env = {"PATH": str(home / "bin")}
    if registry:
        env["DOCKER_CONFIG"] = str(login(home, wrapper, docker_host, registry, username, password))
    return {**env, "engine": version}


def _normalised(text: str) -> str:
    """A secret pasted from Windows or without its last newline still reads as OpenSSH's."""
    return text.replace("\r\n", "\n").strip() + "\n"


def _write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _real_ssh(skip: Path) -> str:
    """OpenSSH's ssh, never a wrapper left on PATH by an earlier run of this step."""
    dirs = os.environ.get("PATH", os.defpath).split(os.pathsep)
    found = shutil.which("ssh", path=os.pathsep.join(d for d in dirs if Path(d) != skip))
    if not found:
        raise ToolkitError("no ssh client on this runner: install openssh-client")
    return found


def _check_key(key_file: Path) -> None:
    # -P '': a key with a passphrase fails here instead of prompting; nothing of it is printed.
    result = _run(["ssh-keygen", "-y", "-P", "", "-f", str(key_file)])
    if result.returncode != 0:
        raise InputError(
            f"{ENV_KEY} is not a usable private key (OpenSSH or PEM, without a passphrase)"
        )


def _check_pinned(hosts_file: Path, remote: SshHost) -> None:
    result = _run(["ssh-keygen", "-F", remote.known_hosts_name, "-f", str(hosts_file)])
    if result.returncode != 0 or not result.stdout.strip():
        raise InputError(
            f"{ENV_KNOWN_HOSTS} has no key for {remote.known_hosts_name}: pin it with "
            f"ssh-keyscan -p {remote.port} {remote.host} | gh variable set {ENV_KNOWN_HOSTS}"
        )


def _control_path(home: Path) -> Path | None:
    """The shared connection's socket: this job's, in a folder only this user can open
    (core/private.py; the folder under $RUNNER_TEMP may be too deep for a socket's 108 bytes);
    None, and a connection per call, where there is no such folder."""
    import hashlib

    from ..core import private

    own = private.folder("mlops-ssh")
    if own is None:
        return None
    return own / hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]


def _config(remote: SshHost, key_file: Path, hosts_file: Path, control: Path | None) -> str:
    # The shared connection lives CONTROL_PERSIST_S after its last call, so it ends soon after
    # the job; the socket is reachable by this user alone, who can read the key anyway.
    shared = (
        f'  ControlMaster auto\n  ControlPath "{control}"\n  ControlPersist {CONTROL_PERSIST_S}\n'
        if control is not None
        else ""
    )
    return (
        f"Host {remote.host}\n"
        f"  Port {remote.port}\n"
        + (f"  User {remote.user}\n" if remote.user else "")
        + f'  IdentityFile "{key_file}"\n'
        "  IdentitiesOnly yes\n"
        f'  UserKnownHostsFile "{hosts_file}"\n'
        "  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n"
        "  UpdateHostKeys no\n"
        "  BatchMode yes\n"
        "  ConnectTimeout 20\n"
        "  ServerAliveInterval 30\n" + shared
    )


def check_engine(wrapper: Path, remote: SshHost) -> str:
    """`docker version` on the host, through the wrapper: the path the SDK takes later."""
    login = [f"{remote.user}@{remote.host}" if remote.user else remote.host]
    command = "docker version --format '{{.Server.Version}}'"
    result = _run([str(wrapper), "-p", str(remote.port), *login, command])
    if result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip().splitlines()[-1]
    raise ToolkitError(f"ssh to {remote}: {_why(result.stderr, remote)}")


def _why(stderr: str, remote: SshHost) -> str:
    text = stderr.lower()
    if "remote host identification has changed" in text or "host key verification" in text:
        return (
            f"host key verification failed: the key {remote.host} offers is not the one pinned "
            f"in {ENV_KNOWN_HOSTS} (a changed host, or a wrong pin)"
        )
    if "permission denied" in text:
        return f"the host refused the key in {ENV_KEY} (is its public key in authorized_keys?)"
    if "command not found" in text or "docker: not found" in text:
        return "connected, but the host has no docker command"
    if "cannot connect to the docker daemon" in text or "permission denied while" in text:
        return "connected, but that user cannot reach the Docker engine there"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no answer"


def login(
    home: Path, wrapper: Path, docker_host: str, registry: str, username: str, password: str
) -> Path:
    """A client config with the registry's credentials; the remote engine checks them first."""
    if not username or not password:
        raise InputError(
            f"registry login to {registry} needs a username and {ENV_REGISTRY_PASSWORD}"
        )
    _check_login(wrapper, docker_host, registry, username, password)
    config_dir = home / "docker"
    config_dir.mkdir(mode=0o700)
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    _write_private(
        config_dir / "config.json", json.dumps({"auths": {registry: {"auth": auth}}}, indent=2)
    )
    return config_dir


def _check_login(wrapper: Path, docker_host: str, registry: str, user: str, password: str) -> None:
    import docker

    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{wrapper.parent}{os.pathsep}{path}"
    try:
        client = docker.DockerClient(base_url=docker_host, use_ssh_client=True, timeout=TIMEOUT_S)
        # reauth: the engine asks the registry now, not a cached answer.
        client.login(username=user, password=password, registry=registry, reauth=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ToolkitError(
            f"the Docker engine at {docker_host} could not log in to {registry}: {first}"
        ) from None
    finally:
        os.environ["PATH"] = path


def _run(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ToolkitError(f"{Path(args[0]).name} timed out after {TIMEOUT_S} s") from None
    except FileNotFoundError:
        raise ToolkitError(f"{args[0]} not found: install openssh-client") from None


def base_dir() -> Path:
    """$RUNNER_TEMP on a runner (outside the workspace, wiped after the job), else a fresh
    private temporary folder."""
    runner_temp = os.environ.get("RUNNER_TEMP")
    return Path(runner_temp) if runner_temp else Path(tempfile.mkdtemp(prefix="mlops-"))
