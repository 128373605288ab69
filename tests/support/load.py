"""A bounded load client on loopback: steady requests while a deployment changes.

A few threads each send one request at a time (closed loop) with a pause between requests, a
new TCP connection per request (so every request is routed afresh, as a new client would be).
A request fails when it cannot connect, times out, or answers anything but HTTP 200.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    def p99_ms(self) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def summary(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "p99_ms": round(self.p99_ms(), 1),
            "errors": dict(self.errors),
            "versions": dict(self.versions),
        }


class Load:
    """``with Load(port, payload) as load: ...change...``; ``load.result`` afterwards."""

    def __init__(
        self,
        port: int,
        payload: dict | None = None,
        *,
        host: str = "127.0.0.1",
        workers: int = 2,
        pause_s: float = 0.01,
        timeout_s: float = 5.0,
    ):
        self.host, self.port, self.workers = host, port, workers
        self.body = json.dumps(payload).encode() if payload is not None else None
        self.pause_s, self.timeout_s = pause_s, timeout_s
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Load:
        for _ in range(self.workers):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)

    def _one(self) -> tuple[bool, str, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.body is None:
                conn.request("GET", "/version")
            else:
                conn.request(
                    "POST",
                    "/invocations",
                    body=self.body,
                    headers={"Content-Type": "application/json"},
                )
            answer = conn.getresponse()
            data = answer.read()
            version = answer.getheader("X-Model-Version") or ""
            if self.body is None and answer.status == 200:
                version = str(json.loads(data).get("model_version", ""))
            return answer.status == 200, f"HTTP {answer.status}", version
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return False, type(exc).__name__, ""
        finally:
            conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            ok, what, version = self._one()
            elapsed = (time.perf_counter() - start) * 1000
            with self._lock:
                self.result.sent += 1
                self.result.latencies_ms.append(elapsed)
                if not ok:
                    self.result.failed += 1
                    self.result.errors[what] = self.result.errors.get(what, 0) + 1
                if version:
                    self.result.versions[version] = self.result.versions.get(version, 0) + 1
            time.sleep(self.pause_s)
