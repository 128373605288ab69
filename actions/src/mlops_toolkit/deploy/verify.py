"""The checks every target runs on a stage once it serves: /health, /version (the expected
model version) and a smoke request (the model's own input example), over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ToolkitError
from ..tracking import client as tracking


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


def wait_healthy(
    url: str, name: str, timeout_s: float, alive: Callable[[], None] | None = None
) -> None:
    """GET /health until 200. ``alive`` raises as soon as what serves is known to be gone (a
    container that exited), so a dead server fails at once instead of at the deadline."""
    import requests

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        try:
            resp = _get(f"{url}/health")
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise ToolkitError(f"{name} not healthy within {timeout_s:g} s ({last})")


def verify(
    url: str,
    name: str,
    *,
    timeout_s: float,
    expect_version: str | None,
    payload: dict | None,
    alive: Callable[[], None] | None = None,
) -> None:
    """Healthy, serving ``expect_version``, and answering the smoke ``payload`` with predictions;
    ``name`` is what the failure lines call it (container, service, deployment)."""
    import requests

    wait_healthy(url, name, timeout_s, alive)
    if expect_version:
        try:
            info = _get(f"{url}/version").json()
        except (requests.RequestException, ValueError) as exc:
            raise ToolkitError(f"{name}: /version unreadable ({exc})") from exc
        if str(info.get("model_version")) != str(expect_version):
            raise ToolkitError(
                f"{name} serves model version "
                f"{info.get('model_version')}, expected {expect_version}"
            )
    if payload is not None:
        try:
            resp = requests.post(f"{url}/invocations", json=payload, timeout=30)
        except requests.RequestException as exc:
            raise ToolkitError(f"smoke request to {name} failed: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise ToolkitError(
                f"smoke request to {name} answered HTTP {resp.status_code}: {resp.text[:200]}"
            )
        try:
            body = resp.json()
        except ValueError as exc:
            raise ToolkitError(f"smoke request to {name}: answer is not JSON") from exc
        predictions = body.get("predictions") if isinstance(body, dict) else body
        if not predictions:
            raise ToolkitError(f"smoke request to {name} returned no predictions")


def smoke_request(model_name: str, model_version: str, smoke: bool) -> dict | None:
    """The payload a deploy smokes the stage with; None when no smoke is asked for. A version
    without an input example cannot be smoked: refused before anything changes."""
    if not (model_name and model_version and smoke):
        return None
    tracking.check_server()
    payload = smoke_payload(model_name, model_version)
    if payload is None:
        raise ToolkitError(
            f"{model_name}/{model_version} has no input example for the smoke request"
        )
    return payload
