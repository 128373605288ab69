"""Is the MLflow tracking server up? `GET <uri>/health`, standard library only, no MLflow.

Credentials may sit in the URI (`http://user:secret@host:5000`, as some teams configure
`MLFLOW_TRACKING_URI`) or in MLflow's own variables; either way they go out as an
`Authorization` header, and the password never appears in a message.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from ..core.redact import redact  # the URI with its password masked, fit for logs
from ..errors import ToolkitError
from ..names import ENV_TRACKING_PASSWORD as ENV_PASSWORD
from ..names import ENV_TRACKING_TOKEN as ENV_TOKEN
from ..names import ENV_TRACKING_URI
from ..names import ENV_TRACKING_USERNAME as ENV_USERNAME

REDACTED = "***"

# MLflow's HTTP client retries for minutes by default (7 retries, backoff factor 2, 120 s
# timeout): a dead server would hold a CI job or `train` long after the fact. These bounds fail
# in seconds when the server is gone and still allow a slow artifact upload. The user's own
# values win (setdefault); they must be in the environment before MLflow's first request.
HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


def bound_http_requests() -> None:
    """Bounded retries and timeouts for MLflow's HTTP calls, unless the user set their own."""
    for name, value in HTTP_BOUNDS.items():
        os.environ.setdefault(name, value)


class TrackingUnavailable(ToolkitError):
    """The tracking server is down, unhealthy or refuses us."""


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _split_credentials(uri: str) -> tuple[str, dict[str, str], list[str]]:
    """(URI without credentials, auth headers, secrets to keep out of messages)."""
    parts = urlsplit(uri)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if user is None and os.environ.get(ENV_USERNAME):
        user, password = os.environ[ENV_USERNAME], os.environ.get(ENV_PASSWORD, "")
    secrets = [s for s in (password, parts.password) if s]
    if user is not None:
        pair = f"{user}:{password or ''}".encode()
        return bare, {"Authorization": "Basic " + base64.b64encode(pair).decode()}, secrets
    token = os.environ.get(ENV_TOKEN)
    if token:
        return bare, {"Authorization": f"Bearer {token}"}, [token]
    return bare, {}, secrets


def check(uri: str, timeout_s: float = 10) -> None:
    """Raise TrackingUnavailable (one line, no secrets) unless `<uri>/health` answers 200.

    Non-HTTP URIs (a local file store, sqlite:///, databricks) have no /health: nothing to do.
    """
    if not is_http(uri):
        return
    status = _get(uri, "/health", timeout_s)
    if status != 200:
        raise TrackingUnavailable(
            _scrub(
                f"MLflow tracking server {redact(uri)} is unhealthy: HTTP {status}",
                _split_credentials(uri)[2],
            )
        )


# The cheapest call behind authentication: MLflow's basic-auth leaves /health open.
_AUTH_PROBE = "/api/2.0/mlflow/experiments/search?max_results=1"


def check_authenticated(uri: str, timeout_s: float = 10) -> None:
    """Raise TrackingUnavailable (one line, no secrets) unless the server accepts our credentials.

    401: no or wrong credentials; 403: right user, no permission to read experiments.
    """
    if not is_http(uri):
        return
    status = _get(uri, _AUTH_PROBE, timeout_s)
    if status == 200:
        return
    why = {
        401: "refused the credentials (HTTP 401): set MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) to a valid user",
        403: "denied this user access (HTTP 403)",
    }.get(status, f"answered HTTP {status}")
    raise TrackingUnavailable(
        _scrub(f"MLflow tracking server {redact(uri)} {why}", _split_credentials(uri)[2])
    )


def _get(uri: str, path: str, timeout_s: float) -> int:
    """HTTP status of GET `<uri><path>` with the credentials of the URI or the environment."""
    bare, headers, secrets = _split_credentials(uri)
    url = bare.rstrip("/") + path
    request = urllib.request.Request(url, headers={"User-Agent": "mlops-toolkit", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise TrackingUnavailable(
            _scrub(f"MLflow tracking server {redact(uri)} is unreachable: {reason}", secrets)
        ) from None


def _scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, REDACTED)
    return message


def scrub_known_secrets(message: str) -> str:
    """`message` without the tracking password or token of this process's environment.

    The CLI passes every error line through this: a library's error may quote the URI. Every
    URL's credentials go by parsing first (a short password is no substring to replace).
    """
    message = redact(message)
    uri = os.environ.get(ENV_TRACKING_URI, "")
    secrets = _split_credentials(uri)[2] if is_http(uri) else []
    secrets += [os.environ.get(ENV_PASSWORD, ""), os.environ.get(ENV_TOKEN, "")]
    return _scrub(message, [s for s in secrets if len(s) >= 3])
