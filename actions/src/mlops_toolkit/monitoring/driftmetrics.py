"""Drift report → Prometheus metrics, shared by the scoring server and the drift job.

The drift job writes `drift.json` (contracts.DataDriftReport); the scoring server exposes the
last one on `/metrics` when `DRIFT_REPORT_PATH` points at it (so Prometheus needs no extra
exporter; a file that is not a data-drift report is one warning), and the job also writes the
same metrics as a node-exporter textfile (`drift.prom`) for setups that collect those. The
drift job on the prediction store pushes the same text (`exposition`) to the Pushgateway, one
group per environment: job="model-drift", model_name, environment (drift_live.push).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..contracts import ContractError, DataDriftReport

log = logging.getLogger(__name__)

PREDICTION = "__prediction__"  # the feature label used for prediction drift
PUSH_JOB = "model-drift"  # the Pushgateway group's job; model_name and environment label it


def drift_metrics(report: DataDriftReport) -> list[Metric]:
    score = GaugeMetricFamily(
        "model_drift_score",
        "Population stability index of a feature, current vs reference",
        labels=["feature"],
    )
    p_value = GaugeMetricFamily(
        "model_drift_p_value",
        "p-value of the drift test of a feature (KS or chi-squared)",
        labels=["feature", "test"],
    )
    drifted = GaugeMetricFamily(
        "model_drift_feature_drifted",
        "1 when the feature drifted beyond its thresholds",
        labels=["feature"],
    )
    items = list(report.features.items())
    if report.prediction is not None:
        items.append((PREDICTION, report.prediction))
    for name, result in items:
        if result.psi is not None:
            score.add_metric([name], result.psi)
        if result.p_value is not None:
            p_value.add_metric([name, result.test or ""], result.p_value)
        drifted.add_metric([name], 1.0 if result.drifted else 0.0)
    threshold = GaugeMetricFamily(
        "model_drift_threshold", "Drift thresholds from params.yaml", labels=["metric"]
    )
    threshold.add_metric(["psi"], report.thresholds.psi)
    threshold.add_metric(["p_value"], report.thresholds.p_value)
    detected = GaugeMetricFamily("model_drift_detected", "1 when the last drift report found drift")
    detected.add_metric([], 1.0 if report.drift_detected else 0.0)
    stamp = GaugeMetricFamily(
        "model_drift_report_timestamp_seconds",
        "When the last drift report was computed (Unix time)",
    )
    stamp.add_metric([], report.timestamp)
    return [score, p_value, drifted, threshold, detected, stamp]


class DriftReportCollector(Collector):
    """Serves the drift report at `path`; re-read only when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._refused: tuple[float, int] | None = None  # warned once per version of the file
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return iter(())  # no report yet: no drift series (alerts use absent() if needed)
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            try:
                self._metrics = drift_metrics(DataDriftReport.read(self.path))
                self._stamp = stamp
            except ContractError as exc:  # half written (an older job), or another file
                if stamp != self._refused:
                    log.warning("%s: /metrics keeps the last good report's series", exc)
                    self._refused = stamp
        return iter(self._metrics)


def _registry(report: DataDriftReport) -> Any:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()

    class _Static(Collector):
        def collect(self) -> Iterator[Metric]:
            return iter(drift_metrics(report))

    registry.register(_Static())
    return registry


def exposition(report: DataDriftReport) -> str:
    """The report's metrics in the Prometheus text format: what is pushed to the Pushgateway."""
    from prometheus_client import generate_latest

    return generate_latest(_registry(report)).decode()


def write_textfile(report: DataDriftReport, path: str) -> None:
    """Write the report's metrics in the Prometheus text format, atomically."""
    from prometheus_client import write_to_textfile

    write_to_textfile(path, _registry(report))
