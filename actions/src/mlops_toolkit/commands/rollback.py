"""`rollback`: production back to the previous (or a given) version, redeployed and verified."""

from __future__ import annotations

import argparse

from .. import ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rollback", help="production back to the previous version")
    options.model_name(p)
    p.add_argument("--to", default="", help="a version; default: the previous production one")
    options.deploy_target(p)
    options.flag(p, "--redeploy", True, "redeploy the version's recorded image")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import deploy, names, swarm

    if args.target == "swarm" and args.redeploy:
        result = swarm.rollback(
            model_name=args.model_name,
            to=args.to or None,
            target=options.swarm_target(args, names.PRODUCTION),
            health_timeout_s=args.health_timeout,
        )
    else:
        if args.redeploy:
            options.warn_port_swap(args)
        result = deploy.rollback(
            model_name=args.model_name,
            to=args.to or None,
            app=args.app,
            port=args.port,
            host=args.host,
            redeploy=args.redeploy,
            health_timeout_s=args.health_timeout,
            publish="host" if options.publish_mode(args) == "host" else "port",
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
