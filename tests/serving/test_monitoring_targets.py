"""Monitoring for what is deployed: the generated prometheus.yml and monitoring/compose.yaml for
each deploy_target (docker: file_sd targets compose writes from STAGING_TARGET and
PRODUCTION_TARGET; swarm: dockerswarm_sd_configs on the manager's socket; kubernetes: the same
file_sd, and the ServiceMonitor of tests/template/test_kubernetes.py in the cluster), checked by
promtool and the compose specification's schema (Docker Compose is not on this machine), and on
Swarm a real Prometheus finding a real service's task on this machine's single-node Swarm (found
and labelled; not scraped: the routing mesh does not answer here, see the test)."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.project import bake
from support.prom_targets import serving_targets
from support.servers import free_port, get_json, wait_until

TARGETS = ("docker", "swarm", "kubernetes")
MONITORING = ("prometheus.yml", "compose.yaml", "alertmanager.yml", "alerts.yml")
# `${VAR:?message}`: compose refuses to start while VAR is unset or empty, saying the message.
REQUIRED = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?([^}]+)\}")


@pytest.fixture(scope="module", params=TARGETS)
def generated(request: pytest.FixtureRequest, tmp_path_factory) -> tuple[str, Path]:
    target = request.param
    return target, bake(tmp_path_factory.mktemp(f"mon-{target}"), deploy_target=target)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found (.ci/serving-up installs it)")
    return path


def _promtool_check(folder: Path) -> str:
    result = subprocess.run(
        [_tool("promtool"), "check", "config", "prometheus.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_each_target_renders_a_valid_prometheus_and_compose(
    generated: tuple[str, Path], tmp_path: Path
) -> None:
    target, project = generated
    monitoring = project / "monitoring"
    for name in MONITORING:
        text = (monitoring / name).read_text()
        assert "{%" not in text and "{#" not in text and "cookiecutter" not in text, name
    config = yaml.safe_load((monitoring / "prometheus.yml").read_text())
    [serving] = [job for job in config["scrape_configs"] if job["job_name"] == "model-serving"]
    compose = yaml.safe_load((monitoring / "compose.yaml").read_text())
    assert "serving" not in compose["services"]  # a deployed model, not one of its own
    prometheus = compose["services"]["prometheus"]
    schema = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         str(monitoring / "compose.yaml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr
    # The relay: a released image (the release never publishes :latest) and a token (without
    # one it would take any webhook), both required rather than defaulted.
    relay = compose["services"]["relay"]
    image = REQUIRED.fullmatch(relay["image"])
    assert image and image[1] == "IMAGE_TAG" and ":sha-" in image[2], relay["image"]
    token = REQUIRED.fullmatch(relay["environment"]["MLOPS_RELAY_TOKEN"])
    assert token and token[1] == "MLOPS_RELAY_TOKEN", relay["environment"]
    if target == "swarm":
        [sd] = serving["dockerswarm_sd_configs"]
        assert sd["role"] == "tasks" and sd["host"] == "unix:///var/run/docker.sock"
        assert "/var/run/docker.sock:/var/run/docker.sock:ro" in prometheus["volumes"]
        keep = {r["regex"] for r in serving["relabel_configs"] if r.get("action") == "keep"}
        assert project.name in keep and "staging|production" in keep
        _promtool_check(monitoring)
        return
    assert serving["file_sd_configs"] == [{"files": ["targets/*.yml"]}]
    [mount] = prometheus["configs"]
    assert mount == {"source": "serving_targets", "target": "/etc/prometheus/targets/serving.yml"}
    # The targets as compose writes them: from the environment, else the deploy host's ports.
    default = serving_targets(project)
    assert default == [
        {"targets": ["host.docker.internal:8081"], "labels": {"environment": "staging"}},
        {"targets": ["host.docker.internal:8080"], "labels": {"environment": "production"}},
    ]
    assert "host.docker.internal:host-gateway" in prometheus["extra_hosts"]
    given = serving_targets(project, STAGING_TARGET="10.1.2.3:8081")
    assert given[0]["targets"] == ["10.1.2.3:8081"]
    # promtool reads the file_sd file too, when there is one: a valid targets file
    copy = tmp_path / "monitoring"
    shutil.copytree(monitoring, copy)
    (copy / "targets").mkdir()
    (copy / "targets/serving.yml").write_text(yaml.safe_dump(given))
    assert "WARNING" not in _promtool_check(copy)


# --- Swarm: discovery of real tasks ----------------------------------------------------------

METRICS_SERVER = """
import http.server
class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"demo_scrapes_total 1\\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("", 8080), Metrics).serve_forever()
"""


@pytest.fixture(scope="module")
def swarm_project(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("mon-swarm-sd"), deploy_target="swarm")


@pytest.fixture
def swarm_service(swarm_project: Path) -> Iterator[dict[str, Any]]:
    """A service labelled as the deploy labels a stage (io.mlops.app/stage), published on a free
    port through the routing mesh (the release workflow's default), answering /metrics."""
    import docker
    from docker.types import EndpointSpec
    from mlops_toolkit import names
    from support.swarm import require_swarm

    project = swarm_project
    require_swarm()
    engine = docker.from_env()
    port = free_port()
    name = f"h3mon-{uuid.uuid4().hex[:8]}-staging"
    service = engine.services.create(
        "python:3.11-slim",
        ["python3", "-c", METRICS_SERVER],
        name=name,
        labels={names.LABEL_APP: project.name, names.LABEL_STAGE: "staging"},
        endpoint_spec=EndpointSpec(ports={port: 8080}),
    )
    try:
        yield {"name": name, "port": port, "project": project}
    finally:
        service.remove()


def test_swarm_discovery_finds_the_services_tasks(
    swarm_service: dict[str, Any], tmp_path: Path
) -> None:
    project = swarm_service["project"]
    config = (project / "monitoring/prometheus.yml").read_text()
    for old, new in (("scrape_interval: 15s", "scrape_interval: 1s"),
                     ("refresh_interval: 30s", "refresh_interval: 1s")):  # fmt: skip
        assert old in config
        config = config.replace(old, new)
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(project / "monitoring/alerts.yml", tmp_path / "alerts.yml")
    prom_port = free_port()
    log = tmp_path / "prometheus.log"
    with open(log, "w") as out:
        prometheus = subprocess.Popen(
            [_tool("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{prom_port}"
    try:

        def ours() -> list[dict[str, Any]]:
            active = get_json(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
            return [t for t in active if t["labels"].get("service") == swarm_service["name"]]

        [found] = wait_until("the service's task discovered", ours, timeout=90)
        assert found["labels"]["job"] == "model-serving"
        assert found["labels"]["environment"] == "staging"
        # Scraped at the node's address (the Swarm's advertised 127.0.0.1 here) on the port
        # published through the routing mesh. The scrape itself cannot succeed on this machine:
        # its kernel has no IPVS, so the mesh answers nothing (the deploy tests publish in host
        # mode for that reason), and host-mode tasks carry no address to discover.
        assert found["scrapeUrl"] == f"http://127.0.0.1:{swarm_service['port']}/metrics"
        assert found["discoveredLabels"]["__meta_dockerswarm_task_desired_state"] == "running"
        assert found["discoveredLabels"]["__meta_dockerswarm_network_ingress"] == "true"
    finally:
        prometheus.terminate()
        prometheus.wait(30)
