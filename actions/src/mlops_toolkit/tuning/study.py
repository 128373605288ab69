"""A sweep: an Optuna study stored beside the tracking store, resumed by name.

The study lives in `sweeps.journal` next to the embedded `mlflow.db`: Optuna's journal storage,
an append-only file with one JSON line per stored trial (storing a trial costs ~0.6 ms of CPU
where SQLite's RDB storage spent ~12 ms in SQLAlchemy). When the tracking store is a server it
lives where `--storage`/`$MLOPS_SWEEP_STORAGE` says: a database (the team's PostgreSQL server: a
database or schema of its own beside MLflow's tables, whose names clash with Optuna's
`alembic_version`; or `sqlite:///PATH`), or a journal file's path. `load_if_exists` makes a
second run of the same study its continuation: `--trials` is the study's total, so a sweep
killed after k stored trials runs the other n - k. Trials run in an in-memory copy of the study
and are stored as they finish (by the writer thread of trials.py, one append or transaction
each), so a kill loses only the trials that were running or not yet stored; a trial some other
process left RUNNING in the storage is marked FAIL when the study opens (one sweep process per
study: the storage cannot tell a dead process's trial from a live one's).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import names
from ..core import progress, sqlite_url
from ..errors import InputError, ToolkitError
from . import objective, trials
from .factory import Project

if TYPE_CHECKING:  # tuning reaches tracking at run time only (tests/toolkit/test_layout.py)
    from ..tracking.api import TrackingClient

log = logging.getLogger(__name__)
STORE_FILE = "sweeps.journal"
SPACE_ATTR = "search_space"
INTERRUPTED_ATTR = "interrupted"
# Parameter combinations a family refuses only at fit time (sklearn's solver/penalty pairs):
# that trial fails, the sweep goes on. Anything else stops the sweep in one line.
TRIAL_ERRORS = (ValueError, ArithmeticError)


@dataclass(frozen=True)
class Settings:
    trials: int
    parallel: int = 1
    study: str = ""
    storage: str = ""
    experiment: str = ""
    progress: bool = False
    # Start no trial after this many seconds (None: no limit); the study keeps what finished.
    timeout_s: float | None = None


@dataclass
class Outcome:
    study: str
    storage: str  # redacted
    parent_run_id: str
    metric: str
    direction: str
    best_value: float
    best_params: dict[str, Any]
    best_trial: int
    best_run_id: str | None
    counts: dict[str, int] = field(default_factory=dict)
    ran: int = 0


def storage_url(tracking_uri: str, explicit: str = "") -> str:
    """Where the study lives: the explicit database URL or journal file, else sweeps.journal
    beside an SQLite tracking store."""
    url = explicit or os.environ.get(names.ENV_SWEEP_STORAGE, "")
    if not url:
        store = sqlite_url.file_of(tracking_uri)
        if store is None:
            kind = "has no file" if sqlite_url.is_sqlite(tracking_uri) else "is a server"
            raise InputError(
                f"the tracking store {kind}: name the study's database with --storage "
                f"(or ${names.ENV_SWEEP_STORAGE}), e.g. postgresql://user@host:5432/sweeps"
            )
        return str(Path(store).parent / STORE_FILE)
    if _is_journal(url):
        return url
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):  # psycopg 3 (the store and sweep extras), not psycopg2
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    if sqlite_url.is_sqlite(url) and sqlite_url.file_of(url) is None:
        raise InputError(
            f"--storage {_redact(url)!r} names no file: a study outlives the command, "
            "give sqlite:///PATH"
        )
    if not url.startswith(("sqlite:///", "postgresql+", "mysql+")):
        raise InputError(
            "--storage must be a journal file's path, sqlite:///PATH or postgresql://..., "
            f"got {_redact(url)!r}"
        )
    return url


def open_storage(url: str) -> Any:
    """Optuna's storage at ``url`` (from `storage_url`): a journal file, else a database."""
    import optuna

    if not _is_journal(url):
        return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    from optuna.storages.journal import JournalFileBackend

    if not Path(url).parent.is_dir():
        raise InputError(f"--storage {url}: no such folder {str(Path(url).parent)!r}")
    # Each append takes Optuna's lock file (<file>.lock) and ends in fsync: a crash loses no
    # stored trial, and a lock left by a killed sweep is taken over after its grace period.
    return optuna.storages.JournalStorage(JournalFileBackend(url))


def _is_journal(url: str) -> bool:
    """A path, not a URL: Optuna's journal file (the form optuna-dashboard opens too)."""
    return "://" not in url


def run(project: Project, settings: Settings, tracking_uri: str, experiment: str) -> Outcome:
    """Run (or continue) the study to ``settings.trials`` finished trials; the best one."""
    import optuna

    from ..tracking import client as tracking

    if settings.trials < 1:
        raise InputError(f"--trials must be at least 1, got {settings.trials}")
    if settings.parallel < 1:
        raise InputError(f"--parallel must be at least 1, got {settings.parallel}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(tracking_uri, settings.storage)
    name = settings.study or f"{experiment}-{project.metric}"
    study = _open(project, url, name)
    # The interface; on MLflow's SQL store childruns.sink also reaches past it (one transaction).
    client = tracking.connect(tracking_uri)
    experiment_id = _experiment(client, settings.experiment or f"{experiment}-sweeps")
    parent = trials.parent_run(client, experiment_id, study, _parent_tags(project, name))
    finished = study.get_trials(deepcopy=False)  # every one finished: see _fail_interrupted
    writer = trials.ChildWriter(
        client, experiment_id, parent, name, project.metric, _persister(study, len(finished))
    )
    written = trials.written_trials(client, experiment_id, parent)
    writer.write_all(t for t in finished if t.number not in written)
    remaining = settings.trials - _counted(finished)
    status = "FAILED"
    try:
        if remaining > 0:
            _optimize(project, _working_copy(project, finished), writer, remaining, settings, name)
        else:
            log.info("study %s already has %d trial(s): nothing to run", name, settings.trials)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        writer.close()
        written.update(writer.runs)
        best = _best(study)
        best_run = written.get(best.number) if best else None
        trials.finish_parent(client, parent, project.metric, best, best_run, status)
    if best is None:
        raise ToolkitError(f"study {name}: no trial completed (see the child runs' states)")
    return _outcome(study, name, url, parent, project, best, best_run, max(remaining, 0))


def _open(project: Project, url: str, name: str) -> Any:
    """Create or load the stored study; refuse one of another direction or search space."""
    import optuna

    storage = open_storage(url)
    study = optuna.create_study(
        study_name=name, storage=storage, direction=project.direction, load_if_exists=True
    )
    space = json.dumps(project.sweep.space, sort_keys=True, default=str)
    if study.direction.name.lower() != project.direction:
        raise InputError(
            f"study {name} {study.direction.name.lower()}s; {project.metric} must be "
            f"{project.direction}d: pass --study for a new study"
        )
    recorded = study.user_attrs.get(SPACE_ATTR)
    if recorded is None:
        study.set_user_attr(SPACE_ATTR, space)
    elif recorded != space:
        raise InputError(
            f"study {name} was run with another search space (sweep.space changed): pass "
            "--study for a new study, or restore the space to continue it"
        )
    _fail_interrupted(study, storage)
    return study


def _working_copy(project: Project, stored: list[Any]) -> Any:
    """The study the trials run in: in memory, holding the stored trials.

    A stored study answers every report, pruning check and suggestion from its storage (with
    SQL in an RDB storage: about 75 ms of CPU per trial here, a fifth of a trial on the sample);
    in memory they cost nothing, and the writer thread stores each finished trial in one append
    or transaction (`_persister`). The sampler and pruner see the same history either way, so
    the trials are the same.
    """
    import optuna

    study = optuna.create_study(
        direction=project.direction,
        sampler=optuna.samplers.TPESampler(seed=project.seed),
        # After the first trials, stop one whose running fold mean is below the median.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    study.add_trials(stored)
    return study


def _persister(stored: Any, count: int) -> Any:
    """Store a finished trial; its number is the stored study's (trials finishing out of order
    under --parallel are numbered in the order they finished). The stored study held ``count``
    trials when it opened and only this sweep's writer thread adds to it (one sweep process per
    study), so the number is counted here: reading the study back for it cost a query of every
    stored trial per trial (~6 ms of CPU each in SQLite on the sample, growing with the
    study)."""
    numbers = itertools.count(count)

    def persist(trial: Any) -> int:
        number = next(numbers)
        stored.add_trial(trial)
        return number

    return persist


def _engine_kwargs(url: str) -> dict[str, Any]:
    """SQLite in WAL mode with synchronous=NORMAL: a commit no longer waits for the disk (a
    trial commits about ten times), and a crash loses at most the last trials, never the file;
    parallel trials wait for the write lock instead of failing at once."""
    path = sqlite_url.file_of(url)
    if path is None:
        return {}
    import sqlite3

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(path, timeout=60, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    return {"creator": connect}


def _fail_interrupted(study: Any, storage: Any) -> None:
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        log.warning("trial %d was interrupted (its process is gone): marked FAIL", trial.number)


def _counted(finished: list[Any]) -> int:
    """Trials that count towards --trials: every finished one but those cut off by a kill."""
    return sum(1 for t in finished if not t.user_attrs.get(INTERRUPTED_ATTR))


def _experiment(client: TrackingClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def _parent_tags(project: Project, study: str) -> dict[str, str]:
    return {
        names.TAG_SWEEP_STUDY: study,
        names.TAG_MODEL_FAMILY: project.family,
        names.TAG_TASK: project.task,
        names.TAG_SWEEP_METRIC: project.metric,
        names.TAG_SWEEP_DIRECTION: project.direction,
        names.TAG_SWEEP_SPACE: json.dumps(project.sweep.space, default=str)[:5000],
    }


def _optimize(
    project: Project, study: Any, writer: Any, remaining: int, settings: Settings, name: str
) -> None:
    splits = objective.folds(project)
    total = settings.trials
    done = total - remaining
    numbers = itertools.count(done + 1)  # next() is atomic: trials finish in several threads

    def report(study: Any, trial: Any) -> None:
        writer.submit(study, trial)
        best = _best(study)
        value = (
            f"{project.metric}={trial.value:.4f}" if trial.value is not None else trial.state.name
        )
        shown = f"; best so far {best.value:.4f}" if best else ""
        log.info("trial %d/%d: %s%s", next(numbers), total, value, shown)

    log.info(
        "study %s: %d trial(s) to run (%d of %d done), %d at a time, %s %s over %d folds",
        name,
        remaining,
        done,
        total,
        settings.parallel,
        project.direction,
        project.metric,
        len(splits),
    )
    study.optimize(
        lambda trial: objective.run_trial(project, trial, splits),
        n_trials=remaining,
        n_jobs=settings.parallel,
        timeout=settings.timeout_s,
        catch=TRIAL_ERRORS,
        callbacks=[report],
        show_progress_bar=settings.progress and progress.live(),  # quiet in CI logs
    )


def _best(study: Any) -> Any | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial
        return None


def _outcome(
    study: Any, name: str, url: str, parent: str, project: Project, best: Any, run: Any, ran: int
) -> Outcome:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return Outcome(
        study=name,
        storage=_redact(url),
        parent_run_id=parent,
        metric=project.metric,
        direction=project.direction,
        best_value=float(best.value),
        best_params=dict(best.params),
        best_trial=best.number,
        best_run_id=run,
        counts=counts,
        ran=ran,
    )


def _redact(url: str) -> str:
    from ..core.redact import redact

    return redact(url)
