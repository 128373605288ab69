"""`labels`: load ground truth (`prediction_id,label`) from a CSV or Parquet file into the store.

Labels arrive late and in batches (a churn is known a month on, a fraud when it is charged
back). All or nothing: a duplicated id, an id the store does not hold, an empty label or one of
the wrong type fails the load and loads nothing, with one line for each kind found (all of them
in one run, so one fix of the file covers them); loading the same file again changes nothing
(its rows count as unchanged). A `labelled_at` column (epoch seconds or ISO 8601) is optional;
without it the labels are dated now.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from typing import Any

from . import options

ID_COLUMN = "prediction_id"
LABEL_COLUMN = "label"
TIME_COLUMN = "labelled_at"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("labels", help="load ground truth for logged predictions")
    p.add_argument("--file", required=True, help="CSV or Parquet with prediction_id,label")
    options.prediction_store(p)
    p.add_argument("--label-column", default=LABEL_COLUMN, help="the label's column")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import actions
    from ..monitoring.store import open_store

    labels = read_labels(args.file, args.label_column)
    with open_store(args.store or None) as store:
        # A refusal names every kind of problem, one line each (LabelProblems.lines).
        counts = store.write_labels(labels)
        where = store.url
    line = (
        f"{len(labels)} label(s) from {args.file}: {counts.loaded} loaded, "
        f"{counts.unchanged} unchanged, {counts.updated} updated"
    )
    print(line)
    actions.set_outputs(
        {"loaded": counts.loaded, "unchanged": counts.unchanged, "updated": counts.updated}
    )
    actions.add_summary(f"## Labels\n\n{line} (store `{where}`).\n")
    return 0


def read_labels(path: str, label_column: str = LABEL_COLUMN) -> list[Any]:
    """The file's rows as store Labels; InputError (one line) for a file that cannot be read."""
    from ..errors import InputError
    from ..monitoring.store import Label

    if not os.path.isfile(path):
        raise InputError(f"no labels file {path}")
    columns = _read_parquet(path) if _is_parquet(path) else _read_csv(path)
    for column in (ID_COLUMN, label_column):
        if column not in columns:
            raise InputError(
                f"{path} has no column {column!r} (columns: {', '.join(columns) or 'none'})"
            )
    ids, values = columns[ID_COLUMN], columns[label_column]
    times = columns.get(TIME_COLUMN)
    now = time.time()
    labels = []
    for row, (pid, value) in enumerate(zip(ids, values, strict=True)):
        if pid is None or not str(pid).strip():
            raise InputError(f"{path} row {row + 1}: empty prediction_id")
        at = now if times is None else _timestamp(times[row], f"{path} row {row + 1}")
        labels.append(Label(str(pid).strip(), value, at))
    if not labels:
        raise InputError(f"{path} holds no labels")
    return labels


def _is_parquet(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _read_csv(path: str) -> dict[str, list[Any]]:
    """Every value as the text in the file: the store reads it as its prediction's kind."""
    import csv

    from ..errors import InputError

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path} as CSV: {exc}") from None
    header = [name.strip() for name in header]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise InputError(
                f"{path} line {number}: {len(row)} field(s), the header has {len(header)}"
            )
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def _read_parquet(path: str) -> dict[str, list[Any]]:
    from ..errors import InputError

    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        return pq.read_table(path).to_pydict()
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise InputError(f"cannot read {path} as Parquet: {exc}") from None


def _timestamp(value: Any, where: str) -> float:
    from ..errors import InputError

    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{where}: labelled_at {text!r} is neither epoch seconds nor an ISO 8601 time"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
