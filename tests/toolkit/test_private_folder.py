"""core/private.py: the folder of sockets that only this user can open (the warm process's,
ssh-setup's shared connection): made 0700, refused when another could open it or it is not a
folder of its own."""

from __future__ import annotations

import os
import stat

import pytest
from mlops_toolkit.core import private

pytestmark = pytest.mark.fast


@pytest.fixture
def tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(private.tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path


def test_a_missing_folder_is_made_for_this_user_alone(tmp):
    made = private.folder("probe")
    assert made == tmp / f"probe-{os.getuid()}" == private.path("probe")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert private.folder("probe") == made  # found again as it is


def test_a_folder_others_can_open_is_refused(tmp):
    private.path("open").mkdir(mode=0o755)
    os.chmod(private.path("open"), 0o755)  # whatever the umask left
    assert private.folder("open") is None


def test_a_symlink_or_a_file_in_its_place_is_refused(tmp):
    target = tmp / "elsewhere"
    target.mkdir(mode=0o700)
    private.path("link").symlink_to(target)
    private.path("file").write_text("")
    os.chmod(private.path("file"), 0o600)  # this user's alone, but no folder
    assert private.folder("link") is None
    assert private.folder("file") is None
