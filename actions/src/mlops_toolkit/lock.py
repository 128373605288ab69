"""A mutual-exclusion lock kept in the model registry itself, so it spans CI runners.

Acquiring is creating a registered model named `mlops-lock.<model>`: the tracking store's
unique constraint on registered-model names makes creation atomic (exactly one concurrent
creator succeeds; the others get RESOURCE_ALREADY_EXISTS and wait). Releasing is deleting it.
The lock carries its holder and an expiry time, so a lock left by a killed job can be taken
over once it has expired (the TTL must exceed the longest critical section, which is a few
registry calls).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import names
from .errors import ToolkitError


def _holder() -> str:
    run = os.environ.get("GITHUB_RUN_ID", "local")
    return f"{socket.gethostname()}:{os.getpid()}:{run}:{uuid.uuid4().hex[:8]}"


def lock_name(model_name: str) -> str:
    return f"{names.LOCK_MODEL_PREFIX}{model_name}"


@contextmanager
def registry_lock(
    client: Any, model_name: str, *, wait_s: float = 300.0, ttl_s: float = 600.0,
    poll_s: float = 0.2,
) -> Iterator[str]:
    from mlflow.exceptions import MlflowException

    name = lock_name(model_name)
    holder = _holder()
    deadline = time.monotonic() + wait_s
    while True:
        expires = f"{time.time() + ttl_s:.3f}"
        try:
            client.create_registered_model(
                name,
                tags={names.TAG_LOCK_HOLDER: holder, names.TAG_LOCK_EXPIRES: expires},
                description=f"Promotion lock of {model_name} (held while aliases move).",
            )
            break
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise ToolkitError(f"cannot take the registry lock {name}: {exc}") from exc
        current = _current(client, name)
        if current is not None and _expires_at(current, ttl_s) < time.time():
            _delete_if_held_by(client, name, current.get(names.TAG_LOCK_HOLDER))
            continue
        if time.monotonic() > deadline:
            who = (current or {}).get(names.TAG_LOCK_HOLDER, "unknown")
            raise ToolkitError(f"registry lock {name} still held by {who} after {wait_s:.0f} s")
        time.sleep(poll_s * (0.5 + random.random()))
    try:
        yield holder
    finally:
        _delete_if_held_by(client, name, holder)


def _current(client: Any, name: str) -> dict | None:
    """The lock's tags plus its creation time (ms), or None when nobody holds it."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException:
        return None
    return {**(model.tags or {}), "created_ms": model.creation_timestamp or 0}


def _expires_at(current: dict, ttl_s: float) -> float:
    """When the lock may be taken over. A lock seen between its creation and its tags (the
    store may write them apart) is fresh, not expired: it expires ``ttl_s`` after creation."""
    if names.TAG_LOCK_EXPIRES in current:
        return float(current[names.TAG_LOCK_EXPIRES])
    return float(current["created_ms"]) / 1000 + ttl_s


def _delete_if_held_by(client: Any, name: str, holder: str | None) -> None:
    """Delete the lock only if the given holder still owns it (never someone else's lock)."""
    from mlflow.exceptions import MlflowException

    current = _current(client, name)
    if current is None or current.get(names.TAG_LOCK_HOLDER) != holder:
        return
    with contextlib.suppress(MlflowException):  # already gone
        client.delete_registered_model(name)
