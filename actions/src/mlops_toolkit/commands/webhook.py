"""`webhook`: have the tracking server notify the team's URL of new versions and alias moves.

Creates the model's registry webhook, or updates it (one per model, found by name), signed with
the secret in an environment variable (never a flag: flags show in process lists and logs). A
server without webhooks (MLflow < 3.3, a file store) ends in one line, exit 1; with
`--skip-unsupported` in a warning, exit 0 and the output `status=unsupported`.
"""

from __future__ import annotations

import argparse
import os

from .. import names
from ..ci import actions as ghactions
from ..core import annotations
from ..errors import InputError
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "webhook", help="notify a URL of new versions and alias moves (MLflow >= 3.3)"
    )
    options.model_name(p)
    p.add_argument(
        "--url",
        default="",
        help=f"where the server POSTs the events (default: ${names.ENV_WEBHOOK_URL})",
    )
    p.add_argument(
        "--secret-env",
        default=names.ENV_WEBHOOK_SECRET,
        help="the environment variable holding the HMAC secret (default: %(default)s)",
    )
    p.add_argument(
        "--events",
        default="",
        help="comma-separated MLflow events (default: model_version.created, "
        "model_version_alias.created, model_version_alias.deleted)",
    )
    options.flag(
        p,
        "--skip-unsupported",
        False,
        "a server without webhooks is a warning and exit 0, not an error",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry import webhooks
    from ..tracking import client as tracking

    url = args.url or os.environ.get(names.ENV_WEBHOOK_URL, "")
    if not url:
        raise InputError(f"no webhook URL: pass --url or set {names.ENV_WEBHOOK_URL}")
    shown = webhooks.check_url(url)
    secret = os.environ.get(args.secret_env, "")
    webhooks.check_secret(secret, args.secret_env)
    events = webhooks.parse_events(args.events)
    try:
        outcome = webhooks.ensure(tracking.client(), args.model_name, url, secret, events)
    except webhooks.WebhooksUnsupported as exc:
        if not args.skip_unsupported:
            raise
        annotations.warning(str(exc), title="mlops-toolkit webhook")
        ghactions.set_outputs({"status": "unsupported", "webhook-id": ""})
        return 0
    ghactions.set_outputs({"status": outcome.action, "webhook-id": outcome.webhook_id})
    ghactions.add_summary(
        f"## Registry webhook\n\n`{outcome.name}` {outcome.action}: {', '.join(outcome.events)} "
        f"of `{args.model_name}` go to {shown} (HMAC-signed with `{args.secret_env}`).\n"
    )
    return 0
