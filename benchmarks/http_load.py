"""A lean closed-loop HTTP/1.1 load generator: N clients, each on one keep-alive connection, sending the
same request again as soon as the last answer has been read in full; latency per request in ms.

Why not `httpx.AsyncClient`: on this 2-core machine httpx spent 3-4 ms of CPU per request (more than
the API it measured, 2.4-3 ms), in the same cores, so its own cost showed up in the API's latency.
This client spends about 0.2 ms per request. It speaks only what the benchmarks need: one request
prepared once, answers with a `Content-Length` (what uvicorn sends for JSON), no TLS, no redirects.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Measured:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


def prepared_request(
    host: str, port: int, method: str, target: str, headers: dict[str, str], body: Any = None
) -> bytes:
    """The request's bytes: `target` is the path with its query string; `body` is sent as JSON."""
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send `request`, read the whole answer; its status code."""
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _run(host: str, port: int, request: bytes, requests: int, clients: int, expected: int) -> Measured:
    measured = Measured()
    remaining = requests

    async def client() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    ok = await _exchange(reader, writer, request) == expected
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                measured.latencies_ms.append((time.perf_counter() - started) * 1000)
                measured.errors += 0 if ok else 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    measured.seconds = time.perf_counter() - started
    return measured


def closed_loop(
    host: str, port: int, request: bytes, requests: int, clients: int, expected_status: int, warmup: int
) -> Measured:
    """`requests` requests from `clients` concurrent clients, after `warmup` uncounted ones (so the
    figures are the steady state, not the server's connection pool filling up)."""
    asyncio.run(_run(host, port, request, warmup, clients, expected_status))
    return asyncio.run(_run(host, port, request, requests, clients, expected_status))
