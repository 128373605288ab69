"""`mlops-toolkit relay` as a process: Alertmanager-shaped webhook calls in, repository_dispatch
events out to the GitHub stand-in. Dedup, cool-down, auth, bad input, a GitHub outage, restarts.
(The same relay behind a real Prometheus and Alertmanager: tests/serving/test_monitor_alerting.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ACTIONS_SRC
from mlops_toolkit import names
from support.github_api import GitHubStandIn
from support.toolkit_cli import cli

REPO = "acme/churn"
WEBHOOK_TOKEN = "relay-secret-0123456789"


def alert(name: str, fingerprint: str, status: str = "firing", **labels: str) -> dict:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} on {labels.get('model_name', '?')}"},
        "startsAt": "2026-12-04T10:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def webhook(*alerts: dict) -> dict:
    return {"version": "4", "status": "firing", "receiver": "retrain", "alerts": list(alerts)}


class Relay:
    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc, self.url = proc, url

    def post(self, payload: Any, token: str | None = WEBHOOK_TOKEN) -> tuple[int, dict]:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return out


def start_relay(github: GitHubStandIn, *args: str, token: str = "test-token") -> Relay:
    env = {
        **os.environ,
        "PYTHONPATH": str(ACTIONS_SRC),
        names.ENV_GITHUB_TOKEN: token,
        names.ENV_GITHUB_API_URL: github.url,
        names.ENV_RELAY_TOKEN: WEBHOOK_TOKEN,
    }
    command = [sys.executable, "-m", "mlops_toolkit.cli", "relay", "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [*command, "--repository", REPO, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first = proc.stdout.readline()
    assert "listening on http://127.0.0.1:" in first, first + proc.stdout.read()
    url = first.split("listening on ")[1].split(",")[0]
    return Relay(proc, url)


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as stand_in:
        yield stand_in


def test_firing_alerts_dispatch_once_per_fingerprint_and_model(github, tmp_path) -> None:
    relay = start_relay(github, "--cooldown", "1h", "--state", str(tmp_path / "state.json"))
    try:
        perf = alert(
            names.ALERT_PERFORMANCE,
            "f1",
            model_name="churn",
            model_version="3",
            environment="production",
        )
        status, body = relay.post(webhook(perf))
        assert status == 200, body
        assert [d["action"] for d in body["decisions"]] == ["dispatched"]
        # Alertmanager re-sends the firing group; a drift alert on the same model follows;
        # another model's alert is its own; resolved and non-retrain alerts are ignored.
        drift = alert(names.ALERT_DRIFT, "f2", model_name="churn", environment="production")
        other = alert(names.ALERT_PERFORMANCE, "f3", model_name="fraud", environment="production")
        resolved = alert(names.ALERT_PERFORMANCE, "f4", status="resolved", model_name="x")
        latency = alert("ModelLatencyP99AboveSLO", "f5", model_name="churn")
        status, body = relay.post(webhook(perf, drift, other, resolved, latency))
        assert status == 200
        assert [d["action"] for d in body["decisions"]] == [
            "duplicate",
            "cooling-down",
            "dispatched",
            "resolved",
            "not-retrain",
        ]
    finally:
        out = relay.stop()
    assert [(d["repo"], d["event_type"]) for d in github.dispatches] == [
        (REPO, names.EVENT_RETRAIN)
    ] * 2
    payload = github.dispatches[0]["client_payload"]
    assert payload["alert"] == names.ALERT_PERFORMANCE
    assert (payload["model_name"], payload["model_version"]) == ("churn", "3")
    assert payload["environment"] == "production"
    assert payload["summary"] == f"{names.ALERT_PERFORMANCE} on churn"
    assert "dispatched: ModelPerformanceDegradation churn/3 (production)" in out
    assert "relay: stopped" in out
    assert "test-token" not in out and WEBHOOK_TOKEN not in out

    # A restart reads the state file: the cool-down holds across it.
    relay = start_relay(github, "--cooldown", "1h", "--state", str(tmp_path / "state.json"))
    try:
        status, body = relay.post(webhook(perf))
        assert [d["action"] for d in body["decisions"]] == ["duplicate"]
    finally:
        relay.stop()
    assert len(github.dispatches) == 2


def test_bad_calls_are_refused_in_one_line(github) -> None:
    relay = start_relay(github)
    try:
        perf = alert(names.ALERT_PERFORMANCE, "f1", model_name="churn")
        assert relay.post(webhook(perf), token=None)[0] == 401
        assert relay.post(webhook(perf), token="wrong")[0] == 401
        status, body = relay.post(b"{not json")
        assert (status, body["error"]) == (400, "body is not JSON")
        status, body = relay.post({"alerts": "none"})
        assert status == 400 and "no `alerts` list" in body["error"]
    finally:
        out = relay.stop()
    assert github.dispatches == []
    assert "refused a webhook call: body is not JSON" in out
    assert WEBHOOK_TOKEN not in out


def test_a_github_failure_answers_502_and_the_retry_dispatches(github) -> None:
    """GitHub refuses the token: nothing is recorded, so Alertmanager's retry (with a fixed
    token, here a second relay on the same state) dispatches."""
    relay = start_relay(github, token="revoked-token")
    perf = alert(names.ALERT_PERFORMANCE, "f1", model_name="churn")
    try:
        status, body = relay.post(webhook(perf))
        assert status == 502 and "answered 401: Bad credentials" in body["error"]
        status, body = relay.post(webhook(perf))
        assert status == 502  # not marked as dispatched
    finally:
        out = relay.stop()
    assert "dispatch failed (Alertmanager will retry)" in out
    assert "revoked-token" not in out
    assert github.dispatches == []


@pytest.mark.parametrize(
    "args,env,message",
    [
        (["--listen", "nowhere"], {}, "--listen 'nowhere' is not HOST:PORT"),
        (["--cooldown", "soon"], {}, "--cooldown 'soon' is not a duration"),
        ([], {names.ENV_GITHUB_TOKEN: ""}, "GITHUB_TOKEN is not set"),
        # Reachable from elsewhere without the webhook's token: refused before listening.
        (["--listen", "0.0.0.0:0"], {names.ENV_RELAY_TOKEN: ""}, "MLOPS_RELAY_TOKEN is not set"),
        (["--listen", "relay:0"], {names.ENV_RELAY_TOKEN: ""}, "refuses to listen on relay"),
    ],
)
def test_bad_options_end_in_one_line(tmp_path: Path, args, env, message) -> None:
    result = cli(
        "relay", "--repository", REPO, *args, env={names.ENV_GITHUB_TOKEN: "t", **env}, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
