"""Which role each column plays: inferred from the data, overridable in params.yaml's
data.roles.

The rules, in order (the first that matches wins):
- excluded: an ID-like column: integers that are (almost) all distinct, or strings of which
  over half the rows are distinct (names, codes: one-hot encoding them would learn by heart);
- boolean: exactly two distinct values (true/false, yes/no, 0/1, two labels);
- numeric: a number column;
- date: strings that parse as dates (most of the non-null ones);
- categorical: any other string column, and low-cardinality integer codes are left numeric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .params import ROLES, RoleParams

if TYPE_CHECKING:
    import pandas as pd

# An integer column with at least this share of distinct values identifies rows...
ID_SHARE = 0.95
# ... and so does a string column with this share (categories repeat; names and IDs do not).
TEXT_ID_SHARE = 0.5
# Strings with this share of parseable, non-null values are dates.
DATE_SHARE = 0.95
# Parsing every value of a huge column to decide its role is slow: a sample decides.
SAMPLE_ROWS = 20_000


def infer(frame: pd.DataFrame, target: str, exclude: list[str] | None = None) -> dict[str, list]:
    """Role -> columns for every column of ``frame`` but the target."""
    roles: dict[str, list[str]] = {role: [] for role in ROLES}
    for column in frame.columns:
        if column == target:
            continue
        role = "excluded" if column in (exclude or []) else infer_one(frame[column])
        roles[role].append(str(column))
    return roles


def infer_one(values: pd.Series) -> str:
    import pandas as pd

    present = values.dropna()
    if present.empty:
        return "excluded"  # nothing to learn from
    distinct = present.nunique()
    if pd.api.types.is_bool_dtype(present) or distinct == 2:
        return "boolean"
    is_float = pd.api.types.is_float_dtype(present)
    is_int = pd.api.types.is_integer_dtype(present) or (
        is_float and bool((present == present.round()).all())
    )
    if is_int and not is_float and distinct >= ID_SHARE * len(present) and len(present) > 20:
        return "excluded"
    if pd.api.types.is_numeric_dtype(present):
        return "numeric"
    if _parses_as_dates(present):
        return "date"
    if distinct >= TEXT_ID_SHARE * len(present) and distinct > 20:
        return "excluded"
    return "categorical"


def _parses_as_dates(present: pd.Series) -> bool:
    import warnings

    import pandas as pd

    sample = present.astype(str).head(SAMPLE_ROWS)
    # Plain numbers stored as strings are not dates, whatever pandas makes of them.
    if sample.str.fullmatch(r"[-+]?\d+(\.\d*)?").mean() > 0.5:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


def resolve(configured: RoleParams, frame: pd.DataFrame, target: str) -> dict[str, list[str]]:
    """The configured roles, and an inferred one for each column params.yaml does not list."""
    roles = configured.as_dict()
    listed = {column for columns in roles.values() for column in columns}
    rest = frame[[c for c in frame.columns if c not in listed and c != target]]
    for role, columns in infer(rest, target).items():
        roles[role].extend(columns)
    return roles


def features(roles: dict[str, list[str]]) -> list[str]:
    """The columns the model takes, in role order (excluded ones left out)."""
    return [column for role in ROLES if role != "excluded" for column in roles[role]]
