"""A webhook receiver on loopback that records what it was sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oee_pipelines.simulator.servers.runtime import ServerThread


@dataclass
class WebhookReceiver:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A receiver serving POST /hook on 127.0.0.1 until the block ends."""
    receiver = WebhookReceiver(url="")

    async def hook(request: Request) -> JSONResponse:
        receiver.received.append(await request.json())
        return JSONResponse({"ok": True})

    with ServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        receiver.url = f"{server.base_url}/hook"
        yield receiver
