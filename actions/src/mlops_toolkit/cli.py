"""`mlops-toolkit`: one subcommand per action. Heavy libraries load inside the commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import ghactions, names
from .errors import ToolkitError


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _minutes(value: float | None) -> float | None:
    return value * 60 if value else None


# --- commands ------------------------------------------------------------------------------

def cmd_validate_data(args: argparse.Namespace) -> int:
    from . import report, validate

    result = validate.run(args.command, args.working_directory, args.report,
                          _minutes(args.timeout_minutes))
    ghactions.set_outputs({"passed": result["passed"], "report": result["report"],
                           "html": result["html"]})
    ghactions.add_summary(report.validation_markdown(result["data"]))
    if not result["passed"]:
        failed = result["data"].get("failed", "?")
        message = f"data validation failed: {failed} expectation(s) not met"
        if args.fail_on_invalid:
            from .errors import Rejected

            raise Rejected(message)
        print(message)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from . import train

    result = train.run(args.command, args.working_directory, require_gpu=args.require_gpu,
                       timeout_s=_minutes(args.timeout_minutes), run_json=args.run_json)
    ghactions.set_outputs({"run-id": result["run_id"], "model-uri": result["model_uri"],
                           "model-version": result.get("model_version") or "",
                           "compute": result["compute"], "gpu-count": result["gpu_count"]})
    ghactions.add_summary(
        f"## Training\n\n- Run: `{result['run_id']}`\n- Model: `{result['model_uri']}`\n"
        f"- Compute: {result['compute']} ({result['gpu_count']} x {result['gpu_name']}, "
        f"driver {result['gpu_driver']})\n")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from . import gate, github, report

    candidate = gate.candidate_from(args.candidate, args.run_json)
    verdict = gate.run(config=args.config, holdout=args.holdout, model_name=args.model_name,
                       candidate=candidate, target=args.target)
    out_dir = Path(args.output_dir)
    markdown = report.gate_markdown(verdict, title=f"Model gate — {args.model_name}")
    md_path = ghactions.write_text(out_dir / "gate.md", markdown)
    json_path = ghactions.write_text(out_dir / "gate.json", json.dumps(verdict, indent=2))
    ghactions.set_outputs({"passed": verdict["passed"], "report": str(md_path),
                           "verdict": str(json_path), "mode": verdict["mode"]})
    ghactions.add_summary(markdown)
    if args.comment:
        posted = github.sticky_comment(markdown, f"gate:{args.model_name}", args.pr_number)
        if posted:
            print(f"pull-request comment {posted['action']}: {posted.get('html_url', '')}")
    print(gate.summary_line(verdict))
    if args.fail_on_reject:
        gate.reject_if_failed(verdict)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from . import github, registry

    model_uri, run_id, known = args.model_uri, args.run_id, None
    if args.run_json and Path(args.run_json).is_file():
        data = json.loads(Path(args.run_json).read_text(encoding="utf-8"))
        model_uri = model_uri or data.get("model_uri")
        run_id = run_id or data.get("run_id")
        known = str(data["model_version"]) if data.get("model_version") else None
    if not model_uri:
        raise ToolkitError("register needs --model-uri or a run.json with model_uri")
    if not run_id and model_uri.startswith("runs:/"):
        run_id = model_uri.split("/")[1]
    if not run_id:
        from . import tracking

        run_id = tracking.source_run(tracking.client(), model_uri)
    pr = args.pull_request or github.pull_request_number()
    result = registry.register(
        model_name=args.model_name, model_uri=model_uri, run_id=run_id,
        git_commit=args.git_commit or os.environ.get(names.ENV_GITHUB_SHA, ""),
        alias=args.alias or None, pull_request=str(pr) if pr else None,
        data_version=args.data_version or None, known_version=known)
    ghactions.set_outputs({"version": result["version"], "model-uri": result["model_uri"],
                           "created": result["created"]})
    how = "registered" if result["created"] else "already registered (same commit)"
    ghactions.add_summary(f"## Register\n\n`{args.model_name}` version {result['version']} "
                          f"{how}; alias `{result['alias'] or '—'}`.\n")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from . import registry

    result = registry.promote(model_name=args.model_name, version=args.version)
    ghactions.set_outputs({"version": result["version"], "previous-version": result["previous"],
                           "changed": result["changed"]})
    what = (f"moved to version {result['version']} (previous: {result['previous'] or 'none'})"
            if result["changed"] else f"already at version {result['version']}")
    ghactions.add_summary(f"## Promote\n\n`{args.model_name}@production` {what}.\n")
    return 0


def cmd_build_image(args: argparse.Namespace) -> int:
    from . import image

    result = image.build(
        model_name=args.model_name, model_version=args.model_version, context=args.context,
        dockerfile=args.dockerfile, repository=args.image,
        git_commit=args.git_commit or os.environ.get(names.ENV_GITHUB_SHA, ""),
        push=args.push, registry=args.registry, username=args.username,
        password=os.environ.get(args.password_env, ""), network=args.network or None,
        source=args.source or _source_url())
    ghactions.set_outputs({"image": result["image"], "digest": result["digest"],
                           "tags": " ".join(result["tags"]), "reference": result["reference"]})
    ghactions.add_summary(f"## Image\n\n- `{result['reference']}`\n- tags: "
                          + ", ".join(f"`{t}`" for t in result["tags"]) + "\n")
    return 0


def _source_url() -> str:
    repo = os.environ.get(names.ENV_GITHUB_REPOSITORY)
    server = os.environ.get(names.ENV_GITHUB_SERVER_URL, "https://github.com")
    return f"{server}/{repo}" if repo else ""


def cmd_deploy(args: argparse.Namespace) -> int:
    from . import deploy

    result = deploy.deploy(
        image=args.image, stage=args.stage, app=args.app, port=args.port, host=args.host,
        model_name=args.model_name, model_version=args.model_version,
        health_timeout_s=args.health_timeout, smoke=args.smoke)
    ghactions.set_outputs({"container": result["container"], "url": result["url"],
                           "previous-image": result["previous_image"]})
    ghactions.add_summary(f"## Deploy {args.stage}\n\n`{args.image}` serves at {result['url']} "
                          f"(container `{result['container']}`); health and smoke passed.\n")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from . import deploy

    result = deploy.rollback(model_name=args.model_name, to=args.to or None, app=args.app,
                             port=args.port, host=args.host, redeploy=args.redeploy,
                             health_timeout_s=args.health_timeout)
    ghactions.set_outputs({"version": result["version"], "previous-version": result["from"],
                           "image": result["image"]})
    ghactions.add_summary(f"## Rollback\n\n`{args.model_name}@production`: version "
                          f"{result['from']} → {result['version']}"
                          + (f", image `{result['image']}` redeployed and healthy" if
                             result["image"] else "") + ".\n")
    return 0


def cmd_set_alias(args: argparse.Namespace) -> int:
    from . import registry

    result = registry.set_alias(model_name=args.model_name, version=args.version,
                                alias=args.alias)
    ghactions.set_outputs({"version": result["version"]})
    ghactions.add_summary(f"## Alias\n\n`{args.model_name}@{args.alias}` -> version "
                          f"{result['version']}.\n")
    return 0


def cmd_find_candidate(args: argparse.Namespace) -> int:
    from . import github, registry

    commit = args.commit or os.environ.get(names.ENV_GITHUB_SHA, "")
    pulls = [int(args.pr_number)] if args.pr_number else (
        github.pulls_for_commit(commit) if commit else [])
    result = registry.find_candidate(model_name=args.model_name, pulls=pulls, commit=commit)
    ghactions.set_outputs({"version": result["version"], "model-uri": result["model_uri"],
                           "pr-number": result["pull_request"]})
    ghactions.add_summary(f"## Candidate\n\n`{result['model_uri']}` from pull request "
                          f"#{result['pull_request'] or '-'}.\n")
    return 0


def _read_json(path: str) -> dict | None:
    if not path or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ToolkitError(f"{path} is not valid JSON") from exc


def cmd_report(args: argparse.Namespace) -> int:
    from . import github, report

    markdown = report.pull_request_markdown(
        args.model_name, _read_json(args.validation), _read_json(args.gate),
        args.artifact_url, args.version)
    ghactions.add_summary(markdown)
    url = ""
    if args.comment:
        posted = github.sticky_comment(markdown, f"report:{args.model_name}", args.pr_number)
        if posted:
            url = posted.get("html_url", "")
            print(f"pull-request comment {posted['action']}: {url}")
    ghactions.set_outputs({"comment-url": url})
    return 0


# --- parser --------------------------------------------------------------------------------

def _common_project(p: argparse.ArgumentParser) -> None:
    p.add_argument("--command", required=True, help="the project's command to run")
    p.add_argument("--working-directory", default=".", help="where to run it")
    p.add_argument("--timeout-minutes", type=float, default=0, help="0: no limit")


def _deploy_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--app", required=True, help="container name prefix (<app>-<stage>)")
    p.add_argument("--port", type=int, required=True, help="host port the stage serves on")
    p.add_argument("--host", default="127.0.0.1", help="host name to reach the published port")
    p.add_argument("--health-timeout", type=float, default=120, help="seconds to wait")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-toolkit", description=__doc__)
    sub = parser.add_subparsers(dest="command_name", required=True)

    p = sub.add_parser("validate-data", help="run the project's data validation")
    _common_project(p)
    p.add_argument("--report", default=names.VALIDATION_JSON)
    p.add_argument("--fail-on-invalid", type=_bool, default=True)
    p.set_defaults(func=cmd_validate_data)

    p = sub.add_parser("train", help="run the project's training on this runner")
    _common_project(p)
    p.add_argument("--require-gpu", type=_bool, default=False)
    p.add_argument("--run-json", default=names.RUN_JSON)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("gate", help="candidate vs production on the same holdout")
    p.add_argument("--model-name", required=True)
    p.add_argument("--candidate", default="", help="model URI (runs:/, models:/)")
    p.add_argument("--run-json", default=names.RUN_JSON, help="used when --candidate is empty")
    p.add_argument("--holdout", required=True)
    p.add_argument("--target", default=None)
    p.add_argument("--config", default=names.GATE_CONFIG)
    p.add_argument("--output-dir", default="reports/gate")
    p.add_argument("--comment", type=_bool, default=True, help="sticky PR comment when on a PR")
    p.add_argument("--pr-number", default=None)
    p.add_argument("--fail-on-reject", type=_bool, default=True)
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("register", help="register the candidate once per commit")
    p.add_argument("--model-name", required=True)
    p.add_argument("--model-uri", default="")
    p.add_argument("--run-id", default="")
    p.add_argument("--run-json", default=names.RUN_JSON)
    p.add_argument("--git-commit", default="")
    p.add_argument("--pull-request", default="")
    p.add_argument("--data-version", default="")
    p.add_argument("--alias", default="")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("promote", help="point production at a version")
    p.add_argument("--model-name", required=True)
    p.add_argument("--version", required=True, help="a version number or an alias")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("set-alias", help="point challenger or staging at a version")
    p.add_argument("--model-name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--alias", required=True)
    p.set_defaults(func=cmd_set_alias)

    p = sub.add_parser("find-candidate", help="the version registered from the merged PR")
    p.add_argument("--model-name", required=True)
    p.add_argument("--commit", default="", help="default: GITHUB_SHA")
    p.add_argument("--pr-number", default="", help="skip the GitHub lookup")
    p.set_defaults(func=cmd_find_candidate)

    p = sub.add_parser("report", help="one sticky pull-request comment with every result")
    p.add_argument("--model-name", required=True)
    p.add_argument("--validation", default="", help="reports/validation.json")
    p.add_argument("--gate", default="", help="the gate's JSON verdict")
    p.add_argument("--artifact-url", default="")
    p.add_argument("--version", default="", help="the registered version, if any")
    p.add_argument("--pr-number", default=None)
    p.add_argument("--comment", type=_bool, default=True)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("build-image", help="build and push the serving image")
    p.add_argument("--model-name", required=True)
    p.add_argument("--model-version", required=True, help="a version number or an alias")
    p.add_argument("--context", default=".")
    p.add_argument("--dockerfile", default="Dockerfile")
    p.add_argument("--image", required=True, help="repository, e.g. ghcr.io/org/model")
    p.add_argument("--git-commit", default="")
    p.add_argument("--push", type=_bool, default=True)
    p.add_argument("--registry", default="")
    p.add_argument("--username", default="")
    p.add_argument("--password-env", default="MLOPS_REGISTRY_PASSWORD",
                   help="environment variable holding the registry password")
    p.add_argument("--network", default="")
    p.add_argument("--source", default="")
    p.set_defaults(func=cmd_build_image)

    p = sub.add_parser("deploy", help="deploy an image to a stage, rolling back on failure")
    p.add_argument("--image", required=True)
    p.add_argument("--stage", required=True, choices=names.STAGES)
    _deploy_target(p)
    p.add_argument("--model-name", default="")
    p.add_argument("--model-version", default="")
    p.add_argument("--smoke", type=_bool, default=True)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("rollback", help="production back to the previous version")
    p.add_argument("--model-name", required=True)
    p.add_argument("--to", default="", help="a version; default: the previous production one")
    _deploy_target(p)
    p.add_argument("--redeploy", type=_bool, default=True)
    p.set_defaults(func=cmd_rollback)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ToolkitError as exc:
        _error(args.command_name, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error(args.command_name, "interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("MLOPS_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        _error(args.command_name, f"unexpected {type(exc).__name__}: {first}")
        return 1


def _error(command: str, message: str) -> None:
    line = message.replace("\n", " ")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=mlops-toolkit {command}::{line}", file=sys.stderr)
    else:
        print(f"mlops-toolkit {command}: error: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
