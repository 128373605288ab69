"""The alerting half of the production loop, real on loopback: a project's monitoring/ config run
by Debian's Pushgateway, Prometheus and Alertmanager, with `mlops-toolkit relay` behind the
retrain route and stand-ins for Slack (HTTP) and email (a real SMTP server, aiosmtpd).

Only addresses, intervals, the rule's `for:` and the secrets' folder are changed from the
generated files (each change asserted to apply, so a template edit that moves one fails here,
not silently). Used by tests/serving/test_monitor_alerting.py and the e2e loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .servers import free_port, get_json, wait_until

REPO = Path(__file__).resolve().parents[2]
PROCESSES = ("pushgateway", "alertmanager", "prometheus", "relay")


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} not found: .ci/serving-up installs it (Debian packages)")
    return path


class Slack:
    """Slack's incoming webhook: records each message posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T/B/X"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages.append(envelope)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@dataclass
class Stack:
    urls: dict[str, str]  # pushgateway, alertmanager, prometheus, relay
    slack: Slack
    mailbox: Mailbox
    logs: dict[str, Path]
    tmp: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.urls['prometheus']}/api/v1/query?query={urllib.parse.quote(promql)}"
        return get_json(url)["data"]["result"]

    def alerts(self, name: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Prometheus's alerts (pending and firing), of ``name`` and ``state`` when given."""
        found = get_json(f"{self.urls['prometheus']}/api/v1/alerts")["data"]["alerts"]
        return [
            a
            for a in found
            if (name is None or a["labels"]["alertname"] == name)
            and (state is None or a["state"] == state)
        ]

    def alertmanager_alerts(self) -> list[dict[str, Any]]:
        return get_json(f"{self.urls['alertmanager']}/api/v2/alerts")

    def last_evaluation(self, group: str) -> float:
        """When Prometheus last evaluated the rule group (epoch seconds; 0 before the first)."""
        from datetime import datetime

        groups = get_json(f"{self.urls['prometheus']}/api/v1/rules")["data"]["groups"]
        stamp = next(g["lastEvaluation"] for g in groups if g["name"] == group)
        if stamp.startswith("0001-"):
            return 0.0
        whole, _, rest = stamp.rstrip("Z").partition(".")
        return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{rest or 0}")


def _start(cmd: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **env}
    )


def _edited(text: str, changes: list[tuple[str, str]]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


def _configure(monitoring: Path, tmp: Path, ports: dict, serving: str, slack, mailbox) -> None:
    secrets = tmp / "secrets"
    secrets.mkdir()
    (secrets / "slack_webhook_url").write_text(slack.url)
    (secrets / "smtp_password").write_text("smtp-password")
    am = _edited(
        (monitoring / "alertmanager.yml").read_text(),
        [
            ("/etc/alertmanager/secrets", str(secrets)),
            ("http://relay:9095/", f"http://127.0.0.1:{ports['relay']}/"),
            ("smtp.example.com:587", f"127.0.0.1:{mailbox.port}"),
            ("smtp_require_tls: true", "smtp_require_tls: false"),
            ("group_wait: 30s", "group_wait: 1s"),
            ("group_interval: 5m", "group_interval: 1s"),
        ],
    )
    (tmp / "alertmanager.yml").write_text(am)
    prom = (monitoring / "prometheus.yml").read_text()
    if '"serving:8080"' in prom:  # one static target
        prom = prom.replace('"serving:8080"', f'"{serving}"')
    else:  # the docker host's file_sd targets (compose.yaml writes them from PRODUCTION_TARGET)
        assert 'files: ["targets/*.yml"]' in prom, "prometheus.yml: no serving target found"
        (tmp / "targets").mkdir()
        (tmp / "targets" / "production.yml").write_text(
            f'- targets: ["{serving}"]\n  labels:\n    environment: production\n'
        )
    prom = _edited(
        prom,
        [
            ('"pushgateway:9091"', f'"127.0.0.1:{ports["pushgateway"]}"'),
            ('"alertmanager:9093"', f'"127.0.0.1:{ports["alertmanager"]}"'),
            ("scrape_interval: 15s", "scrape_interval: 1s"),
            ("evaluation_interval: 15s", "evaluation_interval: 1s"),
        ],
    )
    (tmp / "prometheus.yml").write_text(prom)
    rules = (monitoring / "alerts.yml").read_text()
    assert rules.count("for: 10m") == 1  # the quality rule's: seconds here, not minutes
    (tmp / "alerts.yml").write_text(rules.replace("for: 10m", "for: 1s"))


@contextlib.contextmanager
def stack(
    monitoring: Path,
    tmp: Path,
    *,
    github_url: str,
    github_token: str,
    repository: str,
    relay_token: str,
    serving: str | None = None,
) -> Iterator[Stack]:
    """The four processes on free ports, ready. ``serving``: the scoring server Prometheus
    scrapes (host:port; default a free port where nothing answers, so `up` is 0)."""
    tmp.mkdir(parents=True, exist_ok=True)
    ports = {k: free_port() for k in PROCESSES}
    slack, mailbox = Slack(), Mailbox()
    _configure(monitoring, tmp, ports, serving or f"127.0.0.1:{free_port()}", slack, mailbox)
    (tmp / "secrets" / "relay_token").write_text(relay_token)
    logs = {k: tmp / f"{k}.log" for k in PROCESSES}
    procs = [
        # Debian's default persistence file is one per machine: every Pushgateway started with
        # it brings back the groups another test pushed (their alerts fired here).
        _start([binary("prometheus-pushgateway"),
                f"--web.listen-address=127.0.0.1:{ports['pushgateway']}",
                f"--persistence.file={tmp / 'pushgateway.data'}"], logs["pushgateway"]),
        _start([binary("prometheus-alertmanager"), f"--config.file={tmp / 'alertmanager.yml'}",
                f"--storage.path={tmp / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                "--cluster.listen-address="], logs["alertmanager"]),
        _start([binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}"], logs["prometheus"]),
        _start([sys.executable, "-m", "mlops_toolkit.cli", "relay", "--listen",
                f"127.0.0.1:{ports['relay']}", "--repository", repository, "--cooldown", "1h"],
               logs["relay"], PYTHONPATH=str(REPO / "actions" / "src"), GITHUB_TOKEN=github_token,
               GITHUB_API_URL=github_url, MLOPS_RELAY_TOKEN=relay_token),
    ]  # fmt: skip
    urls = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    try:
        for name in PROCESSES:
            ready = urls[name] + ("/health" if name == "relay" else "/-/ready")
            wait_until(name, lambda ready=ready: urllib.request.urlopen(ready, timeout=5))
        yield Stack(urls, slack, mailbox, logs, tmp)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        mailbox.controller.stop()
        slack.server.shutdown()
