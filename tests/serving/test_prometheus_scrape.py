"""A real Prometheus (Debian's) scrapes the generated server with the generated config and rules.

The compose file's production target (PRODUCTION_TARGET, written as Prometheus' file_sd
targets) is a server on loopback and the intervals are shortened; everything else is the
generated prometheus.yml and alerts.yml.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.prom_targets import serving_targets
from support.servers import free_port as _port
from support.servers import get_json as _get
from support.servers import wait_until as _wait

from .conftest import save_model, start_server, write_drift_report


@pytest.fixture
def stack(project: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: apt-get install prometheus (.ci/serving-up)")
    model = save_model(tmp_path / "model")
    report = tmp_path / "drift.json"
    write_drift_report(
        report, {"mean area": (0.9, 1e-9), "mean radius": (0.05, 0.6)}, timestamp=time.time()
    )
    serve_port, prom_port = _port(), _port()
    server = start_server(
        project,
        model,
        serve_port,
        DRIFT_REPORT_PATH=str(report),
        MODEL_NAME="cancer",
        MODEL_VERSION="4",
    )
    config = (project / "monitoring/prometheus.yml").read_text()
    assert '"targets/*.yml"' in config and "scrape_interval: 15s" in config
    config = config.replace("scrape_interval: 15s", "scrape_interval: 1s").replace(
        "evaluation_interval: 15s", "evaluation_interval: 1s"
    )
    (tmp_path / "prometheus.yml").write_text(config)
    # The targets file compose.yaml writes from STAGING_TARGET / PRODUCTION_TARGET.
    (tmp_path / "targets").mkdir()
    groups = serving_targets(project, PRODUCTION_TARGET=f"127.0.0.1:{serve_port}")
    production = [g for g in groups if g["labels"] == {"environment": "production"}]
    (tmp_path / "targets/serving.yml").write_text(yaml.safe_dump(production))
    shutil.copy(project / "monitoring/alerts.yml", tmp_path / "alerts.yml")
    prometheus = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield {
            "prometheus": f"http://127.0.0.1:{prom_port}",
            "server": f"http://127.0.0.1:{serve_port}",
        }
    finally:
        for proc in (prometheus, server):
            proc.terminate()
            proc.wait(30)


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?query={urllib.parse.quote(promql)}"
    return _get(url)["data"]["result"]


def test_prometheus_scrapes_the_server_and_fires_the_drift_alert(stack: dict[str, Any]) -> None:
    base = stack["prometheus"]
    up = _wait("the scrape", lambda: _query(base, 'up{job="model-serving"} == 1'))
    assert len(up) == 1 and up[0]["metric"]["environment"] == "production"
    info = _query(base, "model_serving_model_info")
    assert info[0]["metric"]["model_name"] == "cancer"
    assert info[0]["metric"]["model_version"] == "4"
    groups = _get(f"{base}/api/v1/rules")["data"]["groups"]
    rules = next(g for g in groups if g["name"] == "model-serving")["rules"]
    assert len(rules) == 6 and all(r["health"] == "ok" for r in rules), rules

    def firing() -> list[dict[str, Any]]:
        alerts = _get(f"{base}/api/v1/alerts")["data"]["alerts"]
        return [
            a
            for a in alerts
            if a["labels"]["alertname"] == "ModelDriftDetected" and a["state"] == "firing"
        ]

    drift = _wait("the drift alert", firing)
    assert [a["labels"]["feature"] for a in drift] == ["mean area"]
    assert drift[0]["annotations"]["summary"] == "Feature mean area drifted (PSI 0.90)"
    # The drift job's report and the server's traffic share one target: no other alert fires.
    alerts = _get(f"{base}/api/v1/alerts")["data"]["alerts"]
    assert {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"} == {
        "ModelDriftDetected"
    }
