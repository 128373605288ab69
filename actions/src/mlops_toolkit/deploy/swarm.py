"""The swarm target: one service per stage, rolled by Swarm itself.

The stage is the service `<app>-<stage>` with N replicas. Swarm starts each new task before it
stops an old one (`start-first`), counts a task as started only once the image's HEALTHCHECK
passes, and rolls the service back by itself when an update fails (`failure_action: rollback`).
After the update has converged the toolkit verifies the service on its published port (/health,
/version, the smoke request); a failure there rolls the service back to the image it ran before
(the same update path, again start-first) and fails the step. A rollback dispatch is a deploy of
the previous image. The image and model version are labels on the service.

Publishing: `ingress` (default) publishes through Swarm's routing mesh, which needs IPVS in the
nodes' kernels. `host` puts the tasks on the node's network; replicas share the port with
SO_REUSEPORT and the kernel spreads connections over them, no mesh needed. The kernel does not
know about health, so the image must (a) bind only once it can answer, with SO_REUSEPORT, when
SERVING_REUSE_PORT=1, and (b) judge health by its own process (a probe of the shared port may
reach another replica). The platform's scoring server does both (mlops_toolkit.serving:
SERVING_REUSE_PORT, and its `healthcheck` module asking the process on its own Unix socket),
and so does the generated project's image (which the toolkit tests deploy).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

from .. import names
from ..errors import ToolkitError
from ..tracking import client as tracking
from . import dockerhost, verify
from .target import Deployed, Options, Release, serving_env

PUBLISH_MODES = ("host", "ingress")
# Swarm's update states (UpdateStatus.State) that end an update.
DONE = "completed"
ROLLED_BACK = "rollback_completed"
STUCK = ("paused", "rollback_paused")
# How often Swarm runs the image's HEALTHCHECK in the service's tasks. A start-first update waits
# for each new task's first passing check, and Docker runs the first one an interval after the
# start: at the generated image's own 30 s (its steady-state pace, cheap), each replica would
# take half a minute to roll. Only the interval is set: Docker takes the command, timeout, start
# period and retries from the image. (Engines >= 25 have StartInterval for exactly this; the
# toolkit also runs on older ones.)
ROLLOUT_CHECK_S = 5.0


@dataclass
class SwarmTarget:
    """A stage as the Swarm service `<app>-<stage>`: where and how it runs."""

    app: str
    stage: str
    port: int
    host: str = "127.0.0.1"
    replicas: int = 2
    publish: str = "ingress"
    monitor_s: float = 5.0
    secrets: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)

    @property
    def service(self) -> str:
        return f"{self.app}-{self.stage}"

    kind: str = "swarm"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def deploy(self, release: Release) -> Deployed:
        result = deploy_service(
            image=release.image,
            target=self,
            model_name=release.model_name,
            model_version=release.model_version,
            health_timeout_s=release.health_timeout_s,
            smoke=release.smoke,
        )
        return Deployed(
            image=release.image,
            previous_image=result["previous_image"],
            url=result["url"],
            where=f"{self.replicas} replicas of Swarm service `{self.service}`",
            outputs={"service": self.service, "container": ""},
        )

    def status(self) -> dict:
        found = status(app=self.app, stage=self.stage)
        return {**found, "image": current_image(find(dockerhost.connect(), self.service))}


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _image_healthcheck(engine: Any, image: str) -> dict:
    """The image's HEALTHCHECK: without one Swarm counts a task as started when its process
    starts, so a start-first update would route requests to a server still loading."""
    dockerhost.ensure_image(engine, image)
    config = engine.images.get(image).attrs.get("Config") or {}
    check = config.get("Healthcheck") or {}
    if not check.get("Test") or check["Test"][0] == "NONE":
        raise ToolkitError(f"{image} has no HEALTHCHECK; Swarm needs it to roll out safely")
    return check


def _refs(engine: Any, kind: str, wanted: list[str]) -> list[dict]:
    """Existing Swarm secrets/configs by name, as the references a task spec holds."""
    found = {}
    collection = engine.secrets if kind == "secret" else engine.configs
    for item in collection.list():
        found[item.name] = item.id
    refs = []
    for name in wanted:
        if name not in found:
            raise ToolkitError(f"Swarm {kind} {name!r} does not exist (docker {kind} create)")
        key = "SecretID" if kind == "secret" else "ConfigID"
        file_name = name if kind == "secret" else f"/run/configs/{name}"
        refs.append(
            {
                key: found[name],
                f"{kind.capitalize()}Name": name,
                "File": {"Name": file_name, "UID": "0", "GID": "0", "Mode": 0o444},
            }
        )
    return refs


def _labels(t: SwarmTarget, image: str, model_name: str, model_version: str) -> dict:
    return {
        names.LABEL_APP: t.app,
        names.LABEL_STAGE: t.stage,
        names.LABEL_MODEL_NAME: model_name,
        names.LABEL_MODEL_VERSION: model_version,
        names.LABEL_IMAGE: image,
    }


def spec(engine: Any, t: SwarmTarget, image: str, model_name: str, model_version: str) -> dict:
    """The service's full spec (Docker Engine API ServiceSpec)."""
    labels = _labels(t, image, model_name, model_version)
    env = serving_env(t.stage)  # the store, the feedback token, the stage (in the spec's Env)
    container: dict[str, Any] = {
        "Image": image,
        "Labels": labels,
        "StopGracePeriod": _ns(30),
        "HealthCheck": {"Interval": _ns(ROLLOUT_CHECK_S)},
        "Secrets": _refs(engine, "secret", t.secrets),
        "Configs": _refs(engine, "config", t.configs),
    }
    task: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": {"Condition": "any", "Delay": _ns(1)},
        "ForceUpdate": 0,
    }
    endpoint: dict[str, Any] = {}
    if t.publish == "host":
        # The kernel spreads connections over every listener of the port, ready or not: the
        # server must bind with SO_REUSEPORT and only once it can answer (SERVING_REUSE_PORT).
        env.update(SERVING_PORT=str(t.port), SERVING_HOST="0.0.0.0", SERVING_REUSE_PORT="1")
        task["Networks"] = [{"Target": "host"}]
    else:
        endpoint = {
            "Ports": [
                {
                    "Protocol": "tcp",
                    "TargetPort": names.SERVING_PORT,
                    "PublishedPort": t.port,
                    "PublishMode": "ingress",
                }
            ]
        }
    container["Env"] = [f"{key}={value}" for key, value in env.items()]
    roll = {
        "Parallelism": 1,
        "Delay": 0,
        "Order": "start-first",
        "Monitor": _ns(t.monitor_s),
        "MaxFailureRatio": 0,
    }
    return {
        "Name": t.service,
        "Labels": labels,
        "TaskTemplate": task,
        "Mode": {"Replicated": {"Replicas": t.replicas}},
        "UpdateConfig": {**roll, "FailureAction": "rollback"},
        "RollbackConfig": {**roll, "FailureAction": "pause"},
        "EndpointSpec": endpoint,
    }


def find(engine: Any, name: str) -> Any | None:
    import docker

    try:
        return engine.services.get(name)
    except docker.errors.NotFound:
        return None


def current_image(service: Any | None) -> str:
    if service is None:
        return ""
    return service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def apply(engine: Any, new: dict, service: Any | None) -> Any:
    """Create the service, or update it to the new spec (Swarm then rolls it)."""
    api = engine.api
    pieces = dict(
        task_template=new["TaskTemplate"],
        name=new["Name"],
        labels=new["Labels"],
        mode=new["Mode"],
        update_config=new["UpdateConfig"],
        rollback_config=new["RollbackConfig"],
        endpoint_spec=new["EndpointSpec"],
    )
    try:
        if service is None:
            api.create_service(**pieces)
        else:
            api.update_service(service.id, service.version, **pieces)
    except Exception as exc:
        raise ToolkitError(f"cannot apply service {new['Name']}: {tracking.one_line(exc)}") from exc
    return engine.services.get(new["Name"])


def _update(service: Any) -> tuple[str, str]:
    """(state, started-at) of the service's last update; ("", "") if never updated."""
    service.reload()
    status = service.attrs.get("UpdateStatus") or {}
    return status.get("State", ""), status.get("StartedAt", "")


def _running(service: Any, image: str) -> list[dict]:
    tasks = service.tasks(filters={"desired-state": "running"})
    return [
        task
        for task in tasks
        if task["Status"]["State"] == "running" and task["Spec"]["ContainerSpec"]["Image"] == image
    ]


def _task_error(service: Any) -> str:
    """The most recent failed task's message (why Swarm gave up on the update)."""
    failed = [
        task
        for task in service.tasks()
        if task["Status"].get("Err") or task["Status"]["State"] in ("failed", "rejected")
    ]
    failed.sort(key=lambda task: task["Status"].get("Timestamp", ""))
    if not failed:
        return "no task error recorded"
    status = failed[-1]["Status"]
    error = status.get("Err") or status.get("Message") or status["State"]
    said = _task_logs(service, failed[-1]["ID"])
    return f"{error}: {said}" if said else error


def _task_logs(service: Any, task_id: str, lines: int = 3) -> str:
    """A task's last log lines (the server says why it gave up), read through Swarm, which
    finds them on whichever node ran the task; "" when they cannot be read."""
    try:
        raw = service.client.api.service_logs(
            service.id, stdout=True, stderr=True, details=True, tail=20
        )
        text = (raw if isinstance(raw, bytes) else b"".join(raw)).decode(errors="replace")
    except Exception:
        return ""
    said = []
    for line in text.splitlines():
        details, _, message = line.partition(" ")  # details: k=v,k=v,... then the log line
        if f"com.docker.swarm.task.id={task_id}" in details.split(","):
            said.append(message.strip())
    return " | ".join(said[-lines:])


def converge(service: Any, image: str, replicas: int, timeout_s: float, since: str = "") -> None:
    """Wait until every replica runs ``image``; raise when Swarm rolled back or gave up.
    ``since``: the StartedAt of the update seen before ours (its state is not ours)."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state, started = _update(service)
        if started == since:
            state = ""  # no update of ours yet (or none needed: same spec)
        if state == ROLLED_BACK or state in STUCK:
            raise ToolkitError(
                f"Swarm rolled {service.name} back ({state}): {_task_error(service)}"
            )
        if state in ("", DONE) and len(_running(service, image)) >= replicas:
            return
        time.sleep(0.5)  # updating, or rollback_started: Swarm is still at work
    raise ToolkitError(
        f"{service.name} did not converge on {image} within {timeout_s:g} s "
        f"(update state {state or 'none'})"
    )


def deploy_service(
    *,
    image: str,
    target: SwarmTarget,
    model_name: str = "",
    model_version: str = "",
    health_timeout_s: float = 120,
    smoke: bool = True,
) -> dict:
    """Roll ``image`` out on the stage's service; on any failure the old image keeps serving."""
    if target.stage not in names.STAGES:
        raise ToolkitError(f"stage must be one of {', '.join(names.STAGES)}")
    if target.publish not in PUBLISH_MODES:
        raise ToolkitError(f"publish mode must be one of {', '.join(PUBLISH_MODES)}")
    if target.replicas < 1:
        raise ToolkitError("replicas must be at least 1")
    payload = verify.smoke_request(model_name, model_version, smoke)
    engine = dockerhost.connect()
    _swarm_manager(engine)
    _image_healthcheck(engine, image)
    before = find(engine, target.service)
    previous_image = current_image(before)
    previous_labels = dict(before.attrs["Spec"].get("Labels") or {}) if before else {}
    since = _update(before)[1] if before else ""
    new = spec(engine, target, image, model_name, model_version)
    service = apply(engine, new, before)
    check = dict(timeout_s=health_timeout_s, expect_version=model_version or None, payload=payload)
    try:
        converge(service, image, target.replicas, health_timeout_s + 60, since)
        # Health is probed through the published port, whichever replica answers.
        verify.verify(target.url, service.name, **check)
    except ToolkitError as exc:
        restored = _restore(engine, target, previous_image, previous_labels, health_timeout_s)
        raise ToolkitError(f"deploy to {target.stage} failed, {restored}: {exc}") from None
    return {
        "service": target.service,
        "url": target.url,
        "previous_image": previous_image,
        "image": image,
        "replicas": target.replicas,
    }


def _swarm_manager(engine: Any) -> None:
    info = engine.info().get("Swarm") or {}
    if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
        raise ToolkitError(
            "the Docker engine is not a Swarm manager (docker swarm init, or "
            "DOCKER_HOST=ssh://<manager>)"
        )


def _restore(
    engine: Any, t: SwarmTarget, previous_image: str, labels: dict, timeout_s: float
) -> str:
    """Put the previous image back (start-first again) when the new one failed verification."""
    if not previous_image:
        service = find(engine, t.service)
        if service is not None:
            service.remove()
        return "nothing was serving before (the new service is removed)"
    service = find(engine, t.service)
    if current_image(service) == previous_image and _running(service, previous_image):
        return f"Swarm rolled back to {previous_image}"
    back = spec(
        engine,
        t,
        previous_image,
        labels.get(names.LABEL_MODEL_NAME, ""),
        labels.get(names.LABEL_MODEL_VERSION, ""),
    )
    try:
        since = _update(service)[1]
        service = apply(engine, back, service)
        converge(service, previous_image, t.replicas, timeout_s + 60, since)
    except ToolkitError as exc:
        return f"putting {previous_image} back failed too ({exc})"
    return f"{previous_image} is back on every replica"


def status(*, app: str, stage: str) -> dict:
    """The labels and running images of a stage's service (for reports and tests)."""
    engine = dockerhost.connect()
    service = find(engine, f"{app}-{stage}")
    if service is None:
        raise ToolkitError(f"no service {app}-{stage}")
    images = [
        task["Spec"]["ContainerSpec"]["Image"]
        for task in service.tasks(filters={"desired-state": "running"})
    ]
    return {"labels": service.attrs["Spec"].get("Labels") or {}, "images": images}


SUMMARY = "one Swarm service per stage"


def add_options(p: Options) -> None:
    """The swarm target's options: the engine's (--port, --host, --publish), then its own."""
    dockerhost.add_options(p)
    p.add_argument("--replicas", type=int, default=2, help="swarm: tasks of the service")
    p.add_argument("--secrets", default="", help="swarm: secrets to mount (comma/space list)")
    p.add_argument("--configs", default="", help="swarm: configs to mount (comma/space list)")


def from_options(args: argparse.Namespace, stage: str) -> SwarmTarget:
    """The target the deploy options describe (publish: ingress unless asked)."""
    port = dockerhost.require_port(args)

    def listed(text: str) -> list[str]:
        return text.replace(",", " ").split()

    return SwarmTarget(
        app=args.app,
        stage=stage,
        port=port,
        host=args.host,
        replicas=args.replicas,
        publish=dockerhost.publish_mode(args, default="ingress"),
        secrets=listed(args.secrets),
        configs=listed(args.configs),
    )
