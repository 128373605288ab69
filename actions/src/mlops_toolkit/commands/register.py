"""`register`: register the candidate once per commit, with its lineage tags."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import contracts, names
from ..ci import actions as ghactions
from ..errors import InputError
from ..registry import passport as passport_files  # paths only: the module imports no heavy library
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("register", help="register the candidate once per commit")
    options.model_name(p)
    p.add_argument("--model-uri", default="")
    p.add_argument("--run-id", default="")
    p.add_argument("--run-json", default=str(contracts.RunFile.PATH))
    p.add_argument("--git-commit", default="")
    p.add_argument("--pull-request", default="")
    p.add_argument("--data-version", default="")
    p.add_argument("--alias", default="")
    p.add_argument(
        "--gate", default=str(contracts.GateFile.PATH), help="the gate's verdict, for the passport"
    )
    p.add_argument(
        "--model-card",
        default=str(passport_files.MODEL_CARD),
        help=f"its '{passport_files.CARD_SECTION}' section",
    )
    p.add_argument(
        "--suite", default=str(passport_files.SUITE), help="the expectation suite, for the passport"
    )
    p.set_defaults(func=run)


def _from_run_json(args: argparse.Namespace) -> tuple[str, str, str | None]:
    """Model URI, run id and an already-known version: the flags win over reports/run.json."""
    model_uri, run_id, known = args.model_uri, args.run_id, None
    if args.run_json and Path(args.run_json).is_file():
        run_file = contracts.RunFile.read(args.run_json)
        model_uri = model_uri or run_file.model_uri
        run_id = run_id or run_file.run_id
        known = run_file.model_version or None
    if not model_uri:
        raise InputError("register needs --model-uri or a run.json with model_uri")
    return model_uri, run_id, known


def run(args: argparse.Namespace) -> int:
    from ..ci import github
    from ..registry import moves as registry

    model_uri, run_id, known = _from_run_json(args)
    if not run_id and model_uri.startswith("runs:/"):
        run_id = model_uri.split("/")[1]
    if not run_id:
        from ..tracking import client as tracking

        run_id = tracking.source_run(tracking.client(), model_uri)
    pr = args.pull_request or github.pull_request_number()
    result = registry.register(
        model_name=args.model_name,
        model_uri=model_uri,
        run_id=run_id,
        git_commit=args.git_commit or os.environ.get(names.ENV_GITHUB_SHA, ""),
        alias=args.alias or None,
        pull_request=str(pr) if pr else None,
        data_version=args.data_version or None,
        known_version=known,
    )
    link = _passport(args, str(result["version"]), run_id) if run_id else ""
    ghactions.set_outputs(
        {
            "version": result["version"],
            "model-uri": result["model_uri"],
            "created": result["created"],
            "passport": link,
        }
    )
    how = "registered" if result["created"] else "already registered (same commit)"
    ghactions.add_summary(
        f"## Register\n\n`{args.model_name}` version {result['version']} "
        f"{how}; alias `{result['alias'] or '—'}`.\n"
        + (f"\nModel passport: {link}\n" if link else "")
    )
    return 0


def _passport(args: argparse.Namespace, version: str, run_id: str) -> str:
    """The version's passport, logged to its run and linked from its description; its link
    (MLflow's UI, else the artifact's runs:/ URI)."""
    from ..registry import passport
    from ..tracking import client as tracking

    published = passport.publish(
        model_name=args.model_name,
        version=version,
        run_id=run_id,
        gate_path=args.gate,
        model_card=args.model_card,
        suite_path=args.suite,
        tracking_uri=tracking.tracking_uri(),
    )
    print(f"model passport of version {version}: {published.url or published.artifact_uri}")
    return published.url or published.artifact_uri
