"""Debian's Pushgateway on loopback, for the tests that push to it: a fixture that starts one,
what it serves Prometheus (`pushed`, `series`), and an authenticating proxy in front of it
(`AuthProxy`, as a Pushgateway reached from a hosted runner asks for credentials)."""

from __future__ import annotations

import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.alerting import binary
from support.servers import free_port, stop, wait_http


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """Debian's Pushgateway on a free loopback port, with a persistence file of its own (the
    default one is the machine's: it would bring back another test's groups)."""
    port = free_port()
    with (tmp_path / "pushgateway.log").open("w") as log:
        proc = subprocess.Popen(
            [binary("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}",
             f"--persistence.file={tmp_path / 'pushgateway.data'}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", proc=proc)
        yield url
    finally:
        stop(proc)


def pushed(url: str) -> dict[tuple[str, frozenset], float]:
    """What the Pushgateway serves Prometheus: {(sample, labels): value}, its own series left
    out (push times, the Go runtime's)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "job" in sample.labels and not sample.name.startswith("push_")
    }


def series(found: dict, name: str, **labels: str) -> dict[frozenset, float]:
    """The samples named `name` that carry `labels` (and any others)."""
    want = set(labels.items())
    return {key: v for (n, key), v in found.items() if n == name and want <= key}


class AuthProxy:
    """An authenticating proxy in front of a Pushgateway, on loopback: a PUT with the expected
    Authorization header is passed on, any other answered 401. Records what it was sent."""

    def __init__(self, upstream: str, authorization: str) -> None:
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                given = self.headers.get("Authorization")
                outer.requests.append((self.path, given))
                if given != authorization:
                    self._answer(401, b"401 Unauthorized: sign in")
                    return
                forward = urllib.request.Request(
                    upstream + self.path, data=body, method="PUT",
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                )  # fmt: skip
                try:
                    with urllib.request.urlopen(forward, timeout=10) as answer:
                        self._answer(answer.status, answer.read())
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, exc.read())

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> AuthProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
