"""`deploy`: an image to a stage, verified before and after the switch, restored on failure."""

from __future__ import annotations

import argparse

from .. import names
from ..ci import actions as ghactions
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
    from ..deploy import target_for
    from ..deploy.target import Release

    target = target_for(args.target, args, args.stage)
    release = Release(
        image=args.image,
        model_name=args.model_name,
        model_version=args.model_version,
        health_timeout_s=args.health_timeout,
        smoke=args.smoke,
    )
    done = target.deploy(release)
    ghactions.set_outputs({**done.outputs, "url": done.url, "previous-image": done.previous_image})
    served = f" serves at {done.url}" if done.url else " rolled out"
    checks = "health and smoke passed" if args.smoke else "health passed"
    ghactions.add_summary(
        f"## Deploy {args.stage}\n\n`{args.image}`{served} ({done.where}); {checks}.\n"
    )
    return 0
