"""The serving image's environment: one home for every variable the server reads."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .. import names

# Names of the environment variables (the Dockerfile sets the MODEL_* / GIT_COMMIT / IMAGE_TAG
# ones from its build arguments).
ENV_MODEL_DIR = "MODEL_DIR"
ENV_MODEL_NAME = "MODEL_NAME"
ENV_MODEL_VERSION = "MODEL_VERSION"
ENV_GIT_COMMIT = "GIT_COMMIT"
ENV_IMAGE_TAG = "IMAGE_TAG"
ENV_HOST = "SERVING_HOST"
ENV_PORT = "SERVING_PORT"
# Replicas sharing one port on the host network (Swarm/docker publish host): load first, then
# bind with SO_REUSEPORT; the health check then asks this process on its own Unix socket.
ENV_REUSE_PORT = "SERVING_REUSE_PORT"
ENV_HEALTH_SOCKET = "SERVING_HEALTH_SOCKET"
ENV_MAX_BODY_BYTES = "SERVING_MAX_BODY_BYTES"
# Seconds a client may take to send a request's headers, then its body (slow clients get cut).
ENV_HEADER_TIMEOUT = "SERVING_HEADER_TIMEOUT"
ENV_BODY_TIMEOUT = "SERVING_BODY_TIMEOUT"
ENV_LOG_DIR = "PREDICTION_LOG_DIR"
ENV_LOG_SAMPLE_RATE = "PREDICTION_LOG_SAMPLE_RATE"
ENV_DRIFT_REPORT = "DRIFT_REPORT_PATH"
# The prediction store (URL: monitoring/store), the environment recorded with each prediction,
# how many rows may wait for the store before new ones are dropped (and counted), whether
# classifiers' class probabilities are stored too (1: one more predict_proba per request, off
# the request path but on the same CPU; benchmarks/serving.py measures it), and POST /feedback's
# bearer token.
ENV_STORE = names.ENV_PREDICTION_STORE
ENV_ENVIRONMENT = names.ENV_ENVIRONMENT
ENV_STORE_QUEUE_ROWS = "PREDICTION_STORE_QUEUE_ROWS"
ENV_STORE_SCORES = names.ENV_STORE_SCORES
ENV_FEEDBACK_TOKEN = names.ENV_FEEDBACK_TOKEN

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Settings:
    model_dir: str
    model_name: str = UNKNOWN
    model_version: str = UNKNOWN
    git_commit: str = UNKNOWN
    image_tag: str = UNKNOWN
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    log_dir: str = ""
    log_sample_rate: float = 0.0
    drift_report: str = ""
    reuse_port: bool = False
    health_socket: str = ""
    # Secrets (a store URL may hold a password): never in repr(), so never in a log line.
    store_url: str = field(default="", repr=False)
    environment: str = UNKNOWN
    store_queue_rows: int = 100_000
    store_scores: bool = False
    feedback_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read the settings from `env` (default: os.environ); keyword overrides win."""
        env = dict(os.environ if env is None else env)

        def get(name: str, default: str) -> str:
            return env.get(name) or default

        values: dict[str, object] = {
            "model_dir": get(ENV_MODEL_DIR, "model"),
            "model_name": get(ENV_MODEL_NAME, UNKNOWN),
            "model_version": get(ENV_MODEL_VERSION, UNKNOWN),
            "git_commit": get(ENV_GIT_COMMIT, UNKNOWN),
            "image_tag": get(ENV_IMAGE_TAG, UNKNOWN),
            "host": get(ENV_HOST, "127.0.0.1"),
            "port": _number(int, ENV_PORT, get(ENV_PORT, "8080")),
            "max_body_bytes": _number(int, ENV_MAX_BODY_BYTES, get(ENV_MAX_BODY_BYTES, "10485760")),
            "header_timeout": _number(float, ENV_HEADER_TIMEOUT, get(ENV_HEADER_TIMEOUT, "10")),
            "body_timeout": _number(float, ENV_BODY_TIMEOUT, get(ENV_BODY_TIMEOUT, "30")),
            "log_dir": get(ENV_LOG_DIR, ""),
            "log_sample_rate": _number(float, ENV_LOG_SAMPLE_RATE, get(ENV_LOG_SAMPLE_RATE, "0")),
            "drift_report": get(ENV_DRIFT_REPORT, ""),
            "reuse_port": get(ENV_REUSE_PORT, "0") == "1",
            "health_socket": get(ENV_HEALTH_SOCKET, ""),
            "store_url": get(ENV_STORE, ""),
            "environment": get(ENV_ENVIRONMENT, UNKNOWN),
            "store_queue_rows": _number(
                int, ENV_STORE_QUEUE_ROWS, get(ENV_STORE_QUEUE_ROWS, "100000")
            ),
            "store_scores": get(ENV_STORE_SCORES, "0") == "1",
            "feedback_token": get(ENV_FEEDBACK_TOKEN, ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        for name, seconds in (
            (ENV_HEADER_TIMEOUT, settings.header_timeout),
            (ENV_BODY_TIMEOUT, settings.body_timeout),
        ):
            if not seconds > 0:
                raise ValueError(f"{name} must be a number of seconds above 0, got {seconds}")
        if settings.store_queue_rows < 1:
            raise ValueError(
                f"{ENV_STORE_QUEUE_ROWS} must be 1 or more, got {settings.store_queue_rows}"
            )
        if not 0.0 <= settings.log_sample_rate <= 1.0:
            raise ValueError(
                f"{ENV_LOG_SAMPLE_RATE} must be between 0 and 1, got {settings.log_sample_rate}"
            )
        return settings


def _number(kind: type, name: str, raw: str) -> int | float:
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
