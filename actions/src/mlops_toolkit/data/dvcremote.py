"""The project's DVC remote: set from the environment, pulled by `pull-data`, probed by `doctor`.

A team commits `.dvc/config` with its remote, or leaves the URL to CI: `DVC_REMOTE_URL` (and
`DVC_S3_ENDPOINT_URL` for an S3-compatible store that is not AWS) become the default remote in
`.dvc/config.local`, which DVC never commits. S3 credentials stay in the environment
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), where DVC's S3 client finds them.
Only the data added with `dvc add` (its `.dvc` files) is pulled: the pipeline's own outputs are
rebuilt by CI, never downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import names
from ..core.redact import redact
from ..errors import InputError, ToolkitError

CI_REMOTE = "ci"  # the name of the remote configured from DVC_REMOTE_URL
# Folders never searched for `.dvc` files: DVC's own, git's, environments.
SKIPPED_DIRS = {".dvc", ".git", ".venv", "venv", "node_modules", "__pycache__"}
DVC_TIMEOUT_S = 1800  # a pull of a large data set; the job's own timeout is the real bound


@dataclass(frozen=True)
class Tracked:
    """One `.dvc` file and the paths it tracks (relative to the working directory)."""

    dvc_file: str
    outs: tuple[str, ...]


def dvc_command() -> list[str]:
    """DVC of this interpreter (where the action installed it), else the one on PATH."""
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    exe = shutil.which("dvc")
    if not exe:
        raise InputError("dvc is not installed in this environment (pip install 'dvc[s3]')")
    return [exe]


def run_dvc(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    try:
        return subprocess.run(
            [*dvc_command(), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=DVC_TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolkitError(f"dvc {args[0]} did not finish in {DVC_TIMEOUT_S} s") from exc


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """DVC's own `ERROR: ...` line (else its last line), without secrets. An error line that
    ends in ':' takes the lines DVC lists under it (a pull names the missing targets there),
    up to its question or link (`Is your cache up to date?`, `<https://error.dvc.org/...>`)."""
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    first = next((i for i, ln in enumerate(lines) if ln.startswith("ERROR")), None)
    if first is None:
        return redact((lines[-1] if lines else "failed")[:300])
    line = lines[first].removeprefix("ERROR:").strip()
    if line.endswith(":"):
        listed = []
        for following in lines[first + 1 :]:
            if following.endswith("?") or following.startswith("<"):
                break
            listed.append(following)
        line = f"{line} {', '.join(listed)}".strip()
    return redact(line[:300])


def is_dvc_project(cwd: Path) -> bool:
    return (cwd / ".dvc" / "config").is_file()


def configure(cwd: Path, url: str, endpoint: str) -> str | None:
    """Apply the URL and endpoint of the environment; return the default remote's name."""
    if url:
        done = run_dvc(["remote", "add", "--local", "--default", "--force", CI_REMOTE, url], cwd)
        if done.returncode != 0:
            raise InputError(f"{names.ENV_DVC_REMOTE_URL}={redact(url)!r}: {error_line(done)}")
    remote = default_remote(cwd)
    if remote and endpoint:
        done = run_dvc(["remote", "modify", "--local", remote, "endpointurl", endpoint], cwd)
        if done.returncode != 0:
            raise InputError(f"{names.ENV_DVC_S3_ENDPOINT_URL}: {error_line(done)}")
    return remote


def default_remote(cwd: Path) -> str | None:
    """`dvc remote default`: the name, or None when no remote is the default."""
    done = run_dvc(["remote", "default"], cwd)
    name = done.stdout.strip()
    return name if done.returncode == 0 and name else None


def remote_url(cwd: Path, remote: str) -> str:
    done = run_dvc(["remote", "list"], cwd)
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == remote:
            return redact(parts[1])  # quoted in messages and the job summary
    return "?"


def tracked(cwd: Path) -> list[Tracked]:
    """Every `.dvc` file under the working directory, with the paths it tracks."""
    import yaml  # here, not at the top: `--help` stays free of it

    found = []
    for path in sorted(_dvc_files(cwd)):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        base = path.parent.relative_to(cwd)
        outs = tuple(
            str(base / out["path"]) for out in spec.get("outs") or [] if isinstance(out, dict)
        )
        found.append(Tracked(str(path.relative_to(cwd)), outs))
    return found


def _dvc_files(cwd: Path):
    for root, dirs, files in os.walk(cwd):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            if name.endswith(".dvc"):
                yield Path(root) / name


def missing(files: list[Tracked], cwd: Path) -> list[str]:
    return [out for t in files for out in t.outs if not (cwd / out).exists()]
