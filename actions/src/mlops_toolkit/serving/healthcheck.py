"""`python -m mlops_toolkit.serving.healthcheck`: exit 0 when THIS container's server is ready.

The image's HEALTHCHECK. It asks the server for /health on `SERVING_HEALTH_SOCKET` (a Unix
socket only that process listens on) when set, else on 127.0.0.1:`SERVING_PORT`. On a shared
port (SERVING_REUSE_PORT=1) the TCP probe may be answered by another replica, so a dead or
loading process would pass: there the socket is required.
"""

from __future__ import annotations

import http.client
import socket
import sys

from .settings import Settings

TIMEOUT_S = 2.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=TIMEOUT_S)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def probe(settings: Settings) -> str | None:
    """None when /health answers 200, else why not (one line)."""
    if settings.health_socket:
        connection: http.client.HTTPConnection = _UnixConnection(settings.health_socket)
        where = settings.health_socket
    elif settings.reuse_port:
        return "SERVING_REUSE_PORT=1 needs SERVING_HEALTH_SOCKET (the port is shared)"
    else:
        connection = http.client.HTTPConnection("127.0.0.1", settings.port, timeout=TIMEOUT_S)
        where = f"127.0.0.1:{settings.port}"
    try:
        connection.request("GET", "/health")
        answer = connection.getresponse()
        body = answer.read(200).decode("utf-8", "replace")
    except OSError as exc:
        return f"no answer on {where}: {exc}"
    finally:
        connection.close()
    if answer.status != 200:
        return f"{where} /health: HTTP {answer.status} {' '.join(body.split())}"
    return None


def main() -> int:
    try:
        problem = probe(Settings.from_env())
    except ValueError as exc:
        problem = str(exc)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
