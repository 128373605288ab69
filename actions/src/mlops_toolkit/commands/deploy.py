"""`deploy`: an image to a stage, verified before and after the switch, restored on failure."""

from __future__ import annotations

import argparse

from .. import ghactions, names
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("deploy", help="deploy an image to a stage, rolling back on failure")
    p.add_argument("--image", required=True)
    p.add_argument("--stage", required=True, choices=names.STAGES)
    options.deploy_target(p)
    options.model_name(p, required=False)
    p.add_argument("--model-version", default="")
    options.flag(p, "--smoke", True, "send the smoke request")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import deploy

    if args.target == "swarm":
        return run_swarm(args)
    options.warn_port_swap(args)
    result = deploy.deploy(
        image=args.image,
        stage=args.stage,
        app=args.app,
        port=args.port,
        host=args.host,
        model_name=args.model_name,
        model_version=args.model_version,
        health_timeout_s=args.health_timeout,
        smoke=args.smoke,
        publish="host" if options.publish_mode(args) == "host" else "port",
    )
    ghactions.set_outputs(
        {
            "container": result["container"],
            "url": result["url"],
            "previous-image": result["previous_image"],
        }
    )
    ghactions.add_summary(
        f"## Deploy {args.stage}\n\n`{args.image}` serves at {result['url']} "
        f"(container `{result['container']}`); health and smoke passed.\n"
    )
    return 0


def run_swarm(args: argparse.Namespace) -> int:
    from .. import swarm

    result = swarm.deploy_service(
        image=args.image,
        target=options.swarm_target(args, args.stage),
        model_name=args.model_name,
        model_version=args.model_version,
        health_timeout_s=args.health_timeout,
        smoke=args.smoke,
    )
    ghactions.set_outputs(
        {
            "service": result["service"],
            "container": "",
            "url": result["url"],
            "previous-image": result["previous_image"],
        }
    )
    ghactions.add_summary(
        f"## Deploy {args.stage}\n\n`{args.image}` serves at {result['url']} on "
        f"{result['replicas']} replicas of Swarm service `{result['service']}`; health and smoke "
        "passed.\n"
    )
    return 0
