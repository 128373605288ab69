"""One column's role, inferred from its values: the rules of project/roles.py (its docstring
lists them), here in the data domain so the gate (robustness) and the project both ask them
without depending on each other. pandas only, imported when called."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
