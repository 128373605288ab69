"""Data validation with a project's Great Expectations suite (`validate-data`).

Writes ``validation.json`` (the summary other tools read: what failed and what passed, with
the values observed), a self-contained ``validation.html`` (jinja2, inline styles, no remote
file: it reads the same offline) and the full Great Expectations Data Docs under ``data_docs/``
(made readable offline by datadocs.py).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import contracts
from ..errors import InputError
from . import datadocs
from .tables import DataError, read_csv

log = logging.getLogger(__name__)
EXAMPLES = 5
# Row numbers named per failed expectation (the full list is in the Data Docs).
ROWS = 10
KNOWN_ENTRY_KEYS = {"type", "kwargs", "meta", "id", "notes", "rendered_content", "description"}


class ValidationFailed(InputError):
    """The data did not meet its expectations (the reports say which).

    Exit 1, as every project command failure is (v1 behaviour; the toolkit's validate-data
    action reads the report, not the code).
    """


NUMBER_TYPES = {"int8", "int16", "int32", "int64", "Int64", "float16", "float32", "float64"}


def load_suite(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such expectation suite") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON (line {error.lineno})") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise DataError(f"{path}: an expectation suite needs a list of expectations")
    if not suite["expectations"]:
        raise DataError(f"{path}: the suite has no expectations: it would pass any data")
    for number, entry in enumerate(suite["expectations"], 1):
        check_entry(entry, f"{path}: expectation {number}")
    return suite


def check_entry(entry: Any, where: str) -> None:
    """An entry Great Expectations would drop or choke on is an error naming it, up front."""
    if not isinstance(entry, dict):
        raise DataError(f"{where}: must be an object with a type and kwargs, got {entry!r}")
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        raise DataError(f"{where}: has no expectation type")
    extra = sorted(set(entry) - KNOWN_ENTRY_KEYS)
    if extra:
        raise DataError(f"{where} ({kind}): unknown key(s) {', '.join(extra)}")
    if not isinstance(entry.get("kwargs", {}), dict):
        raise DataError(f"{where} ({kind}): kwargs must be an object")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        implementation = get_expectation_impl(kind)
    except Exception:  # ExpectationNotFoundError; its module path moves between releases
        raise DataError(f"{where}: unknown expectation type {kind!r}") from None
    try:
        implementation(**entry.get("kwargs", {}))
    except Exception as error:  # pydantic's ValidationError: missing or mistyped kwargs
        first = " ".join(str(error).split())[:200]
        raise DataError(f"{where} ({kind}): bad kwargs: {first}") from None


def duplicated_header(path: str | Path) -> list[str]:
    """Column names the header repeats (pandas would silently rename them to name.1)."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    return sorted({name for name in header if header.count(name) > 1})


def for_validation(frame: Any, suite: dict[str, Any]) -> Any:
    """The frame as Great Expectations checks it best, value by value.

    Text columns become plain objects (GX cannot match pandas' "str" dtype against a type
    list); in a column the suite wants numeric, text that parses as a number becomes that number,
    so only the offending strings are reported, with their rows.
    """
    import pandas as pd

    numeric = {
        e["kwargs"].get("column")
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_type_list"
        and set(e["kwargs"].get("type_list") or []) <= NUMBER_TYPES
    }
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) and not pd.api.types.is_numeric_dtype(
            frame[column]
        ):
            values = frame[column].astype(object)
            if column in numeric:
                import numpy as np

                parsed = pd.to_numeric(values, errors="coerce")
                values = pd.Series(
                    [
                        np.float64(number) if number == number else text  # NaN != NaN
                        for number, text in zip(parsed, values, strict=True)
                    ],
                    index=values.index,
                    dtype=object,
                )
            frame[column] = values
    return frame


def validate(data: str | Path, suite_path: str | Path, report_dir: str | Path) -> dict[str, Any]:
    """Validate ``data`` against the suite, write the reports, return the summary."""
    suite = load_suite(suite_path)
    frame = read_csv(data)
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    result = _run_suite(for_validation(frame, suite), suite, report_dir / "data_docs")
    summary = summarize(result, suite, data, len(frame))
    repeated = duplicated_header(data)
    if repeated:
        summary["failures"].insert(0, _duplicated(repeated))
        summary.update(success=False, failed=summary["failed"] + 1)
        summary["evaluated"] += 1
    missing: list[str] = []
    for failure in summary["failures"]:
        if failure["column"] and failure["column"] not in frame.columns:
            # One missing column fails each of its expectations, none with a row to count:
            # the reports name it once (missing_columns), not as rows of "0 unexpected".
            failure["error"] = f"column {failure['column']} is not in the data"
            failure["missing_column"] = True
            missing += [] if failure["column"] in missing else [failure["column"]]
        failure["message"] = describe(failure)
    summary["missing_columns"] = missing
    summary["html"] = str(report_dir / "validation.html")
    summary["data_docs"] = str(report_dir / "data_docs" / "index.html")
    contracts.ValidationReport.build(summary).write(
        report_dir / contracts.ValidationReport.PATH.name
    )
    docs = report_dir / "data_docs"
    datadocs.offline(docs)
    pages = datadocs.validation_pages(docs, report_dir)
    Path(summary["html"]).write_text(render_html(summary, pages), encoding="utf-8")
    return summary


def _run_suite(frame: Any, suite: dict[str, Any], docs_dir: Path) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    name = suite.get("name", "dataset")
    expectations = [
        {"type": e["type"], "kwargs": e.get("kwargs", {}), "meta": e.get("meta", {})}
        for e in suite["expectations"]
    ]
    gx_suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    batch = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )
    context.add_data_docs_site(
        site_name="local",
        site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
        },
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["local"])],
            # SUMMARY carries the first unexpected values and their row indices.
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    return next(iter(run.run_results.values()))


def summarize(result: Any, suite: dict[str, Any], data: str | Path, rows: int) -> dict[str, Any]:
    failures = [_failure(r) for r in result.results if not r.success]
    passed = [_passed(r) for r in result.results if r.success]
    evaluated = len(result.results)
    return {
        "success": bool(result.success),
        "suite": suite.get("name", "dataset"),
        "data": str(data),
        "rows": rows,
        "evaluated": evaluated,
        "successful": evaluated - len(failures),
        "failed": len(failures),
        "failures": failures,
        "passed": passed,
    }


def _passed(result: Any) -> dict[str, Any]:
    """A met expectation and what GX saw (its result carries the observed value)."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return {
        "expectation": config.type,
        "column": kwargs.get("column"),
        "kwargs": _jsonable(kwargs),
        "observed": observed_text(result.result or {}),
    }


def observed_text(details: dict[str, Any]) -> str:
    """One line of what was seen: an aggregate's value, else the rows a row check counted."""
    observed = details.get("observed_value")
    if isinstance(observed, str):
        return observed
    if observed is not None:
        text = json.dumps(_jsonable(observed))
        return text if len(text) <= 120 else text[:117] + "..."
    if "element_count" in details:
        parts = [f"{details['element_count']} rows checked"]
        if details.get("missing_count") is not None:
            parts.append(f"{details['missing_count']} missing")
        parts.append(f"{int(details.get('unexpected_count') or 0)} unexpected")
        return ", ".join(parts)
    return ""


def _failure(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    details = result.result or {}
    observed = details.get("observed_value")
    examples = details.get("partial_unexpected_list") or (
        [observed] if observed is not None else []
    )
    exception = (result.exception_info or {}).get("exception_message")
    rows = details.get("partial_unexpected_index_list")
    return {
        "expectation": config.type,
        "column": kwargs.get("column"),
        "kwargs": _jsonable(kwargs),
        "unexpected_count": int(details.get("unexpected_count") or 0),
        "unexpected_percent": float(details.get("unexpected_percent") or 0.0),
        "examples": _jsonable(_distinct(examples)[:EXAMPLES]),
        # Data rows, 1-based (the header is line 1 of the CSV, so row n is on line n + 1).
        "rows": [int(index) + 1 for index in (rows or [])[:ROWS]],
        "observed": _jsonable(observed) if not isinstance(observed, dict) else None,
        "error": exception,
    }


def _distinct(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _duplicated(names: list[str]) -> dict[str, Any]:
    return {
        "expectation": "unique_header",
        "column": names[0],
        "kwargs": {},
        "unexpected_count": len(names),
        "unexpected_percent": 0.0,
        "examples": names,
        "rows": [],
        "observed": None,
        "error": f"duplicated column name(s) in the header: {', '.join(names)}",
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def describe(failure: dict[str, Any]) -> str:
    """One readable line per failed expectation: what, where, which values, which rows."""
    kind, column, kwargs = failure["expectation"], failure["column"], failure.get("kwargs") or {}
    where = f" on {column}" if column else ""
    if failure.get("error"):
        return f"{kind}{where}: {failure['error']}"
    if kind == "expect_table_columns_to_match_set":
        return f"{kind}: {_column_difference(kwargs, failure.get('observed'))}"
    if kind == "expect_column_to_exist":
        return f"{kind}: column {column} is missing"
    count = failure["unexpected_count"]
    if not count:
        observed = failure.get("observed")
        if observed is None:
            return f"{kind}{where}: not evaluated: the column holds values of another type"
        return f"{kind}{where}: observed {observed!r}, expected {_expected(kwargs)}"
    values = ", ".join(repr(v) for v in failure["examples"])
    rows = failure.get("rows") or []
    more = "" if len(rows) >= count or not rows else f" (first {len(rows)})"
    at = f" at row(s) {', '.join(map(str, rows))}{more}" if rows else ""
    return (
        f"{kind}{where}: {count} unexpected ({failure['unexpected_percent']:.2f} %), "
        f"values {values}{at}; expected {_expected(kwargs)}"
    )


def _column_difference(kwargs: dict[str, Any], observed: Any) -> str:
    expected = list(kwargs.get("column_set") or [])
    found = list(observed or [])
    missing = [c for c in expected if c not in found]
    unexpected = [c for c in found if c not in expected]
    parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
    if unexpected and kwargs.get("exact_match", True):
        parts.append(f"unexpected column(s) {', '.join(unexpected)}")
    return "; ".join(parts) or "columns differ"


def _expected(kwargs: dict[str, Any]) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")}
    text = json.dumps(shown, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def render_html(summary: dict[str, Any], pages: list[str] | None = None) -> str:
    """validation.html: the verdict, the missing columns, each failure (its readable line,
    values and rows) and each met expectation with the value observed; styles inline."""
    from ..core import templates

    env = templates.environment(Path(__file__).with_name("templates"))
    return env.get_template("validation.html.j2").render(
        s=summary, pages=pages or [], expected=_expected
    )
