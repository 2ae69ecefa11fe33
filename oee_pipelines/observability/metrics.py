"""Every Prometheus metric the platform exports, defined once in the default registry.

Label values are bounded: API routes are route templates (never raw paths), systems and tables are
the project's own names. A process exposes these through `oee_pipelines.observability.exposition`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter(
    "oee_api_requests_total", "HTTP requests answered by the API sidecar.", ["method", "route", "status"]
)
API_LATENCY = Histogram(
    "oee_api_request_duration_seconds",
    "Time from a request's arrival to the last byte of its answer.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
# By key id (never the key or its prefix): as many series as keys, which an operator creates by hand.
API_KEY_REQUESTS = Counter(
    "oee_api_key_requests_total",
    "API requests whose key was accepted (known, active, within its rate limit), by key.",
    ["key_id", "organization", "scope"],
)
API_KEY_REFUSALS = Counter(
    "oee_api_key_refusals_total",
    "API requests refused for their key: missing, invalid, revoked, expired, scope (403) or "
    "rate_limited (429); key_id is empty when no key was recognised.",
    ["reason", "key_id"],
)
for _reason in ("missing", "invalid"):
    API_KEY_REFUSALS.labels(reason=_reason, key_id="")  # exported at 0 before the first refusal
API_WEBSOCKETS = Gauge("oee_api_websocket_connections", "WebSocket connections open on the API sidecar.")
ROWS_EXPORTED = Counter(
    "oee_rows_exported_total", "Rows written to export files and streams.", ["table", "format"]
)

IOT_RECEIVED = Counter(
    "oee_iot_readings_received_total", "IoT messages received from the source.", ["source"]
)
IOT_BUFFERED = Counter(
    "oee_iot_readings_buffered_total", "IoT messages appended to the local buffer (accepted).", ["source"]
)
IOT_QUARANTINED = Counter(
    "oee_iot_readings_quarantined_total", "IoT messages refused at intake and quarantined.", ["source"]
)
IOT_FSYNC_BATCHES = Counter(
    "oee_iot_fsync_batches_total", "Buffer fsyncs, each acknowledging a batch of messages.", ["source"]
)
IOT_BUFFER_LAG = Gauge(
    "oee_iot_buffer_lag_seconds",
    "Age of the oldest received message not yet durable and acknowledged (0 when none waits).",
    ["source"],
)

CONNECTOR_ERRORS = Counter(
    "oee_connector_errors_total",
    "Source-system calls that failed for good (after retries), by system and error class.",
    ["system", "error"],
)
CONNECTOR_RETRIES = Counter(
    "oee_connector_retries_total",
    "Source-system calls retried after a 5xx, 429 or connection error.",
    ["system"],
)


def count_exported_rows(
    batches: Iterable[pa.RecordBatch], table: str, export_format: str
) -> Iterator[pa.RecordBatch]:
    """Pass `batches` through, counting their rows as they are consumed."""
    counter = ROWS_EXPORTED.labels(table=table, format=export_format)
    for batch in batches:
        counter.inc(batch.num_rows)
        yield batch
