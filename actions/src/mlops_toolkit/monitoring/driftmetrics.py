"""Drift report → Prometheus metrics, shared by the scoring server and the drift job.

The drift job writes `drift.json`; the scoring server exposes the last one on `/metrics` when
`DRIFT_REPORT_PATH` points at it (so Prometheus needs no extra exporter), and the job also writes
the same metrics as a node-exporter textfile (`drift.prom`) for setups that collect those. The
drift job on the prediction store pushes the same text (`exposition`) to the Pushgateway, one
group per environment: job="model-drift", model_name, environment (drift_live.push).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREDICTION = "__prediction__"  # the feature label used for prediction drift
PUSH_JOB = "model-drift"  # the Pushgateway group's job; model_name and environment label it


def drift_metrics(report: dict[str, Any]) -> list[Metric]:
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
    items = list((report.get("features") or {}).items())
    if report.get("prediction"):
        items.append((PREDICTION, report["prediction"]))
    for name, result in items:
        if result.get("psi") is not None:
            score.add_metric([name], float(result["psi"]))
        if result.get("p_value") is not None:
            p_value.add_metric([name, str(result.get("test", ""))], float(result["p_value"]))
        drifted.add_metric([name], 1.0 if result.get("drifted") else 0.0)
    threshold = GaugeMetricFamily(
        "model_drift_threshold", "Drift thresholds from params.yaml", labels=["metric"]
    )
    for metric, value in (report.get("thresholds") or {}).items():
        threshold.add_metric([metric], float(value))
    detected = GaugeMetricFamily("model_drift_detected", "1 when the last drift report found drift")
    detected.add_metric([], 1.0 if report.get("drift_detected") else 0.0)
    stamp = GaugeMetricFamily(
        "model_drift_report_timestamp_seconds",
        "When the last drift report was computed (Unix time)",
    )
    stamp.add_metric([], float(report.get("timestamp", 0.0)))
    return [score, p_value, drifted, threshold, detected, stamp]


class DriftReportCollector(Collector):
    """Serves the drift report at `path`; re-read only when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return iter(())  # no report yet: no drift series (alerts use absent() if needed)
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    self._metrics = drift_metrics(json.load(fh))
                self._stamp = stamp
            except (OSError, ValueError, AttributeError, TypeError):
                pass  # a report being rewritten: keep serving the last good one
        return iter(self._metrics)


def _registry(report: dict[str, Any]) -> Any:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()

    class _Static(Collector):
        def collect(self) -> Iterator[Metric]:
            return iter(drift_metrics(report))

    registry.register(_Static())
    return registry


def exposition(report: dict[str, Any]) -> str:
    """The report's metrics in the Prometheus text format: what is pushed to the Pushgateway."""
    from prometheus_client import generate_latest

    return generate_latest(_registry(report)).decode()


def write_textfile(report: dict[str, Any], path: str) -> None:
    """Write the report's metrics in the Prometheus text format, atomically."""
    from prometheus_client import write_to_textfile

    write_to_textfile(path, _registry(report))
