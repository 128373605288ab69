"""The project's DVC remote: set from the environment, pulled by `pull-data`, probed by `doctor`.

A team commits `.dvc/config` with its remote, or leaves the URL to CI: `DVC_REMOTE_URL` (and
`DVC_S3_ENDPOINT_URL` for an S3-compatible store that is not AWS) become the default remote in
`.dvc/config.local`, which DVC never commits. S3 credentials stay in the environment
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), where DVC's S3 client finds them.
Only the data added with `dvc add` (its `.dvc` files) is pulled: the pipeline's own outputs are
rebuilt by CI, never downloaded.

The remote's settings go through DVC's Python API (`dvc.config.Config`: about 0.05 s to import,
where each `dvc remote ...` process took a second or more), and so do the pull, the push and the
cloud status, in this process, their failures one line as DVC's command layer words them
(docs/architecture.md, dependencies).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import names
from ..core.redact import redact
from ..errors import InputError, ToolkitError

CI_REMOTE = "ci"  # the name of the remote configured from DVC_REMOTE_URL
NOT_INSTALLED = "dvc is not installed in this environment (pip install 'dvc[s3]')"
# Folders never searched for `.dvc` files: DVC's own, git's, environments.
SKIPPED_DIRS = {".dvc", ".git", ".venv", "venv", "node_modules", "__pycache__"}


@dataclass(frozen=True)
class Tracked:
    """One `.dvc` file and the paths it tracks (relative to the working directory)."""

    dvc_file: str
    outs: tuple[str, ...]


def pull(cwd: Path, dvc_files: list[str]) -> None:
    """`dvc pull` of these `.dvc` files (relative to `cwd`), in this process."""
    targets = _absolute(cwd, dvc_files)
    _in_repo(cwd, "failed to pull data from the cloud", lambda repo: repo.pull(targets))


def push(cwd: Path, dvc_files: list[str]) -> None:
    """`dvc push` of these `.dvc` files (relative to `cwd`), in this process."""
    targets = _absolute(cwd, dvc_files)
    _in_repo(cwd, "failed to push data to the cloud", lambda repo: repo.push(targets))


def cloud_in_sync(cwd: Path) -> bool:
    """`dvc status --cloud`: True when the default remote has everything, False when something
    differs; DvcFailed (one line) when the remote cannot be read."""
    return not _in_repo(cwd, "", lambda repo: repo.status(cloud=True))


class DvcFailed(ToolkitError):
    """DVC's Python API refused: one line, worded as DVC's command layer words it."""


def _absolute(cwd: Path, dvc_files: list[str]) -> list[str]:
    """DVC resolves a relative target against the process's directory, not the repo's."""
    return [str((cwd / name).resolve()) for name in dvc_files]


def _in_repo(cwd: Path, failed: str, call: Callable[[Any], Any]) -> Any:
    """`call(repo)` on the project's DVC repository, through DVC's Python API as quiet as `dvc
    --quiet` (`quiet`): one import of DVC (~0.3 CPU-s beside MLflow's) where each `dvc`
    process started an interpreter, DVC and its S3 client anew (~0.6-1.3 CPU-s a call,
    measured). A failure is DvcFailed, its line prefixed by `failed` (`_failure`); DVC missing
    stays its own InputError, and Ctrl-C and SIGTERM (`errors.Terminated`) are not DVC's
    failures: they pass."""
    said: list[str] = []
    with quiet(said):
        try:
            from dvc.repo import Repo
        except ImportError:
            raise InputError(NOT_INSTALLED) from None
        try:
            with Repo(str(cwd)) as repo:
                return call(repo)
        except Exception as exc:
            raise DvcFailed(_failure(failed, exc, said)) from None


def _failure(failed: str, exc: BaseException, said: list[str]) -> str:
    """DVC's `ERROR:` line for `exc`, as its command layer prints it (`failed to pull data from
    the cloud - Checkout failed for following targets: data/x.csv`): the exception's first line,
    with the lines listed under it up to DVC's question or link; the first error DVC logged
    where that says more (`_with_logged`); no secrets."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    if line.endswith(":"):
        listed = []
        for following in lines[1:]:
            if following.endswith("?") or following.startswith("<"):
                break
            listed.append(following)
        line = f"{line} {', '.join(listed)}".strip()
    line = _with_logged(line, said)
    return redact((f"{failed} - {line}" if failed else line)[:300])


def _with_logged(text: str, said: list[str]) -> str:
    """`text`, and the first error DVC logged (under `quiet`) where `text` lacks it: DVC's
    counting exceptions (`UploadError('1 files failed to upload')`) leave the cause to the log."""
    logged = " ".join(said[0].split()) if said else ""
    return f"{text} ({logged})" if logged and logged not in text else text


def is_dvc_project(cwd: Path) -> bool:
    return (cwd / ".dvc" / "config").is_file()


def configure(cwd: Path, url: str, endpoint: str) -> str | None:
    """Apply the URL and endpoint of the environment; return the default remote's name.

    As `dvc remote add --local --default --force ci URL` and `dvc remote modify --local
    REMOTE endpointurl URL` would: in `.dvc/config.local`, checked by DVC's own schema."""
    if url:
        with _editing(cwd, f"{names.ENV_DVC_REMOTE_URL}={redact(url)!r}") as conf:
            conf["remote"][CI_REMOTE] = {"url": url}  # --force: the whole section replaced
            conf["core"]["remote"] = CI_REMOTE
    remote = default_remote(cwd)
    if remote and endpoint:
        with _editing(cwd, names.ENV_DVC_S3_ENDPOINT_URL) as conf:
            conf["remote"].setdefault(remote, {})["endpointurl"] = endpoint
    return remote


def default_remote(cwd: Path) -> str | None:
    """The default remote's name (any level of DVC's config), or None when there is none."""
    return _config(cwd)["core"].get("remote") or None


def remote_url(cwd: Path, remote: str) -> str:
    url = _config(cwd)["remote"].get(remote, {}).get("url")
    return redact(url) if url else "?"  # quoted in messages and the job summary


def _config(cwd: Path) -> Any:
    """DVC's merged configuration of the project; one line when DVC is missing or refuses it."""
    try:
        from dvc.config import Config, ConfigError
    except ImportError:
        raise InputError(NOT_INSTALLED) from None
    try:
        return Config(dvc_dir=str(cwd / ".dvc"))
    except ConfigError as exc:
        raise InputError(f"DVC configuration of {cwd}: {one_line(exc)}") from None


@contextmanager
def _editing(cwd: Path, what: str) -> Iterator[dict[str, Any]]:
    """The `local` level of DVC's config, written back on exit if DVC's schema accepts it."""
    from dvc.config import ConfigError

    try:
        with _config(cwd).edit("local") as conf:
            yield conf
    except ConfigError as exc:
        raise InputError(f"{what}: {one_line(exc)}") from None


def one_line(exc: Exception) -> str:
    return redact(" ".join(str(exc).split())[:300])


@contextmanager
def restored_on_failure(paths: list[Path], moved: Path | None = None) -> Iterator[None]:
    """Each path as it was (or absent) when the block fails: what a DVC add (init-data's,
    retrain-data's) must not leave half-done. `moved`, which the block replaces by another file
    (a new inode), is kept by a hard link, not a copy: it may be large. The others (written in
    place by DVC, perhaps) are copied."""
    saved: list[tuple[Path, Path | None]] = []
    for path in paths:
        if not path.exists():
            saved.append((path, None))
            continue
        keep = path.with_name(f".{path.name}.before")
        keep.unlink(missing_ok=True)
        try:
            if path != moved:
                raise OSError("copy")
            os.link(path, keep)
        except OSError:
            shutil.copy2(path, keep)
        saved.append((path, keep))
    try:
        yield
    except BaseException:
        for path, keep in saved:
            if keep is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(keep, path)
        raise
    else:
        for _, keep in saved:
            if keep is not None:
                keep.unlink(missing_ok=True)


# DVC's loggers: each has its own stdout/stderr handlers, installed when `dvc` is imported.
DVC_LOGGERS = ("dvc", "dvc_data", "dvc_objects")
# The loggers whose level decides whether DVC draws its progress bars.
DVC_BAR_LOGGERS = ("dvc.progress", "dvc_data.callbacks")


@contextmanager
def quiet(said: list[str]) -> Iterator[None]:
    """DVC's Python API as quiet as a `dvc --quiet` process: nothing on the terminal or in
    the run's log, no progress bars.

    In process DVC's log records would go to the handlers it installs at import and, through
    the root logger, to the toolkit's too, as would its remote clients' (aiobotocore's "Found
    credentials in environment variables") and their warnings. Here they go nowhere, but the
    errors DVC logs are added to `said` (`failed to transfer '<md5>': [Errno 13] Permission
    denied: ...`, which its exception, `UploadError('1 files failed to upload')`, lacks)."""
    import logging
    import warnings

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text}: {record.exc_info[1]}"
            said.append(text)

    saved = []
    for name in DVC_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers, logger.propagate = [Keep(logging.ERROR)], False
        logger.setLevel(logging.ERROR)
    for name in DVC_BAR_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.setLevel(logging.CRITICAL)
    root = logging.getLogger()
    saved.append((root, root.handlers[:], root.propagate, root.level))
    root.handlers = [logging.NullHandler()]  # not none: Python's last resort prints warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


def reason(exc: BaseException, said: list[str]) -> str:
    """One line for a failed call of DVC's Python API: its exception, and the first error it
    logged (under `quiet`) where that says more. Any exception: in process a remote's client
    raises its own (botocore's `EndpointConnectionError`, an `OSError`), as DVC's command layer
    would have printed as `unexpected error - ...`."""
    return redact(_with_logged(" ".join(str(exc).split()) or type(exc).__name__, said)[:300])


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
