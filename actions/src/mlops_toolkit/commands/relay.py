"""`relay`: receive Alertmanager's webhook, send GitHub a `repository_dispatch` to retrain.

Runs as a small service beside Alertmanager (monitoring/compose.yaml). Firing performance and
drift alerts become one `model-retrain` event each, deduplicated by fingerprint, at most one per
model and environment per cool-down (logic: monitoring/alert_relay.py). The GitHub token comes from
GITHUB_TOKEN, the webhook's bearer token from MLOPS_RELAY_TOKEN: never from a flag, never printed.
"""

from __future__ import annotations

import argparse
import os

from .. import names


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "relay", help="turn Alertmanager's firing alerts into a GitHub repository_dispatch"
    )
    p.add_argument(
        "--listen", default="127.0.0.1:9095", help="HOST:PORT of the webhook server (port 0: any)"
    )
    p.add_argument(
        "--repository",
        default=os.environ.get(names.ENV_GITHUB_REPOSITORY, ""),
        help="owner/name to dispatch to (default: GITHUB_REPOSITORY)",
    )
    p.add_argument("--event-type", default=names.EVENT_RETRAIN, help="the dispatch's event_type")
    p.add_argument(
        "--alert",
        action="append",
        default=[],
        help="an alert name that asks for a retrain (repeatable; default: "
        f"{', '.join(_retrain_alerts())})",
    )
    p.add_argument("--cooldown", default="6h", help="per fingerprint and per model (e.g. 6h)")
    p.add_argument("--state", default="", help="JSON file keeping the cool-downs over restarts")
    p.add_argument("--model-name", default="", help="model of alerts without a model_name label")
    p.add_argument("--environment", default="", help="environment of alerts without one")
    p.set_defaults(func=run)


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def _retrain_alerts() -> tuple[str, ...]:
    return (names.ALERT_PERFORMANCE, names.ALERT_DRIFT)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..ci.github import GitHub
    from ..errors import InputError, ToolkitError
    from ..monitoring import alert_relay as logic
    from ..monitoring import durations

    host, port = logic.parse_listen(args.listen)
    token = os.environ.get(names.ENV_RELAY_TOKEN, "")
    if not token and not _loopback(host):
        # Reachable from other hosts without a token: anyone there could start retrains.
        raise InputError(
            f"{names.ENV_RELAY_TOKEN} is not set: the relay refuses to listen on {host} without "
            "the bearer token Alertmanager sends (only a loopback address may go without one)"
        )
    cooldown = durations.seconds(args.cooldown, "--cooldown")
    client = GitHub(
        args.repository,
        os.environ.get(names.ENV_GITHUB_TOKEN, ""),
        os.environ.get(names.ENV_GITHUB_API_URL),
    )
    relay = logic.Relay(
        client.dispatch,
        event_type=args.event_type,
        alerts=tuple(args.alert) or _retrain_alerts(),
        cooldown=cooldown,
        state_path=Path(args.state) if args.state else None,
        model_name=args.model_name,
        environment=args.environment,
    )
    try:
        server = logic.make_server(relay, host, port, token)
    except OSError as exc:
        raise ToolkitError(f"cannot listen on {args.listen}: {exc.strerror}") from None
    bound = server.server_address[1]
    print(
        f"relay: listening on http://{host}:{bound}/, {args.event_type} to {client.repo}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (errors.Terminated): a clean stop
        print("relay: stopped", flush=True)
    finally:
        server.server_close()
    return 0
