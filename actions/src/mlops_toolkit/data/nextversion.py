"""The next version of a project's DVC-tracked data: its rows plus the labelled production rows.

`retrain-data` reads the prediction store's labelled rows of one model and environment (the
store's public `read_joined`), and this module appends them to the tracked file (CSV or
Parquet): each row's inputs under the data's own column names, its label as the target column.

- Once per prediction id: the ids already added travel with the data, in a file beside it
  (`<name>.prediction_ids.csv`, DVC-tracked as well), so a re-run adds nothing twice and a
  data version whose retrain was never merged leaves its rows to be added again.
- Same columns, same types: the existing rows are kept byte for byte (a CSV is appended to),
  the new file is read back and every column the new rows fill must keep its type; a column
  the model never sees (an ID, excluded from the features) is left empty and said so.
- All or nothing: the new files are written beside the old ones, moved into place, and `dvc
  add`ed (DVC's Python API); any failure puts the old files (and `.dvc` pointers) back.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ToolkitError
from . import dvcremote

ID_COLUMN = "prediction_id"
IDS_SUFFIX = ".prediction_ids.csv"


@dataclass(frozen=True)
class LabelledRow:
    """One labelled prediction: what the model saw and what turned out to be true."""

    prediction_id: str
    inputs: dict[str, Any]
    label: Any
    scored_at: float
    labelled_at: float


@dataclass(frozen=True)
class NextVersion:
    """What `extend` did (nothing is written when it raises)."""

    data: str  # the tracked file
    ids: str  # the file of the prediction ids it holds
    rows_before: int
    rows_added: int
    labelled: int  # labelled rows the store gave
    already: int  # of those, rows the data held already
    left_empty: list[str]  # data columns no model input fills (IDs, excluded columns)
    label_from: float | None  # when the added rows were labelled (epoch seconds)
    label_to: float | None
    scored_from: float | None
    scored_to: float | None
    dvc_files: list[str]  # the pointers `dvc add` wrote
    commit_paths: list[str]  # what to commit: the pointers and their .gitignore


def labelled_rows(
    store: Any, model_name: str, environment: str, since: float | None = None
) -> list[LabelledRow]:
    """The store's labelled predictions of a model in an environment (scored since `since`).

    `store` is a `monitoring.store.PredictionStore` (its public reads only). One line when the
    store knows no such model or holds no label for it."""
    known = store.model_versions(model_name)
    if not known:
        raise InputError(f"the prediction store {store.url} holds no predictions of {model_name}")
    environments = sorted({env for _, _, env in known})
    if environment not in environments:
        raise InputError(
            f"the prediction store holds no {environment} predictions of {model_name} "
            f"(environments: {', '.join(environments)})"
        )
    joined = store.read_joined(model_name, environment=environment, since=since)
    rows = [
        LabelledRow(
            j.prediction.prediction_id, j.prediction.inputs, j.label, j.prediction.ts, j.labelled_at
        )
        for j in joined
        if j.labelled
    ]
    if not rows:
        window = " in the window" if since is not None else ""
        raise InputError(
            f"no labelled {environment} predictions of {model_name}{window}: "
            f"{len(joined)} prediction(s), none labelled yet (load labels with `labels`)"
        )
    return rows


def ids_path(data: Path) -> Path:
    """`data/external/churn.csv` -> `data/external/churn.prediction_ids.csv`."""
    return data.with_name(data.stem + IDS_SUFFIX)


def extend(data: Path, rows: Sequence[LabelledRow], target: str, *, root: Path) -> NextVersion:
    """Append the rows the data does not hold yet, write both files and `dvc add` them."""
    if not data.is_file():
        raise InputError(f"no data file {data}: pull the DVC-tracked data first (pull-data)")
    if not Path(str(data) + ".dvc").is_file():
        raise InputError(f"{data} is not tracked by DVC (no {data.name}.dvc): `dvc add` it first")
    ids_file = ids_path(data)
    seen = _read_ids(ids_file)
    new, fresh = [], set()
    for row in rows:
        if row.prediction_id not in seen and row.prediction_id not in fresh:
            fresh.add(row.prediction_id)
            new.append(row)
    if not new:
        raise InputError(
            f"all {len(rows)} labelled row(s) are in {data} already: nothing new to retrain on"
        )
    parquet = data.suffix.lower() in (".parquet", ".pq")
    columns = _columns(data, parquet)
    left_empty = _check_columns(columns, new, target, data)
    tmp_data = data.with_name(f".{data.name}.next")
    tmp_ids = ids_file.with_name(f".{ids_file.name}.next")
    try:
        before = _write_data(data, tmp_data, columns, new, target, parquet)
        _write_ids(ids_file, tmp_ids, seen, new)
        dvc_files = [str(data) + ".dvc", str(ids_file) + ".dvc"]
        keep = [data, ids_file, *map(Path, dvc_files), data.parent / ".gitignore"]
        with dvcremote.restored_on_failure(keep, moved=data):
            os.replace(tmp_data, data)
            os.replace(tmp_ids, ids_file)
            dvc_add([data, ids_file], root)
    finally:
        for tmp in (tmp_data, tmp_ids):
            tmp.unlink(missing_ok=True)
    labelled = [r.labelled_at for r in new]
    scored = [r.scored_at for r in new]
    gitignore = data.parent / ".gitignore"
    return NextVersion(
        data=str(data),
        ids=str(ids_file),
        rows_before=before,
        rows_added=len(new),
        labelled=len(rows),
        already=len(rows) - len(new),
        left_empty=left_empty,
        label_from=min(labelled),
        label_to=max(labelled),
        scored_from=min(scored),
        scored_to=max(scored),
        dvc_files=dvc_files,
        commit_paths=[*dvc_files, *([str(gitignore)] if gitignore.is_file() else [])],
    )


# --- columns and types ------------------------------------------------------------------------


def _columns(data: Path, parquet: bool) -> list[str]:
    if parquet:
        import pyarrow.parquet as pq

        return list(pq.read_schema(data).names)
    import csv

    with open(data, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _check_columns(columns: list[str], rows: Sequence[LabelledRow], target: str, data: Path):
    """The data columns left empty; one line when the rows and the data do not fit."""
    if target not in columns:
        raise InputError(f"{data} has no target column {target!r} (columns: {', '.join(columns)})")
    given = set().union(*(r.inputs for r in rows))
    extra = sorted(given - set(columns))
    if extra:
        raise InputError(
            f"column mismatch: the store's inputs have {', '.join(extra)}, which {data} lacks "
            "(was the model trained on another data schema?)"
        )
    if target in given:
        raise InputError(f"column mismatch: the target {target!r} is one of the model's inputs")
    features = [c for c in columns if c != target]
    left_empty = [c for c in features if c not in given]
    if len(left_empty) == len(features):
        raise InputError(f"column mismatch: no input of the store's rows is a column of {data}")
    return left_empty


def _frame(columns: list[str], rows: Sequence[LabelledRow], target: str):
    import pandas as pd

    records = [{**r.inputs, target: r.label} for r in rows]
    return pd.DataFrame.from_records(records).reindex(columns=columns)


def _write_data(data, tmp, columns, rows, target, parquet: bool) -> int:
    """The new file at `tmp`; returns the rows the data had."""
    if parquet:
        return _write_parquet(data, tmp, columns, rows, target)
    return _write_csv(data, tmp, columns, rows, target)


def _write_csv(data: Path, tmp: Path, columns, rows, target: str) -> int:
    import pandas as pd

    old = pd.read_csv(data, index_col=False)
    shutil.copyfile(data, tmp)
    with open(tmp, "rb+") as handle:  # the old bytes stay; the new rows go after them
        handle.seek(0, os.SEEK_END)
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) not in (b"\n", b"\r"):
                handle.write(b"\n")
    _frame(columns, rows, target).to_csv(tmp, mode="a", header=False, index=False)
    back = pd.read_csv(tmp, index_col=False)
    filled = [c for c in columns if c == target or any(c in r.inputs for r in rows)]
    for column in filled:
        if len(old) and back[column].dtype != old[column].dtype:
            raise InputError(
                f"column mismatch: {column} is {old[column].dtype} in {data}, the labelled "
                f"rows would make it {back[column].dtype} (values of another type in the store)"
            )
    return len(old)


def _write_parquet(data: Path, tmp: Path, columns, rows, target: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    old = pq.read_table(data)
    frame = _frame(columns, rows, target)
    try:
        new = pa.Table.from_pandas(frame, schema=old.schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or ["?"])[0][:200]
        raise InputError(f"column mismatch: the labelled rows do not fit {data}: {first}") from None
    pq.write_table(pa.concat_tables([old, new]), tmp)
    return old.num_rows


# --- the prediction ids beside the data --------------------------------------------------------


def _read_ids(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != ID_COLUMN:
        raise InputError(f"{path} is not a list of prediction ids (header {ID_COLUMN})")
    return {line.strip() for line in lines[1:] if line.strip()}


def _write_ids(path: Path, tmp: Path, seen: set[str], rows: Sequence[LabelledRow]) -> None:
    old = path.read_text(encoding="utf-8") if path.is_file() else f"{ID_COLUMN}\n"
    if not old.endswith("\n"):
        old += "\n"
    tmp.write_text(old + "".join(f"{r.prediction_id}\n" for r in rows), encoding="utf-8")


# --- DVC ---------------------------------------------------------------------------------------


def dvc_add(paths: list[Path], root: Path) -> None:
    """`dvc add` through DVC's Python API (one import, no process per call); one line on error."""
    try:
        from dvc.exceptions import DvcException
        from dvc.repo import Repo
    except ImportError:
        raise InputError("dvc is not installed in this environment (pip install dvc)") from None
    try:
        with Repo(str(root)) as repo:
            repo.scm_context.quiet = True  # no "To track the changes with git" advice: we do
            repo.add([str(p.resolve()) for p in paths])
    except DvcException as exc:
        raise ToolkitError(
            f"dvc add {' '.join(map(str, paths))}: {dvcremote.one_line(exc)}"
        ) from None
