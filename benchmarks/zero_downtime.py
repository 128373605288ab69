"""Failed requests and p99 latency while production changes: `docker` vs `swarm` targets.

Same model versions, same images (a generated project's Dockerfile, the platform's server,
built by the toolkit's build-image from two real MLflow model versions), same machine, same
load: a bounded Python client on loopback (2 threads, closed loop, a new TCP connection per
request, POST /invocations with the model's input example). For each target the load runs through

1. a production deploy from v1 to v2 (`deploy`), then
2. a rollback dispatch back to v1 (`rollback`: redeploy first, then the alias moves),

and the figures are counted per change. Targets: `docker` (publish port: stop the old
container, then start the new one), `docker-host` (the docker target with publish host: the new
container starts beside the old one on the host network, SO_REUSEPORT), `swarm`. Swarm runs
single-node on loopback (`docker swarm init`, left again afterwards if this script joined),
2 replicas, publish mode `host` (the kernel here has no IPVS for the routing mesh).

    python benchmarks/zero_downtime.py [--rounds 1] [--json out.json]

Needs the Docker engine, base image and registry of .ci/docker-up and MLflow. Exits 1 unless
swarm and docker-host saw 0 failed requests in every change (a target whose deploy or rollback
failed is reported as FAILED with the reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "actions" / "src", ROOT / "tests", ROOT / "tests" / "toolkit"):
    sys.path.insert(0, str(extra))

REGISTRY = "127.0.0.1:5000"


def serving_project(workdir: Path) -> Path:
    """A project generated with the template's defaults: its Dockerfile, so the images serve
    with the platform's own server, as a team's do."""
    from support.project import bake

    return bake(workdir / "serving")


@contextlib.contextmanager
def single_node_swarm():
    import docker

    engine = docker.from_env()
    info = engine.info().get("Swarm") or {}
    had_bridge = bool(engine.networks.list(names=["docker_gwbridge"]))
    created = info.get("LocalNodeState") != "active"
    if created:
        subprocess.run(
            [
                "docker",
                "swarm",
                "init",
                "--advertise-addr",
                "127.0.0.1",
                "--listen-addr",
                "127.0.0.1:2377",
            ],
            check=True,
            capture_output=True,
        )
    try:
        yield
    finally:
        if created:
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
            if not had_bridge:
                subprocess.run(["docker", "network", "rm", "docker_gwbridge"], capture_output=True)


def measure(port: int, payload: dict, change) -> dict:
    from support.load import Load

    with Load(port, payload) as load:
        change()
    return load.result.summary()


def run_target(target: str, model: str, v1: str, v2: str, images: dict, port: int) -> dict:
    from mlops_toolkit import deploy, registry, swarm

    app = f"zdt-{target}-{uuid.uuid4().hex[:6]}"
    payload = deploy.smoke_payload(model, v1)
    where = swarm.Target(app=app, stage="production", port=port, replicas=2, publish="host")
    publish = "host" if target == "docker-host" else "port"

    def put(image: str, version: str) -> None:
        if target == "swarm":
            swarm.deploy_service(
                image=image,
                target=where,
                model_name=model,
                model_version=version,
                health_timeout_s=120,
            )
        else:
            deploy.deploy(
                image=image,
                stage="production",
                app=app,
                port=port,
                model_name=model,
                model_version=version,
                health_timeout_s=120,
                publish=publish,
            )

    def roll_back() -> None:
        if target == "swarm":
            swarm.rollback(model_name=model, to=None, target=where, health_timeout_s=120)
        else:
            deploy.rollback(
                model_name=model,
                to=None,
                app=app,
                port=port,
                health_timeout_s=120,
                publish=publish,
            )

    put(images[v1], v1)
    registry.promote(model_name=model, version=v1)
    try:

        def update() -> None:
            put(images[v2], v2)
            registry.promote(model_name=model, version=v2)

        return {
            "deploy": measure(port, payload, update),
            "rollback": measure(port, payload, roll_back),
        }
    finally:
        cleanup(app)


def attempt(target: str, *args) -> dict:
    """One target's figures, or why its deploy or rollback failed (the other targets' figures
    are still reported)."""
    from mlops_toolkit.errors import ToolkitError

    try:
        return run_target(target, *args)
    except ToolkitError as exc:
        return {"error": str(exc)}


def cleanup(app: str) -> None:
    import docker
    from mlops_toolkit import names

    engine = docker.from_env()
    label = {"label": f"{names.LABEL_APP}={app}"}
    with contextlib.suppress(Exception):
        for service in engine.services.list(filters=label):
            service.remove()
    for container in engine.containers.list(all=True, filters=label):
        container.remove(force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    subprocess.run([str(ROOT / ".ci" / "docker-up")], check=True, capture_output=True)

    from conftest import log_model, register_version  # the toolkit tests' real models
    from mlops_toolkit import image
    from sklearn.datasets import load_breast_cancer
    from support.servers import free_port, start_mlflow, stop

    with tempfile.TemporaryDirectory(prefix="zdt-") as tmp:
        server = start_mlflow(Path(tmp) / "mlflow")
        os.environ["MLFLOW_TRACKING_URI"] = server.uri
        try:
            frame = load_breast_cancer(as_frame=True).frame
            model = f"zdt-{uuid.uuid4().hex[:6]}"
            versions = [
                register_version(model, log_model(server.uri, frame, kind)[1])
                for kind in ("good", "good2")
            ]
            project = serving_project(Path(tmp))
            images = {}
            for version, commit in zip(versions, "12", strict=True):
                built = image.build(
                    model_name=model,
                    model_version=version,
                    context=str(project),
                    dockerfile="Dockerfile",
                    repository=f"{REGISTRY}/benchmarks/{model}",
                    git_commit=commit * 40,
                    push=True,
                    network="host",
                )
                images[version] = built["reference"]
            results: dict[str, list[dict]] = {"docker": [], "docker-host": [], "swarm": []}
            for _ in range(args.rounds):
                for target in ("docker", "docker-host"):
                    results[target].append(attempt(target, model, *versions, images, free_port()))
                with single_node_swarm():
                    results["swarm"].append(attempt("swarm", model, *versions, images, free_port()))
                # run_target left production at v1: the next round starts from there again
        finally:
            stop(server.proc)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    checked = [r for t in ("swarm", "docker-host") for r in results[t]]
    if any("error" in r for r in checked):
        return 1
    zero = sum(r[c]["failed"] for r in checked for c in ("deploy", "rollback"))
    return 0 if zero == 0 else 1


def report(results: dict[str, list[dict]]) -> None:
    print(f"{'target':11} {'change':9} {'sent':>6} {'failed':>7} {'p99 ms':>8}  errors")
    for target, rounds in results.items():
        for number, result in enumerate(rounds, 1):
            if "error" in result:
                print(f"{target:11} FAILED: {result['error']}  (round {number})")
                continue
            for change in ("deploy", "rollback"):
                r = result[change]
                print(
                    f"{target:11} {change:9} {r['sent']:6d} {r['failed']:7d} "
                    f"{r['p99_ms']:8.1f}  {r['errors'] or ''}  (round {number})"
                )
    for change in ("deploy", "rollback"):
        failed = {
            t: sum(r[change]["failed"] for r in rounds if "error" not in r)
            for t, rounds in results.items()
        }
        print(f"{change}: failed requests " + ", ".join(f"{t} {n}" for t, n in failed.items()))


if __name__ == "__main__":
    sys.exit(main())
