"""How generated projects take updates: Dependabot, and the toolkit pinned by commit SHA."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from support.project import ROOT, bake

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_dependabot_covers_actions_pip_and_docker(tmp_path):
    project = bake(tmp_path)
    config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip", "docker"}
    assert all(u["directory"] == "/" and u["schedule"]["interval"] for u in config["updates"])
    result = subprocess.run(
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.dependabot",
            str(project / ".github" / "dependabot.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("version", "suffix"), [("v1.4.2", " # v1.4.2"), ("", "")])
def test_a_sha_ref_renders_with_its_version_as_a_comment(tmp_path, version, suffix):
    project = bake(tmp_path, actions_ref=SHA, actions_version=version)
    toolkit = re.compile(r"uses: your-org/cookiecutter-mlops/actions/[\w-]+@(.*)$", re.M)
    for workflow in (project / ".github" / "workflows").glob("*.yml"):
        refs = toolkit.findall(workflow.read_text())
        assert refs and set(refs) == {SHA + suffix}, (workflow.name, set(refs))


def test_a_tag_ref_has_no_comment(tmp_path):
    project = bake(tmp_path)
    text = (project / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "actions/train@v1\n" in text


def test_a_bad_version_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(tmp_path),
            str(ROOT),
            f"actions_ref={SHA}",
            "actions_version=1.4 # evil",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "actions_version '1.4 # evil' must be vX, vX.Y or vX.Y.Z" in result.stderr
    assert not any(tmp_path.iterdir())
