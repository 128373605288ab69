"""`gate`: the candidate against production on the same holdout; verdict, report, comment."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import contracts, names
from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gate", help="candidate vs production on the same holdout")
    options.model_name(p)
    p.add_argument("--candidate", default="", help="model URI (runs:/, models:/)")
    p.add_argument(
        "--run-json", default=str(contracts.RunFile.PATH), help="used when --candidate is empty"
    )
    p.add_argument("--holdout", required=True)
    p.add_argument("--target", default=None)
    p.add_argument("--config", default=names.GATE_CONFIG)
    p.add_argument("--output-dir", default=str(contracts.GateFile.PATH.parent))
    options.flag(p, "--comment", True, "sticky PR comment when on a PR")
    p.add_argument("--pr-number", default=None)
    options.flag(p, "--fail-on-reject", True, "exit 2 when the gate rejects the candidate")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry.mlmodel import import_skops_first

    import_skops_first()  # before MLflow: skops' import then costs ~0.7 CPU-s less (see there)
    from ..ci import github
    from ..ci import markdown as report
    from ..gate import verdict as gate

    candidate = gate.candidate_from(args.candidate, args.run_json)
    verdict = gate.run(
        config=args.config,
        holdout=args.holdout,
        model_name=args.model_name,
        candidate=candidate,
        target=args.target,
    )
    out_dir = Path(args.output_dir)
    markdown = report.gate_markdown(verdict, title=f"Model gate — {args.model_name}")
    md_path = ghactions.write_text(out_dir / "gate.md", markdown)
    json_path = contracts.GateFile.build(verdict).write(out_dir / contracts.GateFile.PATH.name)
    ghactions.set_outputs(
        {
            "passed": verdict["passed"],
            "report": str(md_path),
            "verdict": str(json_path),
            "mode": verdict["mode"],
        }
    )
    ghactions.add_summary(markdown)
    if args.comment:
        posted = github.sticky_comment(markdown, f"gate:{args.model_name}", args.pr_number)
        if posted:
            print(f"pull-request comment {posted['action']}: {posted.get('html_url', '')}")
    print(gate.summary_line(verdict))
    if args.fail_on_reject:
        gate.reject_if_failed(verdict)
    return 0
