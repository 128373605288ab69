"""A mutual-exclusion lock kept in the model registry itself, so it spans CI runners.

Acquiring is creating a registered model named `mlops-lock.<model>`: the tracking store's
unique constraint on registered-model names makes creation atomic (exactly one concurrent
creator succeeds; the others get RESOURCE_ALREADY_EXISTS and wait). Releasing is deleting it.
The lock carries its holder and an expiry time, so a lock left by a killed job can be taken
over once it has expired (the TTL must exceed the longest critical section, which is a few
registry calls). The holder's pid, host and machine are tags too: a waiter on the same machine
that finds the holder process gone (SIGKILL, a crash) takes the lock over at once; a holder
elsewhere is waited for until the wait times out, and that line says how to clear the lock.
SIGTERM (a cancelled job) while the lock is wanted or held raises Terminated
inside the critical section, so the lock is released on the way out instead of lingering until
it expires. A process that waits says on stderr who holds the lock and since when.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import shlex
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import names
from ..errors import Terminated, ToolkitError
from ..tracking import liveness
from ..tracking.api import TrackingClient


def _holder() -> str:
    run = os.environ.get("GITHUB_RUN_ID", "local")
    return f"{socket.gethostname()}:{os.getpid()}:{run}:{uuid.uuid4().hex[:8]}"


def lock_name(model_name: str) -> str:
    return f"{names.LOCK_MODEL_PREFIX}{model_name}"


@contextmanager
def _sigterm_raises(name: str) -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (so `finally` blocks run), also where the CLI's
    own handler is not installed (the toolkit used as a library); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        print(f"SIGTERM while taking or holding {name}: releasing it", file=sys.stderr, flush=True)
        raise Terminated()

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextmanager
def registry_lock(
    client: TrackingClient,
    model_name: str,
    *,
    wait_s: float = 300.0,
    ttl_s: float = 600.0,
    poll_s: float = 0.2,
) -> Iterator[str]:
    name = lock_name(model_name)
    holder = _holder()
    with _sigterm_raises(name):
        try:
            _acquire(client, name, holder, wait_s=wait_s, ttl_s=ttl_s, poll_s=poll_s)
            yield holder
        finally:
            # Also after an interruption mid-acquire: the create may have gone through. A
            # second SIGTERM must not cut the release short.
            with _sigterm_ignored():
                _delete_if_held_by(client, name, holder)


@contextmanager
def _sigterm_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _acquire(
    client: TrackingClient, name: str, holder: str, *, wait_s: float, ttl_s: float, poll_s: float
) -> None:
    from mlflow.exceptions import MlflowException

    deadline = time.monotonic() + wait_s
    told = ("", 0.0)  # (holder announced, when)
    while True:
        expires = f"{time.time() + ttl_s:.3f}"
        try:
            client.create_registered_model(
                name,
                tags={
                    names.TAG_LOCK_HOLDER: holder,
                    names.TAG_LOCK_EXPIRES: expires,
                    **{names.TAG_LOCK_PREFIX + k: v for k, v in liveness.identity().items()},
                },
                description=f"Promotion lock of {name[len(names.LOCK_MODEL_PREFIX) :]} "
                "(held while aliases move).",
            )
            return
        except MlflowException as exc:
            code = getattr(exc, "error_code", "")
            # The SQL store answers a clash by reading the existing lock back; when its holder
            # released it in between, that read fails: the lock is free, try again (within the
            # wait: a store that always answers so must not spin forever).
            if code == "RESOURCE_DOES_NOT_EXIST" and time.monotonic() <= deadline:
                continue
            if code != "RESOURCE_ALREADY_EXISTS":
                raise ToolkitError(f"cannot take the registry lock {name}: {exc}") from exc
        current = _current(client, name)
        if current is not None and _takeover(name, current, ttl_s):
            _delete_if_held_by(client, name, current.get(names.TAG_LOCK_HOLDER))
            continue
        who = (current or {}).get(names.TAG_LOCK_HOLDER, "unknown")
        if time.monotonic() > deadline:
            raise ToolkitError(_timed_out(name, who, current, wait_s))
        if current is not None and (who != told[0] or time.monotonic() - told[1] > 30):
            _announce(name, who, current, ttl_s)
            told = (who, time.monotonic())
        time.sleep(poll_s * (0.5 + random.random()))


def _writer(current: dict) -> dict[str, str]:
    """The holder process as liveness.py reads it (empty for a lock of an older version)."""
    prefix = names.TAG_LOCK_PREFIX
    return {k[len(prefix) :]: v for k, v in current.items() if k.startswith(prefix)}


def _takeover(name: str, current: dict, ttl_s: float) -> bool:
    """The lock may be taken: its holder died on this machine, or it has expired."""
    writer = _writer(current)
    if liveness.state(writer) == liveness.DEAD:
        print(
            f"registry lock {name}: its holder ({liveness.describe(writer)}) is no longer "
            "running on this machine: taking the lock over",
            file=sys.stderr,
            flush=True,
        )
        return True
    return _expires_at(current, ttl_s) < time.time()


def _since(current: dict) -> str:
    created = datetime.datetime.fromtimestamp(float(current["created_ms"]) / 1000, datetime.UTC)
    return f"{created:%Y-%m-%dT%H:%M:%SZ}"


def clear_command(name: str) -> str:
    """The shell line that deletes the lock (MLFLOW_TRACKING_URI set as for the toolkit)."""
    code = f"from mlflow import MlflowClient; MlflowClient().delete_registered_model({name!r})"
    return f"python3 -c {shlex.quote(code)}"


def _timed_out(name: str, who: str, current: dict | None, wait_s: float) -> str:
    """One line: who holds the lock, since when, and exactly how to clear it."""
    if current is None:
        return f"registry lock {name} could not be taken within {wait_s:.0f} s"
    return (
        f"registry lock {name} still held after {wait_s:.0f} s by {who} "
        f"({liveness.describe(_writer(current))}, since {_since(current)}); if that job is "
        f"gone, delete the registered model {name} (MLflow UI, or with MLFLOW_TRACKING_URI "
        f"set: {clear_command(name)}) and run this again"
    )


def _announce(name: str, who: str, current: dict, ttl_s: float) -> None:
    """One line on stderr: who holds the lock, since when, until when at the latest."""
    left = max(0.0, _expires_at(current, ttl_s) - time.time())
    print(
        f"waiting for registry lock {name}: held by {who} since {_since(current)} "
        f"(expires in {left:.0f} s; {liveness.describe(_writer(current))})",
        file=sys.stderr,
        flush=True,
    )


def _current(client: TrackingClient, name: str) -> dict | None:
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


def _delete_if_held_by(client: TrackingClient, name: str, holder: str | None) -> None:
    """Delete the lock only if the given holder still owns it (never someone else's lock)."""
    from mlflow.exceptions import MlflowException

    current = _current(client, name)
    if current is None or current.get(names.TAG_LOCK_HOLDER) != holder:
        return
    with contextlib.suppress(MlflowException):  # already gone
        client.delete_registered_model(name)
