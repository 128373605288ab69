"""A real OpenSSH server on loopback in front of this machine's Docker engine, and a real
registry that demands a login: what a team's deploy host and private registry are."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.servers import free_port, stop


@dataclass(frozen=True)
class Sshd:
    port: int
    key: str  # the authorized client's private key (OpenSSH text)
    known_hosts: str  # the pinned host key line, as `ssh-keyscan -p PORT 127.0.0.1` prints it
    root: Path

    @property
    def docker_host(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What the workflows pass: DOCKER_HOST, the key secret and the known_hosts variable."""
        return {
            "DOCKER_HOST": self.docker_host,
            "DEPLOY_SSH_KEY": self.key,
            "DEPLOY_SSH_KNOWN_HOSTS": self.known_hosts,
        }


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@contextmanager
def sshd(root: Path) -> Iterator[Sshd]:
    """`sshd -D` as root on 127.0.0.1:<free port>, a generated host key, one authorized key."""
    root.mkdir(parents=True, exist_ok=True)
    host, client = keygen(root / "host"), keygen(root / "client")
    port = free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\n"
        f"AuthorizedKeysFile {root / 'client.pub'}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nStrictModes no\n"
        f"UsePAM no\nPidFile {root / 'sshd.pid'}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    log = open(root / "sshd.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")], stderr=log
    )
    try:
        known = _keyscan(port, proc)
        yield Sshd(port=port, key=client.read_text(), known_hosts=known, root=root)
    finally:
        stop(proc)
        log.close()


def _keyscan(port: int, proc: subprocess.Popen) -> str:
    """The pin a team makes: ssh-keyscan's answer (waits until sshd listens)."""
    for _ in range(50):
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        found = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", "-p", str(port), "127.0.0.1"],
            capture_output=True,
            text=True,
        ).stdout
        if found.strip():
            return found
        time.sleep(0.2)
    raise RuntimeError(f"sshd did not answer on 127.0.0.1:{port}")


@dataclass(frozen=True)
class AuthRegistry:
    address: str  # localhost:PORT (the engine pulls from localhost without TLS)
    username: str
    password: str


@contextmanager
def auth_registry(root: Path, username: str = "deployer") -> Iterator[AuthRegistry]:
    """`docker-registry` (distribution) with htpasswd auth on a free loopback port."""
    import secrets

    import bcrypt  # paramiko's dependency (docker[ssh])

    password = secrets.token_urlsafe(12)
    root.mkdir(parents=True, exist_ok=True)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    (root / "htpasswd").write_text(f"{username}:{hashed}\n")
    port = free_port()
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: tests\n    path: {root / 'htpasswd'}\n"
    )
    log = open(root / "registry.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(root / "config.yml")], stdout=log, stderr=log
    )
    try:
        _wait_registry(port, proc)
        yield AuthRegistry(f"localhost:{port}", username, password)
    finally:
        stop(proc)
        log.close()


def _wait_registry(port: int, proc: subprocess.Popen) -> None:
    """/v2/ answers 401 once it listens (wait_http wants a 200: the health endpoint differs)."""
    import urllib.error
    import urllib.request

    for _ in range(100):
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
            raise RuntimeError("the registry answered without asking for a login")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"docker-registry did not answer on 127.0.0.1:{port}")
