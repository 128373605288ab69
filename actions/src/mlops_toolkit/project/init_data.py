"""`init-data`: turn a team's CSV or Parquet file into a project's data, in one step.

It writes data.source, data.target and the column roles into params.yaml, derives the Great
Expectations suite from the data (each expectation says in meta.notes how it was derived), points
gate.yaml at the target, makes the source a dependency of the `prepare` stage of dvc.yaml and,
where DVC is initialised, tracks a source inside the repository with `dvc add` and pushes it to
the default DVC remote (where CI pulls it). Run again on new data, it reports what changed in
the suite.
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import metrics as registry
from ..core import progress
from . import roles as roles_
from .params import ROLES
from .tables import DataError, drop_missing_target, read_table, require_columns

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
# Observed ranges widen by this share of their width: new data a little past the old extremes
# is normal, a value far outside is not.
RANGE_MARGIN = 0.1
# Observed non-null rates loosen by this much before they become a `mostly`.
NULL_MARGIN = 0.02
# A column with more categories than this gets no value set (it would only list the data).
MAX_CATEGORIES = 50
NUMBER_TYPES = ["int8", "int16", "int32", "int64", "Int64", "float16", "float32", "float64"]
TEXT_TYPES = ["object", "str", "string"]
BOOL_TYPES = ["bool", "boolean", "object", "str", "int64", "float64"]
# The steps init-data's progress bar names, in order.
STEPS = ("reading", "checking", "deriving the suite", "writing", "dvc add/push")


@dataclass
class Outcome:
    roles: dict[str, list[str]]
    rows: int
    dropped: int
    changes: list[str] = field(default_factory=list)
    tracked: bool = False
    pushed_to: str | None = None  # the DVC remote the tracked source was pushed to


def run(
    source: str,
    target: str,
    exclude: list[str],
    task: str,
    params_path: Path = Path("params.yaml"),
    suite_path: Path = Path("expectations/dataset.json"),
) -> Outcome:
    # On a large file reading, checking and deriving each take a while: the bar names the step
    # at work (core/progress: drawn on a terminal only, quiet in CI logs).
    with progress.bar(len(STEPS), "init-data", " steps") as shown:
        return _steps(source, target, exclude, task, params_path, suite_path, shown)


def _steps(
    source: str,
    target: str,
    exclude: list[str],
    task: str,
    params_path: Path,
    suite_path: Path,
    shown: progress.Progress,
) -> Outcome:
    shown.step(STEPS[0])
    frame = read_table(source)
    require_columns(frame, [target], source)
    _check_duplicate_header(source)
    unknown = [column for column in exclude if column not in frame.columns]
    if unknown:
        raise DataError(f"{source}: --exclude names no such column(s): {', '.join(unknown)}")
    kept, dropped = drop_missing_target(frame, target)
    if kept.empty:
        raise DataError(f"{source}: every row's target {target!r} is missing")
    shown.next(STEPS[1])
    _check_thousands(kept.drop(columns=exclude), source)
    _check_target(kept[target], task, source)
    found = roles_.infer(kept, target, exclude)
    _check_int64(kept, target, found, source)
    shown.next(STEPS[2])
    suite = derive_suite(kept, target, found, task, source)
    old = _read_suite(suite_path)
    shown.next(STEPS[3])
    write_params(params_path, source, target, found)
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    _point_gate(Path("gate.yaml"), target, kept[target] if task == "regression" else None)
    _depend_on_source(Path("dvc.yaml"), source)
    outcome = Outcome(found, len(kept), dropped, diff_suites(old, suite) if old else [])
    shown.next(STEPS[4])
    outcome.tracked, outcome.pushed_to = _dvc_track(source)
    shown.advance()
    return outcome


def _check_duplicate_header(source: str) -> None:
    """pandas renames a repeated header to name.1: name it before it becomes a feature."""
    if Path(source).suffix.lower() in (".parquet", ".pq"):
        return
    import csv

    with open(source, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{source}: duplicated column name(s) in the header: {', '.join(repeated)}")


# 1,065 or -12,345.5: a number written with thousands separators (a quoted CSV field).
THOUSANDS = r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d+(?:\.\d+)?"


def _check_thousands(frame: pd.DataFrame, source: str) -> None:
    """Such a column reads as strings and would be taken for an ID or categories.

    Not parsed here: "1,065" is 1.065 where the comma is the decimal mark.
    """
    import pandas as pd

    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty or not pd.api.types.is_string_dtype(values):
            continue
        text = values.astype(str)
        if text.str.fullmatch(THOUSANDS).all() and text.str.contains(",").any():
            example = text[text.str.contains(",")].iloc[0]
            raise DataError(
                f"{source}: column {column!r} holds numbers with thousands separators "
                f"(e.g. {example!r}); remove the separators (pandas: "
                "pd.read_csv(path, thousands=',').to_csv(path, index=False)) and run again"
            )


# What a model's integer input (MLflow's `long`) holds; pandas reads anything past it as
# uint64 or as text.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _check_int64(
    frame: pd.DataFrame, target: str, found: dict[str, list[str]], source: str
) -> None:
    """Integers past the 64-bit range fit no integer input: the derived suite would refuse its
    own data (uint64) or the numbers would pass for categories (text). An ID column is
    excluded anyway and is left as it is; a feature or the target is named with the fix."""
    used = [target] + [c for role, columns in found.items() if role != "excluded" for c in columns]
    for column in used:
        past = _past_int64(frame[column].dropna())
        if past is None:
            continue
        decimal = f"{float(past):.6g}"
        fix = (
            f"write them as decimals ({decimal}) or as labels"
            if column == target
            else f"--exclude it if it is an identifier, or write it as decimals ({decimal})"
        )
        raise DataError(
            f"{source}: column {column!r} holds integers past the 64-bit range (e.g. {past}), "
            f"which no model input takes as integers: {fix}"
        )


def _past_int64(values: pd.Series) -> int | None:
    """The first integer of ``values`` outside int64, if every value is an integer."""
    import pandas as pd

    if pd.api.types.is_unsigned_integer_dtype(values):
        past = values[values > INT64_MAX]
    elif pd.api.types.is_string_dtype(values) or values.dtype == object:
        digits = r"[-+]?\d+"
        # Most text columns are not numbers: their first rows say so without a pass over all.
        if values.empty or not values.head(100).astype(str).str.strip().str.fullmatch(digits).all():
            return None
        text = values.astype(str).str.strip()
        if not text.str.fullmatch(digits).all():
            return None
        numbers = text.map(int)
        past = numbers[(numbers > INT64_MAX) | (numbers < INT64_MIN)]
    else:
        return None
    return int(past.iloc[0]) if len(past) else None


def _check_target(values: pd.Series, task: str, source: str) -> None:
    import pandas as pd

    if task == "regression" and not pd.api.types.is_numeric_dtype(values):
        examples = ", ".join(map(repr, values[pd.to_numeric(values, errors="coerce").isna()][:3]))
        raise DataError(f"{source}: a regression target must be numeric (found {examples})")
    if task == "classification" and values.nunique() < 2:
        # Fails only later in `train` otherwise: there is nothing to tell apart.
        raise DataError(
            f"{source}: the target {values.name!r} has a single class ({values.iloc[0]!r}); "
            "classification needs at least two"
        )
    if task == "classification" and values.nunique() > max(50, len(values) // 2):
        raise DataError(
            f"{source}: the target has {values.nunique()} distinct values; "
            "that is a regression target, not classes"
        )


def derive_suite(
    frame: pd.DataFrame, target: str, found: dict[str, list[str]], task: str, source: str
) -> dict[str, Any]:
    """One expectation per fact observed in the data, each with the note of how it was found."""
    rows = len(frame)
    role_of = {column: role for role, columns in found.items() for column in columns}
    expectations = [
        _expect(
            "expect_table_columns_to_match_set",
            {"column_set": [str(c) for c in frame.columns], "exact_match": True},
            f"the {frame.shape[1]} columns of the source, in any order",
        ),
        _expect(
            "expect_table_row_count_to_be_between",
            {"min_value": min(10, rows)},
            f"at least 10 rows (the source has {rows})",
        ),
    ]
    for column in frame.columns:
        role = "target" if column == target else role_of[str(column)]
        expectations += _column_expectations(frame[column], str(column), role, task)
    return {
        "name": "dataset",
        "meta": {
            "derived_from": {"source": str(source), "rows": rows, "target": target},
            "notes": "Written by init-data from the data; edit freely (each expectation's "
            "meta.notes says how it was derived). Run init-data again to re-derive it.",
        },
        "expectations": expectations,
    }


def _expect(kind: str, kwargs: dict[str, Any], note: str) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"notes": note}}


def _column_expectations(values: pd.Series, column: str, role: str, task: str) -> list[dict]:
    out = [_nullability(values, column, role)]
    if role in ("date", "excluded"):
        return out
    if role == "numeric" or (role == "target" and task == "regression"):
        out.append(
            _expect(
                "expect_column_values_to_be_in_type_list",
                _types(NUMBER_TYPES, column),
                f"numbers ({values.dtype} in the source)",
            )
        )
        out.append(_range(values, column))
    elif role in ("categorical", "boolean") or role == "target":
        kinds = BOOL_TYPES if role == "boolean" else TEXT_TYPES + NUMBER_TYPES + ["bool"]
        out.append(
            _expect(
                "expect_column_values_to_be_in_type_list",
                _types(kinds, column),
                f"{role} values ({values.dtype} in the source)",
            )
        )
        categories = values.dropna().unique()
        if len(categories) <= MAX_CATEGORIES:
            value_set = sorted(_plain(v) for v in categories)
            out.append(
                _expect(
                    "expect_column_values_to_be_in_set",
                    {"column": column, "value_set": value_set},
                    f"the {len(value_set)} values seen; a new one fails validation (the model "
                    "itself ignores unseen categories): add it here when it is expected",
                )
            )
    return out


def _types(kinds: list[str], column: str) -> dict[str, Any]:
    return {"column": column, "type_list": kinds}


def _nullability(values: pd.Series, column: str, role: str) -> dict[str, Any]:
    present = float(values.notna().mean())
    if present == 1.0 or role == "target":
        why = (
            "the target is never missing (rows without one are dropped)"
            if role == "target"
            else "no missing value in the source"
        )
        return _expect("expect_column_values_to_not_be_null", {"column": column}, why)
    mostly = round(max(0.0, present - NULL_MARGIN), 4)
    return _expect(
        "expect_column_values_to_not_be_null",
        {"column": column, "mostly": mostly},
        f"{present * 100:.2f} % present in the source, less {NULL_MARGIN * 100:g} % of slack",
    )


def _range(values: pd.Series, column: str) -> dict[str, Any]:
    import math

    import pandas as pd

    low, high = float(values.min()), float(values.max())
    margin = (high - low) * RANGE_MARGIN or abs(high) * RANGE_MARGIN or 1.0
    bounds = [_round(low - margin), _round(high + margin)]
    if pd.api.types.is_integer_dtype(values):
        bounds = [math.floor(bounds[0]), math.ceil(bounds[1])]  # whole numbers stay whole
    return _expect(
        "expect_column_values_to_be_between",
        {"column": column, "min_value": bounds[0], "max_value": bounds[1]},
        f"observed {low:g} to {high:g}, widened by {RANGE_MARGIN * 100:g} % of the range each side",
    )


def _round(value: float) -> float | int:
    rounded = float(f"{value:.6g}")
    return int(rounded) if rounded.is_integer() else rounded


def _plain(value: Any) -> Any:
    """numpy scalars as JSON's own types."""
    return value.item() if hasattr(value, "item") else value


def _read_suite(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def diff_suites(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Added, removed and changed expectations, one line each, keyed by type and column."""

    def keyed(suite: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (e.get("type", "?"), str(e.get("kwargs", {}).get("column", ""))): e.get("kwargs", {})
            for e in suite.get("expectations", [])
            if isinstance(e, dict)
        }

    before, after = keyed(old), keyed(new)
    lines = []
    for key in sorted(after.keys() - before.keys()):
        lines.append(f"added   {_name(key)}: {_short(after[key])}")
    for key in sorted(before.keys() - after.keys()):
        lines.append(f"removed {_name(key)}: {_short(before[key])}")
    for key in sorted(before.keys() & after.keys()):
        changed = {
            name: (before[key].get(name), after[key].get(name))
            for name in sorted(before[key].keys() | after[key].keys())
            if before[key].get(name) != after[key].get(name)
        }
        if changed:
            said = "; ".join(f"{n} {_cut(a)} -> {_cut(b)}" for n, (a, b) in changed.items())
            lines.append(f"changed {_name(key)}: {said}")
    return lines


def _name(key: tuple[str, str]) -> str:
    return f"{key[0]} on {key[1]}" if key[1] else key[0]


def _short(kwargs: dict[str, Any]) -> str:
    return _cut({k: v for k, v in kwargs.items() if k != "column"})


def _cut(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write_params(path: Path, source: str, target: str, found: dict[str, list[str]]) -> None:
    """Edit the data section in place: comments and every other section stay as they are."""
    text = path.read_text(encoding="utf-8")
    text = _replace_key(text, "source", _yaml_str(source))
    text = _replace_key(text, "target", _yaml_str(target))
    block = "  roles:\n" + "".join(f"    {role}: {_yaml_str(found[role])}\n" for role in ROLES)
    roles_block = re.compile(r"^  roles:[^\n]*\n(?:    [^\n]*\n)*", re.MULTILINE)
    if roles_block.search(text):
        text = roles_block.sub(lambda _: block, text, count=1)
    else:
        text = re.sub(
            r"^(  target: [^\n]*\n)",
            lambda m: m.group(1) + block,
            text,
            count=1,
            flags=re.MULTILINE,
        )
    path.write_text(text, encoding="utf-8")


def _yaml_str(value: Any) -> str:
    """JSON is YAML flow syntax; kept readable (no \\u escapes) for non-ASCII names."""
    return json.dumps(value, ensure_ascii=False)


def _replace_key(text: str, key: str, value: str) -> str:
    """The first `  key:` line under `data:` (the section comes first in params.yaml)."""
    section = re.search(r"^data:\n(?:(?:  |#|\s*\n)[^\n]*\n?)*", text, re.MULTILINE)
    if section is None:
        raise DataError("params.yaml has no data section")
    # A function replacement: a value's backslashes are not regex escapes.
    body, count = re.subn(
        rf"^  {key}: [^\n]*$",
        lambda _: f"  {key}: {value}",
        section.group(0),
        count=1,
        flags=re.MULTILINE,
    )
    if not count:
        raise DataError(f"params.yaml has no data.{key} key")
    return text[: section.start()] + body + text[section.end() :]


def _point_gate(path: Path, target: str, values: pd.Series | None) -> None:
    """gate.yaml reads the holdout's target; an error metric's regression margin gets units.

    The naive-model rule needs no units. Only max_regression of rmse/mae is in the target's
    units: 1 % of the target's standard deviation.
    """
    if not path.is_file():
        return
    import yaml

    text = re.sub(
        # A quoted value may hold a `#` (a name set by an earlier run): it is not the comment.
        r'^target: (?:"(?:[^"\\\n]|\\.)*" *|[^#\n]*)',
        lambda _: f"target: {_yaml_str(target)}  ",
        path.read_text(encoding="utf-8"),
        count=1,
        flags=re.MULTILINE,
    )
    metric = ((yaml.safe_load(text) or {}).get("primary") or {}).get("metric")
    # A metric with units (an error): the margin is a share of the target's spread.
    if values is not None and metric in registry.names() and registry.get(metric).relative_margin:
        margin = float(f"{registry.RELATIVE_MARGIN_OF_STD * float(values.std()):.3g}")
        text = re.sub(
            r"^(primary:\n(?:  [^\n]*\n)*?  max_regression: )[^\n]*",
            lambda m: f"{m.group(1)}{margin:g}",
            text,
            count=1,
            flags=re.MULTILINE,
        )
    path.write_text(text, encoding="utf-8")


def _depend_on_source(path: Path, source: str) -> None:
    """The source is the first dependency of `prepare`: new data reruns the pipeline."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    line = f"      - {source}  # data.source\n"
    if re.search(r"^      - [^\n]*# data\.source\n", text, re.MULTILINE):
        text = re.sub(
            r"^      - [^\n]*# data\.source\n", lambda _: line, text, count=1, flags=re.MULTILINE
        )
    else:
        text = re.sub(
            r"^(  prepare:\n(?:    [^\n]*\n)*?    deps:\n)",
            lambda m: m.group(1) + line,
            text,
            count=1,
            flags=re.MULTILINE,
        )
    path.write_text(text, encoding="utf-8")


def _dvc_track(source: str) -> tuple[bool, str | None]:
    """`dvc add` a source inside the repository when DVC is initialised (else leave it), then
    push it to the default DVC remote, if there is one (CI pulls it there): (tracked, remote).

    Through DVC's Python API, in this process, as quiet as `dvc --quiet` was (data/dvcremote.py:
    `quiet`): one import where each `dvc` process started an interpreter and DVC anew. The add is
    all or nothing (the `.dvc` file and `.gitignore` as they were); a failed push leaves the
    source tracked, and says so."""
    import importlib.util

    path = Path(source)
    inside = not path.is_absolute() and ".." not in path.parts
    if not (Path(".dvc").is_dir() and inside):
        return False, None
    if importlib.util.find_spec("dvc") is None:
        log.warning(
            "DVC is initialised here but not installed in this environment: %s is not tracked "
            "(pip install 'dvc[s3]', then run init-data again)",
            source,
        )
        return False, None
    from dvc.repo import Repo

    from ..data import dvcremote

    said: list[str] = []
    with dvcremote.quiet(said), ExitStack() as stack:
        try:
            repo = stack.enter_context(Repo("."))
            with dvcremote.restored_on_failure([Path(f"{source}.dvc"), path.parent / ".gitignore"]):
                repo.add([source])
        except Exception as exc:
            raise DataError(f"dvc add {source}: {dvcremote.reason(exc, said)}") from None
        remote = repo.config["core"].get("remote")  # as `dvc remote default`: any level
        if not remote:
            return True, None
        said.clear()
        try:
            repo.push([f"{source}.dvc"])
        except Exception as exc:
            raise DataError(
                f"{source} is tracked, but dvc push to {remote} failed: "
                f"{dvcremote.reason(exc, said)}"
            ) from None
    return True, remote
