"""The reports people read, checked for their key elements (issue 20): validate-data's
validation.json and validation.html (what failed and what passed, with observed values; real
Great Expectations on scikit-learn's breast-cancer data), its Data Docs offline (no remote
file, styles inline), a missing column named once in the pull request's report, and the gate's
two "bootstrap"s under distinct names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import projectkit
import pytest
from mlops_toolkit.ci import markdown as report
from mlops_toolkit.project import datadocs
from mlops_toolkit.project.expectations import validate
from support.browser import offline_chromium, requested

cancer, generated, workdir = projectkit.cancer, projectkit.generated, projectkit.workdir  # fixtures

SUITE = "expectations/dataset.json"
# Anything a browser would fetch from elsewhere: a remote href/src, a stylesheet's remote url().
REMOTE = re.compile(r"""(?:\b(?:href|src)\s*=\s*["']?|url\(\s*["']?)(?:https?:)?//""", re.I)


def _passed_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="pass">(.*?)</tr>', html, re.S)


def test_a_passing_validation_lists_every_met_expectation_with_what_was_observed(workdir, cancer):
    cancer.to_csv(workdir / "good.csv", index=False)
    summary = validate(workdir / "good.csv", SUITE, workdir / "reports")
    written = json.loads((workdir / "reports" / "validation.json").read_text())
    assert written["success"] and len(written["passed"]) == written["evaluated"] >= 3
    by = {(p["expectation"], p["column"]): p for p in written["passed"]}
    assert by[("expect_table_row_count_to_be_between", None)]["observed"] == str(len(cancer))
    checked = by[("expect_column_values_to_not_be_null", "target")]["observed"]
    assert checked.startswith(f"{len(cancer)} rows checked") and "0 unexpected" in checked
    html = (workdir / "reports" / "validation.html").read_text()
    assert "Data validation <span" in html and ">passed</span>" in html
    assert len(_passed_rows(html)) == summary["evaluated"]
    assert f"Passed ({summary['evaluated']})" in html and "Nothing failed." in html
    # The pull request's report lists them too, folded, with the same observed values.
    text = report.validation_markdown(summary)
    assert f"<summary>{summary['evaluated']} expectations met, with the values observed" in text
    met = [line for line in text.splitlines() if line.startswith("| `expect_")]
    assert len(met) == summary["evaluated"]
    assert f"| `expect_table_row_count_to_be_between` | — | {len(cancer)} |" in met


def test_a_failing_validation_shows_the_failures_and_what_still_passed(workdir, cancer):
    broken = cancer.copy()
    broken.loc[2, "mean_radius"] = -1e12
    broken.to_csv(workdir / "bad.csv", index=False)
    summary = validate(workdir / "bad.csv", SUITE, workdir / "reports")
    html = (workdir / "reports" / "validation.html").read_text()
    failed = re.findall(r'<tr class="fail">(.*?)</tr>', html, re.S)
    assert len(failed) == summary["failed"] >= 1
    ranged = next(row for row in failed if "expect_column_values_to_be_between" in row)
    assert "mean_radius" in ranged and "-1000000000000.0" in ranged and "row(s) 3" in ranged
    assert len(_passed_rows(html)) == summary["successful"] == len(summary["passed"])


def test_a_missing_column_is_named_once_in_every_report(workdir, cancer):
    cancer.drop(columns=["mean_area"]).to_csv(workdir / "missing.csv", index=False)
    summary = validate(workdir / "missing.csv", SUITE, workdir / "reports")
    assert summary["missing_columns"] == ["mean_area"]
    text = report.validation_markdown(summary)
    assert text.count("**Missing column:** `mean_area`") == 1
    assert "0 (0.00%)" not in text and "| mean_area |" not in text, text
    # The table-level check still says what differs; its "unexpected" is no row count.
    assert "| `expect_table_columns_to_match_set` | — | — | missing column(s) mean_area |" in text
    html = (workdir / "reports" / "validation.html").read_text()
    assert html.count('<p class="missing">') == 1 and "<code>mean_area</code>" in html
    assert not re.search(r'<tr class="fail"><td>[^<]*<code>[^<]*</code></td><td>mean_area', html)


def test_an_older_report_without_the_list_names_the_missing_column_once():
    """A validation.json written before `missing_columns`: the failures' own words name it."""
    gone = "column income is not in the data"
    failures = [
        {"expectation": e, "column": "income", "unexpected_count": 0, "error": gone}
        for e in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_between")
    ]
    failures.append({"expectation": "expect_column_values_to_not_be_null", "column": "age"})
    failures[-1].update(unexpected_count=3, unexpected_percent=1.5, message="3 nulls")
    text = report.validation_markdown({"success": False, "failures": failures})
    assert text.count("`income`") == 1 and "0 (0.00%)" not in text
    assert "| `expect_column_values_to_not_be_null` | age | 3 (1.50%) | 3 nulls |" in text


def test_the_html_reports_load_nothing_remote_and_carry_their_styles(workdir, cancer):
    cancer.head(100).to_csv(workdir / "good.csv", index=False)
    validate(workdir / "good.csv", SUITE, workdir / "reports")
    own = (workdir / "reports" / "validation.html").read_text()
    assert "<style>" in own and not REMOTE.search(own)
    pages = sorted((workdir / "reports" / "data_docs").rglob("*.html"))
    assert len(pages) >= 2  # the index, the suite, the validation result
    for page in pages:
        text = page.read_text()
        assert not REMOTE.search(text), (page, REMOTE.search(text))
        assert text.count(datadocs.MARKER) == 1 and "<style>" in text
        assert ".card-header{" in text  # the layout standing in for Bootstrap's
    # validation.html links this run's validation result page, and it is there.
    linked = re.findall(r'href="(data_docs/validations/[^"]+)"', own)
    assert len(linked) == 1 and (workdir / "reports" / linked[0]).is_file()


def test_an_offline_page_keeps_its_own_files_and_is_rewritten_once():
    page = (
        "<html><head><link rel='stylesheet' href='https://cdn.example/b.css'>"
        '<script src="//cdn.example/j.js"></script><link rel="icon" href="./static/f.ico">'
        "</head><body style=\"background:url('https://x.example/l.png')\">"
        '<a href="https://greatexpectations.io/n">news</a></body></html>'
    )
    once = datadocs.offline_page(page)
    assert not REMOTE.search(once) and "./static/f.ico" in once and ">news</a>" in once
    assert datadocs.offline_page(once) == once


GATE = {
    "passed": True,
    "candidate": {"uri": "runs:/c/model"},
    "rows": 200,
    "decision_rule": "candidate f1 ≥ 0.8",
    "primary_metric": "f1",
    "direction": "maximize",
    "bootstrap": {"resamples": 500, "confidence": 0.95, "seed": 7},
    "checks": [],
}


@pytest.mark.parametrize("mode", ["bootstrap", "compare"])
def test_the_first_model_and_the_resampling_have_distinct_names(mode):
    if mode == "bootstrap":
        metrics = {"f1": {"candidate": 0.9, "candidate_ci": [0.85, 0.94]}}
        verdict = {**GATE, "mode": mode, "production": None, "metrics": metrics}
    else:
        m = {"candidate": 0.9, "production": 0.88, "improvement": 0.02}
        metrics = {"f1": {**m, "improvement_ci": [-0.01, 0.05]}}
        production = {"uri": "models:/m/1", "version": "1"}
        verdict = {**GATE, "mode": mode, "production": production, "metrics": metrics}
    text = report.gate_markdown(verdict)
    assert "Bootstrap mode" not in text
    first = "**First model** (no version has the `production` alias yet)"
    if mode == "bootstrap":
        assert first in text and "Paired" not in text and "paired" not in text
        assert "Intervals: bootstrap resampling of the holdout rows, 500 resamples, seed 7." in text
    else:
        assert "First model" not in text
        assert "Intervals: paired bootstrap resampling of the holdout rows, 500 resamples" in text


def test_the_validation_template_ships_with_the_package():
    import mlops_toolkit.project.expectations as module

    assert (Path(module.__file__).parent / "templates" / "validation.html.j2").is_file()


def test_the_reports_render_styled_offline_in_a_real_browser(workdir, cancer):
    """Debian's chromium, every name resolution failing: the inline styles apply and nothing
    but the pages' own files is requested (validation.html, then its Data Docs page)."""
    from selenium.webdriver.common.by import By

    broken = cancer.head(120).copy()
    broken.loc[2, "mean_radius"] = -1e12
    broken.to_csv(workdir / "bad.csv", index=False)
    validate(workdir / "bad.csv", SUITE, workdir / "reports")
    style = "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]"
    with offline_chromium() as browser:
        browser.get((workdir / "reports" / "validation.html").as_uri())
        assert browser.find_element(By.CSS_SELECTOR, ".verdict").text == "failed"
        assert browser.execute_script(style, ".verdict", "backgroundColor") == "rgb(176, 42, 55)"
        assert "mean_radius" in browser.find_element(By.CSS_SELECTOR, "tr.fail").text
        browser.find_element(By.CSS_SELECTOR, "a[href^='data_docs/validations/']").click()
        # GX's page: its tables styled by the inlined layout (Bootstrap's CDN file is gone).
        assert browser.execute_script(style, "th", "backgroundColor") == "rgb(241, 243, 245)"
        assert "mean_radius" in browser.find_element(By.TAG_NAME, "body").text
        urls = requested(browser)
        assert urls and all(url.startswith("file://") for url in urls), urls
