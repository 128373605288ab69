"""The readers of the drift and live-quality reports go through their contracts
(contracts.DataDriftReport, LiveDriftReport, QualityReport): `drift-issue`'s title, the scoring
server's /metrics, and `monitor`'s quality.json and quality.md (from its template, the text the
string concatenation wrote)."""

from __future__ import annotations

import json
import logging

import pytest
from mlops_toolkit import contracts
from mlops_toolkit.commands import drift_issue
from mlops_toolkit.contracts import MeasuredMetric
from mlops_toolkit.monitoring import driftmetrics, quality

COLUMN = {"kind": "numeric", "psi": 0.7, "test": "ks", "statistic": 0.4, "p_value": 0.001,
          "drifted": True, "reference_mean": 1.0, "current_mean": 2.0}  # fmt: skip
DATA = {
    "generated_at": "2026-12-04T11:00:00Z",
    "timestamp": 1796382000.0,
    "rows": {"reference": 400, "current": 100},
    "thresholds": {"psi": 0.2, "p_value": 0.01},
    "bins": 10,
    "features": {"income": COLUMN},
    "prediction": None,
    "drifted_features": ["income"],
    "drift_detected": True,
}
LIVE = {
    "source": "prediction store",
    "model_name": "churn",
    "window": "7d",
    "since": 1795777200.0,
    "until": 1796382000.0,
    "generated_at": "2026-12-04T11:00:00Z",
    "timestamp": 1796382000.0,
    "environments": {"staging": {"rows": 0, "data": None, "concept": None, "kinds": []}},
    "kinds": ["data", "concept"],
    "drift_detected": True,
    "rows": {"staging": 0},
}


@pytest.mark.parametrize(
    ("content", "title"),
    [
        (LIVE, "Data and concept drift"),
        ({**LIVE, "kinds": ["concept"], "schema": "mlops.live-drift/1"}, "Concept drift"),
        (DATA, "Data drift"),  # a report of prediction logs: data drift only
        (None, "Data drift"),  # no JSON beside the Markdown
    ],
)
def test_the_drift_issue_is_titled_from_the_report(tmp_path, content, title):
    summary = tmp_path / "drift.json"
    if content is not None:
        summary.write_text(json.dumps(content))
    assert drift_issue.kinds(summary) == title


def test_the_drift_issue_refuses_a_newer_report_in_one_line(tmp_path):
    summary = tmp_path / "drift.json"
    summary.write_text(json.dumps({**LIVE, "schema": "mlops.live-drift/2"}))
    with pytest.raises(contracts.ContractError, match=r"schema mlops\.live-drift/2 is not"):
        drift_issue.kinds(summary)


def _served(collector: driftmetrics.DriftReportCollector) -> dict[str, float]:
    return {
        f"{metric.name}{sorted(sample.labels.items())}": sample.value
        for metric in collector.collect()
        for sample in metric.samples
    }


def test_the_server_serves_the_data_drift_report_and_warns_of_another_file(tmp_path, caplog):
    """An unversioned report (an older drift job's) is served; the store's summary (another
    schema) is one warning, once, and the last good report's series stay."""
    path = tmp_path / "drift.json"
    path.write_text(json.dumps(DATA))
    collector = driftmetrics.DriftReportCollector(str(path))
    served = _served(collector)
    assert served["model_drift_score[('feature', 'income')]"] == 0.7
    assert served["model_drift_threshold[('metric', 'p_value')]"] == 0.01
    assert served["model_drift_detected[]"] == 1.0
    contracts.LiveDriftReport.from_dict(LIVE).write(path)
    with caplog.at_level(logging.WARNING, logger=driftmetrics.__name__):
        assert _served(collector) == served
        assert _served(collector) == served
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "schema mlops.live-drift/1 is not mlops.data-drift/1" in warning
    contracts.DataDriftReport.from_dict({**DATA, "drift_detected": False}).write(path)
    assert _served(collector)["model_drift_detected[]"] == 0.0


SETTINGS = quality.Settings(
    windows=(("1d", 86400.0), ("7d", 7 * 86400.0)),
    task="classification",
    resamples=200,
    confidence=0.95,
    seed=1,
    min_labels=5,
    margins={"f1": 0.05, "roc_auc": 0.02},
    holdout={"f1": 0.8, "roc_auc": 0.9},
)
FIGURES = [
    quality.figures(
        SETTINGS, "churn", "3", "production", "1d", 100, 40, delays=(5 * 3600.0, 2 * 86400.0),
        measured={"f1": MeasuredMetric(0.71234, 0.6, 0.74),
                  "roc_auc": MeasuredMetric(0.95, 0.93, 0.97)},
        estimated={"f1": 0.7, "accuracy": 0.8123}, estimate_error={"f1": -0.0123},
    ),
    quality.figures(SETTINGS, "churn", "4", "staging", "7d", 7, 0),
    quality.figures(
        SETTINGS, "churn", "4", "staging", "7d", 3, 1, delays=(12.0, 59.0),
        estimated={"accuracy": 0.5},
    ),
]  # fmt: skip
# What quality.to_markdown wrote by string concatenation, before its template.
MARKDOWN = """## Live model quality

Windows 1d, 7d; 95% bootstrap intervals (200 resamples); an alert needs at least 5 labels.

| model | version | environment | window | predictions | labelled | delay p50 | metric | measured [interval] | estimate (CBPE) | estimate off by | limit |
|---|---|---|---|---:|---:|---:|---|---|---|---|---|
| churn | 3 | production | 1d | 100 | 40 (40%) | 5.0h | f1 | **0.7123 [0.6000, 0.7400]** below the gate | estimate 0.7000 | -0.0123 | 0.7500 |
| churn | 3 | production | 1d | 100 | 40 (40%) | 5.0h | roc_auc | 0.9500 [0.9300, 0.9700] | - | - | 0.8800 |
| churn | 3 | production | 1d | 100 | 40 (40%) | 5.0h | accuracy | pending | estimate 0.8123 | - | - |
| churn | 4 | staging | 7d | 7 | 0 (0%) | - | - | pending | - | - | - |
| churn | 4 | staging | 7d | 3 | 1 (33%) | 12s | accuracy | pending | estimate 0.5000 | - | - |

Estimates come from the model's own probabilities (confidence-based performance estimation): they are estimates, not measurements, and assume calibrated probabilities; 'estimate off by' compares the estimate with the measurement on the labelled rows.
"""  # noqa: E501


def test_quality_md_from_its_template_is_the_text_it_was():
    assert quality.to_markdown(quality.Report(1.7e9, SETTINGS, FIGURES, {}, {})) == MARKDOWN
    empty = quality.to_markdown(quality.Report(1.7e9, SETTINGS, [], {}, {}))
    assert empty == "## Live model quality\n\nNo predictions in the window: nothing to evaluate.\n"


def test_quality_json_is_its_contract(tmp_path):
    report = quality.Report(1.7e9, SETTINGS, FIGURES, {("churn", "production"): 1.69e9}, {})
    path = quality.write_reports(report, tmp_path)["json"]
    written = json.loads(path.read_text())
    assert written == {"schema": "mlops.quality/1", **quality.to_json(report)}
    read = contracts.QualityReport.read(path)
    assert read.figures[0].degraded == ["f1"] and read.last_label == {"churn/production": 1.69e9}
    assert read.settings.thresholds == {"f1": 0.75, "roc_auc": pytest.approx(0.88)}
