"""The API under 50 concurrent clients for 60 s (loopback): latency percentiles and errors (must be none).

`oee api` runs as its own process (one uvicorn worker) over a scratch warehouse holding the API
tests' two-tenant data (30 days of 15-minute snapshots). Each client loops, in a fixed mix, over
what BI tools ask: one machine-day of snapshots as JSON and as CSV, a week of shift reports, and
`/health`. Afterwards the server's own `/metrics` must have counted every request the clients sent.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from oee_pipelines.observability.exposition import sample_value
from oee_pipelines.storage.migrations import migrate
from oee_pipelines_tests.support.tenant_warehouse import seed_warehouse
from reliability.api_process import running_api
from reliability.common import ScenarioResult, scratch_postgres

CLIENTS = 50
SNAPSHOTS = "/api/oee/export/snapshots"
REQUEST_MIX = [
    (
        SNAPSHOTS,
        {"format": "json", "machine_id": "MACHINE-A01", "date_from": "2025-01-10", "date_to": "2025-01-10"},
    ),
    (
        SNAPSHOTS,
        {"format": "csv", "machine_id": "MACHINE-A01", "date_from": "2025-01-11", "date_to": "2025-01-11"},
    ),
    ("/api/oee/export/shift-reports", {"format": "json", "date_from": "2025-01-01", "date_to": "2025-01-07"}),
    ("/health", {}),
]


@dataclass
class LoadTally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def client_loop(
    session: aiohttp.ClientSession, base_url: str, key: str, offset: int, stop_at: float, tally: LoadTally
) -> None:
    step = offset
    while time.monotonic() < stop_at:
        path, params = REQUEST_MIX[step % len(REQUEST_MIX)]
        step += 1
        started = time.perf_counter()
        try:
            async with session.get(base_url + path, params=params, headers={"X-API-Key": key}) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            tally.error(type(error).__name__)
            continue
        tally.latencies.append(time.perf_counter() - started)
        if status != 200:
            tally.error(f"HTTP {status}")


async def load(base_url: str, key: str, seconds: float) -> LoadTally:
    tally = LoadTally()
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(
            *(client_loop(session, base_url, key, n, stop_at, tally) for n in range(CLIENTS))
        )
    return tally


def run(short: bool) -> ScenarioResult:
    seconds = 5.0 if short else 60.0
    with scratch_postgres() as scratch:
        migrate(scratch.url)
        key = seed_warehouse(scratch.url)["acme"]
        with running_api(scratch.url) as api:
            before = api.metrics()
            started = time.monotonic()
            tally = asyncio.run(load(api.base_url, key, seconds))
            elapsed = time.monotonic() - started
            after = api.metrics()
    served = sample_value(after, "oee_api_requests_total") - sample_value(before, "oee_api_requests_total")
    served -= 1  # the /metrics request that produced `before` is counted in `after`
    sent = len(tally.latencies) + sum(tally.errors.values())
    latencies_ms = np.array(tally.latencies) * 1000
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99]) if len(latencies_ms) else (0, 0, 0)
    result = ScenarioResult(f"API under {CLIENTS} concurrent clients for {seconds:.0f} s")
    result.figures = {
        "requests": f"{sent:,} in {elapsed:.1f} s ({sent / elapsed:,.0f}/s)",
        "latency ms": f"p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {latencies_ms.max(initial=0):.1f}",
        "errors": sum(tally.errors.values()),
        "counted by the server's /metrics": f"{served:,.0f}",
    }
    result.lost += [f"{count} requests failed: {what}" for what, count in tally.errors.items()]
    if served != sent:
        result.lost.append(f"the server counted {served:,.0f} requests, the clients sent {sent:,}")
    return result
