"""The generated project's Prometheus rules, their unit tests, the dashboard and compose file."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import run, save_model, start_server, write_drift_report

# What the server must expose for the dashboard and the alerts to mean anything.
METRIC = re.compile(r"\b((?:model_serving|model_drift)_[a-z_]+)")


def test_alert_rules_are_valid(project: Path, promtool: str) -> None:
    result = run(promtool, "check", "rules", "alerts.yml", cwd=project / "monitoring")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_alert_unit_tests_pass(project: Path, promtool: str) -> None:
    result = run(promtool, "test", "rules", "tests/alerts_test.yml", cwd=project / "monitoring")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    "old,new",
    [
        ("  > 0.01\n", "  > 0.05\n"),  # error-rate threshold loosened
        ("  > 0.1\n", "  > 1\n"),  # latency SLO loosened
        ("[15m])) == 0", "[5m])) == 0"),  # silence window shortened
        (  # replicas
            "count by (model_name, model_version, environment)",
            "count by (model_name, instance, environment)",
        ),
    ],
)
def test_alert_unit_tests_catch_a_broken_rule(
    project: Path, promtool: str, tmp_path: Path, old: str, new: str
) -> None:
    rules = (project / "monitoring/alerts.yml").read_text()
    assert old in rules
    (tmp_path / "tests").mkdir()
    (tmp_path / "alerts.yml").write_text(rules.replace(old, new))
    (tmp_path / "tests/alerts_test.yml").write_text(
        (project / "monitoring/tests/alerts_test.yml").read_text()
    )
    result = run(promtool, "test", "rules", "tests/alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def test_prometheus_config_is_valid(project: Path, promtool: str) -> None:
    result = run(promtool, "check", "config", "prometheus.yml", cwd=project / "monitoring")
    assert result.returncode == 0, result.stdout + result.stderr


def _dashboard(project: Path) -> dict:
    return json.loads((project / "monitoring/grafana/dashboards/model-serving.json").read_text())


def _dashboard_exprs(project: Path) -> list[str]:
    return [t["expr"] for p in _dashboard(project)["panels"] for t in p["targets"]]


def test_dashboard_queries_are_valid_promql(project: Path, promtool: str, tmp_path: Path) -> None:
    exprs = [
        e.replace("$__rate_interval", "5m").replace("$model_name", ".*")
        for e in _dashboard_exprs(project)
    ]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    result = run(promtool, "check", "rules", "queries.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    titles = " ".join(p["title"] for p in _dashboard(project)["panels"]).lower()
    for wanted in ("request rate", "p50", "p99", "error rate", "model version", "drift"):
        assert wanted in titles


def test_grafana_provisioning_points_at_the_dashboard(project: Path) -> None:
    grafana = project / "monitoring/grafana"
    datasource = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())
    # Panels name the `$datasource` variable, whose default is the provisioned (default)
    # Prometheus: a team with another datasource picks it in the dashboard, no edit.
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert datasource["datasources"][0]["isDefault"] is True
    dashboard = _dashboard(project)
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {"${datasource}"}
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    provider = yaml.safe_load((grafana / "provisioning/dashboards/model-serving.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_mounts_existing_files(project: Path) -> None:
    compose = yaml.safe_load((project / "monitoring/compose.yaml").read_text())
    # The monitoring of a deployed model: no scoring server of its own (prometheus.yml's targets).
    assert set(compose["services"]) == {
        "prometheus",
        "grafana",
        "pushgateway",
        "alertmanager",
        "relay",
    }
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (project / "monitoring" / source).exists(), source


def test_every_metric_in_alerts_and_dashboard_is_exposed(project: Path, tmp_path: Path) -> None:
    """Start the generated server for real and read its /metrics, drift report included."""
    import socket

    model = save_model(tmp_path / "model")
    report = tmp_path / "drift.json"
    write_drift_report(report, {"a": (0.1, 0.5)}, timestamp=1.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = start_server(project, model, port, DRIFT_REPORT_PATH=str(report))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(30)
    exposed = {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    used = set(METRIC.findall((project / "monitoring/alerts.yml").read_text()))
    used |= set(METRIC.findall(" ".join(_dashboard_exprs(project))))
    assert len(used) >= 8
    assert used <= exposed, used - exposed
