"""Failed requests and p99 latency while production changes: the generated default first.

Same model versions, same images (a generated project's Dockerfile, the platform's server,
built by the toolkit's build-image from two real MLflow model versions), same machine, same
load: a bounded Python client on loopback (2 threads, closed loop, a new TCP connection per
request, POST /invocations with the model's input example). For each target the load runs through

1. a steady window (nothing changes: the p99 the change is compared with), then
2. a production deploy from v1 to v2 (`deploy`), then
3. another steady window, then a rollback dispatch back to v1 (`rollback`: redeploy first, then
   the alias moves),

and the figures are counted per change, with the time the change itself took. Targets, in
this order:

- `docker`: the generated project as generated (deploy_target docker, no variable set): the
  publish mode is read from the generated release workflow's `vars.DOCKER_PUBLISH || '...'`
  default (host: the new container starts beside the old one on the host network, SO_REUSEPORT);
- `swarm`: single-node on loopback (`docker swarm init`, left again afterwards if this script
  joined), 2 replicas, publish mode `host` (the kernel here has no IPVS for the routing mesh);
- `docker-ingress`: the docker target's explicit published-port option (stop the old
  container, then start the new one): what choosing it costs.

    python benchmarks/zero_downtime.py [--rounds 3] [--steady-s 5] [--json out.json]

Needs the Docker engine, base image and registry of .ci/docker-up and MLflow. Exits 1 unless
`docker` and `swarm` saw 0 failed requests in every change and their p99 during each change
stayed within 3x the steady p99 before it (a target whose deploy or rollback failed is
reported as FAILED with the reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "actions" / "src", ROOT / "tests", ROOT / "tests" / "toolkit"):
    sys.path.insert(0, str(extra))

REGISTRY = "127.0.0.1:5000"
TARGETS = ("docker", "swarm", "docker-ingress")
CHECKED = ("docker", "swarm")  # the defaults: every change loses nothing, p99 within the goal
P99_GOAL = 3.0  # p99 during a change / steady p99


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


def generated_docker_publish(project: Path) -> str:
    """The publish mode a generated docker project deploys with when no variable is set."""
    text = (project / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    found = set(re.findall(r"vars\.DOCKER_PUBLISH \|\| '(\w+)'", text))
    if len(found) != 1:
        raise SystemExit(f"release.yml: no single DOCKER_PUBLISH default ({sorted(found)})")
    return found.pop()


def measure(port: int, payload: dict, change, steady_s: float) -> dict:
    """The change under load, after a steady window of the same load on what serves now."""
    import time

    from support.load import Load

    with Load(port, payload) as steady:
        time.sleep(steady_s)
    with Load(port, payload) as load:
        began = time.monotonic()
        change()
        took = time.monotonic() - began
    figures = load.result.summary()
    figures["change_s"] = round(took, 2)  # the deploy or rollback command's own time
    figures["steady_p99_ms"] = steady.result.summary()["p99_ms"]
    figures["steady_failed"] = steady.result.failed
    figures["ratio"] = round(figures["p99_ms"] / max(figures["steady_p99_ms"], 0.1), 2)
    return figures


def run_target(
    target: str,
    publish: str,
    steady_s: float,
    model: str,
    v1: str,
    v2: str,
    images: dict,
    port: int,
) -> dict:
    from mlops_toolkit.deploy import docker, swarm, verify
    from mlops_toolkit.deploy.target import rollback
    from mlops_toolkit.registry import moves as registry

    app = f"zdt-{target}-{uuid.uuid4().hex[:6]}"
    payload = verify.smoke_payload(model, v1)
    where = swarm.SwarmTarget(app=app, stage="production", port=port, replicas=2, publish="host")

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
            docker.deploy(
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
        # The one rollback algorithm of every target (deploy/target.py).
        stage = (
            where
            if target == "swarm"
            else docker.DockerTarget(app=app, stage="production", port=port, publish=publish)
        )
        rollback(stage, model_name=model, to=None, health_timeout_s=120)

    put(images[v1], v1)
    registry.promote(model_name=model, version=v1)
    try:

        def update() -> None:
            put(images[v2], v2)
            registry.promote(model_name=model, version=v2)

        return {
            "deploy": measure(port, payload, update, steady_s),
            "rollback": measure(port, payload, roll_back, steady_s),
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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steady-s", type=float, default=5.0, help="steady window per change")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    subprocess.run([str(ROOT / ".ci" / "docker-up")], check=True, capture_output=True)

    from conftest import log_model, register_version  # the toolkit tests' real models
    from mlops_toolkit.deploy import image
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
            default = generated_docker_publish(project)
            publish = {
                "docker": "host" if default == "host" else "port",  # as the deploy command maps it
                "swarm": "host",
                "docker-ingress": "port",
            }
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
            print(f"generated docker default: publish {default}", flush=True)
            results: dict[str, list[dict]] = {target: [] for target in TARGETS}
            for _ in range(args.rounds):
                for target in TARGETS:
                    with single_node_swarm() if target == "swarm" else contextlib.nullcontext():
                        where = (publish[target], args.steady_s, model, *versions, images)
                        results[target].append(attempt(target, *where, free_port()))
                # run_target left production at v1: the next round starts from there again
        finally:
            stop(server.proc)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    checked = [r for t in CHECKED for r in results[t]]
    if any("error" in r for r in checked):
        return 1
    changes = [r[c] for r in checked for c in ("deploy", "rollback")]
    lost = sum(c["failed"] for c in changes)
    return 0 if lost == 0 and all(c["ratio"] <= P99_GOAL for c in changes) else 1


def report(results: dict[str, list[dict]]) -> None:
    print(
        f"{'target':15} {'change':9} {'sent':>6} {'failed':>7} {'p99 ms':>8} {'steady':>8} "
        f"{'ratio':>6} {'took s':>6}  errors"
    )
    for target, rounds in results.items():
        for number, result in enumerate(rounds, 1):
            if "error" in result:
                print(f"{target:15} FAILED: {result['error']}  (round {number})")
                continue
            for change in ("deploy", "rollback"):
                r = result[change]
                print(
                    f"{target:15} {change:9} {r['sent']:6d} {r['failed']:7d} {r['p99_ms']:8.1f} "
                    f"{r['steady_p99_ms']:8.1f} {r['ratio']:6.2f} {r['change_s']:6.1f}  "
                    f"{r['errors'] or ''}  "
                    f"(round {number})"
                )
    print("\nover all rounds (p99: the worst change; ratio: the worst change / its steady p99)")
    for target, rounds in results.items():
        for change in ("deploy", "rollback"):
            done = [r[change] for r in rounds if "error" not in r]
            if not done:
                continue
            sent = sum(r["sent"] for r in done)
            failed = sum(r["failed"] for r in done)
            worst = max(done, key=lambda r: r["ratio"])
            print(
                f"{target:15} {change:9} rounds {len(done)} sent {sent} failed {failed} "
                f"p99 {max(r['p99_ms'] for r in done):.1f} ms steady "
                f"{max(r['steady_p99_ms'] for r in done):.1f} ms ratio {worst['ratio']:.2f} "
                f"took {max(r['change_s'] for r in done):.1f} s (slowest)"
            )


if __name__ == "__main__":
    sys.exit(main())
