"""The server's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from ..monitoring.driftmetrics import DriftReportCollector
from .settings import Settings

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROW_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10000)
ERROR_KINDS = (
    "malformed_json",
    "bad_payload",
    "unsupported_media_type",
    "too_large",
    "missing_column",
    "wrong_type",
    "null_value",
    "bad_date",
    "timeout",
    "model_rejected_input",
    "prediction_failed",
    "not_ready",
)

DROP_REASONS = ("queue_full", "shutdown", "unwritable")


# `_created` series double the scrape size and nothing here reads them.
disable_created_metrics()


class ServingMetrics:
    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        model = {"model_name": settings.model_name, "model_version": settings.model_version}
        labels = list(model)
        self.requests = Counter(
            "model_serving_requests",
            "Scoring requests by HTTP status",
            [*labels, "code"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "model_serving_predictions", "Rows predicted", labels, registry=self.registry
        ).labels(**model)
        self.latency = Histogram(
            "model_serving_request_duration_seconds",
            "Time to answer a scoring request",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(**model)
        self.rows = Histogram(
            "model_serving_rows_per_request",
            "Rows per scoring request",
            labels,
            buckets=ROW_BUCKETS,
            registry=self.registry,
        ).labels(**model)
        errors = Counter(
            "model_serving_errors",
            "Failed scoring requests by kind",
            [*labels, "kind"],
            registry=self.registry,
        )
        # Pre-create every series so rates start at zero instead of appearing on first error.
        self.errors = {kind: errors.labels(kind=kind, **model) for kind in ERROR_KINDS}
        self._codes = {
            code: self.requests.labels(code=str(code), **model)
            for code in (200, 400, 413, 415, 422, 500, 503)
        }
        self._model = model
        # Labels coming back (POST /feedback) apart: in the scoring requests they would dilute the
        # error rate and put a labeller's 401s beside the scoring codes.
        self.feedback = Counter(
            "model_serving_feedback_requests",
            "Label requests (POST /feedback) by HTTP status",
            [*labels, "code"],
            registry=self.registry,
        )
        info = Gauge(
            "model_serving_model_info",
            "The model this server serves (always 1)",
            [*labels, "git_commit", "image_tag"],
            registry=self.registry,
        )
        info.labels(git_commit=settings.git_commit, image_tag=settings.image_tag, **model).set(1)
        self.ready = Gauge(
            "model_serving_ready", "1 once the model is loaded", registry=self.registry
        )
        self.load_seconds = Gauge(
            "model_serving_model_load_seconds",
            "Time it took to load the model",
            registry=self.registry,
        )
        # The prediction store's writer (predlog.StoreWriter): rows written, rows dropped (queue
        # full while the store is slow or down, shutdown, unwritable) and rows waiting.
        self.store_written = Counter(
            "model_serving_prediction_store_written",
            "Scored rows written to the prediction store",
            labels,
            registry=self.registry,
        ).labels(**model)
        dropped = Counter(
            "model_serving_prediction_store_dropped",
            "Scored rows never written to the prediction store, by reason",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.store_dropped = {
            reason: dropped.labels(reason=reason, **model) for reason in DROP_REASONS
        }
        self.store_failures = Counter(
            "model_serving_prediction_store_write_failures",
            "Failed writes to the prediction store (retried)",
            labels,
            registry=self.registry,
        ).labels(**model)
        self.store_queue = Gauge(
            "model_serving_prediction_store_queue_rows",
            "Scored rows waiting for the prediction store",
            labels,
            registry=self.registry,
        ).labels(**model)
        ProcessCollector(registry=self.registry)  # CPU, memory, open files of the server
        if settings.drift_report:
            self.registry.register(DriftReportCollector(settings.drift_report))

    def count_request(self, code: int) -> None:
        counter = self._codes.get(code)
        if counter is None:
            counter = self._codes[code] = self.requests.labels(code=str(code), **self._model)
        counter.inc()

    def count_feedback(self, code: int) -> None:
        self.feedback.labels(code=str(code), **self._model).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
