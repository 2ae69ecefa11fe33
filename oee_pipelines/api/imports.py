"""Import endpoints: download a template, upload a CSV or Excel file to import (or only check it), and the
import wizard page `/import` that drives them.

Uploads are multipart (`file` part; `csv_file` on the seed's own `POST /api/import/csv/upload/`). The
body is parsed as it streams in and the file part is written to a unique temporary file, counting
bytes: past the size limit (`OEE_IMPORT_MAX_UPLOAD_BYTES`, default 100 MiB) the server answers 413 and
stops reading, so an oversized upload is never held or stored whole. The file then goes through the one
landing path (`FileImporter`) for the caller's organization, or, with `dry_run=true`, through the
import's checks only (`FileImporter.import_file(dry_run=True)`), which write nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_admin_key, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError, ErrorBody
from oee_pipelines.connectors.files import safe_file_name, template_path
from oee_pipelines.connectors.files.reader import CSV_SUFFIXES, XLSX_SUFFIXES
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.settings import ConfigError
from oee_pipelines.storage.lake import Lake

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# Room for the multipart framing and small form fields around the file part.
FRAMING_ALLOWANCE_BYTES = 64 * 1024
FILE_PART = "file"
SEED_FILE_PART = "csv_file"  # seed 002 §4.1: `request.FILES['csv_file']`
LANDED_STATUSES = ("SUCCESS", "PARTIAL")  # the import_jobs statuses of a file that landed
TEMPLATE_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

router = APIRouter(prefix="/api/import", tags=["Imports"], responses=COMMON_ERROR_RESPONSES)
# The wizard page and its files, from the package like `/oee/analytics` (no CDN); no key to load it.
page_router = APIRouter(tags=["Import wizard"], include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
PAGE_ASSETS = {"import.js": "text/javascript", "import.css": "text/css"}

BINARY = {"schema": {"type": "string", "format": "binary"}}
TEMPLATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The template file (CSV or XLSX, as asked)",
        "content": {media_type: BINARY for media_type in TEMPLATE_MEDIA_TYPES.values()},
    }
}


def upload_openapi(part: str) -> dict[str, Any]:
    """The body is read as it streams (below), so FastAPI cannot describe it: this is what a client sends."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {part: {"type": "string", "format": "binary"}},
                        "required": [part],
                    },
                    "encoding": {part: {"contentType": "application/octet-stream"}},
                }
            },
        }
    }


UPLOAD_OPENAPI = upload_openapi(FILE_PART)
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Imported: the import report (rows landed, quarantined, job id); with dry_run=true, "
        "the report the import would give (`dry_run` true, `job_id` null, nothing written)"
    },
    400: {"description": "Nothing imported (or, dry run, nothing would be): the file or a row is invalid"},
    409: {"description": "The same file was already imported (`duplicate_of_job`)"},
    413: {"model": ErrorBody, "description": "The file is larger than OEE_IMPORT_MAX_UPLOAD_BYTES"},
}


class ImportType(StrEnum):
    sensor_log = "sensor_log"
    machine_state_log = "machine_state_log"
    production_count = "production_count"
    downtime = "downtime"
    schedule = "schedule"


class TemplateFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


# An encoding label such as cp1250, utf-8, iso-8859-2 or shift_jis.
ENCODING_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
TYPE_HELP = "sensor_log, machine_state_log, production_count, downtime or schedule"
DRY_RUN_HELP = (
    "check the file only: the same report, nothing written (no import job, no rows); the import wizard's "
    "first step"
)


@dataclass(frozen=True)
class UploadSettings:
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    scratch_dir: str | None = None  # None: the system temp dir

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UploadSettings:
        env = os.environ if environ is None else environ
        text = env.get("OEE_IMPORT_MAX_UPLOAD_BYTES", str(DEFAULT_MAX_UPLOAD_BYTES))
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(
                f"OEE_IMPORT_MAX_UPLOAD_BYTES: must be a whole number of at least 1, got {text!r}"
            )
        return cls(max_bytes=int(text), scratch_dir=env.get("OEE_API_SCRATCH_DIR") or None)


def get_upload_settings(request: Request) -> UploadSettings:
    """Read once, by `create_app`; tests override this dependency."""
    return request.app.state.import_upload_settings


@page_router.get("/import")
def import_wizard_page() -> FileResponse:
    """Pick the type, download the template, check a file (a dry run listing every bad row), import it."""
    return FileResponse(
        STATIC_DIR / "import.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
    )


@page_router.get("/import/assets/{name}")
def import_wizard_asset(name: str) -> Response:
    media_type = PAGE_ASSETS.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get(
    "/template/",
    summary="Download the import template for a type",
    response_class=FileResponse,
    responses=TEMPLATE_RESPONSES,
)
def download_template(
    type: ImportType = Query(..., description=TYPE_HELP),
    format: TemplateFormat | None = Query(
        None, description="csv or xlsx where the type has both (default: the type's usual one)"
    ),
    identity: ApiIdentity = Depends(require_api_key),
) -> FileResponse:
    try:
        path = template_path(type.value, format.value if format else None)
    except ValueError as error:
        raise ApiError(404, "format", str(error)) from None
    return FileResponse(path, media_type=TEMPLATE_MEDIA_TYPES[path.suffix], filename=path.name)


@router.post(
    "/csv/",
    summary="Import a CSV file (all or nothing unless quarantine_invalid)",
    openapi_extra=UPLOAD_OPENAPI,
    responses=UPLOAD_RESPONSES,
)
async def import_csv(
    request: Request,
    type: ImportType = Query(..., description=TYPE_HELP),
    quarantine_invalid: bool = Query(False, description="land the valid rows, keep the others aside"),
    encoding: str | None = Query(
        None,
        description="the file's text encoding, e.g. cp1250 (default: detected; refused when unsure)",
        pattern=ENCODING_PATTERN,
        max_length=40,
    ),
    dry_run: bool = Query(False, description=DRY_RUN_HELP),
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    limits: UploadSettings = Depends(get_upload_settings),
) -> JSONResponse:
    options = _Options(type, quarantine_invalid, encoding, dry_run)
    return await _import_upload(request, options, identity, services, limits, CSV_SUFFIXES)


@router.post(
    "/csv/upload/",
    summary="Import a CSV file, the seed's contract: part `csv_file` (type: sensor_log unless given)",
    openapi_extra=upload_openapi(SEED_FILE_PART),
    responses=UPLOAD_RESPONSES,
)
async def import_csv_seed_upload(
    request: Request,
    type: ImportType = Query(ImportType.sensor_log, description=TYPE_HELP),
    quarantine_invalid: bool = Query(False, description="land the valid rows, keep the others aside"),
    encoding: str | None = Query(
        None,
        description="the file's text encoding, e.g. cp1250 (default: detected; refused when unsure)",
        pattern=ENCODING_PATTERN,
        max_length=40,
    ),
    dry_run: bool = Query(False, description=DRY_RUN_HELP),
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    limits: UploadSettings = Depends(get_upload_settings),
) -> JSONResponse:
    """`POST /api/import/csv/` under the seed's path and part name (seed 002 §4.1), with the seed's
    `success` and `records_imported` beside the import report."""
    options = _Options(type, quarantine_invalid, encoding, dry_run)
    return await _import_upload(request, options, identity, services, limits, CSV_SUFFIXES, SEED_FILE_PART)


@router.post(
    "/excel/",
    summary="Import an Excel workbook (.xlsx; the first sheet)",
    openapi_extra=UPLOAD_OPENAPI,
    responses=UPLOAD_RESPONSES,
)
async def import_excel(
    request: Request,
    type: ImportType = Query(..., description=TYPE_HELP),
    quarantine_invalid: bool = Query(False, description="land the valid rows, keep the others aside"),
    dry_run: bool = Query(False, description=DRY_RUN_HELP),
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    limits: UploadSettings = Depends(get_upload_settings),
) -> JSONResponse:
    options = _Options(type, quarantine_invalid, None, dry_run)
    return await _import_upload(request, options, identity, services, limits, XLSX_SUFFIXES)


@dataclass(frozen=True)
class _Options:
    kind: ImportType
    quarantine_invalid: bool
    encoding: str | None
    dry_run: bool


async def _import_upload(
    request: Request,
    options: _Options,
    identity: ApiIdentity,
    services: ApiServices,
    limits: UploadSettings,
    suffixes: tuple[str, ...],
    part: str = FILE_PART,
) -> JSONResponse:
    upload = await receive_upload(request, limits, part)
    try:
        if Path(upload.file_name).suffix.lower() not in suffixes:
            raise ApiError(400, part, f"{upload.file_name}: expected a {' / '.join(suffixes)} file")
        importer = FileImporter(services.database_url, Lake(services.lake_root))
        outcome = await run_in_threadpool(
            importer.import_file,
            upload.path,
            options.kind.value,
            org_id=identity.org_id,
            submitted_by=f"api key {identity.key_id} ({identity.name})",
            file_name=upload.file_name,
            quarantine_invalid=options.quarantine_invalid,
            encoding=options.encoding,
            dry_run=options.dry_run,
        )
        body = outcome.as_dict()
    finally:
        upload.path.unlink(missing_ok=True)
    if part == SEED_FILE_PART:
        landed = body["status"] in LANDED_STATUSES
        body = {"success": landed, "records_imported": body["rows_imported"], **body}
    return _report_response(body, part)


def _report_response(body: dict[str, Any], part: str) -> JSONResponse:
    """200 when the file lands (or would), 409 when it was imported before, 400 otherwise."""
    if body["status"] in LANDED_STATUSES:
        return JSONResponse(body)
    first = body["errors"][0]
    if body["duplicate_of_job"] is not None:
        return JSONResponse({"detail": first["reason"], "parameter": part, **body}, 409)
    where = f"row {first['row']}, {first['column']}: " if first["row"] is not None else ""
    nothing = "nothing would be imported" if body.get("dry_run") else "nothing imported"
    counts = f"{body['total_errors']} error(s) in {body['total_bad_rows']} row(s)"
    detail = f"{body['file_name']}: {nothing}, {counts}; first: {where}{first['reason']}"
    return JSONResponse({"detail": detail, "parameter": part, **body}, 400)


# --- streaming multipart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    path: Path
    file_name: str
    size: int


class _FilePartWriter:
    """Callbacks for python-multipart: write the file part to an open temp file, counting its bytes."""

    def __init__(self, target: IO[bytes], max_bytes: int, part: str = FILE_PART) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.part = part
        self.size = 0
        self.file_name: str | None = None
        self._in_file_part = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        is_file = options.get(b"name") == self.part.encode() and b"filename" in options
        self._in_file_part = is_file and self.file_name is None
        if self._in_file_part:
            self.file_name = options[b"filename"].decode("utf-8", errors="replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file_part:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise ApiError(413, self.part, f"the file is larger than the limit of {self.max_bytes:,} bytes")
        self.target.write(data[start:end])

    def _part_end(self) -> None:
        self._in_file_part = False


async def receive_upload(request: Request, limits: UploadSettings, part: str = FILE_PART) -> Upload:
    """The file part (`part`) of a multipart upload, in a new temporary file (the caller deletes it)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise ApiError(400, part, f"send the file as multipart/form-data in a part named '{part}'")
    body_limit = limits.max_bytes + FRAMING_ALLOWANCE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:
        raise ApiError(413, part, f"the upload is larger than the limit of {limits.max_bytes:,} bytes")
    handle, name = tempfile.mkstemp(prefix="oee-upload-", suffix=".part", dir=limits.scratch_dir)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as target:
            writer = _FilePartWriter(target, limits.max_bytes, part)
            await _parse(request, MultipartParser(options[b"boundary"], writer.callbacks()), body_limit, part)
        return Upload(path, _checked_name(writer.file_name, part), writer.size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


async def _parse(request: Request, parser: MultipartParser, body_limit: int, part: str) -> None:
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise ApiError(413, part, f"the upload is larger than the limit of {body_limit:,} bytes")
            parser.write(chunk)
        parser.finalize()
    except ParseError as error:
        # e.g. a carriage return inside a part's header: the client's body is at fault, not the server.
        raise ApiError(400, part, f"the multipart body is malformed: {error}") from None


def _checked_name(file_name: str | None, part: str) -> str:
    if file_name is None:
        raise ApiError(400, part, f"no file: send it in a multipart part named '{part}' with a filename")
    try:
        return safe_file_name(file_name)
    except ValueError:
        raise ApiError(400, part, f"file name {file_name!r} has no usable name") from None
