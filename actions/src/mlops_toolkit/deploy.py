"""deploy and rollback: a new container only replaces the old one once it is healthy.

1. Pre-flight: the new image runs beside the serving container on a spare port and must
   answer /health, /version (the expected model version) and a smoke request.
2. Swap (publish host, the default): the new container starts beside the serving one on the
   host network, both sharing the port, and the old one drains once the new one is healthy.
   Publish port: the serving container is stopped and kept (renamed); the new one takes the
   port (requests in between fail).
3. Verify again on the real port. Any failure removes the new container and starts the
   kept one again under its name, then fails the step. On success the kept one is removed.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from . import dockerhost, handover, names, registry, tracking
from .errors import ToolkitError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def smoke_payload(model_name: str, version: str) -> dict | None:
    """The model's input example as an MLflow scoring payload ({"dataframe_split": ...})."""
    import mlflow

    base = f"models:/{model_name}/{version}"
    for name in ("serving_input_example.json", "input_example.json"):
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{base}/{name}", tracking_uri=tracking.tracking_uri()
            )
        except Exception:
            continue
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if name == "serving_input_example.json":
            return data
        if isinstance(data, dict) and "columns" in data and "data" in data:
            return {"dataframe_split": data}
    return None


def _get(url: str, timeout: float = 3.0):
    import requests

    return requests.get(url, timeout=timeout)


def wait_healthy(url: str, container: Any, timeout_s: float) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            raise ToolkitError(dockerhost.exited(container))
        try:
            resp = _get(f"{url}/health")
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise ToolkitError(f"{container.name} not healthy within {timeout_s:g} s ({last})")


def verify(
    url: str, container: Any, *, timeout_s: float, expect_version: str | None, payload: dict | None
) -> None:
    import requests

    wait_healthy(url, container, timeout_s)
    if expect_version:
        try:
            info = _get(f"{url}/version").json()
        except (requests.RequestException, ValueError) as exc:
            raise ToolkitError(f"{container.name}: /version unreadable ({exc})") from exc
        if str(info.get("model_version")) != str(expect_version):
            raise ToolkitError(
                f"{container.name} serves model version "
                f"{info.get('model_version')}, expected {expect_version}"
            )
    if payload is not None:
        try:
            resp = requests.post(f"{url}/invocations", json=payload, timeout=30)
        except requests.RequestException as exc:
            raise ToolkitError(
                f"smoke request to {container.name} failed: {type(exc).__name__}"
            ) from exc
        if resp.status_code != 200:
            raise ToolkitError(
                f"smoke request to {container.name} answered HTTP "
                f"{resp.status_code}: {resp.text[:200]}"
            )
        try:
            body = resp.json()
        except ValueError as exc:
            raise ToolkitError(f"smoke request to {container.name}: answer is not JSON") from exc
        predictions = body.get("predictions") if isinstance(body, dict) else body
        if not predictions:
            raise ToolkitError(f"smoke request to {container.name} returned no predictions")


def _find(engine: Any, name: str) -> Any | None:
    import docker

    try:
        return engine.containers.get(name)
    except docker.errors.NotFound:
        return None


def _remove(container: Any | None) -> None:
    if container is None:
        return
    with contextlib.suppress(Exception):
        container.remove(force=True)


def _ensure_image(engine: Any, image: str) -> None:
    import docker

    try:
        engine.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError:
        pass
    try:
        engine.images.pull(image)
    except Exception as exc:
        raise ToolkitError(f"cannot pull {image}: {tracking.one_line(exc)}") from exc


def _run(engine: Any, image: str, name: str, bind: str, port: int | None, labels: dict) -> Any:
    try:
        return engine.containers.run(
            image,
            name=name,
            detach=True,
            labels=labels,
            ports={f"{names.SERVING_PORT}/tcp": (bind, port)},
            restart_policy={"Name": "unless-stopped"} if port else None,
        )
    except Exception as exc:
        raise ToolkitError(f"cannot start {name} from {image}: {tracking.one_line(exc)}") from exc


def _published_port(container: Any) -> int:
    container.reload()
    ports = container.attrs["NetworkSettings"].get("Ports") or {}
    binding = ports.get(f"{names.SERVING_PORT}/tcp")
    if not binding:  # Docker drops the binding when the process exits (a server that gave up)
        raise ToolkitError(dockerhost.exited(container))
    return int(binding[0]["HostPort"])


def deploy(
    *,
    image: str,
    stage: str,
    app: str,
    port: int,
    host: str = "127.0.0.1",
    model_name: str = "",
    model_version: str = "",
    health_timeout_s: float = 120,
    smoke: bool = True,
    publish: str = "host",
) -> dict:
    """publish `host` (default): the new one starts beside the old on the host network
    (handover.py), no request lost; `port`: the old container stops, then the new one takes
    the published port (a gap in which requests fail)."""
    if stage not in names.STAGES:
        raise ToolkitError(f"stage must be one of {', '.join(names.STAGES)}")
    if publish not in ("host", "port"):
        raise ToolkitError(f"publish must be host or port, not {publish!r}")
    payload = None
    if model_name and model_version and smoke:
        tracking.check_server()
        payload = smoke_payload(model_name, model_version)
        if payload is None:
            raise ToolkitError(
                f"{model_name}/{model_version} has no input example for the smoke request"
            )
    engine = dockerhost.connect()
    if publish == "host":
        handover.require_host_network(engine)  # before anything starts: nothing to undo
    _ensure_image(engine, image)
    name = f"{app}-{stage}"
    bind = "127.0.0.1" if host in LOOPBACK else "0.0.0.0"
    labels = {
        names.LABEL_APP: app,
        names.LABEL_STAGE: stage,
        names.LABEL_MODEL_NAME: model_name,
        names.LABEL_MODEL_VERSION: model_version,
    }
    check = dict(timeout_s=health_timeout_s, expect_version=model_version or None, payload=payload)

    # 1. pre-flight beside what serves now
    preflight_name = f"{name}-candidate"
    _remove(_find(engine, preflight_name))
    candidate = _run(engine, image, preflight_name, bind, None, labels)
    try:
        verify(f"http://{host}:{_published_port(candidate)}", candidate, **check)
    except ToolkitError as exc:
        raise ToolkitError(f"deploy to {stage} aborted, nothing changed: {exc}") from None
    finally:
        _remove(candidate)

    # 2. swap, keeping the old container to put back
    previous = _find(engine, name)
    previous_image = ""
    kept_name = f"{name}-previous"
    beside = None
    if publish == "host" and (previous is None or handover.is_host_mode(previous)):
        beside = _start_beside(engine, image, name, bind, port, labels, stage, health_timeout_s)
    if previous is not None:
        previous_image = previous.attrs["Config"]["Image"]
        _remove(_find(engine, kept_name))
        previous.stop(timeout=30 if beside is not None else 10)  # beside: let it drain
        previous.rename(kept_name)
    new = beside
    try:
        if new is None:
            new = (
                handover.run(engine, image, name, bind, port, labels)
                if publish == "host"
                else _run(engine, image, name, bind, port, labels)
            )
        else:
            new.rename(name)
            new.reload()  # so every line below names it as it is now called
        verify(f"http://{host}:{port}", new, **check)
    except ToolkitError as exc:
        _remove(new)
        restored = _restore(engine, previous, name, host, port, health_timeout_s)
        raise ToolkitError(f"deploy to {stage} failed, {restored}: {exc}") from None
    _remove(previous)
    return {
        "container": name,
        "url": f"http://{host}:{port}",
        "previous_image": previous_image,
        "image": image,
    }


def _start_beside(
    engine: Any,
    image: str,
    name: str,
    bind: str,
    port: int,
    labels: dict,
    stage: str,
    timeout_s: float,
) -> Any:
    """publish host: the new container up and healthy beside the old one, or nothing changed."""
    next_name = f"{name}-next"
    _remove(_find(engine, next_name))
    new = handover.run(engine, image, next_name, bind, port, labels)
    try:
        handover.wait_own_health(new, timeout_s)
    except ToolkitError as exc:
        _remove(new)
        raise ToolkitError(f"deploy to {stage} aborted, nothing changed: {exc}") from None
    return new


def _restore(
    engine: Any, previous: Any | None, name: str, host: str, port: int, timeout_s: float
) -> str:
    if previous is None:
        return "nothing was serving before"
    previous.rename(name)
    previous.start()
    try:
        wait_healthy(f"http://{host}:{port}", previous, timeout_s)
    except ToolkitError as exc:
        return f"previous container restarted but unhealthy ({exc})"
    return "previous container restored and healthy"


def rollback(
    *,
    model_name: str,
    to: str | None,
    app: str,
    port: int,
    host: str = "127.0.0.1",
    redeploy: bool = True,
    health_timeout_s: float = 120,
    publish: str = "host",
) -> dict:
    """Production back to the previous (or given) version: redeploy first, then move alias."""
    client = tracking.client()
    current, target = registry.rollback_plan(client, model_name, to)
    image = ""
    if redeploy:
        image = target.tags.get(names.TAG_IMAGE, "")
        if not image:
            raise ToolkitError(
                f"version {target.version} has no recorded image "
                f"({names.TAG_IMAGE}); nothing changed"
            )
        deploy(
            image=image,
            stage=names.PRODUCTION,
            app=app,
            port=port,
            host=host,
            model_name=model_name,
            model_version=target.version,
            health_timeout_s=health_timeout_s,
            publish=publish,
        )
    registry.rollback_alias(client, model_name, current, target)
    return {"version": target.version, "from": current.version, "image": image}
