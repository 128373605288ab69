"""The MLflow run a project command opened and never ended, ended by the job that opened it.

The generated project records its open run in `logs/open-run.json` and marks it FAILED at the
next command in the same checkout; a CI runner's checkout is gone by then. The report step runs
last, `if: always()`, in the same checkout: it ends the run there.
"""

from __future__ import annotations

import json
from pathlib import Path

# Written by the generated project's tracking.open_run, deleted once the run has ended.
OPEN_RUN_FILE = Path("logs") / "open-run.json"


def end_orphan(path: Path = OPEN_RUN_FILE) -> str:
    """Mark FAILED the run recorded in `path` if it is still RUNNING; say what happened, or ''.

    Never raises for the server: the report it runs beside matters more than the run's status.
    """
    try:
        left = json.loads(path.read_text(encoding="utf-8"))
        run_id, uri = str(left["run_id"]), str(left["tracking_uri"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return ""
    from . import tracking  # noqa: F401 - its bounded retries: a dead server answers in seconds
    from .tracking_check import scrub_known_secrets

    try:
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        if client.get_run(run_id).info.status != "RUNNING":
            path.unlink(missing_ok=True)
            return ""
        client.set_terminated(run_id, "FAILED")
    except Exception as exc:  # the server is gone or refuses: say so, keep the file
        text = " ".join(str(exc).split())[:200]
        return scrub_known_secrets(f"run {run_id} may be left RUNNING (tracking server: {text})")
    path.unlink(missing_ok=True)
    return f"run {run_id} was left RUNNING by a step cut off: marked FAILED"
