"""The relay: Alertmanager's webhook in, a GitHub `repository_dispatch` out.

Alertmanager POSTs a group of alerts (webhook payload version 4). For every *firing* alert whose
name asks for a retrain (`names.ALERT_PERFORMANCE`, `names.ALERT_DRIFT` by default) the relay
sends one `repository_dispatch` (`names.EVENT_RETRAIN`) whose client_payload names the alert,
the model, its version, the environment and the alert's summary; `retrain.yml` runs on it.

- Resolved alerts, and alerts of other names, are answered and ignored.
- Deduplicated by fingerprint: Alertmanager re-sends a firing group every `repeat_interval` (and
  again after a restart); an alert already dispatched is not dispatched again within the
  cool-down.
- One retrain per model and environment per cool-down: a drift alert that follows a
  performance alert of the same model waits (the first retrain will cover both).
- A dispatch that fails answers 502 and records nothing, so Alertmanager retries it.

The state (when each fingerprint and each model was last dispatched) is kept in memory and, with
a state file, across restarts. The GitHub token stays in the client's headers: never printed.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .. import names
from ..errors import InputError, ToolkitError

MAX_BODY = 1 << 20  # Alertmanager's groups are a few kB; refuse anything past 1 MiB
RETRAIN_ALERTS = (names.ALERT_PERFORMANCE, names.ALERT_DRIFT)
FIRING = "firing"


class WebhookError(InputError):
    """The request is not an Alertmanager webhook payload (answered 400)."""


@dataclass(frozen=True)
class Decision:
    """What the relay did with one alert of a webhook call."""

    alert: str
    fingerprint: str
    action: str  # dispatched | duplicate | cooling-down | resolved | not-retrain
    model_name: str = ""
    model_version: str = ""
    environment: str = ""

    def line(self) -> str:
        model = "/".join(p for p in (self.model_name, self.model_version) if p) or "?"
        where = f" ({self.environment})" if self.environment else ""
        return f"{self.action}: {self.alert} {model}{where} fingerprint {self.fingerprint}"


class Relay:
    """The decisions, the state and the dispatch; the HTTP server is `serve` below."""

    def __init__(
        self,
        dispatch: Callable[[str, dict], None],
        *,
        event_type: str = names.EVENT_RETRAIN,
        alerts: tuple[str, ...] = RETRAIN_ALERTS,
        cooldown: float = 6 * 3600,
        state_path: Path | None = None,
        model_name: str = "",
        environment: str = "",
        clock: Callable[[], float] = time.time,
    ):
        self.dispatch = dispatch
        self.event_type = event_type
        self.alerts = frozenset(alerts)
        self.cooldown = cooldown
        self.state_path = state_path
        self.defaults = {"model_name": model_name, "environment": environment}
        self.clock = clock
        self.lock = threading.Lock()  # one webhook call at a time: no double dispatch
        self.fingerprints: dict[str, float] = {}
        self.models: dict[str, float] = {}
        self._load()

    def handle(self, payload: Any) -> list[Decision]:
        """Every alert of one webhook call, decided and (when due) dispatched in order."""
        alerts = _alerts(payload)
        with self.lock:
            decisions = [self._one(alert) for alert in alerts]
        return decisions

    def _one(self, alert: dict) -> Decision:
        labels = alert.get("labels") or {}
        decision = Decision(
            alert=str(labels.get("alertname", "")),
            fingerprint=str(alert.get("fingerprint", "")),
            action="",
            model_name=str(labels.get("model_name") or self.defaults["model_name"]),
            model_version=str(labels.get("model_version", "")),
            environment=str(labels.get("environment") or self.defaults["environment"]),
        )
        now = self.clock()
        model_key = f"{decision.model_name}|{decision.environment}"
        if alert.get("status") != FIRING:
            action = "resolved"
        elif decision.alert not in self.alerts:
            action = "not-retrain"
        elif now - self.fingerprints.get(decision.fingerprint, -1e18) < self.cooldown:
            action = "duplicate"
        elif now - self.models.get(model_key, -1e18) < self.cooldown:
            action = "cooling-down"
        else:
            self.dispatch(self.event_type, _client_payload(decision, alert))
            self.fingerprints[decision.fingerprint] = now
            self.models[model_key] = now
            self._save()
            action = "dispatched"
        return Decision(**{**asdict(decision), "action": action})

    # --- state across restarts ------------------------------------------------------------

    def _load(self) -> None:
        if self.state_path is None or not self.state_path.is_file():
            return
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.fingerprints = {str(k): float(v) for k, v in state["fingerprints"].items()}
            self.models = {str(k): float(v) for k, v in state["models"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"relay state {self.state_path} is not the relay's JSON") from None

    def _save(self) -> None:
        if self.state_path is None:
            return
        horizon = self.clock() - self.cooldown  # forget what no longer matters
        state = {
            "fingerprints": {k: v for k, v in self.fingerprints.items() if v > horizon},
            "models": {k: v for k, v in self.models.items() if v > horizon},
        }
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_path)


def _alerts(payload: Any) -> list[dict]:
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise WebhookError("not an Alertmanager webhook payload: no `alerts` list")
    alerts = payload["alerts"]
    if not all(isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in alerts):
        raise WebhookError("not an Alertmanager webhook payload: an alert without labels")
    return alerts


def _client_payload(decision: Decision, alert: dict) -> dict[str, str]:
    """At most 10 keys (GitHub's limit for client_payload), every value a string."""
    annotations = alert.get("annotations") or {}
    labels = alert.get("labels") or {}
    return {
        "alert": decision.alert,
        "model_name": decision.model_name,
        "model_version": decision.model_version,
        "environment": decision.environment,
        "summary": str(annotations.get("summary", ""))[:1000],
        "severity": str(labels.get("severity", "")),
        "fingerprint": decision.fingerprint,
        "starts_at": str(alert.get("startsAt", "")),
        "url": str(alert.get("generatorURL", ""))[:1000],
    }


# --- the HTTP server ---------------------------------------------------------------------------


def make_server(relay: Relay, host: str, port: int, token: str = "") -> ThreadingHTTPServer:
    """A server on host:port (port 0: any free one); `serve_forever` to run it."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "mlops-relay"

        def log_message(self, *args: Any) -> None:  # one line per decision instead
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in ("/health", "/-/healthy", "/-/ready"):
                return self._answer(200, {"status": "ok"})
            self._answer(404, {"error": "not found: POST Alertmanager's webhook to /"})

        def do_POST(self) -> None:
            if token and not hmac.compare_digest(
                self.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
            ):
                return self._answer(401, {"error": "missing or wrong bearer token"})
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._answer(411, {"error": "Content-Length required"})
            if length > MAX_BODY:
                return self._answer(413, {"error": f"body over {MAX_BODY} bytes"})
            try:
                payload = json.loads(self.rfile.read(length) or b"null")
                decisions = relay.handle(payload)
            except (ValueError, WebhookError) as exc:
                message = str(exc) if isinstance(exc, WebhookError) else "body is not JSON"
                _say(f"refused a webhook call: {message}")
                return self._answer(400, {"error": message})
            except ToolkitError as exc:  # GitHub refused or unreachable: Alertmanager retries
                _say(f"dispatch failed (Alertmanager will retry): {exc}")
                return self._answer(502, {"error": str(exc)})
            for decision in decisions:
                _say(decision.line())
            self._answer(200, {"decisions": [asdict(d) for d in decisions]})

    return ThreadingHTTPServer((host, port), Handler)


def _say(line: str) -> None:
    print(f"relay: {line}", file=sys.stdout, flush=True)


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:9095` -> ("127.0.0.1", 9095); `:9095` listens on every address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--listen {text!r} is not HOST:PORT (e.g. 127.0.0.1:9095)")
    return host.strip("[]") or "0.0.0.0", int(port)
