"""The plant model over HTTP: `GET /api/plant/model` (any key of the organization) returns the current
model as YAML (or JSON with `Accept: application/json`); `PUT /api/plant/model` (an admin-scoped key)
applies a model sent as YAML or JSON, in one transaction. An invalid model is refused with 422 and
every error with its path in the file; nothing is changed. A key applies only its own organization.

Reference-data templates: `GET /api/plant/templates/{type}?format=csv|xlsx` downloads one;
`POST /api/plant/templates/{type}` (admin key, multipart `file`) imports one all or nothing: 200 with
the apply report, or 422 naming every bad row and changing nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi import Path as PathParameter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_admin_key, require_api_key
from oee_pipelines.api.errors import (
    COMMON_ERROR_RESPONSES,
    ApiError,
    ErrorBody,
    ParameterError,
    error_response,
)
from oee_pipelines.domain.plant_model import PlantModelError, parse_plant_model
from oee_pipelines.services.plant import PlantModelService
from oee_pipelines.services.plant.templates import (
    TEMPLATE_KIND_NAMES,
    TEMPLATE_KINDS,
    ReferenceImporter,
    build_template_xlsx,
    template_csv,
)

MAX_MODEL_BYTES = 20 * 1024 * 1024
YAML_MEDIA_TYPE = "application/yaml"

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(prefix="/api/plant", tags=["Plant model"], responses=COMMON_ERROR_RESPONSES)

MODEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The plant model: YAML, or JSON when `Accept` asks for application/json",
        "content": {
            YAML_MEDIA_TYPE: {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
TEMPLATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The template (CSV or XLSX, as asked)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": f"The body is larger than {MAX_MODEL_BYTES:,} bytes"}
}
# A refused template is its import report with `detail` and `parameter` added; a refused request is
# an `ErrorBody`. Both carry `detail` and `parameter`.
TEMPLATE_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Nothing imported: `errors` names every bad row and column, or the parameter at fault",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {
                        "detail": {"type": "string"},
                        "parameter": {"type": ["string", "null"]},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}
# The path parameter is checked by `_template_kind` (404 naming the kinds); the schema lists them.
TemplateKindPath = PathParameter(
    description="the reference-data template",
    max_length=40,
    pattern=r"^[a-z_]+$",
    json_schema_extra={"enum": list(TEMPLATE_KIND_NAMES)},
)


def _invalid(error: PlantModelError) -> JSONResponse:
    return error_response(
        422, [ParameterError(parameter=issue.path or "body", message=issue.message) for issue in error.issues]
    )


@router.get(
    "/model",
    summary="The organization's current plant model (YAML, or JSON on request)",
    response_class=Response,
    responses=MODEL_RESPONSES,
)
async def get_model(
    request: Request,
    identity: ApiIdentity = Depends(require_api_key),
    services: ApiServices = Depends(get_services),
) -> Response:
    service = PlantModelService(services.database_url)
    try:
        model = await run_in_threadpool(service.export, identity.org_id)
    except PlantModelError as exc:
        raise ApiError(404, None, str(exc)) from None
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(model.to_document())
    return Response(model.to_yaml(), media_type=YAML_MEDIA_TYPE)


@router.put(
    "/model",
    summary="Apply a plant model (YAML or JSON body) in one transaction; admin-scoped key",
    responses=TOO_LARGE,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {YAML_MEDIA_TYPE: {"schema": {"type": "string"}}, "application/json": {"schema": {}}},
        }
    },
)
async def put_model(
    request: Request,
    dry_run: bool = False,
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
) -> Response:
    body = await request.body()
    if len(body) > MAX_MODEL_BYTES:
        raise ApiError(413, "body", f"the plant model is larger than {MAX_MODEL_BYTES} bytes")
    if not body.strip():
        raise ApiError(422, "body", "empty body: send the plant model as YAML or JSON")
    try:
        model = parse_plant_model(body)  # JSON is YAML
    except PlantModelError as exc:
        return _invalid(exc)
    if model.organization.id != identity.org_id:
        raise ApiError(
            403,
            "organization.id",
            f"this API key belongs to organization {identity.org_id!r}, "
            f"the model to {model.organization.id!r}",
        )
    service = PlantModelService(services.database_url)
    try:
        report: Any = await run_in_threadpool(service.apply, model, dry_run=dry_run)
    except PlantModelError as exc:
        return _invalid(exc)
    return JSONResponse(report.as_dict())


def _template_kind(kind: str) -> str:
    if kind not in TEMPLATE_KINDS:
        raise ApiError(
            404, "type", f"unknown reference template {kind!r} (one of {', '.join(TEMPLATE_KINDS)})"
        )
    return kind


@router.get(
    "/templates/{kind}",
    summary="Download a reference-data template (CSV or XLSX)",
    response_class=Response,
    responses=TEMPLATE_RESPONSES,
)
def download_template(
    kind: str = TemplateKindPath,
    format: Literal["csv", "xlsx"] = "csv",
    identity: ApiIdentity = Depends(require_api_key),
) -> Response:
    name = _template_kind(kind)
    if format == "csv":
        return Response(
            template_csv(name),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}_template.csv"'},
        )
    folder = Path(tempfile.mkdtemp(prefix="oee-template-"))
    path = build_template_xlsx(name, folder / f"{name}_template.xlsx")
    return FileResponse(
        path,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.post(
    "/templates/{kind}",
    summary="Import a reference-data template, all or nothing; admin-scoped key",
    responses={**TOO_LARGE, **TEMPLATE_REFUSED},
)
async def upload_template(
    kind: str = TemplateKindPath,
    file: UploadFile = File(..., description="the filled-in CSV or XLSX template"),
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
) -> JSONResponse:
    name = _template_kind(kind)
    data = await file.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise ApiError(413, "file", f"the template is larger than {MAX_MODEL_BYTES} bytes")
    importer = ReferenceImporter(services.database_url)
    outcome = await run_in_threadpool(
        importer.import_file, data, name, org_id=identity.org_id, file_name=file.filename or f"{name}.csv"
    )
    report = outcome.as_dict()
    if outcome.landed:
        return JSONResponse(report)
    first = outcome.errors[0] if outcome.errors else None
    where = f"row {first['row']}, {first['column']}: " if first and first["row"] is not None else ""
    reason = first["reason"] if first else "refused"
    count = len(outcome.errors)
    detail = f"{report['file_name']}: nothing imported, {count} error(s); first: {where}{reason}"
    return JSONResponse({"detail": detail, "parameter": "file", **report}, status_code=422)
