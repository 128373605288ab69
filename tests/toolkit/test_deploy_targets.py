"""A deploy target is one module (deploy/__init__.py): registered in deploy.TARGETS, its options
reach `deploy` and `rollback` and `--target <it>` dispatches to it, with nothing in commands/
naming it. In-process and fast: the targets here record what they were asked to do."""

from __future__ import annotations

import argparse
import ast
import sys
import types
from pathlib import Path

import pytest
from conftest import ACTIONS_SRC
from conftest import outputs as read_outputs
from mlops_toolkit import cli, deploy
from mlops_toolkit.deploy.target import Deployed, Release
from mlops_toolkit.errors import ToolkitError

COMMANDS = ACTIONS_SRC / "mlops_toolkit" / "commands"


def subparser(command: str) -> argparse.ArgumentParser:
    return cli.build_parser()._subparsers._group_actions[0].choices[command]


def throwaway_module(deployed: list) -> types.ModuleType:
    """A target as a team would add one: a class, SUMMARY, add_options, from_options."""
    module = types.ModuleType("throwaway_nomad_target")

    class NomadTarget:
        kind = "nomad"

        def __init__(self, stage: str, region: str):
            self.stage, self.region = stage, region

        def deploy(self, release: Release) -> Deployed:
            deployed.append((self.stage, self.region, release))
            return Deployed(release.image, "old:1", "", f"job in {self.region}", {"job": "x"})

        def status(self) -> dict:
            return {"image": "old:1"}

    def add_options(p) -> None:
        p.add_argument("--region", default="global", help="nomad: the job's region")

    def from_options(args: argparse.Namespace, stage: str) -> NomadTarget:
        return NomadTarget(stage, args.region)

    module.NomadTarget = NomadTarget
    module.SUMMARY = "one Nomad job per stage"
    module.add_options = add_options
    module.from_options = from_options
    return module


@pytest.fixture
def nomad(monkeypatch) -> list:
    deployed: list = []
    module = throwaway_module(deployed)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(deploy.TARGETS, "nomad", module.__name__)
    return deployed


def test_a_registered_target_brings_its_options_and_receives_the_deploy(
    nomad, monkeypatch, tmp_path, capsys
):
    for command in ("deploy", "rollback"):
        help_text = " ".join(subparser(command).format_help().split())
        assert "--region REGION nomad: the job's region" in help_text, command
        assert "nomad: one Nomad job per stage" in help_text, command
        assert "{docker,swarm,kubernetes,nomad}" in help_text, command

    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setattr(cli.errors, "raise_on_sigterm", lambda: None)  # pytest's own handler
    argv = ["deploy", "--target", "nomad", "--region", "eu-west", "--image", "shop:2"]
    assert cli.main([*argv, "--stage", "staging", "--app", "shop", "--no-smoke"]) == 0
    ((stage, region, release),) = nomad
    assert (stage, region, release.image, release.smoke) == ("staging", "eu-west", "shop:2", False)
    assert read_outputs(out) == {"job": "x", "url": "", "previous-image": "old:1"}
    assert "job in eu-west" in (tmp_path / "summary.md").read_text()
    assert capsys.readouterr().err == ""


def test_the_command_layer_names_no_target():
    """No target's name as a string and no target module imported in the deploy commands and
    their shared options: what a target needs it declares in its own module."""
    kinds = set(deploy.TARGETS)
    modules = {path.rsplit(".", 1)[-1] for path in deploy.TARGETS.values()}
    wrong = []
    for name in ("options", "deploy", "rollback"):
        path = COMMANDS / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in kinds:
                wrong.append(f"{name}.py:{node.lineno} names {node.value!r}")
            if isinstance(node, ast.ImportFrom):
                imported = {(node.module or "").rsplit(".", 1)[-1]} | {a.name for a in node.names}
                if imported & modules:
                    wrong.append(f"{name}.py:{node.lineno} imports {imported & modules}")
    assert wrong == []


def test_options_two_targets_share_are_added_once_and_must_agree():
    parser = argparse.ArgumentParser()
    shared = deploy.SharedOptions(parser)
    first = shared.add_argument("--port", type=int, default=0, help="host port")
    assert shared.add_argument("--port", type=int, default=0, help="host port") is first
    with pytest.raises(ValueError, match="--port differently"):
        shared.add_argument("--port", type=int, default=80, help="host port")
    assert parser.parse_args(["--port", "8080"]).port == 8080


# The deploy options as the actions pass them: flag -> default (unchanged by the registry).
DEFAULTS = {
    "app": None,
    "port": 0,
    "host": "127.0.0.1",
    "health_timeout": 120,
    "target": "docker",
    "replicas": 2,
    "publish": "",
    "secrets": "",
    "configs": "",
    "namespace": "",
    "overlay": "",
    "url": "",
}


@pytest.mark.parametrize("command", ["deploy", "rollback"])
def test_the_deploy_options_keep_their_flags_and_defaults(command):
    actions = {a.dest: a for a in subparser(command)._actions}
    assert {dest: actions[dest].default for dest in DEFAULTS} == DEFAULTS
    assert actions["app"].required
    assert actions["target"].choices == ("docker", "swarm", "kubernetes")
    assert actions["target"].help == (
        "docker: one container per stage; swarm: one Swarm service per stage; "
        "kubernetes: the stage's kustomize overlay, rolled out with kubectl"
    )


def parse(*argv: str) -> argparse.Namespace:
    base = ["deploy", "--image", "shop:2", "--stage", "staging", "--app", "shop"]
    return cli.build_parser().parse_args([*base, *argv])


def test_each_target_builds_itself_from_its_options(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    docker = deploy.target_for("docker", parse("--port", "8080"), "staging")
    assert (docker.kind, docker.port, docker.publish) == ("docker", 8080, "host")
    assert capsys.readouterr().err == ""
    swapped = deploy.target_for("docker", parse("--port", "1", "--publish", "ingress"), "staging")
    assert swapped.publish == "port"
    assert capsys.readouterr().err.startswith("warning: publish ingress stops the old container")

    argv = ("--target", "swarm", "--port", "8080", "--secrets", "a, b", "--replicas", "3")
    swarm = deploy.target_for("swarm", parse(*argv), "production")
    assert (swarm.publish, swarm.replicas, swarm.secrets) == ("ingress", 3, ["a", "b"])
    with pytest.raises(ToolkitError, match=r"^the swarm target needs --port"):
        deploy.target_for("swarm", parse("--target", "swarm"), "staging")

    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text("resources: []\n")
    k8s = parse("--target", "kubernetes", "--overlay", str(overlay))
    kube = deploy.target_for("kubernetes", k8s, "staging")
    assert (kube.namespace, Path(kube.overlay), kube.url) == ("shop-staging", overlay, "")
    with pytest.raises(ValueError, match="unknown deploy target 'nomad'"):
        deploy.target_for("nomad", k8s, "staging")
