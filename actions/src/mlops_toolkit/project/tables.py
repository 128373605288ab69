"""Reading the tables a project passes between commands: CSV or Parquet, one-line errors.

Every reader fails with a `DataError` that names the file and what is wrong with it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class DataError(InputError, ValueError):
    """The data is missing or unreadable; the message names the file and the problem."""


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV, or a Parquet file (by its .parquet/.pq suffix)."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        return read_csv(path)
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as error:
        first_line = (str(error).strip().splitlines() or ["unreadable"])[0]
        raise DataError(f"{path}: not a readable Parquet file ({first_line})") from None
    if frame.empty:
        raise DataError(f"{path}: has columns but no rows")
    return frame


def drop_missing_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, int]:
    """Rows whose target is missing teach nothing and cannot be scored: drop and count them."""
    missing = frame[target].isna()
    return frame.loc[~missing].reset_index(drop=True), int(missing.sum())


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV or fail in one line naming the file and what is wrong with it."""
    import warnings

    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    _refuse_other_separators(path)
    try:
        # A row longer than the header would silently become an index or lose fields.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False)
    except (
        pd.errors.ParserError,
        pd.errors.ParserWarning,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
    ) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise DataError(f"{path}: not a readable CSV ({first_line})") from None
    if frame.empty:
        raise DataError(f"{path}: has a header but no rows")
    return frame


def _refuse_other_separators(path: Path) -> None:
    """A `;`- or tab-separated file would read as one column (or fail on decimal commas)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        header = handle.readline()
    if "," in header:
        return
    for separator, name in ((";", "';'"), ("\t", "tab")):
        if separator in header:
            raise DataError(
                f"{path}: the header has no comma but {header.count(separator)} {name}(s): "
                f"the file looks {name}-separated; save it comma-separated (pandas: "
                f"pd.read_csv(path, sep={separator!r}).to_csv(path, index=False), adding "
                "decimal=',' if numbers use a decimal comma)"
            )


def require_columns(frame: pd.DataFrame, columns: list[str], where: str | Path) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")


def match_signature(frame: pd.DataFrame, schema: Any, where: str | Path) -> pd.DataFrame:
    """The columns a model's input schema names, in its order (API 1.4; the schema is MLflow's
    `model.metadata.get_input_schema()`), or one line naming the missing and extra ones.

    Extra columns alone (an ID, a note) are dropped with a warning: the model never saw them.
    A schema without column names (or none) leaves the frame as it is.
    """
    if schema is None or not schema.has_input_names():
        return frame
    wanted = list(schema.input_names())
    # An optional column may hold nulls, but the preprocessing still selects it by name.
    missing = [name for name in wanted if name not in frame.columns]
    extra = [str(name) for name in frame.columns if name not in wanted]
    if missing:
        also = f"; extra column(s) {', '.join(extra)}" if extra else ""
        raise DataError(
            f"{where}: missing column(s) {', '.join(map(str, missing))}{also} "
            f"(the model takes {len(wanted)}: {', '.join(map(str, wanted))})"
        )
    if extra:
        log.warning("%s: ignoring column(s) the model does not take: %s", where, ", ".join(extra))
    return frame[wanted]


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
