"""The one Pushgateway client: `monitor` pushes live quality, `drift` the drift on real traffic.

A push is a PUT of one group (`/metrics/job/<job>/<label>/<value>...`): it replaces everything
the group held, so a series that is gone from the report is gone from Prometheus too. The
Pushgateway has no authentication of its own; one reached from a hosted runner stands behind a
proxy that asks for HTTP basic auth or a bearer token, read from the environment (never a flag):

    MLOPS_PUSHGATEWAY_URL        where (or `--pushgateway`)
    MLOPS_PUSHGATEWAY_USERNAME   basic auth, with MLOPS_PUSHGATEWAY_PASSWORD (or user:pass@ in
                                 the URL)
    MLOPS_PUSHGATEWAY_TOKEN      a bearer token instead (`Authorization: Bearer <token>`)

Every failure is one line (`PushError`) naming the URL without its credentials.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode, urlsafe_b64encode
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import names
from ..core.redact import redact
from ..errors import InputError, ToolkitError

ENV_URL = names.ENV_PUSHGATEWAY_URL
ENV_USERNAME = names.ENV_PUSHGATEWAY_USERNAME
ENV_PASSWORD = names.ENV_PUSHGATEWAY_PASSWORD
ENV_TOKEN = names.ENV_PUSHGATEWAY_TOKEN
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DETAIL_CHARS = 200  # of the Pushgateway's (or its proxy's) answer quoted in an error


class PushError(ToolkitError):
    """The Pushgateway could not be reached, or refused the push."""


@dataclass(frozen=True)
class Target:
    """Where to push, and how to sign in. `url` never holds credentials."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)

    @classmethod
    def resolve(cls, url: str, env: Mapping[str, str] | None = None) -> Target | None:
        """The target of `url` (empty: none), with the credentials of the environment or of the
        URL's userinfo. Conflicting or half-given credentials are an InputError."""
        env = os.environ if env is None else env
        if not url.strip():
            return None
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"Pushgateway URL {redact(url)!r} is not http(s)://host[:port]")
        username, password = env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD, "")
        token = env.get(ENV_TOKEN, "")
        if parts.username is not None or parts.password is not None:
            if username or password or token:
                raise InputError(
                    f"Pushgateway credentials both in the URL and in ${ENV_USERNAME}/"
                    f"${ENV_PASSWORD}/${ENV_TOKEN}: give them one way"
                )
            username = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
        if token and (username or password):
            raise InputError(
                f"${ENV_TOKEN} and ${ENV_USERNAME}/${ENV_PASSWORD} are both set: the Pushgateway's"
                " proxy takes one, a bearer token or basic auth"
            )
        if bool(username) != bool(password):
            raise InputError(f"basic auth needs both ${ENV_USERNAME} and ${ENV_PASSWORD}")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        return cls(bare.rstrip("/"), username, password, token)

    @property
    def auth(self) -> str:
        """How it signs in, for messages: 'basic auth', 'a bearer token' or 'no credentials'."""
        if self.token:
            return "a bearer token"
        return "basic auth" if self.username else "no credentials"

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": CONTENT_TYPE}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.username:
            pair = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = f"Basic {b64encode(pair).decode()}"
        return headers

    def scrub(self, text: str) -> str:
        """`text` with URLs' secrets masked; withheld whole if it quotes a credential (masking
        a known secret as a substring could reveal it: redact.py)."""
        text = redact(text)
        secrets = [s for s in (self.password, self.token) if s]
        return "(withheld: it quoted a credential)" if any(s in text for s in secrets) else text


def group_path(job: str, labels: Mapping[str, str]) -> str:
    """`/metrics/job/<job>/<name>/<value>...`, a value with a slash (or an empty one) in the
    Pushgateway's base64 spelling."""
    path = f"/metrics/job/{urllib.parse.quote(job, safe='')}"
    for key, value in labels.items():
        if value and "/" not in value:
            path += f"/{key}/{urllib.parse.quote(value, safe='')}"
        else:
            path += f"/{key}@base64/{urlsafe_b64encode(value.encode()).decode() or '='}"
    return path


def push(
    target: Target, job: str, labels: Mapping[str, str], text: str, timeout: float = 10
) -> None:
    """PUT the group's text exposition: it replaces what the last push of the group held."""
    request = urllib.request.Request(
        target.url + group_path(job, labels),
        data=text.encode(),
        method="PUT",
        headers=target.headers(),
    )
    where = redact(target.url)
    group = ", ".join(f"{k}={v}" for k, v in labels.items())
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        detail = " ".join(exc.read().decode("utf-8", "replace").split())[:DETAIL_CHARS]
        hint = ""
        if exc.code in (401, 403, 407):
            hint = f" (sent {target.auth}: check ${ENV_USERNAME}/${ENV_PASSWORD} or ${ENV_TOKEN})"
        raise PushError(
            f"the Pushgateway at {where} answered {exc.code} to job={job} {group}{hint}: "
            f"{target.scrub(detail)}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        raise PushError(
            f"the Pushgateway at {where} is unreachable ({target.scrub(reason)})"
        ) from None
