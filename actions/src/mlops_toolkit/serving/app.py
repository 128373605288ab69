"""The scoring server as a bare ASGI app: routing, decoding and metrics with no framework.

`POST /invocations` answers `{"predictions": [...]}` like `mlflow models serve` (plus
`"prediction_ids"` and the `X-Prediction-Batch` header when predictions are recorded: a
prediction store or the JSON-lines log is set); `POST /feedback` takes labels back; `/health` (and
MLflow's `/ping`) is 200 only once the model is loaded, `/version` names what is served and
`/metrics` is Prometheus text. The model loads in a thread after the socket is open, so health
checks see "loading" (503) instead of a refused connection.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..core import gc_pace
from ..monitoring.store.ids import ids_json, new_batch
from ..registry.mlmodel import ServedModel
from .dates import check_dates
from .feedback import Feedback, FeedbackError
from .model import load_for_serving
from .payload import PayloadError, parse_csv, parse_payload
from .predlog import PredictionLogger, StoreWriter
from .settings import Settings
from .telemetry import ServingMetrics

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

JSON = b"application/json"
CSV = b"text/csv"
# Bodies above this size are decoded and scored in a worker thread: a 10,000-row batch then
# cannot hold the event loop (and /health with it) for a second, while the small requests that
# make up most traffic stay on the loop, where they are cheapest.
OFFLOAD_BYTES = 64 * 1024
_HEADERS_JSON = [(b"content-type", JSON)]
_HEADERS_CLOSE = [*_HEADERS_JSON, (b"connection", b"close")]
BATCH_HEADER = b"x-prediction-batch"  # the batch id: row i's id is it + i in 6 hex digits
_HEADERS_METRICS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


class ScoringApp:
    def __init__(self, settings: Settings, model: ServedModel | None = None) -> None:
        self.settings = settings
        self.metrics = ServingMetrics(settings)
        self.model = model
        self.load_error: str | None = None
        self.on_load_failure: Callable[[], None] | None = None
        self.predlog = (
            PredictionLogger(
                settings.log_dir,
                settings.log_sample_rate,
                settings.model_name,
                settings.model_version,
                settings.environment,
            )
            if settings.log_dir and settings.log_sample_rate > 0
            else None
        )
        self.store = self._store_writer(settings) if settings.store_url else None
        # Ids are given when they lead somewhere: a store, or the JSON-lines log.
        self.recording = self.store is not None or self.predlog is not None
        self.feedback = Feedback(settings)
        self._version = orjson.dumps(
            {
                "model_name": settings.model_name,
                "model_version": settings.model_version,
                "git_commit": settings.git_commit,
                "image_tag": settings.image_tag,
            }
        )
        if model is not None:
            self.metrics.ready.set(1)

    def _store_writer(self, settings: Settings) -> StoreWriter:
        metrics = self.metrics

        def dropped(n: int, reason: str) -> None:
            metrics.store_dropped[reason].inc(n)

        return StoreWriter(
            settings.store_url,
            model_name=settings.model_name,
            model_version=settings.model_version,
            environment=settings.environment,
            max_rows=settings.store_queue_rows,
            scores=settings.store_scores,
            on_written=metrics.store_written.inc,
            on_dropped=dropped,
            on_failed=metrics.store_failures.inc,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Load the model (blocking); on failure remember why and stay unready."""
        start = time.perf_counter()
        try:
            self.model = load_for_serving(self.settings.model_dir)
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__  # one line, always
            self.load_error = f"cannot load the model from {self.settings.model_dir!r}: {reason}"
            log.error(self.load_error)
            if self.on_load_failure is not None:
                self.on_load_failure()
            return
        self.metrics.load_seconds.set(time.perf_counter() - start)
        # What start-up built (the model, scikit-learn, MLflow: ~240,000 objects) lives as long
        # as the process: frozen, the collector never walks it again. Requests queued for the
        # prediction store outlive young collections, and once their objects reach a quarter of
        # the old generation (CPython's rule) a full collection walks it all (~130 ms here):
        # ~4 % of a logging server's throughput (docs/architecture.md). Collected first: a
        # cycle of garbage frozen with the rest would never be freed.
        gc_pace.imported()  # requests at CPython's own pace, as the benchmarks measure them
        gc.collect()
        gc.freeze()
        self.metrics.ready.set(1)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.model is None:
                    # Keep a reference: a bare task may be garbage-collected mid-load.
                    self._loading = asyncio.get_running_loop().run_in_executor(None, self.load)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.predlog is not None:
                    self.predlog.close()
                if self.store is not None:
                    # Blocking (up to its timeout): in a thread, so the loop finishes its work.
                    await asyncio.get_running_loop().run_in_executor(None, self.store.close)
                self.feedback.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- ASGI entry point ------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/invocations":
            if method != "POST":
                await _send(send, 405, _error("METHOD_NOT_ALLOWED", "use POST /invocations"))
                self.metrics.count_request(405)
                return
            await self._invocations(scope, receive, send)
        elif path in ("/health", "/ping"):
            if self.model is not None:
                await _send(send, 200, b'{"status":"ok"}')
            else:
                status = "failed" if self.load_error else "loading"
                await _send(send, 503, orjson.dumps({"status": status, "error": self.load_error}))
        elif path == "/version":
            await _send(send, 200, self._version)
        elif path == "/metrics":
            if self.store is not None:
                self.metrics.store_queue.set(self.store.queued)
            await _send(send, 200, self.metrics.render(), _HEADERS_METRICS)
        elif path == "/feedback":
            await self._feedback(scope, receive, send)
        else:
            await _send(
                send,
                404,
                _error(
                    "NOT_FOUND",
                    f"no route {path}: use POST /invocations, POST /feedback, GET /health, "
                    "/version, /metrics",
                ),
            )
            self.metrics.count_request(404)

    async def _invocations(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status, body, batch = await self._score(scope, receive)
        # An unread or unfinished body: the connection cannot carry another request.
        headers = _HEADERS_CLOSE if status in (408, 413) else _HEADERS_JSON
        if batch is not None:
            headers = [*headers, (BATCH_HEADER, batch.encode())]
        await _send(send, status, body, headers)
        self.metrics.count_request(status)
        self.metrics.latency.observe(time.perf_counter() - start)

    async def _feedback(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        status, body = await self._labels(scope, receive)
        await _send(send, status, body, _HEADERS_CLOSE if status in (408, 413) else _HEADERS_JSON)
        self.metrics.count_feedback(status)

    async def _labels(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes]:
        if scope["method"] != "POST":
            return 405, _error("METHOD_NOT_ALLOWED", "use POST /feedback")
        try:
            self.feedback.check(_header(scope, b"authorization"))
            if _media_type(_header(scope, b"content-type")) is not False:
                raise FeedbackError(415, "Content-Type must be application/json")
            try:
                async with asyncio.timeout(self.settings.body_timeout):
                    raw = await _read_body(receive, self.settings.max_body_bytes)
            except TimeoutError:
                raise FeedbackError(408, "the request body did not arrive in time") from None
            if raw is None:
                raise FeedbackError(413, "the request body is too large")
            loop = asyncio.get_running_loop()
            counts = await loop.run_in_executor(None, self.feedback.load, raw)
        except FeedbackError as exc:
            code = "BAD_REQUEST" if exc.status < 500 else "INTERNAL_ERROR"
            return exc.status, _error(code, exc.message, **exc.extra)
        return 200, orjson.dumps(counts)

    async def _score(
        self, scope: dict[str, Any], receive: Receive
    ) -> tuple[int, bytes, str | None]:
        model = self.model
        if model is None:
            return self._fail(503, "not_ready", "the model is not loaded yet")
        content_type = _header(scope, b"content-type")
        is_csv = _media_type(content_type)
        if is_csv is None:
            return self._fail(
                415,
                "unsupported_media_type",
                "Content-Type must be application/json or text/csv (charset utf-8 if any), got "
                f"{content_type.decode('latin-1') or 'none'}",
            )
        limit = self.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared and int(declared) > limit:  # say so before reading it (httptools checked it)
            return self._fail(413, "too_large", f"the request body is larger than {limit} bytes")
        try:
            async with asyncio.timeout(self.settings.body_timeout):
                raw = await _read_body(receive, limit)
        except TimeoutError:
            return self._fail(
                408,
                "timeout",
                f"the request body did not arrive within {self.settings.body_timeout:g} s",
            )
        if raw is None:
            return self._fail(
                413,
                "too_large",
                f"the request body is larger than {self.settings.max_body_bytes} bytes",
            )
        if len(raw) > OFFLOAD_BYTES:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._decode_and_predict, model, raw, is_csv)
        return self._decode_and_predict(model, raw, is_csv)

    def _decode_and_predict(
        self, model: ServedModel, raw: bytes, is_csv: bool
    ) -> tuple[int, bytes, str | None]:
        try:
            if is_csv:
                batch = parse_csv(raw.decode("utf-8"), model.columns)
            else:
                try:
                    payload = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise PayloadError(400, "malformed_json", f"malformed JSON: {exc}") from None
                batch = parse_payload(payload, model.columns, raw)
            if model.date_columns:
                check_dates(batch, model.date_columns)
        except UnicodeDecodeError:
            return self._fail(400, "bad_payload", "the CSV body is not UTF-8")
        except PayloadError as exc:
            return self._fail(exc.status, exc.kind, exc.message)
        except (TypeError, ValueError, OverflowError, KeyError, IndexError, csv.Error) as exc:
            # A shape the checks above did not foresee is still the client's input: never a 500.
            return self._fail(400, "bad_payload", f"could not read the payload: {exc}")
        if batch.n_rows == 0:
            predictions: list[Any] = []
        else:
            try:
                predictions = model.predict(batch)
            except (ValueError, TypeError) as exc:
                # Input the signature allows but the model refuses (say NaN in an optional column).
                return self._fail(
                    422, "model_rejected_input", f"the model rejected the input: {exc}"
                )
            except Exception as exc:
                log.exception("prediction failed")
                return self._fail(500, "prediction_failed", f"prediction failed: {exc}")
        self.metrics.predictions.inc(batch.n_rows)
        self.metrics.rows.observe(batch.n_rows)
        if not self.recording or batch.n_rows == 0:
            body = orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
            return 200, body, None
        ts = time.time()
        batch_id = new_batch(ts)
        if self.store is not None:  # references and the batch id: never waits, no per-row work
            self.store.submit(batch_id, ts, model, batch, predictions)
        if self.predlog is not None:
            self.predlog.maybe_log(model.names, batch, predictions, batch_id)
        # The ids as JSON straight from the batch id (ids.ids_json): no string per row.
        body = orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
        ids = ids_json(batch_id, batch.n_rows)
        return 200, b"".join((body[:-1], b',"prediction_ids":', ids, b"}")), batch_id

    def _fail(self, status: int, kind: str, message: str) -> tuple[int, bytes, None]:
        self.metrics.errors[kind].inc()
        code = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
        if status == 422:
            code = "INVALID_PARAMETER_VALUE"
        return status, _error(code, message), None


def _error(code: str, message: str, **extra: Any) -> bytes:
    # MLflow's error shape, so MLflow clients show the message; `extra` only adds entries.
    return orjson.dumps({"error_code": code, "message": message, **extra})


def _header(scope: dict[str, Any], name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return b""


_MEDIA_TYPES = {JSON: False, CSV: True}


def _media_type(content_type: bytes) -> bool | None:
    """True for CSV, False for JSON, None for anything else, as MLflow decides: the type exactly
    (`application/jsonx` is not JSON), and no parameter but `charset=utf-8`."""
    is_csv = _MEDIA_TYPES.get(content_type)  # the common case: no parameters
    if is_csv is not None:
        return is_csv
    kind, *params = [part.strip() for part in content_type.split(b";")]
    for param in params:
        name, _, value = param.partition(b"=")
        if name.strip() != b"charset" or value.strip().lower() != b"utf-8":
            return None
    return _MEDIA_TYPES.get(kind)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body if len(body) <= limit else None
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _send(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = _HEADERS_JSON
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
