"""Turn source records into warehouse rows, rejecting malformed records one by one.

Every MES/ERP connector returns a `FetchResult`: the good records as a frame with the warehouse
table's columns, and a `RejectedRecord` (entity, key, field, reason) per record that could not be
used. One bad record never hides the good records of the same call.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from oee_pipelines.connectors.errors import SourceSystemError

WORK_ORDER_STATUSES = ("planned", "released", "in_progress", "completed", "cancelled")
_ODATA_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class InvalidField(ValueError):
    """One field of one record is missing or cannot be read."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field_name = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


@dataclass(frozen=True)
class RejectedRecord:
    entity: str
    key: str
    field: str
    reason: str


@dataclass
class FetchResult:
    frame: pd.DataFrame
    rejected: list[RejectedRecord] = field(default_factory=list)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True


@dataclass(frozen=True)
class RowContext:
    """What a record needs besides itself to become a warehouse row."""

    org_id: str
    id_prefix: str
    source_system: str


@dataclass(frozen=True)
class Entity:
    """How records of one kind are read (`fields`), checked and turned into warehouse rows."""

    name: str
    key_field: str
    fields: Sequence[FieldSpec]
    columns: Sequence[str]
    to_row: Callable[[dict[str, Any], RowContext], dict[str, Any]]
    dtypes: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None


def parse_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected text, got {value!r}")
    return value.strip()


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def parse_non_negative(value: Any) -> float:
    number = parse_decimal(value)
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return float(number)


def parse_positive(value: Any) -> float:
    number = parse_decimal(value)
    if number <= 0:
        raise ValueError(f"must be positive, got {value!r}")
    return float(number)


def parse_count(value: Any) -> int:
    """A whole, non-negative quantity; sources often send `"120.000"` (SAP) or `"120"` (EBS)."""
    number = parse_decimal(value)
    if number < 0 or number != number.to_integral_value():
        raise ValueError(f"expected a whole non-negative number, got {value!r}")
    return int(number)


def parse_timestamp(value: Any) -> pd.Timestamp:
    """ISO 8601 text, a datetime (zeep), or OData v2 `/Date(ms)/`; naive times are read as UTC."""
    if isinstance(value, str) and (match := _ODATA_DATE.match(value.strip())):
        return pd.Timestamp(int(match.group(1)), unit="ms", tz="UTC")
    if not isinstance(value, (str, datetime)) or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"expected a timestamp, got {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(f"expected a timestamp, got {value!r}") from None
    if pd.isna(stamp):
        raise ValueError(f"expected a timestamp, got {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_timestamp(value).date()


def parse_status(value: Any) -> str:
    status = parse_text(value).lower()
    if status not in WORK_ORDER_STATUSES:
        raise ValueError(f"expected one of {', '.join(WORK_ORDER_STATUSES)}, got {value!r}")
    return status


def parse_json_object(value: Any) -> str:
    """Recipe parameters: a mapping or JSON text of one, stored as JSON text."""
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, Mapping):
        raise ValueError(f"expected a JSON object, got {value!r}")
    return json.dumps(dict(parsed), sort_keys=True)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_record(record: Mapping[str, Any], entity: Entity) -> dict[str, Any]:
    """Parse every field of one record, or raise `InvalidField` naming the first bad one."""
    parsed: dict[str, Any] = {}
    for spec in entity.fields:
        value = record.get(spec.name)
        if _is_missing(value):
            if spec.required:
                raise InvalidField(spec.name, "missing")
            parsed[spec.name] = None
            continue
        try:
            parsed[spec.name] = spec.parse(value)
        except (ValueError, TypeError) as exc:
            raise InvalidField(spec.name, str(exc)) from None
    if entity.check is not None:
        entity.check(parsed)
    return parsed


def build_result(
    records: Iterable[Mapping[str, Any] | RejectedRecord], entity: Entity, context: RowContext
) -> FetchResult:
    """Parse records into the entity's warehouse frame; malformed ones go to `rejected`.

    A `RejectedRecord` among the records (one the source did not have) is kept in its place.
    """
    rows: list[dict[str, Any]] = []
    rejected: list[RejectedRecord] = []
    for record in records:
        if isinstance(record, RejectedRecord):
            rejected.append(record)
            continue
        try:
            rows.append(entity.to_row(parse_record(record, entity), context))
        except InvalidField as exc:
            key = record.get(entity.key_field)
            rejected.append(RejectedRecord(entity.name, str(key), exc.field_name, exc.reason))
    frame = pd.DataFrame(rows, columns=list(entity.columns))
    return FetchResult(frame.astype(dict(entity.dtypes)) if entity.dtypes else frame, rejected)


def merge_results(results: Iterable[FetchResult], columns: Sequence[str]) -> FetchResult:
    """Several fetches of one entity as one result (frames stacked, rejections kept)."""
    results = list(results)
    frames = [r.frame for r in results if not r.frame.empty]
    if not frames:
        empty = results[0].frame.iloc[0:0] if results else pd.DataFrame(columns=list(columns))
        return FetchResult(empty, [r for result in results for r in result.rejected])
    return FetchResult(
        pd.concat(frames, ignore_index=True), [r for result in results for r in result.rejected]
    )


def is_not_found(error: SourceSystemError) -> bool:
    """The source answered that it has no such record (HTTP 404, or a `NOT_FOUND` SOAP fault)."""
    return error.status_code == 404 or "NOT_FOUND" in str(getattr(error, "fault_code", ""))


def fetch_each(
    fetch_one: Callable[[str], FetchResult],
    keys: Sequence[str],
    *,
    entity: str,
    key_field: str,
    columns: Sequence[str],
    parallel: int,
) -> FetchResult:
    """Fetch records one by one, `parallel` at a time; a record the source does not have is rejected.

    Any other failure (the source down after retries, refused credentials) propagates: the sync fails.
    """

    def fetch(key: str) -> FetchResult:
        try:
            return fetch_one(key)
        except SourceSystemError as error:
            if not is_not_found(error):
                raise
            return FetchResult(pd.DataFrame(), [RejectedRecord(entity, key, key_field, error.reason)])

    if not keys:
        return FetchResult(pd.DataFrame(columns=list(columns)))
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        results = list(pool.map(fetch, keys))
    return merge_results(results, columns)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while many small records are built.

    Decoding and mapping 100,000 records allocates millions of containers, and each allocation
    threshold crossed makes the collector walk all of them again, for nothing: none is garbage yet.
    Reference counting still frees everything as usual; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rename_fields(record: Mapping[str, Any], field_mappings: Mapping[str, str]) -> dict[str, Any]:
    """Source names -> our names, given `field_mappings` as our name -> source name."""
    source_to_ours = {source: ours for ours, source in field_mappings.items()}
    return {source_to_ours.get(name, name): value for name, value in record.items()}


def check_planned_window(parsed: dict[str, Any]) -> None:
    if parsed["planned_end"] <= parsed["planned_start"]:
        raise InvalidField("planned_end", "must be after planned_start")


@dataclass(frozen=True)
class OrderStatus:
    """A work order's status and confirmed quantity, as pushed to (or read from) a source system."""

    status: str
    actual_quantity: int | None


def status_push_needed(current: OrderStatus, wanted: OrderStatus) -> bool:
    """Push back only what the source does not already hold, so repeated syncs send nothing new.

    Raises ValueError for a status outside the warehouse's vocabulary or a negative quantity.
    """
    parse_status(wanted.status)
    if wanted.actual_quantity is not None and wanted.actual_quantity < 0:
        raise ValueError(f"actual_quantity must not be negative, got {wanted.actual_quantity}")
    return current != wanted


def push_order_status(
    work_order_number: str,
    wanted: OrderStatus,
    read_current: Callable[[str], OrderStatus],
    send: Callable[[str, OrderStatus], None],
) -> bool:
    """Read what the source holds, send `wanted` only if it differs; True when something was sent."""
    if not status_push_needed(read_current(work_order_number), wanted):
        return False
    send(work_order_number, wanted)
    return True
