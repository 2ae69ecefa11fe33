"""Schemathesis over `/openapi.json`: every operation fuzzed in process with the keys of two organizations.

The Schemathesis engine (what its CLI runs: explicit examples, the coverage phase's boundary and
negative values, property-based fuzzing, and stateful sequences over the inferred links) calls the ASGI
app over the two-organization warehouse. Every answer is checked: never a 5xx; a status code, content
type, headers and body the OpenAPI document declares; 405 with `Allow`. `acme` runs every phase;
`globex` skips the coverage phase, which depends little on the key, to keep the test short.

Bounded and repeatable: a fixed seed, derandomized, `OEE_FUZZ_MAX_EXAMPLES` examples per operation in
the fuzzing phase (10 by default; raise it for a longer run), with a dictionary of hostile strings (NUL
and other control characters) mixed into generated strings so that a short run still meets them. The
ASGI app is wrapped to count every request and its status independently of Schemathesis; the counts are
recorded as the test's `summary` (printed after the run by the root conftest) and asserted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from starlette.types import Message, Receive, Scope, Send

from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines_tests.support.webserver import dagster_webserver

MAX_EXAMPLES = int(os.environ.get("OEE_FUZZ_MAX_EXAMPLES", "10"))
SEED = 20250114
# Strings a bounded run would rarely draw, mixed into every generated string: control characters (a NUL
# once reached PostgreSQL and answered 500), quoting, OData syntax, non-ASCII, the empty string.
HOSTILE_STRINGS = (
    "a\x00b",
    "LINE-A1\x00",
    "\t",
    "x\ny",
    "\x7f",
    "\u0085",
    "' OR '1'='1",
    "a eq 'b'",
    "Ω",
    "",
)
HOSTILE_PROBABILITY = 0.2
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
)


@dataclass
class CountingApp:
    """The app, counting each HTTP request by the status it answered, and naming every 5xx."""

    app: FastAPI
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.statuses[status] += 1
                if status >= 500:
                    query = scope["query_string"].decode("latin-1")
                    self.server_errors.append(f"{scope['method']} {scope['path']}?{query} -> {status}")
            await send(message)

        await self.app(scope, receive, counting_send if scope["type"] == "http" else send)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def fuzz_config(api_key: str, *, coverage: bool) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"X-API-Key": api_key},
            "workers": 1,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "dictionaries": {"string": {"dictionary": "hostile", "probability": HOSTILE_PROBABILITY}},
            },
            "dictionaries": {"hostile": {"values": list(HOSTILE_STRINGS)}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"coverage": {"enabled": coverage}},
        }
    )


@dataclass
class FuzzReport:
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operations_called: set[str] = field(default_factory=set)

    def record(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.NonFatalError | events.FatalError):
            self.errors.append(f"{getattr(event, 'label', '')}: {getattr(event, 'value', event)}"[:600])
        if not isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            return
        recorder = event.recorder
        if recorder.interactions:
            self.operations_called.add(recorder.label)
        for case_id, nodes in recorder.checks.items():
            for check in nodes:
                if check.status is Status.FAILURE and check.failure_info is not None:
                    interaction = recorder.interactions.get(case_id)
                    request = (
                        f" ({interaction.request.method} {interaction.request.uri})" if interaction else ""
                    )
                    failure = check.failure_info.failure
                    self.failures.append(f"{recorder.label}: {check.name}: {failure.title}{request}")


@pytest.fixture(scope="module")
def fuzzed_app(
    api_app: FastAPI, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """The API with a real Dagster webserver for run and backfill look-ups. No MES or ERP is configured,
    so their launches stop at 409 before Dagster; a historian backfill is only requested (no daemon
    runs it)."""
    folder = tmp_path_factory.mktemp("fuzz-dagster")
    env = {"OEE_DATABASE_URL": database_url, "OEE_DATA_DIR": str(folder / "data")}
    with dagster_webserver(folder / "dagster_home", env) as graphql_url:
        original = api_app.state.dagster_runs
        api_app.state.dagster_runs = DagsterRuns(graphql_url=graphql_url)
        yield api_app
        api_app.state.dagster_runs = original


def fuzz(app: FastAPI, api_key: str, *, coverage: bool) -> tuple[CountingApp, FuzzReport, set[str]]:
    """One Schemathesis run with one key: the counted app, what the checks found, the operations."""
    counted = CountingApp(app)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", counted, config=fuzz_config(api_key, coverage=coverage)
    )
    operations = {result.ok().label for result in schema.get_all_operations()}
    report = FuzzReport()
    for event in schemathesis.engine.from_schema(schema).execute():
        report.record(event)
    return counted, report, operations


def test_every_operation_answers_as_declared_and_never_5xx(
    fuzzed_app: FastAPI, api_keys: dict[str, str], record_property: Callable[[str, object], None]
) -> None:
    # One test for both organizations: the warehouse and the webserver start once per run.
    for org in ("acme", "globex"):
        app, report, operations = fuzz(fuzzed_app, api_keys[org], coverage=org == "acme")
        server_errors = sum(count for status, count in app.statuses.items() if status >= 500)
        # Printed at the end of the run by the root conftest's terminal summary (also under xdist).
        record_property(
            "summary",
            f"schemathesis ({org}): {app.requests} requests over {len(operations)} operations, "
            f"{server_errors} answered 5xx; by status: {dict(sorted(app.statuses.items()))}",
        )
        assert server_errors == 0, (org, app.server_errors[:20])
        assert not report.errors, (org, report.errors)
        assert not report.failures, f"{org}:\n" + "\n".join(sorted(set(report.failures)))
        assert operations <= report.operations_called, (org, sorted(operations - report.operations_called))
        assert app.requests >= 10 * len(operations), org
