"""Data validation with the project's Great Expectations suite.

Writes ``validation.json`` (the summary other tools read), a self-contained
``validation.html`` and the full Great Expectations Data Docs under ``data_docs/``.
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path
from typing import Any

from .load import DataError, read_csv

log = logging.getLogger(__name__)
EXAMPLES = 5


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
    return suite


def validate(data: str | Path, suite_path: str | Path, report_dir: str | Path) -> dict[str, Any]:
    """Validate ``data`` against the suite, write the reports, return the summary."""
    frame = read_csv(data)
    suite = load_suite(suite_path)
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    result = _run_suite(frame, suite, report_dir / "data_docs")
    summary = summarize(result, suite, data, len(frame))
    summary["html"] = str(report_dir / "validation.html")
    summary["data_docs"] = str(report_dir / "data_docs" / "index.html")
    (report_dir / "validation.json").write_text(json.dumps(summary, indent=2) + "\n")
    Path(summary["html"]).write_text(render_html(summary), encoding="utf-8")
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
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    return next(iter(run.run_results.values()))


def summarize(result: Any, suite: dict[str, Any], data: str | Path, rows: int) -> dict[str, Any]:
    failures = [_failure(r) for r in result.results if not r.success]
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
    }


def _failure(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    details = result.result or {}
    observed = details.get("observed_value")
    examples = details.get("partial_unexpected_list") or (
        [observed] if observed is not None else []
    )
    exception = (result.exception_info or {}).get("exception_message")
    return {
        "expectation": config.type,
        "column": kwargs.get("column"),
        "kwargs": _jsonable(kwargs),
        "unexpected_count": int(details.get("unexpected_count") or 0),
        "unexpected_percent": float(details.get("unexpected_percent") or 0.0),
        "examples": _jsonable(examples[:EXAMPLES]),
        "error": exception,
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def describe(failure: dict[str, Any]) -> str:
    """One readable line per failed expectation."""
    column = f" on {failure['column']}" if failure["column"] else ""
    examples = ", ".join(map(str, failure["examples"])) or "none"
    count = failure["unexpected_count"]
    counted = f"{count} unexpected ({failure['unexpected_percent']:.2f} %), " if count else ""
    return f"{failure['expectation']}{column}: {counted}examples: {examples}"


def render_html(summary: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(f['expectation'])}</td><td>{html.escape(str(f['column']))}</td>"
        f"<td>{f['unexpected_count']}</td>"
        f"<td>{html.escape(', '.join(map(str, f['examples'])))}</td></tr>"
        for f in summary["failures"]
    )
    verdict = "passed" if summary["success"] else "FAILED"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Data validation</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px}</style>"
        f"</head><body><h1>Data validation {verdict}</h1>"
        f"<p>{html.escape(summary['data'])}: {summary['rows']} rows, "
        f"{summary['successful']}/{summary['evaluated']} expectations met "
        f"(suite {html.escape(summary['suite'])}). "
        "<a href='data_docs/index.html'>Great Expectations Data Docs</a></p>"
        "<table><tr><th>expectation</th><th>column</th><th>unexpected</th><th>examples</th></tr>"
        f"{rows}</table></body></html>\n"
    )
