"""Reference-data templates: one CSV/XLSX sheet per plant table, for people who keep these lists in Excel.

Kinds: machines, shifts, products_cycle_times, reason_codes, sensor_ranges, tag_mappings (with the
state set of a state tag), state_sets, iot_sensors. A file is imported all or nothing:

1. its rows are read as text and checked cell by cell (required values, numbers, yes/no, a cycle
   time > 0, the same id twice in the file);
2. the rows become a fragment of the plant model, merged into the organization's current model
   (exported from the warehouse): a row whose id exists updates it, a new id is added (a machine on an
   unknown line, a shift of an unknown site, a cycle time of an unknown machine is refused);
3. the merged model is validated whole (overlapping shifts, a reason code a state names but nobody
   defines, a tag or a sensor on an unknown machine, ...), each problem reported on the row it came
   from;
4. when no row is bad, the merged model is applied in one transaction (`PlantModelService`).

Errors have the import engine's shape: `{row, column, value, reason}` (row 1 is the header; row None:
the whole file or the current model).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from oee_pipelines.connectors.files import UnreadableFileError, read_import_file
from oee_pipelines.domain.imports import TextSheet
from oee_pipelines.domain.imports.engine import normalized_header
from oee_pipelines.domain.plant_model import PlantModel, PlantModelError, parse_plant_model
from oee_pipelines.services.plant.service import ApplyReport, PlantModelService

Document = dict[str, Any]
Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | number | positive | whole | bool | weekdays
    required: bool = False
    note: str = ""
    example: str = ""


@dataclass(frozen=True)
class TemplateKind:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    merge: Callable[[Document, list[tuple[int, Row]], TemplateErrors], None]
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class TemplateErrors:
    """Errors by row, and where each row's data sits in the merged document (to report on the row)."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    origins: list[tuple[str, int, Row]] = field(default_factory=list)

    def add(self, row: int | None, column: str | None, value: object, reason: str) -> None:
        text = None if value is None or (isinstance(value, float) and value != value) else str(value)
        self.errors.append({"row": row, "column": column, "value": text, "reason": reason})

    def origin(self, path: str, row: int, values: Row) -> None:
        self.origins.append((path, row, values))

    def locate(self, path: str) -> tuple[int, Row] | None:
        best: tuple[str, int, Row] | None = None
        for prefix, row, values in self.origins:
            inside = path == prefix or path.startswith((prefix + ".", prefix + "["))
            if inside and (best is None or len(prefix) > len(best[0])):
                best = (prefix, row, values)
        return (best[1], best[2]) if best else None


@dataclass(frozen=True)
class TemplateOutcome:
    kind: str
    file_name: str
    status: str  # SUCCESS | REJECTED
    rows_read: int
    errors: list[dict[str, Any]]
    report: ApplyReport | None = None

    @property
    def landed(self) -> bool:
        return self.status == "SUCCESS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "file_name": self.file_name,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_read if self.landed else 0,
            "rows_rejected": 0 if self.landed else len({e["row"] for e in self.errors if e["row"]}),
            "errors": self.errors,
            "apply_report": self.report.as_dict() if self.report else None,
        }


# --- the merge of each kind (rows -> plant model document) -------------------------------------------


def _lines(document: Document) -> dict[str, tuple[int, int]]:
    return {
        line["id"]: (s, li)
        for s, site in enumerate(document.get("sites", []))
        for li, line in enumerate(site.get("lines", []))
    }


def _machines(document: Document) -> dict[str, tuple[int, int, int]]:
    return {
        machine["id"]: (s, li, m)
        for s, site in enumerate(document.get("sites", []))
        for li, line in enumerate(site.get("lines", []))
        for m, machine in enumerate(line.get("machines", []))
    }


def _machine_path(position: tuple[int, int, int]) -> str:
    s, li, m = position
    return f"sites[{s}].lines[{li}].machines[{m}]"


def _upsert(items: list[Document], key: str, value: Document) -> int:
    for index, item in enumerate(items):
        if item.get(key) == value[key]:
            items[index] = {**item, **value}
            return index
    items.append(value)
    return len(items) - 1


def _set(target: Document, row: Row, pairs: dict[str, str]) -> Document:
    """Copy the row's non-empty cells into model keys (`pairs`: template column -> model key)."""
    for column, key in pairs.items():
        if row.get(column) is not None:
            target[key] = row[column]
    return target


def merge_machines(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    for number, row in rows:
        lines, machines = _lines(document), _machines(document)
        if row["line_id"] not in lines:
            errors.add(number, "line_id", row["line_id"], f"unknown line {row['line_id']!r}")
            continue
        s, li = lines[row["line_id"]]
        machine: Document = {"id": row["machine_id"]}
        if row["machine_id"] in machines:  # known: updated, and moved when the line changed
            old_site, old_line, old_position = machines[row["machine_id"]]
            machine = document["sites"][old_site]["lines"][old_line]["machines"].pop(old_position)
        _set(machine, row, {"name": "name", "type": "type"})
        machine.setdefault("name", row["machine_id"])
        target = document["sites"][s]["lines"][li].setdefault("machines", [])
        target.append(machine)
        errors.origin(f"sites[{s}].lines[{li}].machines[{len(target) - 1}]", number, row)


def _breaks(text: str | None) -> list[Document] | None:
    """`Meal@240/30; Tea@120/15`: name@start offset/duration in minutes."""
    if text is None:
        return None
    breaks = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = re.fullmatch(r"(.+?)\s*@\s*(\d+)\s*/\s*(\d+)", part)
        if not match:
            raise ValueError(f"{part!r} is not name@offset/duration (e.g. Meal@240/30)")
        breaks.append(
            {
                "name": match.group(1),
                "start_offset_minutes": int(match.group(2)),
                "duration_minutes": int(match.group(3)),
            }
        )
    return breaks


def merge_shifts(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    sites = {site["id"]: s for s, site in enumerate(document.get("sites", []))}
    for number, row in rows:
        if row["site_id"] not in sites:
            errors.add(number, "site_id", row["site_id"], f"unknown site {row['site_id']!r}")
            continue
        try:
            breaks = _breaks(row.get("breaks"))
        except ValueError as exc:
            errors.add(number, "breaks", row.get("breaks"), str(exc))
            continue
        s = sites[row["site_id"]]
        shifts = document["sites"][s].setdefault("shifts", [])
        shift = _set(
            {"id": row["shift_id"]},
            row,
            {
                "name": "name",
                "start": "start",
                "end": "end",
                "weekdays": "weekdays",
                "effective_from": "effective_from",
                "effective_to": "effective_to",
            },
        )
        if breaks is not None:
            shift["breaks"] = breaks
        index = _upsert(shifts, "id", shift)
        errors.origin(f"sites[{s}].shifts[{index}]", number, row)


def merge_products(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    products = document.setdefault("products", [])
    for number, row in [(n, r) for n, r in rows if r.get("machine_id") is None]:
        product = _set({"id": row["product_id"]}, row, {"name": "name", "unit": "unit"})
        product.setdefault("name", row["product_id"])
        if row.get("ideal_cycle_time_seconds") is not None:
            product["ideal_cycle_time_seconds"] = row["ideal_cycle_time_seconds"]
        index = _upsert(products, "id", product)
        errors.origin(f"products[{index}]", number, row)
    known = {p["id"] for p in products}
    for number, row in [(n, r) for n, r in rows if r.get("machine_id") is not None]:
        machines = _machines(document)
        if row["machine_id"] not in machines:
            errors.add(number, "machine_id", row["machine_id"], f"unknown machine {row['machine_id']!r}")
            continue
        if row["product_id"] not in known:
            errors.add(number, "product_id", row["product_id"], f"unknown product {row['product_id']!r}")
            continue
        if row.get("ideal_cycle_time_seconds") is None:
            errors.add(number, "ideal_cycle_time_seconds", None, "required for a machine's cycle time")
            continue
        s, li, m = machines[row["machine_id"]]
        machine = document["sites"][s]["lines"][li]["machines"][m]
        machine.setdefault("ideal_cycle_times", {})[row["product_id"]] = row["ideal_cycle_time_seconds"]
        errors.origin(f"{_machine_path((s, li, m))}.ideal_cycle_times.{row['product_id']}", number, row)


def merge_reason_codes(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    reasons = document.setdefault("reason_codes", [])
    for number, row in rows:
        reason = _set(
            {"code": row["code"]},
            row,
            {"name": "name", "category": "category", "planned": "planned", "loss": "loss"},
        )
        index = _upsert(reasons, "code", reason)
        errors.origin(f"reason_codes[{index}]", number, row)


def merge_sensor_ranges(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    for number, row in rows:
        machines = _machines(document)
        if row["machine_id"] not in machines:
            errors.add(number, "machine_id", row["machine_id"], f"unknown machine {row['machine_id']!r}")
            continue
        s, li, m = machines[row["machine_id"]]
        ranges = document["sites"][s]["lines"][li]["machines"][m].setdefault("sensor_ranges", [])
        value = _set(
            {"signal": row["signal"]}, row, {"min": "min", "max": "max", "unit": "unit", "action": "action"}
        )
        index = _upsert(ranges, "signal", value)
        errors.origin(f"{_machine_path((s, li, m))}.sensor_ranges[{index}]", number, row)


def merge_tag_mappings(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    tags = document.setdefault("historian_tags", [])
    for number, row in rows:
        tag = _set(
            {"system": row["system"], "tag": row["tag"]},
            row,
            {
                "machine_id": "machine_id",
                "signal": "signal",
                "state_set": "state_set",
                "counter": "counter",
                "rollover": "rollover",
                "scale": "scale",
                "offset": "offset",
                "unit": "unit",
            },
        )
        index = next(
            (i for i, t in enumerate(tags) if (t.get("system"), t.get("tag")) == (tag["system"], tag["tag"])),
            None,
        )
        if index is None:
            tags.append(tag)
            index = len(tags) - 1
        else:
            tags[index] = {**tags[index], **tag}
        errors.origin(f"historian_tags[{index}]", number, row)


def merge_state_sets(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    state_sets = document.setdefault("state_sets", [])
    for number, row in rows:
        names = [s["name"] for s in state_sets]
        if row["state_set"] not in names:
            state_sets.append({"name": row["state_set"], "states": []})
            names.append(row["state_set"])
        index = names.index(row["state_set"])
        states = state_sets[index]["states"]
        text = str(row["state"])
        state: Document = {"code": int(text)} if text.isdigit() else {"name": text}
        state["running"] = row["running"]
        if row.get("reason_code") is not None:
            state["reason_code"] = row["reason_code"]
        key = text if text.isdigit() else text.lower()
        position = next(
            (
                i
                for i, s in enumerate(states)
                if (str(s["code"]) if s.get("code") is not None else str(s.get("name", "")).lower()) == key
            ),
            None,
        )
        if position is None:
            states.append(state)
            position = len(states) - 1
        else:
            states[position] = state
        errors.origin(f"state_sets[{index}].states[{position}]", number, row)


def merge_iot_sensors(document: Document, rows: list[tuple[int, Row]], errors: TemplateErrors) -> None:
    sensors = document.setdefault("iot_sensors", [])
    for number, row in rows:
        sensor = _set(
            {"sensor_id": row["sensor_id"]},
            row,
            {
                "machine_id": "machine_id",
                "sensor_type": "sensor_type",
                "protocol": "protocol",
                "mqtt_topic": "mqtt_topic",
                "http_endpoint": "http_endpoint",
                "polling_interval_seconds": "polling_interval_seconds",
                "unit": "unit",
                "min": "min",
                "max": "max",
            },
        )
        index = _upsert(sensors, "sensor_id", sensor)
        errors.origin(f"iot_sensors[{index}]", number, row)


TEMPLATE_KINDS: dict[str, TemplateKind] = {
    kind.name: kind
    for kind in (
        TemplateKind(
            "machines",
            (
                Column("machine_id", required=True, note="The plant's own machine id", example="M1"),
                Column("line_id", required=True, note="An existing line id (plant model)", example="L1"),
                Column("name", note="Display name", example="Filler 1"),
                Column("type", note="Machine type, e.g. filler", example="filler"),
            ),
            ("machine_id",),
            merge_machines,
            "Machines per line. A machine id already known is updated (or moved to the line given).",
        ),
        TemplateKind(
            "shifts",
            (
                Column("shift_id", required=True, example="WAW-NIGHT"),
                Column("site_id", required=True, note="An existing site id", example="PLANT-WAW"),
                Column("name", required=True, example="Night"),
                Column("start", required=True, note="Local time HH:MM", example="22:00"),
                Column(
                    "end",
                    required=True,
                    note="Local time HH:MM; before start: crosses midnight",
                    example="06:00",
                ),
                Column(
                    "weekdays", "weekdays", note="ISO weekdays the shift starts: 1-5 or 1,2,3", example="1-5"
                ),
                Column("effective_from", note="Optional date YYYY-MM-DD", example="2025-01-01"),
                Column("effective_to", note="Optional date YYYY-MM-DD (exclusive)"),
                Column("breaks", note="name@offset/duration minutes; ...", example="Meal@240/30"),
            ),
            ("shift_id",),
            merge_shifts,
            "Shift calendars per site.",
        ),
        TemplateKind(
            "products_cycle_times",
            (
                Column("product_id", required=True, example="BTL-500"),
                Column("machine_id", note="Empty: the product row; set: that machine's cycle time"),
                Column("name", example="Bottle 500 ml"),
                Column("unit", example="pcs"),
                Column("ideal_cycle_time_seconds", "positive", note="Seconds per piece, > 0", example="1.5"),
            ),
            ("product_id", "machine_id"),
            merge_products,
            "Products (default ideal cycle time) and ideal cycle times per machine and product.",
        ),
        TemplateKind(
            "reason_codes",
            (
                Column("code", required=True, example="BRK-MECH"),
                Column("name", required=True, example="Mechanical breakdown"),
                Column("category", required=True, example="Breakdowns"),
                Column("planned", "bool", required=True, note="yes / no", example="no"),
                Column("loss", note="Six-big-loss category", example="breakdowns"),
            ),
            ("code",),
            merge_reason_codes,
            "Downtime reason codes: category -> reason, planned or not, six-big-loss class.",
        ),
        TemplateKind(
            "sensor_ranges",
            (
                Column("machine_id", required=True, example="M1"),
                Column("signal", required=True, example="temperature"),
                Column("min", "number", required=True, example="10"),
                Column("max", "number", required=True, example="90"),
                Column("unit", example="degC"),
                Column("action", note="ALERT | REJECT | DEGRADE", example="ALERT"),
            ),
            ("machine_id", "signal"),
            merge_sensor_ranges,
            "Expected sensor ranges per machine and signal.",
        ),
        TemplateKind(
            "tag_mappings",
            (
                Column("system", required=True, note="pi | aveva", example="pi"),
                Column("tag", required=True, example="WAW.M2.State"),
                Column("machine_id", required=True, example="M2"),
                Column("signal", required=True, example="machine_state"),
                Column("state_set", note="State set of a machine_state tag", example="WAW-STATES"),
                Column("counter", note="none | increment | cumulative"),
                Column("rollover", "positive"),
                Column("scale", "number"),
                Column("offset", "number"),
                Column("unit"),
            ),
            ("system", "tag"),
            merge_tag_mappings,
            "Historian tags: machine, signal, scale/offset, counter handling, state set.",
        ),
        TemplateKind(
            "state_sets",
            (
                Column("state_set", required=True, example="WAW-STATES"),
                Column("state", required=True, note="State name (any case) or numeric code", example="Stop"),
                Column("running", "bool", required=True, note="yes / no", example="no"),
                Column("reason_code", note="Reason code of a stop", example="BRK-MECH"),
            ),
            ("state_set", "state"),
            merge_state_sets,
            "State names / codes of a digital state set: running or stopped with a reason code.",
        ),
        TemplateKind(
            "iot_sensors",
            (
                Column("sensor_id", required=True, example="S-M1-T"),
                Column("machine_id", required=True, example="M1"),
                Column("sensor_type", required=True, example="temperature"),
                Column("protocol", required=True, note="MQTT | HTTP", example="MQTT"),
                Column("mqtt_topic", example="plant/L1/M1/temperature"),
                Column("http_endpoint"),
                Column("polling_interval_seconds", "whole"),
                Column("unit", required=True, example="degC"),
                Column("min", "number", example="0"),
                Column("max", "number", example="120"),
            ),
            ("sensor_id",),
            merge_iot_sensors,
            "IoT sensors (MQTT / HTTP) per machine.",
        ),
    )
}
TEMPLATE_KIND_NAMES = tuple(TEMPLATE_KINDS)


# --- reading rows -------------------------------------------------------------------------------------

_TRUE, _FALSE = {"yes", "y", "true", "1", "x", "ja", "oui"}, {"no", "n", "false", "0", ""}


def _cell(column: Column, text: str) -> Any:
    if column.kind in ("number", "positive", "whole"):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number (write digits with '.' as the decimal point)") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("not a number")
        if column.kind == "positive" and not number > 0:
            raise ValueError("must be > 0")
        if column.kind == "whole":
            if not number.is_integer():
                raise ValueError("not a whole number")
            return int(number)
        return number
    if column.kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("write yes or no")
    if column.kind == "weekdays":
        days: list[int] = []
        for part in re.split(r"[,\s;]+", text):
            if not part:
                continue
            match = re.fullmatch(r"(\d)(?:-(\d))?", part)
            if not match:
                raise ValueError("ISO weekdays like 1-5 or 1,2,3 (1 = Monday)")
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            days.extend(range(first, last + 1))
        return days
    return text


def read_rows(kind: TemplateKind, sheet: TextSheet, errors: TemplateErrors) -> list[tuple[int, Row]]:
    """The sheet's rows as typed values (row number, {column: value or None}); bad cells in `errors`."""
    by_name: dict[str, int] = {}
    for index, original in enumerate(sheet.frame.columns):
        name = normalized_header(original)
        if name in by_name:
            errors.add(1, str(original), None, "column appears more than once")
        by_name.setdefault(name, index)
    for column in kind.columns:
        if column.required and column.name not in by_name:
            errors.add(1, column.name, None, "required column is missing")
    for error in sheet.read_errors:
        errors.add(error.row, error.column, error.value, error.reason)
    unknown = [name for name in by_name if name not in kind.column_names]
    for name in unknown:
        errors.add(1, name, None, f"unknown column (expected {', '.join(kind.column_names)})")
    rows: list[tuple[int, Row]] = []
    first_of_key: dict[tuple[Any, ...], int] = {}
    for position, number in enumerate(sheet.row_numbers):
        raw = sheet.frame.iloc[position]
        texts = {
            column.name: _text(raw.iloc[by_name[column.name]]) if column.name in by_name else None
            for column in kind.columns
        }
        if all(value is None for value in texts.values()):
            continue
        row: Row = {}
        bad = False
        for column in kind.columns:
            text = texts[column.name]
            if text is None:
                if column.required and column.name in by_name:
                    errors.add(int(number), column.name, None, "required value is missing")
                    bad = True
                row[column.name] = None
                continue
            try:
                row[column.name] = _cell(column, text)
            except ValueError as exc:
                errors.add(int(number), column.name, text, str(exc))
                bad = True
        key = tuple(texts[k] for k in kind.key)
        if key in first_of_key:
            errors.add(
                int(number),
                kind.key[0],
                texts[kind.key[0]],
                f"duplicate id: same {', '.join(kind.key)} as row {first_of_key[key]}",
            )
            bad = True
        else:
            first_of_key[key] = int(number)
        if not bad:
            rows.append((int(number), row))
    return rows


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


# --- importing ---------------------------------------------------------------------------------------


class ReferenceImporter:
    """Imports reference-data templates into the plant tables (through `PlantModelService`)."""

    def __init__(self, database_url: str) -> None:
        self.service = PlantModelService(database_url)

    def import_file(
        self, path: Path | bytes, kind_name: str, *, org_id: str, file_name: str | None = None
    ) -> TemplateOutcome:
        if kind_name not in TEMPLATE_KINDS:
            raise ValueError(
                f"unknown reference template {kind_name!r} (expected one of {', '.join(TEMPLATE_KINDS)})"
            )
        kind = TEMPLATE_KINDS[kind_name]
        name = file_name or (path.name if isinstance(path, Path) else "upload.csv")
        try:
            sheet = read_import_file(path, file_name=name)
        except UnreadableFileError as exc:
            return TemplateOutcome(kind_name, name, "REJECTED", 0, [_whole_file(exc.reason)])
        errors = TemplateErrors()
        rows = read_rows(kind, sheet, errors)
        rows_read = len(sheet.row_numbers)
        if errors.errors:
            # The rows that are fine are still merged and validated, so the report names every problem.
            self._validate_only(org_id, kind, rows, errors)
            return TemplateOutcome(kind_name, name, "REJECTED", rows_read, _sorted(errors.errors))

        def merge(current: PlantModel) -> Document:
            document = current.to_document()
            kind.merge(document, rows, errors)
            if errors.errors:
                _collect_issues(document, errors)
                raise _RowsRefused()
            return document

        try:
            report = self.service.apply_fragment(org_id, merge)
        except _RowsRefused:
            return TemplateOutcome(kind_name, name, "REJECTED", rows_read, _sorted(errors.errors))
        except PlantModelError as exc:
            _issues_on_rows(exc, errors)
            return TemplateOutcome(kind_name, name, "REJECTED", rows_read, _sorted(errors.errors))
        return TemplateOutcome(kind_name, name, "SUCCESS", rows_read, [], report)

    def _validate_only(
        self, org_id: str, kind: TemplateKind, rows: list[tuple[int, Row]], errors: TemplateErrors
    ) -> None:
        """Merge and validate the good rows without writing (the file is refused anyway)."""
        if not rows:
            return
        document = self.service.export_or_empty(org_id).to_document()
        kind.merge(document, rows, errors)
        _collect_issues(document, errors)


class _RowsRefused(Exception):
    pass


def _collect_issues(document: Document, errors: TemplateErrors) -> None:
    """Validate the merged document and report its problems on the rows they came from."""
    try:
        parse_plant_model(document)
    except PlantModelError as exc:
        _issues_on_rows(exc, errors)


def _whole_file(reason: str) -> dict[str, Any]:
    return {"row": None, "column": None, "value": None, "reason": reason}


def _issues_on_rows(error: PlantModelError, errors: TemplateErrors) -> None:
    for issue in error.issues:
        found = errors.locate(issue.path)
        if found is None:
            errors.add(None, None, None, f"{issue.path}: {issue.message} (in the current plant model)")
            continue
        row, values = found
        field_name = issue.path.rsplit(".", 1)[-1] if "." in issue.path else None
        column = field_name if field_name in values else None
        errors.add(row, column, values.get(column) if column else None, issue.message)


def _sorted(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(errors, key=lambda e: (e["row"] is not None, e["row"] or 0))


def template_csv(kind_name: str) -> str:
    """The CSV template of a kind: the header and one example row."""
    kind = TEMPLATE_KINDS[kind_name]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(kind.column_names)
    writer.writerow([c.example for c in kind.columns])
    return buffer.getvalue()


def build_template_xlsx(kind_name: str, path: Path) -> Path:
    """The XLSX template of a kind: styled header with a note per column, and one example row."""
    from openpyxl.comments import Comment

    kind = TEMPLATE_KINDS[kind_name]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = kind.name
    for index, column in enumerate(kind.columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.name)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", start_color="1F4E78", end_color="1F4E78")
        required = "Required. " if column.required else ""
        if column.note or required:
            cell.comment = Comment(f"{required}{column.note}".strip(), "oee_pipelines")
        sheet.column_dimensions[cell.column_letter].width = max(14, len(column.name) + 4)
    sheet.append([c.example or None for c in kind.columns])
    sheet.freeze_panes = "A2"
    workbook.properties.creator = "oee_pipelines"
    workbook.save(path)
    return path


# --- the import inbox ----------------------------------------------------------------------------------

INBOX_PROCESSED, INBOX_REJECTED = "processed", "rejected"
_INBOX_IGNORED_PREFIXES = (".", "~$")
_INBOX_IGNORED_SUFFIXES = (".part", ".tmp", ".report.json")


def pending_template_files(inbox_root: Path) -> list[tuple[Path, str]]:
    """Files waiting in the inbox's template folders (`<inbox>/machines/`, `<inbox>/shifts/`, ...)."""
    waiting = []
    for kind in TEMPLATE_KINDS:
        folder = inbox_root / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name
            if (
                path.is_file()
                and not name.startswith(_INBOX_IGNORED_PREFIXES)
                and not name.endswith(_INBOX_IGNORED_SUFFIXES)
            ):
                waiting.append((path, kind))
    return waiting


def waiting_template_file(inbox_root: Path, path: str | Path) -> tuple[Path, str]:
    """`path` resolved with its template type, if it waits in a template folder of the inbox."""
    resolved = Path(path).resolve()
    root = inbox_root.resolve()
    kind = resolved.parent.name
    if resolved.parent != root / kind or kind not in TEMPLATE_KINDS or not resolved.is_file():
        raise ValueError(f"{path} is not a file waiting in a template folder of the inbox {root}")
    return resolved, kind


def finish_inbox_file(inbox_root: Path, path: Path, outcome: TemplateOutcome, stamp: str) -> Path:
    """Move a done template to processed/ or rejected/ as `<stamp>-<name>`, its report beside it."""
    folder = inbox_root / (INBOX_PROCESSED if outcome.landed else INBOX_REJECTED)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stamp}-{path.name}"
    report = target.with_name(target.name + ".report.json")
    report.write_text(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.move(path, target)
    return target
