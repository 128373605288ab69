"""`pull-data`: `dvc pull` the data a team added with `dvc add` (or `init-data`) from its remote.

No DVC in the project, or nothing tracked: one notice, exit 0, and the pipeline reads
`data.source` as committed (the sample needs no remote). Tracked data missing from the checkout
with no remote to pull it from, or a remote that refuses: one line, exit 1, before the pipeline
runs on nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import names
from ..ci import actions as ghactions
from ..data import dvcremote
from ..errors import InputError, ToolkitError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pull-data", help="dvc pull the data tracked by .dvc files")
    p.add_argument(
        "--remote-url",
        default=os.environ.get(names.ENV_DVC_REMOTE_URL, ""),
        help=f"the remote (s3://bucket/path, ...); default ${names.ENV_DVC_REMOTE_URL}, "
        "else the project's default remote",
    )
    p.add_argument(
        "--endpoint-url",
        default=os.environ.get(names.ENV_DVC_S3_ENDPOINT_URL, ""),
        help=f"S3 endpoint of an S3-compatible store; default ${names.ENV_DVC_S3_ENDPOINT_URL}",
    )
    p.add_argument("--working-directory", default=".")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cwd = Path(args.working_directory)
    if not dvcremote.is_dvc_project(cwd):
        return _nothing("no DVC remote configured: the project has no .dvc/config")
    files = dvcremote.tracked(cwd)
    if not files:
        return _nothing("no data tracked by DVC (no .dvc file)")
    remote = dvcremote.configure(cwd, args.remote_url, args.endpoint_url)
    absent = dvcremote.missing(files, cwd)
    if remote is None:
        if absent:
            raise InputError(
                f"{', '.join(absent)} tracked by DVC but missing, and no DVC remote configured: "
                f"set the repository variable {names.ENV_DVC_REMOTE_URL} (docs/setup.md)"
            )
        return _nothing("no DVC remote configured; the tracked data is in the checkout")
    url = dvcremote.remote_url(cwd, remote)
    try:
        dvcremote.pull(cwd, [t.dvc_file for t in files])
    except dvcremote.DvcFailed as exc:
        raise ToolkitError(f"dvc pull from {remote} ({url}): {exc}") from None
    still = dvcremote.missing(files, cwd)
    if still:
        raise ToolkitError(f"dvc pull from {remote} ({url}) left {', '.join(still)} missing")
    outs = [out for t in files for out in t.outs]
    print(f"pulled {len(outs)} path(s) from DVC remote {remote} ({url}): {', '.join(outs)}")
    ghactions.set_outputs({"pulled": len(outs), "remote": remote})
    ghactions.add_summary(
        f"## Data\n\n`dvc pull` from `{remote}` ({url}): "
        + ", ".join(f"`{out}`" for out in outs)
        + "\n"
    )
    return 0


def _nothing(reason: str) -> int:
    """A notice, not a failure: the sample dataset (or committed data) needs no pull."""
    message = f"{reason}: nothing to pull, the pipeline reads data.source as committed"
    print(f"::notice title=pull-data::{message}" if _on_actions() else message)
    ghactions.set_outputs({"pulled": 0, "remote": ""})
    return 0


def _on_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
