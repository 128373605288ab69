"""actions/install.py, the one install step of every action: which installer, which command,
and when it installs nothing. The real installs (pip and uv into a venv) are in test_actions."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO

SCRIPT = REPO / "actions" / "install.py"


@pytest.fixture(scope="module")
def install():
    spec = importlib.util.spec_from_file_location("install_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_index_settings(install, monkeypatch, tmp_path):
    """A runner whose pip and uv are given no index: no PIP_*/UV_* variable, no pip.conf."""
    for key in [k for k in os.environ if k.startswith(("PIP_", "UV_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    monkeypatch.setattr(install.sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(install, "SYSTEM_PIP_CONF", str(tmp_path / "etc-pip.conf"))
    return tmp_path


def test_uv_when_the_runner_has_it_else_pip(install, monkeypatch, no_index_settings):
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/bin/uv")
    assert install.installer(None) == "uv"
    assert install.installer("pip") == "pip"
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    assert install.installer("") == "pip"
    with pytest.raises(SystemExit, match="MLOPS_INSTALLER=uv but uv is not on PATH"):
        install.installer("uv")
    with pytest.raises(SystemExit, match="must be uv, pip or auto, got 'conda'"):
        install.installer("conda")


def test_a_pip_index_uv_cannot_see_keeps_pip(install, monkeypatch, no_index_settings, capsys):
    """A team's private index given to pip only (pip.conf, PIP_INDEX_URL): uv would not read it
    and would fetch from PyPI instead, so auto stays with pip and says why; an index of uv's
    own lets uv in again."""
    tmp_path = no_index_settings
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/bin/uv")
    etc = tmp_path / "etc-pip.conf"
    assert install.installer(None) == "uv"
    etc.write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    assert install.installer(None) == "uv"  # a pip.conf without an index changes nothing
    conf = tmp_path / "home" / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[install]\nextra-index-url = https://pypi.example.internal/simple\n")
    assert install.installer(None) == "pip"
    assert f"pip, whose index settings ({conf}) uv does not read" in capsys.readouterr().out
    monkeypatch.setenv("UV_INDEX_URL", "https://pypi.example.internal/simple")
    assert install.installer(None) == "uv"
    monkeypatch.delenv("UV_INDEX_URL")
    conf.unlink()
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example.internal/simple")
    assert install.installer(None) == "pip"
    assert install.installer("uv") == "uv"  # chosen outright, it is uv


def test_the_toolkit_and_the_project_go_in_one_call(install):
    wanted = install.requirements("ci, store", ".[serve]", toolkit_needed=True)
    assert wanted == ["--editable", f"{install.HERE}[ci,store]", "--editable", ".[serve]"]
    assert install.requirements("", ".", toolkit_needed=False) == ["--editable", "."]
    (uv,) = install.commands("uv", wanted, ["dev"])
    assert uv[:5] == ["uv", "pip", "install", "--quiet", "--python"]
    assert uv[5] == sys.executable and uv[6:] == [*wanted, "--group", "dev"]
    pip = install.commands("pip", wanted, [])
    assert pip == [
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted]
    ]


def test_a_pip_without_groups_is_upgraded_first(install, monkeypatch):
    monkeypatch.setattr(install, "_pip_version", lambda: (24, 0))
    first, second = install.commands("pip", ["--editable", "."], ["dev"])
    assert first[-1] == "pip>=25.1"
    assert second[-2:] == ["--group", "dev"]
    monkeypatch.setattr(install, "_pip_version", lambda: (25, 1))
    assert len(install.commands("pip", ["--editable", "."], ["dev"])) == 1


def test_installed_here_needs_this_folders_source_and_the_extras_modules(install, monkeypatch):
    """This checkout's toolkit is what the tests import: installed here, unless a module the
    step's extras bring is missing."""
    monkeypatch.setattr(install, "HERE", str(REPO / "actions"))
    assert install.installed_here([])
    assert install.installed_here(["yaml"])
    assert not install.installed_here(["a_module_no_extra_brings"])
    monkeypatch.setattr(install, "HERE", str(REPO / "elsewhere"))
    assert not install.installed_here([])


def test_every_action_whose_extras_go_beyond_ci_names_their_modules():
    """An earlier step of the job may have installed the toolkit with `ci` alone: a step that
    asks for more extras names a module of each (`--needs`), or it finds the toolkit "already
    installed" and its command misses them (psycopg for a PostgreSQL store, say)."""
    for action in sorted((REPO / "actions").glob("*/action.yml")):
        for line in action.read_text().splitlines():
            literal = re.search(r'install\.py" --extras ([\w,]+)', line)
            if literal and set(literal.group(1).split(",")) - {"ci"}:
                assert "--needs" in line, f"{action.parent.name}: {line.strip()}"


def test_a_failed_install_is_one_line_with_the_installers_status(tmp_path):
    """pip refusing a requirement that does not exist: its own output, then our one line."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--project", str(tmp_path / "no-such-project")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "MLOPS_INSTALLER": "pip", "PIP_NO_INDEX": "1"},
        timeout=120,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"install.py: pip could not install --editable {tmp_path}")
    assert f"(exit {done.returncode}; its output is above)" in last
