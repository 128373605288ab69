"""The MLflow runs project commands opened and have not ended yet: `logs/open-run.json`.

The generated project adds its run here when it starts one and takes it out when the run has
ended. A run whose process died (SIGKILL, a step cut off, a dead server) stays listed: the next
command in the same checkout, or the report step of a CI job (its last step, `if: always()`;
the runner's checkout is gone after it), marks it FAILED. A run whose process is still alive
(a concurrent command in the same checkout) is left RUNNING: only its writer's pid tells
(liveness.py), so each entry names it.

The file is the contract `mlops.open-runs/1` (contracts.OpenRunsFile): {"runs": [{"run_id",
"tracking_uri", "pid", "host", "machine", "process_start"}]}; an older project's single
{"run_id", "tracking_uri"} reads as one entry of an unknown writer.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from .. import contracts
from . import liveness

OPEN_RUN_FILE = contracts.OpenRunsFile.PATH


def entries(path: Path = OPEN_RUN_FILE) -> list[dict[str, str]]:
    """The runs listed in `path` ([] when there is none or it is not the contract's: a record
    that cannot be read must not stop the command that would have ended its runs)."""
    try:
        return [asdict(run) for run in contracts.OpenRunsFile.read(path).runs]
    except contracts.ContractError:
        return []


def add(run_id: str, tracking_uri: str, path: Path = OPEN_RUN_FILE) -> None:
    """List a run this process has just started."""
    entry = asdict(contracts.OpenRun(run_id, tracking_uri, **liveness.identity()))
    _update(path, lambda runs: [r for r in runs if r["run_id"] != run_id] + [entry])


def remove(run_id: str, path: Path = OPEN_RUN_FILE) -> None:
    """Take a run out once it has ended (the others stay listed)."""
    _update(path, lambda runs: [r for r in runs if r["run_id"] != run_id])


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Read-modify-write of the file by one process at a time (flock on its folder)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent commands there may drop an entry
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _update(path: Path, change: Callable[[list[dict]], list[dict]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent):
        runs = change(entries(path))
        if not runs:
            path.unlink(missing_ok=True)
            return
        contracts.OpenRunsFile([contracts.OpenRun(**run) for run in runs]).write(path)


def _may_end(entry: dict[str, str], job_over: bool) -> tuple[bool, str]:
    """(end it?, why not). Its writer's death on this machine says so; a writer elsewhere
    cannot be checked from here: at the end of a CI job its steps are over (the normal orphan),
    anywhere else it may be running still."""
    state = liveness.state(entry)
    if state in (liveness.DEAD, liveness.UNKNOWN):
        return True, ""
    if state == liveness.ELSEWHERE and job_over:
        return True, ""
    if state == liveness.ALIVE:
        return False, ""  # a concurrent command: its own run, not an orphan
    return False, (
        f"run {entry['run_id']} is open in {liveness.describe(entry)}, which this machine cannot "
        f"check: left RUNNING (once that process is gone, remove it from {OPEN_RUN_FILE})"
    )


def end_orphans(
    path: Path = OPEN_RUN_FILE, *, uri: str | None = None, job_over: bool = False, by: str = "step"
) -> list[str]:
    """Mark FAILED each listed run on `uri` (any server if None) whose process is gone and that
    is still RUNNING; one line for each run ended or left in doubt.

    Never raises for the server: a server that is gone or refuses costs one line, and the run
    stays listed for the next try.
    """
    return _sweep(path, uri, job_over, by)[0]


def _sweep(path: Path, uri: str | None, job_over: bool, by: str) -> tuple[list[str], bool]:
    """end_orphans' lines, and whether a server did not answer (worth another try)."""
    told: list[str] = []
    unanswered = False
    for entry in entries(path):
        if uri is not None and entry.get("tracking_uri") != uri:
            continue  # another server's run: ended when a command tracks there again
        end, doubt = _may_end(entry, job_over)
        if doubt:
            told.append(doubt)
        if end:
            closed, said = _end(entry, by)
            told += [said] if said else []
            if closed:  # ended now or before: no longer open
                remove(entry["run_id"], path)
            unanswered |= not closed
    return told, unanswered


def _end(entry: dict[str, str], by: str) -> tuple[bool, str]:
    """Mark the run FAILED if it is RUNNING: (it is over now, the line to say or '')."""
    from . import client as tracking  # its bounded retries: a dead server answers in seconds
    from .probe import scrub_known_secrets

    run_id = str(entry["run_id"])
    try:
        from mlflow.exceptions import MlflowException

        client = tracking.connect(str(entry["tracking_uri"]))
        try:
            status = client.get_run(run_id).info.status
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return True, ""  # deleted meanwhile: nothing to end
            raise
        if status != "RUNNING":
            return True, ""
        client.set_terminated(run_id, "FAILED")
    except Exception as exc:  # the server is gone or refuses: say so, keep the entry
        text = " ".join(str(exc).split())[:200]
        return False, scrub_known_secrets(
            f"run {run_id} may be left RUNNING (tracking server: {text})"
        )
    return True, f"run {run_id} was left RUNNING by a {by} cut off: marked FAILED"


def end_orphan(path: Path = OPEN_RUN_FILE, *, wait_s: float = 0.0, retry_s: float = 3.0) -> str:
    """The report step's call, at the end of its job: what happened, in one line, or ''.

    While a server does not answer, try again every `retry_s` until `wait_s` has passed (a
    server that died mid-step is often restarted within a minute); runs left alone (alive, or
    elsewhere) are no reason to wait.
    """
    import time

    job_over = os.environ.get("GITHUB_ACTIONS") == "true"
    deadline = time.monotonic() + wait_s
    ended: list[str] = []
    while True:
        told, unanswered = _sweep(path, None, job_over, "step")
        if not unanswered or time.monotonic() >= deadline:
            return "; ".join(ended + told)
        ended += [line for line in told if line.endswith("marked FAILED")]
        time.sleep(retry_s)
