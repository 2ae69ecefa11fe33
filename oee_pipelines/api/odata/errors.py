"""OData errors: `{"error": {"code", "message", "target"}}` with the HTTP status (OData v4 JSON format)."""

from __future__ import annotations

from fastapi.responses import JSONResponse

ODATA_VERSION_HEADERS = {"OData-Version": "4.0"}


class ODataError(Exception):
    """A request the feed refuses; `target` names the query option or segment at fault."""

    def __init__(self, status_code: int, code: str, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.target = target


def odata_error_response(error: ODataError, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, str] = {"code": error.code, "message": error.message}
    if error.target:
        body["target"] = error.target
    return JSONResponse(
        {"error": body}, status_code=error.status_code, headers={**ODATA_VERSION_HEADERS, **(headers or {})}
    )
