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

from ..data.column_roles import (  # noqa: F401  (the project API's names since 1.0)
    DATE_SHARE,
    ID_SHARE,
    SAMPLE_ROWS,
    TEXT_ID_SHARE,
    infer_one,
)
from .params import ROLES, RoleParams

if TYPE_CHECKING:
    import pandas as pd


def infer(frame: pd.DataFrame, target: str, exclude: list[str] | None = None) -> dict[str, list]:
    """Role -> columns for every column of ``frame`` but the target."""
    roles: dict[str, list[str]] = {role: [] for role in ROLES}
    for column in frame.columns:
        if column == target:
            continue
        role = "excluded" if column in (exclude or []) else infer_one(frame[column])
        roles[role].append(str(column))
    return roles


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
