"""One error shape for every 4xx/5xx: a `detail` line naming the parameter, `parameter`, and `errors`."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger(__name__)


class ParameterError(BaseModel):
    parameter: str | None
    message: str


class ErrorBody(BaseModel):
    detail: str
    parameter: str | None = None
    errors: list[ParameterError] = []


class ApiError(Exception):
    """A request the API refuses, naming the parameter at fault."""

    def __init__(
        self, status_code: int, parameter: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.parameter = parameter
        self.message = message
        self.headers = headers or {}  # sent with the answer, e.g. `Retry-After` on a 429


def error_response(
    status_code: int, errors: list[ParameterError], headers: dict | None = None
) -> JSONResponse:
    first = errors[0]
    detail = f"{first.parameter}: {first.message}" if first.parameter else first.message
    body = ErrorBody(detail=detail, parameter=first.parameter, errors=errors)
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def _parameter_name(location: tuple) -> str:
    # ("query", "limit") -> "limit"; ("body", "machine_ids", 0) -> "machine_ids[0]"
    parts = list(location[1:]) or list(location)
    name = str(parts[0])
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
    return error_response(
        exc.status_code,
        [ParameterError(parameter=exc.parameter, message=exc.message)],
        {**headers, **exc.headers} or None,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        ParameterError(parameter=_parameter_name(tuple(error.get("loc", ()))), message=str(error.get("msg")))
        for error in exc.errors()
    ]
    return error_response(422, errors or [ParameterError(parameter=None, message="invalid request")])


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, [ParameterError(parameter=None, message=str(exc.detail))], headers)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path answers (RFC 9110 `Allow`): Starlette names only those of the first route
    matching the path, and GET and PUT of one path are two routes here."""
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("warehouse unavailable: %s", exc)
    return error_response(
        503, [ParameterError(parameter=None, message="the warehouse is unavailable; retry later")]
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)


COMMON_ERROR_RESPONSES: dict[int | str, dict] = {
    400: {"model": ErrorBody, "description": "The request cannot be served in this format"},
    401: {"model": ErrorBody, "description": "Missing, unknown, revoked or expired API key"},
    404: {"model": ErrorBody, "description": "An id that does not exist in your organization"},
    422: {"model": ErrorBody, "description": "A parameter is invalid; `parameter` names it"},
    429: {"model": ErrorBody, "description": "The key's rate limit is used; wait `Retry-After` seconds"},
    503: {"model": ErrorBody, "description": "The warehouse is unavailable; retry later"},
}
