"""A custom MES JSON REST API (OAuth2 client credentials, basic or API key) over `SourceData`.

Field names on the wire follow `field_names` (ours -> wire; by default the seed's
`OrderNumber`, `TargetQuantity`, `MaterialNumber`). Lists are paged with `offset`/`limit`, at
most `max_page_size` records per page. See `oee_pipelines.connectors.mes.rest` for the routes.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches
from oee_pipelines.simulator.servers.source_data import Record, SourceData, int_param, page_of, renamed

SEED_FIELD_NAMES = {
    "work_order_number": "OrderNumber",
    "planned_quantity": "TargetQuantity",
    "product_id": "MaterialNumber",
}
STATUSES = ("planned", "released", "in_progress", "completed", "cancelled")


@dataclass(frozen=True)
class MesRestCredentials:
    client_id: str = "oee-client"
    client_secret: str = "oee-secret"
    username: str = "mes-user"
    password: str = "mes-password"
    api_key: str = "mes-api-key"


class MesRestSimulator:
    """The app (`.app`, wrapped in fault injection) and the state a test looks at."""

    def __init__(
        self,
        source: SourceData,
        *,
        switches: FaultSwitches | None = None,
        credentials: MesRestCredentials | None = None,
        field_names: Mapping[str, str] = SEED_FIELD_NAMES,
        max_page_size: int = 100,
        token_lifetime_seconds: int = 3600,
    ) -> None:
        self.source = source
        self.switches = switches or FaultSwitches()
        self.credentials = credentials or MesRestCredentials()
        self.field_names = dict(field_names)
        self.max_page_size = max_page_size
        self.token_lifetime_seconds = token_lifetime_seconds
        self.token_requests = 0
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        routes = [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/api/v1/lines/{line_id}/schedules", self._guarded(self._schedules)),
            Route("/api/v1/work-orders/{number}", self._guarded(self._work_order)),
            Route("/api/v1/work-orders/{number}/status", self._guarded(self._update_status), methods=["PUT"]),
            Route("/api/v1/work-orders/{number}/consumption", self._guarded(self._consumption)),
            Route("/api/v1/recipes/{recipe_id}", self._guarded(self._recipe)),
            Route("/api/v1/operator-assignments", self._guarded(self._operator_assignments)),
        ]
        self.app = FaultInjectionMiddleware(Starlette(routes=routes), self.switches)

    def revoke_tokens(self) -> None:
        """Every issued token stops working (the identity provider rotated its keys)."""
        with self._lock:
            self._tokens.clear()

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            self.token_requests += 1
            known = (form.get("client_id"), form.get("client_secret")) == (
                self.credentials.client_id,
                self.credentials.client_secret,
            )
            if form.get("grant_type") != "client_credentials" or not known:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            token = secrets.token_urlsafe(16)
            self._tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_seconds}
        )

    def _guarded(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self._authorized(request):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await handler(request)

        return endpoint

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            with self._lock:
                return header.removeprefix("Bearer ") in self._tokens
        if header.startswith("Basic "):
            user_password = base64.b64decode(header.removeprefix("Basic ")).decode()
            return user_password == f"{self.credentials.username}:{self.credentials.password}"
        return request.headers.get("X-API-Key") == self.credentials.api_key

    def _wire(self, record: Record) -> Record:
        return renamed(record, self.field_names)

    def _page(self, request: Request, records: list[Record]) -> Response:
        limit = min(int_param(request, "limit", self.max_page_size), self.max_page_size)
        page, next_offset = page_of(records, int_param(request, "offset", 0), max(1, limit))
        return JSONResponse({"items": [self._wire(r) for r in page], "next_offset": next_offset})

    async def _schedules(self, request: Request) -> Response:
        window = _window(request)
        if window is None:
            return _bad_window()
        return self._page(request, self.source.schedules_of_line(request.path_params["line_id"], *window))

    async def _operator_assignments(self, request: Request) -> Response:
        window = _window(request)
        if window is None:
            return _bad_window()
        return self._page(request, self.source.operator_assignments_between(*window))

    async def _work_order(self, request: Request) -> Response:
        order = self.source.work_order(request.path_params["number"])
        if order is None:
            return _not_found(f"work order {request.path_params['number']}")
        return JSONResponse(self._wire(order))

    async def _update_status(self, request: Request) -> Response:
        body = await request.json()
        status = body.get(self.field_names.get("status", "status"))
        quantity = body.get(self.field_names.get("actual_quantity", "actual_quantity"))
        if status not in STATUSES or not (quantity is None or (isinstance(quantity, int) and quantity >= 0)):
            return JSONResponse({"error": f"invalid status update {body!r}"}, status_code=400)
        number = request.path_params["number"]
        if not self.source.apply_status_update(number, status, quantity):
            return _not_found(f"work order {number}")
        return JSONResponse(self._wire(self.source.work_order(number) or {}))

    async def _consumption(self, request: Request) -> Response:
        return self._page(request, self.source.consumption_of(request.path_params["number"]))

    async def _recipe(self, request: Request) -> Response:
        recipe = self.source.recipe(request.path_params["recipe_id"])
        if recipe is None:
            return _not_found(f"recipe {request.path_params['recipe_id']}")
        return JSONResponse(self._wire(recipe))


def _window(request: Request) -> tuple[datetime, datetime] | None:
    try:
        return (
            datetime.fromisoformat(request.query_params["start"]),
            datetime.fromisoformat(request.query_params["end"]),
        )
    except (KeyError, ValueError):
        return None


def _bad_window() -> Response:
    return JSONResponse({"error": "start and end must be ISO 8601 timestamps"}, status_code=400)


def _not_found(what: str) -> Response:
    return JSONResponse({"error": f"{what} not found"}, status_code=404)
