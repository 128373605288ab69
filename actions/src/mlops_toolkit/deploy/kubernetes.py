"""The kubernetes target: the stage's kustomize overlay applied with kubectl, rolled out by the
Deployment, undone by it when the rollout fails.

1. The image goes into the overlay's `images:` entry for `model-server` (kustomize's own field;
   the manifests keep that placeholder), so `kubectl apply -k` renders the Deployment with it.
2. `kubectl rollout status` waits until every new pod passed its readiness probe (GET /health)
   within the deadline; the Deployment's RollingUpdate (maxUnavailable 0) keeps old pods
   serving until then, so no request is lost.
3. Where the runner can reach the stage (`--url`), /version and the smoke request are checked
   as for the other targets.
Any failure runs `kubectl rollout undo` (back to the previous ReplicaSet) and fails the step.

The alert rules reach an in-cluster Prometheus (the Prometheus Operator's) as the PrometheusRule
`<app>`, built on each deploy from monitoring/alerts.yml, their one home (promtool-tested there;
kustomize cannot embed a file's content in a CRD field, so no manifest copies them): its `groups`
as spec.groups, named and labelled as the overlay's ServiceMonitor (so the Prometheus that
selects the scrape selects the rules), applied on stdin before the overlay. A cluster without the
PrometheusRule CRD gets one warning line and the deploy goes on.

kubectl is driven as a program: the runner needs kubectl and a kubeconfig (the KUBECONFIG
secret's content in KUBECONFIG_DATA, written under $RUNNER_TEMP, or KUBECONFIG). Tested
against a recorded kubectl stand-in (tests/toolkit/test_kubernetes_target.py), not a cluster:
none runs on the machines the template is tested on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..core import annotations
from ..errors import ToolkitError
from . import verify
from .target import PASSED_TO_SERVER, Deployed, Options, Release, serving_env

PLACEHOLDER = "model-server"  # the image name the base manifests use, set per stage here
KUBECONFIG_DATA = "KUBECONFIG_DATA"
REVISION = "deployment.kubernetes.io/revision"
ALERT_RULES = Path("monitoring/alerts.yml")  # the rules' one home, from the repository's root
OPERATOR_API = "monitoring.coreos.com/v1"
NO_RULE_CRD = 'no matches for kind "PrometheusRule"'  # kubectl's answer where no CRD serves it


def split_image(image: str) -> dict:
    """kustomize's images entry for a reference: `repo@sha256:..`, `repo:tag` or `repo`."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return {"newName": name, "digest": digest}
    last = image.rsplit("/", 1)[-1]
    if ":" in last:  # a tag, not a registry's port
        name, tag = image.rsplit(":", 1)
        return {"newName": name, "newTag": tag}
    return {"newName": image}


def set_image(overlay: Path, image: str) -> None:
    """Point the overlay's `model-server` image at ``image`` (kustomize edit set image, without
    needing kustomize: kubectl renders the overlay itself)."""
    import yaml

    path = overlay / "kustomization.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ToolkitError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    entries = [e for e in doc.get("images") or [] if e.get("name") != PLACEHOLDER]
    doc["images"] = [*entries, {"name": PLACEHOLDER, **split_image(image)}]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def kubeconfig_env() -> dict[str, str]:
    """The environment kubectl runs with: the kubeconfig secret written once, owner-only."""
    env = dict(os.environ)
    data = env.pop(KUBECONFIG_DATA, "")
    if data.strip():
        folder = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())
        path = folder / "mlops-kubeconfig"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        path.chmod(0o600)  # a file left by an earlier step keeps its mode through O_CREAT
        env["KUBECONFIG"] = str(path)
    elif not env.get("KUBECONFIG") and not (Path.home() / ".kube" / "config").is_file():
        raise ToolkitError(
            "no kubeconfig: set the KUBECONFIG secret (its content reaches the step as "
            f"{KUBECONFIG_DATA}) or KUBECONFIG"
        )
    return env


def alert_groups(path: Path) -> list[dict] | None:
    """The rule groups of a Prometheus rule file (monitoring/alerts.yml); None without the file.
    A file that is there but unreadable fails the deploy before the cluster is touched: shipping
    no alerts silently is what the PrometheusRule exists to prevent."""
    import yaml

    if not path.is_file():
        return None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ToolkitError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not isinstance(groups, list) or not groups:
        raise ToolkitError(f"{path} has no rule groups (a `groups:` list)")
    return groups


def service_monitor(rendered: str) -> dict | None:
    """The ServiceMonitor among the overlay's rendered manifests (`kubectl kustomize`), if any."""
    import yaml

    docs = yaml.safe_load_all(rendered)
    return next(
        (d for d in docs if isinstance(d, dict) and d.get("kind") == "ServiceMonitor"), None
    )


def prometheus_rule(groups: list[dict], monitor: dict) -> dict:
    """The PrometheusRule carrying ``groups``, named and labelled as ``monitor``: an Operator's
    ruleSelector and serviceMonitorSelector usually match the same label (kube-prometheus-stack:
    `release: <its release>`), so the label a team gives the ServiceMonitor selects both. No
    namespace: kubectl's -n puts it beside the stage's other objects."""
    meta = monitor.get("metadata") or {}
    metadata = {"name": meta["name"], "labels": dict(meta.get("labels") or {})}
    return {
        "apiVersion": OPERATOR_API,
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": groups},
    }


@dataclass
class KubernetesTarget:
    """A stage as the Deployment `<app>` in namespace `<app>-<stage>`, from its overlay."""

    app: str
    stage: str
    overlay: Path
    namespace: str
    url: str = ""  # where the runner reaches the stage, if it can (an Ingress, a LoadBalancer)
    kubectl: str = "kubectl"
    kind: str = "kubernetes"
    alert_rules: Path = ALERT_RULES

    def _run(
        self, *args: str, timeout_s: float = 60, namespaced: bool = True, stdin: str | None = None
    ) -> str:
        """kubectl's stdout (in the stage's namespace); its error line, as one line, when it
        fails. ``stdin``: what kubectl reads from `-f -`."""
        if namespaced:
            args = (*args, "-n", self.namespace)
        exe = shutil.which(self.kubectl)
        if exe is None:
            raise ToolkitError(f"{self.kubectl} not found on PATH: install kubectl on the runner")
        try:
            done = subprocess.run(
                [exe, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolkitError(f"kubectl {args[0]} took over {timeout_s:g} s") from exc
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            error = next((line for line in lines if line.lower().startswith("error")), lines[-1])
            raise ToolkitError(f"kubectl {' '.join(args[:2])}: {error.strip()[:300]}")
        return done.stdout

    @cached_property
    def _env(self) -> dict[str, str]:
        """kubectl's environment, the kubeconfig written once (on the first kubectl call)."""
        return kubeconfig_env()

    def _deployment(self) -> dict | None:
        try:
            text = self._run("get", "deployment", self.app, "-o", "json")
        except ToolkitError as exc:
            if "NotFound" in str(exc) or "not found" in str(exc):
                return None
            raise
        return json.loads(text)

    def _rollout(self, timeout_s: float) -> None:
        self._run(
            "rollout",
            "status",
            f"deployment/{self.app}",
            f"--timeout={int(timeout_s)}s",
            timeout_s=timeout_s + 30,
        )

    def _undo(self, had_previous: bool, timeout_s: float) -> str:
        if not had_previous:
            return "nothing was serving before"
        try:
            self._run("rollout", "undo", f"deployment/{self.app}")
            self._rollout(timeout_s)
        except ToolkitError as exc:
            return f"undoing the rollout failed too ({exc})"
        return "the previous pods serve again (kubectl rollout undo)"

    def _serving_secret(self) -> None:
        """The prediction store and feedback token of the deploy step, with the stage, as the
        Secret `<app>-serving` the Deployment's pods read (envFrom, optional) before the new
        pods start. Given to kubectl on stdin: never on disk, never in its arguments."""
        env = serving_env(self.stage)
        if not any(key in env for key in PASSED_TO_SERVER):
            return  # nothing to hand on: the pods run as before, without a store
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{self.app}-serving"},
            "type": "Opaque",
            "stringData": env,
        }
        self._run("apply", "-f", "-", stdin=json.dumps(secret))

    def _prometheus_rule(self) -> dict | None:
        """The PrometheusRule of this deploy, built before the cluster is touched (a broken
        alerts.yml or overlay fails first); None where there is nothing to apply."""
        groups = alert_groups(self.alert_rules)
        if groups is None:
            print(f"no {self.alert_rules}: no PrometheusRule applied")
            return None
        # Local (no cluster): the ServiceMonitor as the overlay makes it, its name and labels.
        monitor = service_monitor(self._run("kustomize", str(self.overlay), namespaced=False))
        if monitor is None:  # removed where the Operator does not run: its rules go too
            print(f"no ServiceMonitor in {self.overlay}: no PrometheusRule applied")
            return None
        return prometheus_rule(groups, monitor)

    def _apply_rule(self, rule: dict | None) -> None:
        """The rules applied before the overlay, so a rule the cluster refuses (its admission
        webhook, RBAC) fails the deploy before any pod changes. Only a missing CRD is let go:
        that cluster runs no Operator to read the rules."""
        if rule is None:
            return
        try:
            self._run("apply", "-f", "-", stdin=json.dumps(rule))
        except ToolkitError as exc:
            if NO_RULE_CRD not in str(exc):
                raise
            annotations.warning(
                f"the cluster has no PrometheusRule CRD ({OPERATOR_API}): {self.alert_rules} "
                "not applied, no alert fires from an in-cluster Prometheus; the deploy goes on"
            )

    def deploy(self, release: Release) -> Deployed:
        payload = None
        if self.url:  # the smoke request needs a way in; without one, readiness is the check
            payload = verify.smoke_request(release.model_name, release.model_version, release.smoke)
        rule = self._prometheus_rule()
        before = self._deployment()
        previous = _image_of(before) if before else ""
        set_image(self.overlay, release.image)
        self._serving_secret()
        self._apply_rule(rule)
        # The overlay sets its own namespace (kustomization.yaml): no -n here.
        self._run("apply", "-k", str(self.overlay), timeout_s=120, namespaced=False)
        try:
            self._rollout(release.health_timeout_s)
            if self.url:
                verify.verify(
                    self.url,
                    f"deployment/{self.app}",
                    timeout_s=release.health_timeout_s,
                    expect_version=release.model_version or None,
                    payload=payload,
                )
        except ToolkitError as exc:
            undone = self._undo(before is not None, release.health_timeout_s)
            raise ToolkitError(f"deploy to {self.stage} failed, {undone}: {exc}") from None
        where = f"Deployment `{self.app}` in namespace `{self.namespace}`"
        return Deployed(release.image, previous, self.url, where, {"container": "", "service": ""})

    def status(self) -> dict:
        found = self._deployment()
        if found is None:
            raise ToolkitError(f"no deployment {self.app} in namespace {self.namespace}")
        state = found.get("status") or {}
        return {
            "image": _image_of(found),
            "revision": (found["metadata"].get("annotations") or {}).get(REVISION, ""),
            "replicas": state.get("replicas", 0),
            "ready": state.get("readyReplicas", 0),
        }


def _image_of(deployment: dict) -> str:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return str(containers[0]["image"]) if containers else ""


SUMMARY = "the stage's kustomize overlay, rolled out with kubectl"


def add_options(p: Options) -> None:
    """The kubernetes target's options: the stage's namespace, overlay and address."""
    p.add_argument("--namespace", default="", help="kubernetes: default <app>-<stage>")
    p.add_argument(
        "--overlay", default="", help="kubernetes: default deploy/kubernetes/overlays/<stage>"
    )
    p.add_argument(
        "--url", default="", help="kubernetes: where the runner reaches the stage (optional)"
    )


def from_options(args: argparse.Namespace, stage: str) -> KubernetesTarget:
    overlay = Path(args.overlay or f"deploy/kubernetes/overlays/{stage}")
    if not (overlay / "kustomization.yaml").is_file():
        raise ToolkitError(f"no kustomize overlay at {overlay} (kustomization.yaml)")
    return KubernetesTarget(
        app=args.app,
        stage=stage,
        overlay=overlay,
        namespace=args.namespace or f"{args.app}-{stage}",
        url=args.url,
    )
