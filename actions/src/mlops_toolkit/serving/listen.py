"""The server's listening sockets, bound here so that the order of load and bind is ours.

With `SERVING_REUSE_PORT=1` several servers (replicas on the host network, or the old and the
new container during a handover) share one port: each binds it with SO_REUSEPORT and the
kernel spreads new connections over every listener, whether its model is loaded or not. So a
sharing server binds only once it can answer (see `__main__.serve`). `SERVING_HEALTH_SOCKET`
adds a Unix socket only this process listens on: the health check asks it there, because a
probe of the shared port may reach another replica.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket

from .settings import Settings

log = logging.getLogger(__name__)

BACKLOG = 2048  # uvicorn's default


def tcp(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A bound (not yet listening) TCP socket; uvicorn calls listen() when it serves."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def unix(path: str) -> socket.socket:
    """This process's private socket; a file left by a killed predecessor is replaced."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    return sock


MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"


def sockets(settings: Settings) -> list[socket.socket]:
    if settings.reuse_port:
        _warn_unless_queues_migrate()
    bound = [tcp(settings.host, settings.port, settings.reuse_port)]
    if settings.health_socket:
        bound.append(unix(settings.health_socket))
    return bound


def _warn_unless_queues_migrate() -> None:
    """Without net.ipv4.tcp_migrate_req=1 the kernel resets the connections still queued at a
    listener of a shared port when it closes (a stopping replica): say so once, at start."""
    try:
        with open(MIGRATE_REQ, encoding="ascii") as fh:
            if fh.read().strip() == "1":
                return
    except OSError:
        return  # not Linux, or a kernel without it: nothing to advise
    log.warning(
        "net.ipv4.tcp_migrate_req is 0 on this host: a stopping replica resets the connections "
        "still queued at it; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1) for handovers "
        "without a failed request"
    )
