"""The `/odata/` routes: service document, `$metadata`, entity set collections with paging, and `/$count`.

Same API keys and tenancy as the REST exports (`require_api_key`); errors use the OData JSON error
shape, including the 401 of a missing key.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import psycopg
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_api_key
from oee_pipelines.api.errors import ApiError
from oee_pipelines.api.odata.csdl import metadata_document, service_document
from oee_pipelines.api.odata.errors import ODATA_VERSION_HEADERS, ODataError, odata_error_response
from oee_pipelines.api.odata.model import ENTITY_SETS, EntitySet
from oee_pipelines.api.odata.options import CollectionQuery, page_size, parse_collection_query

JSON_MEDIA_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"
XML_MEDIA_TYPE = "application/xml"

ODATA_ERROR_CODES = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}


class ODataRoute(APIRoute):
    """Answers every refusal, including the key check done by the dependency, as an OData error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def odata_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ODataError as error:
                return odata_error_response(error)
            except ApiError as error:
                code = ODATA_ERROR_CODES.get(error.status_code, "BadRequest")
                headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else {}
                return odata_error_response(
                    ODataError(error.status_code, code, error.message, error.parameter),
                    {**headers, **error.headers},
                )
            except RequestValidationError as error:
                first = error.errors()[0] if error.errors() else {}
                location = [str(part) for part in first.get("loc", ())[1:]]
                message = str(first.get("msg", "invalid request"))
                target = ".".join(location) or None
                return odata_error_response(ODataError(422, "BadRequest", message, target))
            except psycopg.DataError as error:
                reason = error.diag.message_primary or str(error).strip() or type(error).__name__
                message = f"a value in the request is out of range for the warehouse: {reason}"
                return odata_error_response(ODataError(400, "InvalidValue", message, "$filter"))

        return odata_handler


ODATA_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "target": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def _odata_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "An invalid $filter, $select, $orderby, $top or $skip (`target` names it)",
        401: "Missing, unknown, revoked or expired API key",
        404: "No such entity set",
        422: "A parameter is invalid, e.g. holds a control character (`target` names it)",
        429: "The key's rate limit is used; wait `Retry-After` seconds",
        503: "The warehouse is unavailable; retry later",
    }
    return {
        status: {
            "description": descriptions[status],
            "content": {"application/json": {"schema": ODATA_ERROR}},
        }
        for status in statuses
    }


FEED_ERRORS = _odata_errors(400, 401, 404, 422, 429, 503)
# The entity set segment: checked by `_entity_set` (404 naming the sets); the schema lists them.
EntitySetPath = Path(
    max_length=64, pattern=r"^[A-Za-z0-9_()',\-]+$", json_schema_extra={"enum": list(ENTITY_SETS)}
)

router = APIRouter(prefix="/odata", tags=["OData v4 feed"], route_class=ODataRoute)


def service_root(request: Request) -> str:
    return str(request.url_for("odata_service_document"))


def _json(payload: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"cannot serialize {type(value).__name__}")

    body = orjson.dumps(payload, default=default, option=orjson.OPT_UTC_Z)
    return Response(
        body, status_code, media_type=JSON_MEDIA_TYPE, headers={**ODATA_VERSION_HEADERS, **(headers or {})}
    )


@router.get(
    "/",
    name="odata_service_document",
    summary="Service document: the entity sets",
    responses=_odata_errors(401, 422, 429, 503),
)
def get_service_document(request: Request, identity: ApiIdentity = Depends(require_api_key)) -> Response:
    return _json(service_document(service_root(request)))


@router.get(
    "/$metadata",
    summary="CSDL XML: entity types, keys and Edm types (no key needed)",
    response_class=Response,
    responses={
        200: {
            "description": "The CSDL document",
            "content": {XML_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **_odata_errors(422),
    },
)
def get_metadata() -> Response:
    # The schema is the same for every organization and holds no rows. Clients fetch it from the
    # service root without the query string, so a key given as `?api_key=` on a feed URL never reaches it.
    return Response(metadata_document(), media_type=XML_MEDIA_TYPE, headers=ODATA_VERSION_HEADERS)


def _entity_set(name: str) -> EntitySet:
    entity_set = ENTITY_SETS.get(name)
    if entity_set is None:
        hint = " (single entities are not addressed by key: use $filter)" if "(" in name else ""
        raise ODataError(
            404, "NotFound", f"no entity set {name!r}{hint}; entity sets: {', '.join(ENTITY_SETS)}", name
        )
    return entity_set


def _query_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


def _next_link(request: Request, query: CollectionQuery, served: int) -> str:
    # Every parameter the client sent (api_key included) is kept; only the window moves on.
    params = [
        (name, value) for name, value in request.query_params.multi_items() if name not in ("$top", "$skip")
    ]
    if query.top is not None:
        params.append(("$top", str(query.top - served)))
    params.append(("$skip", str(query.skip + served)))
    return str(request.url.replace(query=urlencode(params, quote_via=quote, safe="$'(),:")))


def _context(request: Request, query: CollectionQuery) -> str:
    selected = "(" + ",".join(prop.name for prop in query.select) + ")" if query.explicit_select else ""
    return f"{service_root(request)}$metadata#{query.entity_set.name}{selected}"


@router.get(
    "/{entity_set_name}",
    summary="An entity set: $filter, $select, $orderby, $top, $skip, $count",
    responses=FEED_ERRORS,
)
def get_collection(
    request: Request,
    entity_set_name: str = EntitySetPath,
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
) -> Response:
    query = parse_collection_query(_entity_set(entity_set_name), _query_params(request))
    size = page_size(request.headers.get("prefer"))
    wanted = size if query.top is None else min(query.top, size)
    more_possible = query.top is None or query.top > wanted
    params = {**query.params, "org_id": identity.org_id}
    with services.pool.connection() as conn:
        cursor = conn.execute(query.page_statement(wanted + 1 if more_possible else wanted), params)
        names = [column.name for column in cursor.description or ()]
        rows = cursor.fetchall()
        total = conn.execute(query.count_statement(), params).fetchone() if query.count else None
    payload: dict[str, Any] = {"@odata.context": _context(request, query)}
    if total is not None:
        payload["@odata.count"] = int(total[0])
    payload["value"] = [dict(zip(names, row, strict=True)) for row in rows[:wanted]]
    if len(rows) > wanted:
        payload["@odata.nextLink"] = _next_link(request, query, wanted)
    headers = (
        {"Preference-Applied": f"odata.maxpagesize={size}"}
        if "maxpagesize" in (request.headers.get("prefer") or "")
        else None
    )
    return _json(payload, headers=headers)


@router.get(
    "/{entity_set_name}/$count",
    summary="The number of rows matching $filter, as text",
    response_class=Response,
    responses={
        200: {"description": "The count", "content": {"text/plain": {"schema": {"type": "string"}}}},
        **FEED_ERRORS,
    },
)
def get_count(
    request: Request,
    entity_set_name: str = EntitySetPath,
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
) -> Response:
    query = parse_collection_query(_entity_set(entity_set_name), _query_params(request))
    with services.pool.connection() as conn:
        row = conn.execute(query.count_statement(), {**query.params, "org_id": identity.org_id}).fetchone()
    return Response(str(int(row[0]) if row else 0), media_type="text/plain", headers=ODATA_VERSION_HEADERS)
