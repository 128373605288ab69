"""`python -m mlops_toolkit.tracking.server`: the team's MLflow tracking server (PostgreSQL,
S3-compatible artifacts, basic-auth), the same in every project.

The entry point of a project's infra/tracking compose file and of its plain-process set-up (the
project's infra/tracking/README.md). Standard library only: it runs beside MLflow in the
server's own environment, which needs only the toolkit's base install. Everything comes from the
environment; a missing or malformed setting is one line on stderr and exit 2, before MLflow
starts. Since project API 1.6 (before, each project had a copy: infra/tracking/serve.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

PROG = "mlops_toolkit.tracking.server"
REQUIRED = {
    "MLFLOW_BACKEND_STORE_URI": "runs, models and aliases (postgresql+psycopg2://...)",
    "MLFLOW_ARTIFACTS_DESTINATION": "artifacts (s3://bucket/prefix)",
    "MLFLOW_AUTH_DATABASE_URI": "users and permissions (postgresql+psycopg2://... or sqlite)",
    "MLFLOW_AUTH_ADMIN_PASSWORD": "the admin user's password (first start only)",
    "MLFLOW_FLASK_SERVER_SECRET_KEY": "signs the auth app's sessions (any long random string)",
}
AUTH_INI = """\
[mlflow]
default_permission = {permission}
database_uri = {database}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = {cache_ttl}
"""
# MLflow checks the password of every request against its stored hash (werkzeug's scrypt: about
# 0.1 CPU-s each), and one CI job makes hundreds of requests. With the cache a worker checks a
# user's password once per this many seconds. The price: a password changed or a user removed
# outside the worker that handles the change (another worker, direct SQL) still gets in until
# then. 0 turns the cache off (MLflow's default).
CACHE_TTL_DEFAULT = "60"


def missing() -> list[str]:
    return [name for name in REQUIRED if not os.environ.get(name)]


def cache_ttl(env: dict[str, str]) -> str | None:
    """MLFLOW_AUTH_CACHE_TTL_SECONDS as MLflow reads it (seconds, >= 0), or None if it is not."""
    value = env.get("MLFLOW_AUTH_CACHE_TTL_SECONDS", "").strip() or CACHE_TTL_DEFAULT
    # ASCII only: str.isdigit() also takes "²", which MLflow's getint refuses at start-up.
    return value if value.isascii() and value.isdigit() else None


def write_auth_config(env: dict[str, str], cache_ttl_s: str) -> Path:
    """MLflow reads the auth database from an ini file only: write one, readable by us alone."""
    text = AUTH_INI.format(
        permission=env.get("MLFLOW_AUTH_DEFAULT_PERMISSION", "READ"),
        database=env["MLFLOW_AUTH_DATABASE_URI"],
        admin=env.get("MLFLOW_AUTH_ADMIN_USERNAME", "admin"),
        cache_ttl=cache_ttl_s,
    )
    handle, name = tempfile.mkstemp(prefix="mlflow-auth-", suffix=".ini")
    with os.fdopen(handle, "w") as ini:
        ini.write(text)
    return Path(name)


def command(env: dict[str, str]) -> list[str]:
    return [
        sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
        "--backend-store-uri", env["MLFLOW_BACKEND_STORE_URI"],
        "--artifacts-destination", env["MLFLOW_ARTIFACTS_DESTINATION"],
        "--host", env.get("MLFLOW_HOST", "0.0.0.0"),
        "--port", env.get("MLFLOW_PORT", "5000"),
        "--workers", env.get("MLFLOW_WORKERS", "2"),
    ]  # fmt: skip


def main() -> int:
    absent = missing()
    if absent:
        what = "; ".join(f"{name}: {REQUIRED[name]}" for name in absent)
        print(f"{PROG}: error: set {what}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    ttl = cache_ttl(env)
    if ttl is None:
        given = env["MLFLOW_AUTH_CACHE_TTL_SECONDS"]
        print(
            f"{PROG}: error: MLFLOW_AUTH_CACHE_TTL_SECONDS must be whole seconds (0: no cache), "
            f"not {given!r}",
            file=sys.stderr,
        )
        return 2
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(write_auth_config(env, ttl))
    # MLflow 3 starts a job runner and seven huey consumers beside the server for GenAI jobs
    # (LLM judges, trace roll-ups) this project never runs: eight more interpreters, ~16 CPU-s
    # and ~3 s at every start (measured). Set the variable to true to have them.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    argv = command(env)
    os.execve(sys.executable, argv, env)  # the server replaces us: signals reach it directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
