"""Run an ASGI app on loopback in a background thread, and the fault switches every server shares."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class FaultSwitches:
    """Faults a test can switch on for a simulator server; counts decrement as they fire.

    - `fail_next`: answer the next N requests with HTTP 500.
    - `throttle_next`: answer the next N requests with HTTP 429 and `Retry-After: retry_after_seconds`.
    - `latency_seconds`: sleep before every answer (slow server).
    - `malformed_next`: answer the next N requests with a truncated, unparsable body.
    - `drop_next`: send the headers and half the body of the next N answers, then drop the connection.
    - `reject_auth`: answer every request with 401 (expired password, revoked token).
    - `fail_path_contains`: only requests whose path+query contains this string are affected.
    - `pass_first`: the next N requests are answered normally before any fault applies (a fault in
      the middle of a read: some pages arrive, then the server breaks).
    """

    fail_next: int = 0
    throttle_next: int = 0
    retry_after_seconds: int = 1
    latency_seconds: float = 0.0
    malformed_next: int = 0
    drop_next: int = 0
    pass_first: int = 0
    reject_auth: bool = False
    fail_path_contains: str | None = None
    requests_seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self._lock:
            self.fail_next = self.throttle_next = self.malformed_next = self.drop_next = self.pass_first = 0
            self.latency_seconds = 0.0
            self.reject_auth = False
            self.fail_path_contains = None

    def _take(self, name: str) -> bool:
        with self._lock:
            remaining = getattr(self, name)
            if remaining > 0:
                setattr(self, name, remaining - 1)
                return True
            return False


class FaultInjectionMiddleware:
    """ASGI middleware applying `FaultSwitches` before the real app answers."""

    def __init__(self, app: ASGIApp, switches: FaultSwitches) -> None:
        self.app = app
        self.switches = switches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        switches = self.switches
        switches.requests_seen += 1
        request = Request(scope)
        target = request.url.path + "?" + request.url.query
        applies = switches.fail_path_contains is None or switches.fail_path_contains in target
        if applies and switches._take("pass_first"):
            applies = False
        if switches.latency_seconds:
            await asyncio.sleep(switches.latency_seconds)
        response: Response | None = None
        if applies and switches.reject_auth:
            response = PlainTextResponse("simulated: credentials expired", status_code=401)
        elif applies and switches._take("fail_next"):
            response = PlainTextResponse("simulated: internal server error", status_code=500)
        elif applies and switches._take("throttle_next"):
            response = PlainTextResponse(
                "simulated: too many requests",
                status_code=429,
                headers={"Retry-After": str(switches.retry_after_seconds)},
            )
        if response is not None:
            await response(scope, receive, send)
            return
        if applies and switches._take("malformed_next"):
            await _send_truncated(self.app, scope, receive, send)
            return
        if applies and switches._take("drop_next"):
            await _send_truncated(self.app, scope, receive, send, drop=True)
            return
        await self.app(scope, receive, send)


class ConnectionDroppedError(Exception):
    """Raised after half an answer went out: the server closes the connection mid-response."""


async def _send_truncated(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, drop: bool = False
) -> None:
    """Let the app answer, then cut its body in half so the client cannot parse it.

    `drop`: the headers keep the full length and the connection is cut after the half (a server or
    network failing mid-response), instead of a complete but truncated answer.
    """
    messages: list[MutableMapping[str, Any]] = []

    async def capture(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, capture)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    cut = body[: max(1, len(body) // 2)]
    if drop:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": start["status"], "headers": headers})
    await send({"type": "http.response.body", "body": cut, "more_body": drop})
    if drop:
        raise ConnectionDroppedError("simulated: connection dropped mid-response")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a daemon thread; `with` starts and stops it."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sim-server-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_seconds: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_seconds
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"simulator server on {self.base_url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
