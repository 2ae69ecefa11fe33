"""Import endpoints: download a template, upload a CSV or Excel file to import.

Uploads are multipart (`file` part). The body is parsed as it streams in and the file part is written
to a unique temporary file, counting bytes: past the size limit (`OEE_IMPORT_MAX_UPLOAD_BYTES`, default
100 MiB) the server answers 413 and stops reading, so an oversized upload is never held or stored whole.
The file then goes through the one landing path (`FileImporter`) for the caller's organization.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from python_multipart.multipart import MultipartParser, parse_options_header

from oee_pipelines.api.auth import ApiIdentity
from oee_pipelines.api.deps import ApiServices, get_services, require_admin_key, require_api_key
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, ApiError, ErrorBody
from oee_pipelines.connectors.files import safe_file_name, template_path
from oee_pipelines.connectors.files.reader import CSV_SUFFIXES, XLSX_SUFFIXES
from oee_pipelines.services.imports import FileImporter, ImportOutcome
from oee_pipelines.settings import ConfigError
from oee_pipelines.storage.lake import Lake

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# Room for the multipart framing and small form fields around the file part.
FRAMING_ALLOWANCE_BYTES = 64 * 1024
FILE_PART = "file"
TEMPLATE_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

router = APIRouter(prefix="/api/import", tags=["Imports"], responses=COMMON_ERROR_RESPONSES)

BINARY = {"schema": {"type": "string", "format": "binary"}}
TEMPLATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The template file (CSV or XLSX, as asked)",
        "content": {media_type: BINARY for media_type in TEMPLATE_MEDIA_TYPES.values()},
    }
}
# The body is read as it streams (below), so FastAPI cannot describe it: this is what a client sends.
UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {FILE_PART: {"type": "string", "format": "binary"}},
                    "required": [FILE_PART],
                },
                "encoding": {FILE_PART: {"contentType": "application/octet-stream"}},
            }
        },
    }
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Imported: the import report (rows landed, quarantined, job id)"},
    400: {"description": "Nothing imported: the file, or a row in it, is invalid (every error listed)"},
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
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    limits: UploadSettings = Depends(get_upload_settings),
) -> JSONResponse:
    return await _import_upload(
        request, type, quarantine_invalid, identity, services, limits, CSV_SUFFIXES, encoding
    )


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
    identity: ApiIdentity = Depends(require_admin_key),
    services: ApiServices = Depends(get_services),
    limits: UploadSettings = Depends(get_upload_settings),
) -> JSONResponse:
    return await _import_upload(
        request, type, quarantine_invalid, identity, services, limits, XLSX_SUFFIXES, None
    )


async def _import_upload(
    request: Request,
    kind: ImportType,
    quarantine_invalid: bool,
    identity: ApiIdentity,
    services: ApiServices,
    limits: UploadSettings,
    suffixes: tuple[str, ...],
    encoding: str | None,
) -> JSONResponse:
    upload = await receive_upload(request, limits)
    try:
        if Path(upload.file_name).suffix.lower() not in suffixes:
            raise ApiError(400, FILE_PART, f"{upload.file_name}: expected a {' / '.join(suffixes)} file")
        importer = FileImporter(services.database_url, Lake(services.lake_root))
        outcome = await run_in_threadpool(
            importer.import_file,
            upload.path,
            kind.value,
            org_id=identity.org_id,
            submitted_by=f"api key {identity.key_id} ({identity.name})",
            file_name=upload.file_name,
            quarantine_invalid=quarantine_invalid,
            encoding=encoding,
        )
    finally:
        upload.path.unlink(missing_ok=True)
    return _outcome_response(outcome)


def _outcome_response(outcome: ImportOutcome) -> JSONResponse:
    body: dict[str, Any] = outcome.as_dict()
    if outcome.landed:
        return JSONResponse(body)
    if outcome.duplicate_of_job is not None:
        return JSONResponse({"detail": outcome.errors[0]["reason"], "parameter": FILE_PART, **body}, 409)
    first = outcome.errors[0]
    where = f"row {first['row']}, {first['column']}: " if first["row"] is not None else ""
    count = outcome.total_errors
    detail = (
        f"{outcome.file_name}: nothing imported, {count} error(s) in {outcome.total_bad_rows} row(s); "
        f"first: {where}{first['reason']}"
    )
    return JSONResponse({"detail": detail, "parameter": FILE_PART, **body}, 400)


# --- streaming multipart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    path: Path
    file_name: str
    size: int


class _FilePartWriter:
    """Callbacks for python-multipart: write the `file` part to an open temp file, counting its bytes."""

    def __init__(self, target: IO[bytes], max_bytes: int) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.size = 0
        self.file_name: str | None = None
        self._in_file_part = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict[str, Any]:
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
        is_file = options.get(b"name") == FILE_PART.encode() and b"filename" in options
        self._in_file_part = is_file and self.file_name is None
        if self._in_file_part:
            self.file_name = options[b"filename"].decode("utf-8", errors="replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file_part:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise ApiError(413, FILE_PART, f"the file is larger than the limit of {self.max_bytes:,} bytes")
        self.target.write(data[start:end])

    def _part_end(self) -> None:
        self._in_file_part = False


async def receive_upload(request: Request, limits: UploadSettings) -> Upload:
    """The `file` part of a multipart upload, in a new temporary file (the caller deletes it)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise ApiError(400, FILE_PART, "send the file as multipart/form-data in a part named 'file'")
    body_limit = limits.max_bytes + FRAMING_ALLOWANCE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:
        raise ApiError(413, FILE_PART, f"the upload is larger than the limit of {limits.max_bytes:,} bytes")
    handle, name = tempfile.mkstemp(prefix="oee-upload-", suffix=".part", dir=limits.scratch_dir)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as target:
            writer = _FilePartWriter(target, limits.max_bytes)
            await _parse(request, MultipartParser(options[b"boundary"], writer.callbacks()), body_limit)
        return Upload(path, _checked_name(writer.file_name), writer.size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


async def _parse(request: Request, parser: MultipartParser, body_limit: int) -> None:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > body_limit:
            raise ApiError(413, FILE_PART, f"the upload is larger than the limit of {body_limit:,} bytes")
        parser.write(chunk)
    parser.finalize()


def _checked_name(file_name: str | None) -> str:
    if file_name is None:
        raise ApiError(400, FILE_PART, "no file: send it in a multipart part named 'file' with a filename")
    try:
        return safe_file_name(file_name)
    except ValueError:
        raise ApiError(400, FILE_PART, f"file name {file_name!r} has no usable name") from None
