"""The loop from labels to a retrain request, with every part real on loopback:

prediction store (SQLite) -> `mlops-toolkit monitor` -> Pushgateway (Debian) -> Prometheus
(Debian, the generated prometheus.yml and alerts.yml) -> Alertmanager (Debian, the generated
alertmanager.yml) -> `mlops-toolkit relay` -> the GitHub stand-in's repository_dispatch; the
critical route's email reaches a real SMTP server (aiosmtpd) and Slack a loopback stand-in.

Only addresses, intervals and the rule's `for:` are shortened for the test; one stack per module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlops_toolkit import metrics as registry
from mlops_toolkit import names
from mlops_toolkit.monitoring.store import Label, Prediction, new_ids, open_store
from support import alerting
from support.github_api import GitHubStandIn
from support.servers import get_json as _get
from support.servers import wait_until as _wait
from support.toolkit_cli import cli

# One worker for the module: its tests share one stack, and run in this order.
pytestmark = pytest.mark.xdist_group("serving-monitor-alerting")
REPO = Path(__file__).resolve().parents[2]
F1 = registry.default(registry.CLASSIFICATION)
GITHUB_REPO = "acme/tumor-classifier"
RELAY_TOKEN = "relay-token-for-the-test-0123"
MODEL = "tumor-classifier"


@pytest.fixture(scope="module")
def stack(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with (
        GitHubStandIn() as github,
        alerting.stack(
            project / "monitoring",
            tmp_path_factory.mktemp("alerting"),
            github_url=github.url,
            github_token=github.token,
            repository=GITHUB_REPO,
            relay_token=RELAY_TOKEN,
        ) as running,
    ):
        yield {
            **running.urls,
            "github": github,
            "slack": running.slack,
            "mailbox": running.mailbox,
            "tmp": running.tmp,
            "logs": running.logs,
            "project": project,
        }


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    return _get(f"{base}/api/v1/query?query={urllib.parse.quote(promql)}")["data"]["result"]


def _alerts(base: str, name: str) -> list[dict[str, Any]]:
    alerts = _get(f"{base}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name]


def _predictions(store_url: str, n: int, version: str, seed: int) -> tuple[list[str], Any]:
    """n calibrated, scored rows of `version`; returns their ids and the model's answers."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    predicted = (p > 0.5).astype(int)
    now = time.time()
    ids = new_ids(n, now - 600)
    rows = [
        Prediction(ids[i], MODEL, version, "production", now - 600,
                   {"mean radius": float(p[i] * 20)}, int(predicted[i]),
                   {"0": float(1 - p[i]), "1": float(p[i])})
        for i in range(n)
    ]  # fmt: skip
    with open_store(store_url) as store:
        store.write_predictions(rows)
    return ids, predicted


def _monitor(stack: dict[str, Any], store_url: str, cwd: Path) -> subprocess.CompletedProcess:
    shutil.copy(stack["project"] / names.GATE_CONFIG, cwd / names.GATE_CONFIG)
    result = cli(
        "monitor", "--model-name", MODEL, "--window", "1h", "--holdout", f"{F1}=0.95",
        "--no-registry", "--min-labels", "50", "--pushgateway", stack["pushgateway"],
        "--store", store_url, cwd=cwd, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_labels_that_agree_show_the_metric_and_alert_nothing(stack, tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    ids, predicted = _predictions(store_url, 400, "3", seed=1)
    with open_store(store_url) as store:  # the model was right
        store.write_labels([Label(i, int(y)) for i, y in zip(ids, predicted, strict=True)])
    _monitor(stack, store_url, tmp_path)
    base = stack["prometheus"]
    query = f'model_quality_value{{model_name="{MODEL}",metric="{F1}"}}'
    [series] = _wait("the live metric in Prometheus", lambda: _query(base, query))
    assert series["metric"]["job"] == "model-quality"
    assert (series["metric"]["model_version"], series["metric"]["environment"]) == (
        "3",
        "production",
    )
    assert float(series["value"][1]) == 1.0
    _wait("the threshold", lambda: _query(base, "model_quality_threshold"))
    time.sleep(3)  # a few rule evaluations with the figures in place
    assert _alerts(base, names.ALERT_PERFORMANCE) == []
    assert stack["github"].dispatches == []


def test_wrong_labels_fire_the_alert_and_the_relay_dispatches_a_retrain(stack, tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    ids, predicted = _predictions(store_url, 400, "4", seed=2)
    with open_store(store_url) as store:  # the world changed: the model is now mostly wrong
        wrong = [int(1 - y) if k % 4 else int(y) for k, y in enumerate(predicted)]
        store.write_labels([Label(i, y) for i, y in zip(ids, wrong, strict=True)])
    result = _monitor(stack, store_url, tmp_path)
    assert f"BELOW THE GATE: {F1}" in result.stdout
    github = stack["github"]
    dispatch = _wait("the repository_dispatch", lambda: github.dispatches, timeout=90)[0]
    assert (dispatch["repo"], dispatch["event_type"]) == (GITHUB_REPO, names.EVENT_RETRAIN)
    payload = dispatch["client_payload"]
    assert payload["alert"] == names.ALERT_PERFORMANCE
    assert (payload["model_name"], payload["model_version"]) == (MODEL, "4")
    assert payload["environment"] == "production"
    assert payload["summary"].startswith(f"Live {F1} of {MODEL} version 4 (production)")
    firing = _alerts(stack["prometheus"], names.ALERT_PERFORMANCE)
    assert {a["labels"]["model_version"] for a in firing} == {"4"}  # version 3 stays quiet
    # The people hear it too: critical goes to Slack and by email (a real SMTP exchange).
    mail = _wait("the alert email", lambda: stack["mailbox"].messages, timeout=60)
    assert mail[0].rcpt_tos == [_author_email(stack["project"])]
    assert names.ALERT_PERFORMANCE in mail[0].content.decode("utf-8", "replace")
    slack = _wait("the Slack message", lambda: stack["slack"].messages, timeout=60)
    assert any(names.ALERT_PERFORMANCE in json.dumps(m) for m in slack)
    relay_log = stack["logs"]["relay"].read_text()
    assert f"dispatched: {names.ALERT_PERFORMANCE} {MODEL}/4 (production)" in relay_log
    assert RELAY_TOKEN not in relay_log and github.token not in relay_log
    # Alertmanager repeats the group (group_interval 1s here): still one dispatch.
    time.sleep(3)
    assert len(github.dispatches) == 1


def _author_email(project: Path) -> str:
    import yaml

    config = yaml.safe_load((project / "monitoring/alertmanager.yml").read_text())
    receiver = next(r for r in config["receivers"] if r["name"] == "team-critical")
    return receiver["email_configs"][0]["to"]
