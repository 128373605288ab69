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
import os
import socket

from .settings import Settings

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


def sockets(settings: Settings) -> list[socket.socket]:
    bound = [tcp(settings.host, settings.port, settings.reuse_port)]
    if settings.health_socket:
        bound.append(unix(settings.health_socket))
    return bound
