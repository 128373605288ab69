"""`rollback`: production back to the previous (or a given) version, redeployed and verified."""

from __future__ import annotations

import argparse

from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rollback", help="production back to the previous version")
    options.model_name(p)
    p.add_argument("--to", default="", help="a version; default: the previous production one")
    options.deploy_target(p)
    options.flag(p, "--redeploy", True, "redeploy the version's recorded image")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import names
    from ..deploy import target_for
    from ..deploy.target import rollback

    # The same algorithm for every target: the version's recorded image deployed (verified,
    # restored on failure), then the production alias moves.
    target = target_for(args.target, args, names.PRODUCTION) if args.redeploy else None
    result = rollback(
        target, model_name=args.model_name, to=args.to or None, health_timeout_s=args.health_timeout
    )
    redeployed = f", image `{result['image']}` redeployed and healthy" if result["image"] else ""
    ghactions.set_outputs(
        {"version": result["version"], "previous-version": result["from"], "image": result["image"]}
    )
    ghactions.add_summary(
        f"## Rollback\n\n`{args.model_name}@production`: version "
        f"{result['from']} → {result['version']}{redeployed}.\n"
    )
    return 0
