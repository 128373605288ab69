"""`ssh-setup`: the deploy key and pinned host key for DOCKER_HOST=ssh://, checked end to end."""

from __future__ import annotations

import argparse
import os
import sys

from .. import names
from ..ci import actions as ghactions


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ssh-setup",
        help="load the deploy key and pinned host key for DOCKER_HOST=ssh:// and check the engine",
        description="The key comes from $DEPLOY_SSH_KEY and the pinned known_hosts lines from "
        "$DEPLOY_SSH_KNOWN_HOSTS (never from the command line); the registry password from "
        "$REGISTRY_PASSWORD.",
    )
    p.add_argument("--docker-host", default="", help="ssh://user@host[:port]; default $DOCKER_HOST")
    p.add_argument("--registry", default="", help="registry to log in to for the pull (optional)")
    p.add_argument("--registry-username", default="")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy import ssh as sshsetup

    docker_host = args.docker_host or os.environ.get(names.ENV_DOCKER_HOST, "")
    result = sshsetup.setup(
        docker_host,
        key=os.environ.get(sshsetup.ENV_KEY, ""),
        known_hosts=os.environ.get(sshsetup.ENV_KNOWN_HOSTS, ""),
        base=sshsetup.base_dir(),
        registry=args.registry,
        username=args.registry_username,
        password=os.environ.get(sshsetup.ENV_REGISTRY_PASSWORD, ""),
    )
    on_runner = _export(result)
    remote = sshsetup.parse_docker_host(docker_host)
    login = f"; logged in to {args.registry} for the pull" if args.registry else ""
    line = f"ssh-setup: {remote} answers (Docker engine {result['engine']}){login}"
    # Off a runner stdout holds only the export lines, for eval "$(mlops-toolkit ssh-setup)".
    print(line, file=sys.stdout if on_runner else sys.stderr)
    ghactions.set_outputs({"engine-version": result["engine"]})
    return 0


def _export(result: dict[str, str]) -> bool:
    """For the later steps: $GITHUB_PATH and $GITHUB_ENV on a runner, else shell lines."""
    github_path, github_env = os.environ.get("GITHUB_PATH"), os.environ.get("GITHUB_ENV")
    config = result.get("DOCKER_CONFIG")
    if github_path and github_env:
        with open(github_path, "a", encoding="utf-8") as handle:
            handle.write(result["PATH"] + "\n")
        if config:
            with open(github_env, "a", encoding="utf-8") as handle:
                handle.write(f"DOCKER_CONFIG={config}\n")
        return True
    print(f'export PATH="{result["PATH"]}:$PATH"')
    if config:
        print(f'export DOCKER_CONFIG="{config}"')
    return False
