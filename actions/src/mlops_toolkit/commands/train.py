"""`train`: run the project's training on this runner and tag the run with its compute."""

from __future__ import annotations

import argparse

from .. import contracts
from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="run the project's training on this runner")
    options.project_command(p)
    options.flag(p, "--require-gpu", False, "fail when no GPU is visible")
    p.add_argument("--run-json", default=str(contracts.RunFile.PATH))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compute import training as train

    result = train.run(
        args.command,
        args.working_directory,
        require_gpu=args.require_gpu,
        timeout_s=options.minutes(args.timeout_minutes),
        run_json=args.run_json,
    )
    ghactions.set_outputs(
        {
            "run-id": result["run_id"],
            "model-uri": result["model_uri"],
            "model-version": result.get("model_version") or "",
            "compute": result["compute"],
            "gpu-count": result["gpu_count"],
        }
    )
    ghactions.add_summary(
        f"## Training\n\n- Run: `{result['run_id']}`\n- Model: `{result['model_uri']}`\n"
        f"- Compute: {result['compute']} ({result['gpu_count']} x {result['gpu_name']}, "
        f"driver {result['gpu_driver']})\n"
    )
    return 0
