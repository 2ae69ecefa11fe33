"""Exposing metrics: ASGI middleware and `/metrics` for the API, a loopback server for daemons."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oee_pipelines.observability.metrics import API_LATENCY, API_REQUESTS, API_WEBSOCKETS

UNMATCHED_ROUTE = "<unmatched>"


class MetricsMiddleware:
    """Counts requests by route template and status, times them, and tracks open WebSockets.

    A pure ASGI middleware (not `BaseHTTPMiddleware`), so streamed exports pass through unbuffered
    and are timed to their last byte.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            API_WEBSOCKETS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                API_WEBSOCKETS.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = route_template(scope)
            API_REQUESTS.labels(scope["method"], route, str(status)).inc()
            API_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/exports/{table}`), so labels stay bounded."""
    route: Any = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ROUTE


def metrics_response(extra: bytes = b"") -> Response:
    """The Prometheus text exposition of this process's metrics, then `extra` (metrics read elsewhere)."""
    return Response(generate_latest() + extra, media_type=CONTENT_TYPE_LATEST)


@contextmanager
def serving_metrics(port: int, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve `/metrics` on `host:port` (0 picks a free port) while the block runs; yields the port."""
    server, thread = start_http_server(port, addr=host)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sample_value(exposition: str, sample_name: str, **labels: str) -> float:
    """From /metrics text: the sum of the `sample_name` samples whose labels include `labels` (0: none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )
