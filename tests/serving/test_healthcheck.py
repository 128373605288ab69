"""The image's HEALTHCHECK probe (serving/healthcheck.py) against small servers on loopback and a
Unix socket: what it reads as healthy, and the one line it gives otherwise."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlops_toolkit.serving.healthcheck import probe
from mlops_toolkit.serving.settings import Settings

pytestmark = pytest.mark.fast


def _serve(listener: socket.socket, answer: bytes, close: bool) -> None:
    """Answer one request; keep the connection open after it unless `close` (a keep-alive
    server: the probe must stop at Content-Length, not wait for the close)."""
    conn, _ = listener.accept()
    with conn:
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        assert request.startswith(b"GET /health HTTP/1.1\r\n")
        conn.sendall(answer)
        if not close:
            conn.recv(1)  # until the probe hangs up


@pytest.fixture
def tcp() -> Iterator[tuple[socket.socket, Settings]]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener, Settings.from_env({}, port=listener.getsockname()[1])


def _answer(status: str, body: bytes, length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "closes"])
def test_200_is_healthy_whether_or_not_the_server_closes(tcp, close: bool) -> None:
    listener, settings = tcp
    thread = threading.Thread(
        target=_serve, args=(listener, _answer("200 OK", b'{"status":"ok"}'), close)
    )
    thread.start()
    assert probe(settings) is None
    thread.join(5)


def test_503_is_one_line_with_the_servers_words(tcp) -> None:
    listener, settings = tcp
    body = b'{"status": "loading",\n "detail": "model not loaded yet"}'
    thread = threading.Thread(target=_serve, args=(listener, _answer("503 X", body, False), True))
    thread.start()
    problem = probe(settings)
    thread.join(5)
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"127.0.0.1:{settings.port} /health: HTTP 503 ")
    assert "model not loaded yet" in problem


def test_what_is_not_http_or_not_there_is_one_line(tcp) -> None:
    listener, settings = tcp
    thread = threading.Thread(target=_serve, args=(listener, b"SSH-2.0-OpenSSH\r\n\r\n", True))
    thread.start()
    assert "no HTTP answer" in (probe(settings) or "")
    thread.join(5)
    listener.close()
    assert (probe(settings) or "").startswith(f"no answer on 127.0.0.1:{settings.port}: ")


def test_the_unix_socket_is_asked_and_required_on_a_shared_port(tmp_path: Path) -> None:
    path = str(tmp_path / "health.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        settings = Settings.from_env({}, health_socket=path, reuse_port=True)
        thread = threading.Thread(target=_serve, args=(listener, _answer("200 OK", b"{}"), False))
        thread.start()
        assert probe(settings) is None
        thread.join(5)
    shared = Settings.from_env({}, reuse_port=True)
    assert "needs SERVING_HEALTH_SOCKET" in (probe(shared) or "")
