"""`set-alias`: point challenger or staging at a version."""

from __future__ import annotations

import argparse

from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("set-alias", help="point challenger or staging at a version")
    options.model_name(p)
    p.add_argument("--version", required=True)
    p.add_argument("--alias", required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry import moves as registry

    result = registry.set_alias(model_name=args.model_name, version=args.version, alias=args.alias)
    ghactions.set_outputs({"version": result["version"]})
    ghactions.add_summary(
        f"## Alias\n\n`{args.model_name}@{args.alias}` -> version {result['version']}.\n"
    )
    return 0
