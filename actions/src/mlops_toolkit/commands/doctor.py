"""`doctor`: check a team's set-up (tracking, registry, artifacts, DVC, Docker, GPU) at once.

One table, one line per check; exit 1 when a required check fails, naming the settings to set.
Outside CI it also checks GitHub: the toolkit ref the workflows use, and a runner for their
self-hosted labels. `--local` checks only the laptop. No secret is printed: the
password of the image registry comes only from the environment, and every line of the table is
scrubbed of the tracking and registry secrets of this process.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import names
from ..ci import actions as ghactions
from ..errors import ToolkitError
from . import options

TEMPLATES = Path(__file__).with_name("templates")  # doctor.md.j2, package data

if TYPE_CHECKING:  # the checks import urllib, http.client and ssl: only when doctor runs
    from ..checks import environment as doctor


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("doctor", help="check the team's set-up; one line per check")
    options.model_name(p, required=False)
    options.flag(
        p,
        "--registry-checks",
        True,
        "create a throw-away model version and alias, round-trip an artifact",
    )
    # Three states, not a flag: auto (the default) decides from the project itself.
    p.add_argument(
        "--dvc",
        choices=("auto", "true", "false"),
        default="auto",
        help="auto: check the DVC remote when the project has .dvc/config",
    )
    options.flag(p, "--docker", False, "check the Docker host (DOCKER_HOST)")
    p.add_argument(
        "--image-registry",
        default="",
        help="log in to this image registry (password: $REGISTRY_PASSWORD)",
    )
    p.add_argument("--registry-username", default="")
    options.flag(p, "--require-gpu", False, "fail when no GPU is visible")
    p.add_argument("--working-directory", default=".")
    p.add_argument(
        "--local",
        action="store_true",
        help="check only this laptop: python, the local tracking store, DVC, Docker if present",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = collect(args)
    table = scrub(render(results))
    print(table)
    if _on_actions():  # locally the table above is the whole answer
        ghactions.add_summary(f"## Set-up check\n\n{table}\n")
    failed = [r.check for r in results if r.failed]
    missing = [m for r in results if r.failed for m in r.missing]
    if failed:
        line = f"{len(failed)} required check(s) failed: {', '.join(failed)}"
        raise ToolkitError(line + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 0


def collect(args: argparse.Namespace) -> list[doctor.Result]:
    from ..checks import environment as doctor

    project = Path(args.working_directory)
    if args.local:
        return [
            doctor.python_version(project),
            doctor.embedded_store(project),
            doctor.dvc(args.dvc, project),
            *doctor.docker_if_present(),
            doctor.gpu_visible(args.require_gpu),
        ]
    return collect_team(args) + github(project)


def github(project: Path) -> list[doctor.Result]:
    from ..checks import repository as doctor_github

    return [
        doctor_github.settings(project),
        doctor_github.toolkit_ref(project),
        doctor_github.runners(project),
    ]


def collect_team(args: argparse.Namespace) -> list[doctor.Result]:
    from ..checks import environment as doctor

    uri = os.environ.get(names.ENV_TRACKING_URI, "")
    results = [doctor.tracking(uri)]
    if not args.registry_checks:
        results.append(doctor.Result("model registry", doctor.SKIP, "not asked", False))
    elif results[0].status != doctor.OK:
        reason = "needs the tracking server"
        results += [
            doctor.Result(n, doctor.SKIP, reason) for n in ("artifact store", "model registry")
        ]
    else:
        results += doctor.registry_and_artifacts(uri, args.model_name)
    results.append(doctor.dvc(args.dvc, Path(args.working_directory)))
    if args.docker or args.image_registry:
        host, client = doctor.docker_host()
        results.append(host)
        if args.image_registry:
            password = os.environ.get(names.ENV_REGISTRY_PASSWORD, "")
            results.append(
                doctor.image_registry(client, args.image_registry, args.registry_username, password)
            )
    results.append(doctor.gpu_visible(args.require_gpu))
    return results


def render(results: list[doctor.Result]) -> str:
    """A Markdown table (templates/doctor.md.j2): readable in a terminal and in the job
    summary. Without the template's last newline: print() and the summary add their own."""
    from ..core import templates  # jinja2 on the first render only: `--help` stays instant

    table = templates.render(TEMPLATES, "doctor.md.j2", results=results)
    return table.removesuffix("\n")


def scrub(text: str) -> str:
    from ..tracking import probe as tracking_check

    text = tracking_check.scrub_known_secrets(text)
    password = os.environ.get(names.ENV_REGISTRY_PASSWORD, "")
    return text.replace(password, tracking_check.REDACTED) if len(password) >= 3 else text


def _on_actions() -> bool:
    return bool(os.environ.get(names.ENV_GITHUB_STEP_SUMMARY))
