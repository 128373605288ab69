"""`promote`: point the production alias at a version (under the registry lock)."""

from __future__ import annotations

import argparse

from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("promote", help="point production at a version")
    options.model_name(p)
    p.add_argument("--version", required=True, help="a version number or an alias")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry import moves as registry

    result = registry.promote(model_name=args.model_name, version=args.version)
    ghactions.set_outputs(
        {
            "version": result["version"],
            "previous-version": result["previous"],
            "changed": result["changed"],
        }
    )
    what = (
        f"moved to version {result['version']} (previous: {result['previous'] or 'none'})"
        if result["changed"]
        else f"already at version {result['version']}"
    )
    ghactions.add_summary(f"## Promote\n\n`{args.model_name}@production` {what}.\n")
    return 0
