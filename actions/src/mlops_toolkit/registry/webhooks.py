"""Registry webhooks: the tracking server tells the team when a version appears or an alias moves.

MLflow (3.3 and later, with a database backend store) POSTs registry events as JSON to a URL,
signed with HMAC-SHA256 under a shared secret. Two halves live here:

- `ensure`: the sending side. It creates the project's webhook, or brings an existing one (found
  by its name, `webhook_name(model)`) up to date: URL, events, secret, active. Running it again
  changes nothing but the secret and URL it is given, so a setup workflow may run it every time.
- `verify`: the receiving side, standard library only. A team's receiver calls it on each POST
  with the raw body and the headers; it checks the signature and the delivery's age and returns
  the event.

What a delivery holds (MLflow's format): headers `X-MLflow-Delivery-Id`, `X-MLflow-Timestamp`
(Unix seconds) and `X-MLflow-Signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`);
the body `{"entity": "model_version_alias", "action": "created", "timestamp": ...,
"data": {"name": ..., "alias": ..., "version": ...}}`.

MLflow's webhooks are registry-wide: each receives the events of every model on the server. The
receiver keeps the events whose `data.name` is its model (`verify(..., model=...)`).

The secret never leaves the environment variable it is read from: it goes to the server in the
request body only, and MLflow never returns it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError, ToolkitError

# What a team wants to hear about: a new version, and every alias move (set and removed).
EVENTS = ("model_version.created", "model_version_alias.created", "model_version_alias.deleted")
# Every registry event MLflow sends (mlflow.entities.webhook.WebhookEvent, model registry part).
KNOWN_EVENTS = frozenset(
    {
        "registered_model.created",
        "model_version.created",
        "model_version_tag.set",
        "model_version_tag.deleted",
        "model_version_alias.created",
        "model_version_alias.deleted",
    }
)
SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
# A delivery older (or further in the future) than this is refused: a replayed capture is.
MAX_AGE_S = 300
# Shorter secrets are refused: a guessable HMAC key signs forged alias moves.
MIN_SECRET_LENGTH = 16
NAME_PREFIX = "mlops-"
# MLflow's rule for webhook names: letters, digits, `.`, `_`, `-`; a letter or digit at both
# ends; under 63 characters.
NAME_LIMIT = 62


class WebhooksUnsupported(ToolkitError):
    """The tracking server has no registry webhooks (MLflow < 3.3, or a file backend store)."""


class DeliveryRejected(ToolkitError):
    """A delivery whose signature, age or model is wrong: answer it 4xx and drop it."""


@dataclass
class Outcome:
    webhook_id: str
    name: str
    action: str  # "created" or "updated"
    events: list[str]


def webhook_name(model_name: str) -> str:
    """The project's webhook name: `mlops-<model>`, made fit for MLflow's naming rule (a model
    name with other characters gets a short hash of itself, so two models never share one)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("._-")
    name = f"{NAME_PREFIX}{slug}"
    if slug != model_name or len(name) > NAME_LIMIT:
        digest = hashlib.sha256(model_name.encode("utf-8")).hexdigest()[:8]
        name = f"{name[: NAME_LIMIT - 9].rstrip('._-')}-{digest}"
    return name


def parse_events(text: str) -> list[str]:
    """`a,b` -> [a, b], each one MLflow knows; empty: the default EVENTS."""
    events = [e.strip() for e in text.split(",") if e.strip()] or list(EVENTS)
    unknown = sorted(set(events) - KNOWN_EVENTS)
    if unknown:
        known = ", ".join(sorted(KNOWN_EVENTS))
        raise InputError(f"unknown webhook event(s) {', '.join(unknown)}; known: {known}")
    return list(dict.fromkeys(events))


def check_url(url: str) -> str:
    """The URL's `scheme://host[:port]`, fit for logs (a Slack URL's path is its secret)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the webhook URL must be an http(s) URL with a host name")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def check_secret(secret: str, source: str) -> None:
    if not secret:
        raise InputError(f"{source} is empty: the webhook's HMAC secret comes from it")
    if len(secret) < MIN_SECRET_LENGTH:
        raise InputError(f"{source} is shorter than {MIN_SECRET_LENGTH} characters")


def ensure(
    client: Any, model_name: str, url: str, secret: str, events: Sequence[str] = EVENTS
) -> Outcome:
    """Create the model's webhook, or update it in place: one webhook per model, never two."""
    from mlflow.exceptions import MlflowException

    name = webhook_name(model_name)
    description = f"mlops-toolkit: registry events of {model_name} (alias moves, new versions)"
    fields = {
        "url": url,
        "events": list(events),
        "description": description,
        "secret": secret,
        "status": "ACTIVE",
    }
    try:
        existing = _find(client, name)
        if existing is None:
            hook, action = client.create_webhook(name=name, **fields), "created"
        else:
            hook, action = client.update_webhook(existing.webhook_id, **fields), "updated"
    except NotImplementedError:  # a local file store, in-process
        raise WebhooksUnsupported(_unsupported("its store does not support webhooks")) from None
    except MlflowException as exc:
        message = " ".join(str(exc.message).split()).replace(secret, "***")
        message = message.replace(url, check_url(url))  # a Slack URL's path is its secret
        why = _why_unsupported(exc)
        if why:
            raise WebhooksUnsupported(_unsupported(why)) from None
        raise ToolkitError(f"cannot set the registry webhook {name}: {message}") from None
    return Outcome(str(hook.webhook_id), name, action, [str(e) for e in hook.events])


def _find(client: Any, name: str) -> Any | None:
    token = None
    while True:
        page = client.list_webhooks(max_results=100, page_token=token)
        for hook in page:
            if hook.name == name:
                return hook
        token = page.token
        if not token:
            return None


def _why_unsupported(exc: Any) -> str | None:
    """Why the server has no webhooks API, or None when the error is another one.

    MLflow < 3.3 has no such endpoint (HTTP 404); a server on a file store fails every webhooks
    call (HTTP 500, its log says `FileStore does not support list_webhooks`)."""
    code = getattr(exc, "error_code", "")
    text = str(exc).lower()
    if code == "ENDPOINT_NOT_FOUND" or "404 != 200" in text:
        return "no webhooks API (HTTP 404)"
    if "does not support" in text or code == "NOT_IMPLEMENTED":
        return "its store does not support webhooks"
    if "500 != 200" in text or "too many 500 error responses" in text:  # after the retries
        return "its webhooks API fails (HTTP 500)"
    return None


def _unsupported(reason: str) -> str:
    return (
        "the tracking server does not support registry webhooks (they need MLflow >= 3.3 with "
        f"a database backend store): {reason}"
    )


# --- the receiving side: standard library only ----------------------------------------------


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The `X-MLflow-Signature` MLflow sends for this body: `v1,<base64 HMAC-SHA256>`."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    model: str | None = None,
    max_age_s: float = MAX_AGE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The event of one delivery, once its signature and age check out; else DeliveryRejected.

    `body` is the request body exactly as received (the signature covers its bytes); `headers`
    any mapping (case does not matter). With `model`, an event of another model is rejected too.
    """
    found = {key.lower(): value for key, value in headers.items()}
    given = found.get(SIGNATURE_HEADER.lower(), "")
    delivery_id = found.get(DELIVERY_HEADER.lower(), "")
    timestamp = found.get(TIMESTAMP_HEADER.lower(), "")
    if not (given and delivery_id and timestamp):
        raise DeliveryRejected("unsigned delivery: a signature, delivery id and timestamp needed")
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        raise DeliveryRejected("the delivery's timestamp is not a number") from None
    if age > max_age_s:
        raise DeliveryRejected(f"the delivery is {age:.0f} s old (a replay?): refused")
    expected = signature(secret, delivery_id, timestamp, body)
    # Constant time, against every signature given (`v1,a v1,b` while a secret rotates).
    if not any(hmac.compare_digest(expected, one) for one in given.split()):
        raise DeliveryRejected("the delivery's signature does not match the secret")
    event = json.loads(body)
    if model is not None and event.get("data", {}).get("name") != model:
        raise DeliveryRejected("the delivery is about another model")
    return event
