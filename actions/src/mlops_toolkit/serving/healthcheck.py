"""`python -m mlops_toolkit.serving.healthcheck`: exit 0 when THIS container's server is ready.

The image's HEALTHCHECK. It asks the server for /health on `SERVING_HEALTH_SOCKET` (a Unix
socket only that process listens on) when set, else on 127.0.0.1:`SERVING_PORT`. On a shared
port (SERVING_REUSE_PORT=1) the TCP probe may be answered by another replica, so a dead or
loading process would pass: there the socket is required.
"""

from __future__ import annotations

import socket
import sys

from .settings import Settings

TIMEOUT_S = 2.0
# One GET, read to its Content-Length (or to the server's close). A raw socket,
# not http.client: the probe runs every few seconds in every container, and importing
# http.client (and the email package under it) was a quarter of its CPU.
REQUEST = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
MAX_ANSWER = 64 * 1024


def probe(settings: Settings) -> str | None:
    """None when /health answers 200, else why not (one line)."""
    if settings.health_socket:
        family, address, where = socket.AF_UNIX, settings.health_socket, settings.health_socket
    elif settings.reuse_port:
        return "SERVING_REUSE_PORT=1 needs SERVING_HEALTH_SOCKET (the port is shared)"
    else:
        family, address = socket.AF_INET, ("127.0.0.1", settings.port)
        where = f"127.0.0.1:{settings.port}"
    try:
        answer = _get(family, address)
    except OSError as exc:
        return f"no answer on {where}: {exc}"
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return f"no HTTP answer on {where}: {status_line[:80]!r}"
    if parts[1] != "200":
        text = body[:200].decode("utf-8", "replace")
        return f"{where} /health: HTTP {parts[1]} {' '.join(text.split())}"
    return None


def _get(family: int, address: object) -> bytes:
    """The answer: headers and body, read to its Content-Length (or to the server's close)."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.connect(address)
        sock.sendall(REQUEST)
        answer = b""
        while len(answer) < MAX_ANSWER and not _complete(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def _complete(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value)
    return False  # no length: the server closes the connection after its answer


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
