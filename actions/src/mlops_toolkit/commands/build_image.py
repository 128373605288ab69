"""`build-image`: build, label and push the serving image of a model version."""

from __future__ import annotations

import argparse
import os

from .. import names
from ..ci import actions as ghactions
from . import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("build-image", help="build and push the serving image")
    options.model_name(p)
    p.add_argument("--model-version", required=True, help="a version number or an alias")
    p.add_argument("--context", default=".")
    p.add_argument("--dockerfile", default="Dockerfile")
    p.add_argument("--image", required=True, help="repository, e.g. ghcr.io/org/model")
    p.add_argument("--git-commit", default="")
    options.flag(p, "--push", True, "push the image to its registry")
    p.add_argument("--registry", default="")
    p.add_argument("--username", default="")
    p.add_argument(
        "--password-env",
        default="MLOPS_REGISTRY_PASSWORD",
        help="environment variable holding the registry password",
    )
    p.add_argument("--network", default="")
    p.add_argument("--source", default="")
    p.set_defaults(func=run)


def _source_url() -> str:
    """The repository's web address, for the OCI source label."""
    repo = os.environ.get(names.ENV_GITHUB_REPOSITORY)
    server = os.environ.get(names.ENV_GITHUB_SERVER_URL, "https://github.com")
    return f"{server}/{repo}" if repo else ""


def run(args: argparse.Namespace) -> int:
    from ..deploy import image

    result = image.build(
        model_name=args.model_name,
        model_version=args.model_version,
        context=args.context,
        dockerfile=args.dockerfile,
        repository=args.image,
        git_commit=args.git_commit or os.environ.get(names.ENV_GITHUB_SHA, ""),
        push=args.push,
        registry=args.registry,
        username=args.username,
        password=os.environ.get(args.password_env, ""),
        network=args.network or None,
        source=args.source or _source_url(),
    )
    ghactions.set_outputs(
        {
            "image": result["image"],
            "digest": result["digest"],
            "tags": " ".join(result["tags"]),
            "reference": result["reference"],
        }
    )
    ghactions.add_summary(
        f"## Image\n\n- `{result['reference']}`\n- tags: "
        + ", ".join(f"`{t}`" for t in result["tags"])
        + "\n"
    )
    return 0
