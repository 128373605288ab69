"""A folder under the system's temporary folder that only this user can open: where the
toolkit keeps sockets whose path must be short (a socket's path holds 108 bytes, a runner's
$RUNNER_TEMP may be deeper) and whose peers must be this user alone (core/warm.py's server
takes a command's environment, secrets included; deploy/ssh.py's shared connection is logged
in with the deploy key). Standard library only: the CLI's start imports it."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def path(name: str) -> Path:
    """`<tmp>/<name>-<uid>`, whether or not it exists."""
    return Path(tempfile.gettempdir()) / f"{name}-{os.getuid()}"


def folder(name: str) -> Path | None:
    """`path(name)`, made with mode 0700 if missing; None where it cannot be made, or is not
    this user's alone (another user's, open to others, or not a folder: a symlink too)."""
    where = path(name)
    try:
        where.mkdir(mode=0o700, exist_ok=True)
        info = where.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return where
