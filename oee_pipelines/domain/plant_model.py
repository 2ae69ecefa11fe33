"""The plant model: one organization's sites, lines, machines, shifts, products, reason codes, sensor
ranges, IoT sensors, historian tags and state sets, as one YAML file that belongs to the plant.

`parse_plant_model(text_or_mapping)` validates the whole file and raises `PlantModelError` listing
EVERY problem with its path in the file (`sites[0].lines[1].machines[2].id: duplicate id 'M3' (also at
sites[0].lines[0].machines[0])`): unknown keys, missing keys, bad values, duplicate ids, references to
undefined machines / products / reason codes / state sets, overlapping shifts, unknown time zones.

`to_tables(model)` gives the warehouse rows of every table the model fills; `from_tables(tables)` is
its inverse (what `oee plant export` writes). Pure: no I/O besides parsing text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any, Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

PLANT_MODEL_VERSION: Literal[1] = 1
LOSS_CATEGORIES = (
    "breakdowns",
    "setup_adjustments",
    "small_stops",
    "reduced_speed",
    "startup_rejects",
    "production_rejects",
    "planned_stop",
)
LossCategory = Literal[
    "breakdowns",
    "setup_adjustments",
    "small_stops",
    "reduced_speed",
    "startup_rejects",
    "production_rejects",
    "planned_stop",
]
PLANT_MODEL_SOURCE = "plant_model"
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Organization(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)


class ReasonCode(_Strict):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    planned: bool
    loss: LossCategory | None = None


class Product(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    unit: str = "pcs"
    ideal_cycle_time_seconds: float | None = Field(default=None, gt=0)


class ShiftBreak(_Strict):
    name: str = Field(min_length=1)
    start_offset_minutes: int = Field(ge=0)
    duration_minutes: int = Field(gt=0)


def _local_time(value: object) -> object:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # PyYAML reads an unquoted 22:00 as the sexagesimal number 1320.
        raise ValueError('write the time in quotes, e.g. "22:00"')
    if isinstance(value, str):
        match = _TIME.match(value.strip())
        if not match:
            raise ValueError(f'{value!r} is not a local time HH:MM (e.g. "06:00")')
        return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    raise ValueError('expected a local time HH:MM in quotes, e.g. "06:00"')


class Shift(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    start: time
    end: time
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], min_length=1)
    effective_from: date | None = None
    effective_to: date | None = None
    breaks: list[ShiftBreak] = Field(default_factory=list)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _times(cls, value: object) -> object:
        return _local_time(value)

    @field_serializer("start", "end")
    def _hh_mm(self, value: time) -> str:
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")

    @field_validator("weekdays")
    @classmethod
    def _iso_weekdays(cls, value: list[int]) -> list[int]:
        bad = [day for day in value if not 1 <= day <= 7]
        if bad:
            raise ValueError(f"ISO weekdays are 1 (Monday) .. 7 (Sunday), got {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"a weekday appears twice in {value}")
        return value

    @property
    def length_minutes(self) -> int:
        """Duration in minutes; an end at or before the start crosses midnight."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return end - start if end > start else end - start + MINUTES_PER_DAY


class SensorRange(_Strict):
    signal: str = Field(min_length=1)
    min: float
    max: float
    unit: str | None = None
    action: Literal["ALERT", "REJECT", "DEGRADE"] = "ALERT"


class Machine(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    type: str | None = None
    ideal_cycle_times: dict[str, float] = Field(default_factory=dict)
    sensor_ranges: list[SensorRange] = Field(default_factory=list)

    @field_validator("ideal_cycle_times")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {product: seconds for product, seconds in value.items() if not seconds > 0}
        if bad:
            raise ValueError(f"ideal cycle times must be > 0 seconds: {bad}")
        return value


class Line(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    machines: list[Machine] = Field(default_factory=list)


class Site(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    timezone: str
    shifts: list[Shift] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        if not is_iana_timezone(value):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Warsaw, America/Chicago, UTC)")
        return value


class IotSensor(_Strict):
    sensor_id: str = Field(min_length=1)
    machine_id: str = Field(min_length=1)
    sensor_type: str = Field(min_length=1)
    protocol: Literal["MQTT", "HTTP"]
    mqtt_topic: str | None = None
    http_endpoint: str | None = None
    polling_interval_seconds: int | None = Field(default=None, gt=0)
    unit: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None


class HistorianTag(_Strict):
    system: Literal["pi", "aveva"]
    tag: str = Field(min_length=1)
    machine_id: str = Field(min_length=1)
    signal: str = Field(min_length=1)
    state_set: str | None = None
    counter: Literal["none", "increment", "cumulative"] = "none"
    rollover: float | None = Field(default=None, gt=0)
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None


class State(_Strict):
    name: str | None = None
    code: int | None = None
    running: bool
    reason_code: str | None = None

    @property
    def key(self) -> str:
        """The warehouse key: the name lower-cased, or the numeric code as text."""
        return self.name.lower() if self.name is not None else str(self.code)


class StateSet(_Strict):
    name: str = Field(min_length=1)
    states: list[State] = Field(min_length=1)


class PlantModel(_Strict):
    version: Literal[1] = PLANT_MODEL_VERSION
    organization: Organization
    reason_codes: list[ReasonCode] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)
    sites: list[Site] = Field(default_factory=list)
    iot_sensors: list[IotSensor] = Field(default_factory=list)
    historian_tags: list[HistorianTag] = Field(default_factory=list)
    state_sets: list[StateSet] = Field(default_factory=list)

    def machines(self) -> Iterator[tuple[Site, Line, Machine]]:
        for site in self.sites:
            for line in site.lines:
                for machine in line.machines:
                    yield site, line, machine

    def to_document(self) -> dict[str, Any]:
        """The plain mapping of the YAML file (defaults left out, times as "HH:MM")."""
        document = self.model_dump(mode="json", exclude_defaults=True)
        document["version"] = self.version
        ordered = {"version": document.pop("version"), "organization": document.pop("organization")}
        return ordered | document

    def to_yaml(self) -> str:
        return dump_yaml(self.to_document())


class _QuotingDumper(yaml.SafeDumper):
    """Quotes text YAML 1.1 would read as something else (a time "06:00" as the number 360)."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if re.match(r"^[\d:.+-]+$", value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_QuotingDumper.add_representer(str, _represent_text)


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_QuotingDumper, sort_keys=False, allow_unicode=True, width=110)


# --- Errors -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantModelIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PlantModelError(Exception):
    """The file is not a valid plant model: `issues` lists every problem with its path in the file."""

    def __init__(self, issues: Iterable[PlantModelIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def format_path(location: Iterable[str | int]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_PYDANTIC_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _pydantic_issues(error: ValidationError) -> list[PlantModelIssue]:
    issues = []
    for item in error.errors():
        location = [part for part in item["loc"] if not (isinstance(part, str) and "[" in part)]
        message = _PYDANTIC_MESSAGES.get(item["type"])
        if message is None:
            message = str(item["msg"]).removeprefix("Value error, ")
            if (
                item["type"] not in ("value_error",)
                and "input" in item
                and not isinstance(item["input"], dict | list)
            ):
                message += f" (got {item['input']!r})"
        issues.append(PlantModelIssue(format_path(location), message))
    return issues


# --- Parsing ------------------------------------------------------------------------------------------


def load_document(text: str | bytes) -> Any:
    """The YAML (or JSON) document; a syntax error becomes a `PlantModelError` naming its line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        raise PlantModelError([PlantModelIssue(where, str(exc.problem or exc))]) from None
    except yaml.YAMLError as exc:
        raise PlantModelError([PlantModelIssue("file", str(exc))]) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key written twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def parse_plant_model(source: str | bytes | Mapping[str, Any]) -> PlantModel:
    """Validate a whole plant model (YAML/JSON text or the parsed mapping); raise with every issue."""
    document = load_document(source) if isinstance(source, str | bytes) else source
    if not isinstance(document, Mapping):
        raise PlantModelError([PlantModelIssue("file", "expected a mapping with version, organization, ...")])
    issues: list[PlantModelIssue] = []
    model: PlantModel | None = None
    try:
        model = PlantModel.model_validate(dict(document))
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc))
    issues.extend(cross_reference_issues(document))
    if issues:
        raise PlantModelError(_unique(issues))
    assert model is not None
    return model


def validate_plant_model(model: PlantModel) -> PlantModel:
    """Re-check a model built in code (e.g. a merged template fragment); raise with every issue."""
    return parse_plant_model(model.to_document())


def _unique(issues: list[PlantModelIssue]) -> list[PlantModelIssue]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for issue in issues:
        if (issue.path, issue.message) not in seen:
            seen.add((issue.path, issue.message))
            unique.append(issue)
    return unique


def is_iana_timezone(name: object) -> bool:
    if not isinstance(name, str) or not name or name not in _zone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
        _ZONES.add("UTC")
    return _ZONES


# --- Cross references (on the raw mapping, so they are reported alongside the structural errors) -------


def _items(value: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                yield f"{path}[{index}]", dict(item)


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).strip() or None


class _Ids:
    """First path of each id of one kind; reports the later ones as duplicates."""

    def __init__(self, issues: list[PlantModelIssue], noun: str = "id") -> None:
        self.issues = issues
        self.noun = noun
        self.first: dict[str, str] = {}

    def add(self, value: str | None, path: str) -> None:
        if value is None:
            return
        if value in self.first:
            self.issues.append(
                PlantModelIssue(
                    path, f"duplicate {self.noun} {value!r} (also at {_owner(self.first[value])})"
                )
            )
        else:
            self.first[value] = path

    def __contains__(self, value: object) -> bool:
        return value in self.first


def _owner(path: str) -> str:
    """`sites[0].lines[0].machines[0].id` -> `sites[0].lines[0].machines[0]`: where the item is."""
    head, _, last = path.rpartition(".")
    return head if head and "[" not in last else path


def cross_reference_issues(document: Mapping[str, Any]) -> list[PlantModelIssue]:
    issues: list[PlantModelIssue] = []
    reasons = _Ids(issues, "reason code")
    for path, item in _items(document.get("reason_codes"), "reason_codes"):
        reasons.add(_text(item, "code"), f"{path}.code")
    products = _Ids(issues)
    for path, item in _items(document.get("products"), "products"):
        products.add(_text(item, "id"), f"{path}.id")

    sites, lines, machines, shifts = _Ids(issues), _Ids(issues), _Ids(issues), _Ids(issues)
    for site_path, site in _items(document.get("sites"), "sites"):
        sites.add(_text(site, "id"), f"{site_path}.id")
        site_shifts = []
        for shift_path, shift in _items(site.get("shifts"), f"{site_path}.shifts"):
            shifts.add(_text(shift, "id"), f"{shift_path}.id")
            site_shifts.append((shift_path, shift))
            issues.extend(_shift_issues(shift_path, shift))
        issues.extend(_overlapping_shifts(site_shifts))
        for line_path, line in _items(site.get("lines"), f"{site_path}.lines"):
            lines.add(_text(line, "id"), f"{line_path}.id")
            for machine_path, machine in _items(line.get("machines"), f"{line_path}.machines"):
                machines.add(_text(machine, "id"), f"{machine_path}.id")
                cycle_times = machine.get("ideal_cycle_times")
                if isinstance(cycle_times, Mapping):
                    for product in cycle_times:
                        if str(product) not in products:
                            issues.append(
                                PlantModelIssue(
                                    f"{machine_path}.ideal_cycle_times.{product}",
                                    f"unknown product {str(product)!r} (not in products)",
                                )
                            )
                signals = _Ids(issues, "sensor range for signal")
                for range_path, sensor_range in _items(
                    machine.get("sensor_ranges"), f"{machine_path}.sensor_ranges"
                ):
                    signals.add(_text(sensor_range, "signal"), f"{range_path}.signal")
                    low, high = sensor_range.get("min"), sensor_range.get("max")
                    if _number(low) and _number(high) and float(high) < float(low):
                        issues.append(PlantModelIssue(f"{range_path}.max", f"max {high} is below min {low}"))

    sensors = _Ids(issues, "sensor_id")
    for path, sensor in _items(document.get("iot_sensors"), "iot_sensors"):
        sensors.add(_text(sensor, "sensor_id"), f"{path}.sensor_id")
        _known(issues, machines, _text(sensor, "machine_id"), f"{path}.machine_id", "machine")
        protocol = _text(sensor, "protocol")
        if protocol == "MQTT" and not _text(sensor, "mqtt_topic"):
            issues.append(PlantModelIssue(f"{path}.mqtt_topic", "an MQTT sensor needs mqtt_topic"))
        if protocol == "HTTP" and not _text(sensor, "http_endpoint"):
            issues.append(PlantModelIssue(f"{path}.http_endpoint", "an HTTP sensor needs http_endpoint"))
        low, high = sensor.get("min"), sensor.get("max")
        if _number(low) and _number(high) and float(high) < float(low):
            issues.append(PlantModelIssue(f"{path}.max", f"max {high} is below min {low}"))

    state_sets = _Ids(issues, "state set")
    for path, state_set in _items(document.get("state_sets"), "state_sets"):
        state_sets.add(_text(state_set, "name"), f"{path}.name")
        keys = _Ids(issues, "state")
        for state_path, state in _items(state_set.get("states"), f"{path}.states"):
            name, code = _text(state, "name"), state.get("code")
            if name is None and code is None:
                issues.append(PlantModelIssue(state_path, "a state needs a name or a code"))
            elif name is not None and code is not None:
                issues.append(PlantModelIssue(state_path, "a state has a name or a code, not both"))
            key = name.lower() if name is not None else (str(code) if code is not None else None)
            keys.add(key, f"{state_path}.{'name' if name is not None else 'code'}")
            reason = _text(state, "reason_code")
            if reason is not None and reason not in reasons:
                issues.append(
                    PlantModelIssue(
                        f"{state_path}.reason_code", f"undefined reason code {reason!r} (not in reason_codes)"
                    )
                )

    tags = _Ids(issues, "tag")
    for path, tag in _items(document.get("historian_tags"), "historian_tags"):
        system, name = _text(tag, "system"), _text(tag, "tag")
        tags.add(f"{system}:{name}" if system and name else None, f"{path}.tag")
        _known(issues, machines, _text(tag, "machine_id"), f"{path}.machine_id", "machine")
        state_set_name = _text(tag, "state_set")
        if state_set_name is not None and state_set_name not in state_sets:
            issues.append(
                PlantModelIssue(
                    f"{path}.state_set", f"undefined state set {state_set_name!r} (not in state_sets)"
                )
            )
    return issues


def _known(issues: list[PlantModelIssue], ids: _Ids, value: str | None, path: str, noun: str) -> None:
    if value is not None and value not in ids:
        issues.append(PlantModelIssue(path, f"unknown {noun} {value!r} (not in sites[].lines[].machines)"))


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _minute_of_day(value: object) -> int | None:
    try:
        parsed = _local_time(value)
    except ValueError:
        return None
    assert isinstance(parsed, time)
    return parsed.hour * 60 + parsed.minute


def _shift_issues(path: str, shift: Mapping[str, Any]) -> list[PlantModelIssue]:
    issues = []
    start, end = _minute_of_day(shift.get("start")), _minute_of_day(shift.get("end"))
    first, last = _as_date(shift.get("effective_from")), _as_date(shift.get("effective_to"))
    if first and last and last <= first:
        issues.append(
            PlantModelIssue(f"{path}.effective_to", "must be after effective_from (it is exclusive)")
        )
    if start is None or end is None:
        return issues
    length = end - start if end > start else end - start + MINUTES_PER_DAY
    for break_path, brk in _items(shift.get("breaks"), f"{path}.breaks"):
        offset, duration = brk.get("start_offset_minutes"), brk.get("duration_minutes")
        if _number(offset) and _number(duration) and offset + duration > length:
            issues.append(
                PlantModelIssue(
                    break_path, f"the break ends after the shift ({offset} + {duration} > {length} minutes)"
                )
            )
    return issues


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _week_intervals(shift: Mapping[str, Any]) -> list[tuple[int, int, int]] | None:
    """(weekday, start, end) in minutes of the week; a shift past Sunday midnight wraps to Monday."""
    start, end = _minute_of_day(shift.get("start")), _minute_of_day(shift.get("end"))
    weekdays = shift.get("weekdays", [1, 2, 3, 4, 5])
    if start is None or end is None or not isinstance(weekdays, list):
        return None
    length = end - start if end > start else end - start + MINUTES_PER_DAY
    intervals = []
    for day in weekdays:
        if isinstance(day, int) and 1 <= day <= 7:
            begin = (day - 1) * MINUTES_PER_DAY + start
            intervals.append((day, begin, begin + length))
    return intervals


def _overlap_in_week(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
        if a[1] < b[2] + shift and b[1] + shift < a[2]:
            return True
    return False


def _periods_overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    a_from, a_to = _as_date(a.get("effective_from")) or date.min, _as_date(a.get("effective_to")) or date.max
    b_from, b_to = _as_date(b.get("effective_from")) or date.min, _as_date(b.get("effective_to")) or date.max
    return a_from < b_to and b_from < a_to


def _overlapping_shifts(shifts: list[tuple[str, dict[str, Any]]]) -> list[PlantModelIssue]:
    issues = []
    weeks = [(path, shift, _week_intervals(shift)) for path, shift in shifts]
    for index, (path, shift, week) in enumerate(weeks):
        for other_path, other, other_week in weeks[:index]:
            if week is None or other_week is None or not _periods_overlap(shift, other):
                continue
            clash = next(
                (mine for mine in week for theirs in other_week if _overlap_in_week(mine, theirs)), None
            )
            if clash is not None:
                issues.append(
                    PlantModelIssue(
                        path,
                        f"shift {_text(shift, 'id')!r} overlaps shift {_text(other, 'id')!r} ({other_path}) "
                        f"on ISO weekday {clash[0]}",
                    )
                )
    return issues


# --- Warehouse rows -----------------------------------------------------------------------------------

TABLE_ORDER = (
    "organizations",
    "sites",
    "production_lines",
    "machines",
    "shifts",
    "shift_breaks",
    "products",
    "reason_codes",
    "machine_cycle_times",
    "sensor_range_config",
    "iot_sensors",
    "historian_tag_mappings",
    "state_name_mappings",
)

Row = dict[str, Any]


def rows_with_paths(model: PlantModel) -> dict[str, list[tuple[str, Row]]]:
    """The warehouse rows of every table, each with the path of what it came from in the file."""
    org = model.organization.id
    tables: dict[str, list[tuple[str, Row]]] = {table: [] for table in TABLE_ORDER}
    tables["organizations"].append(("organization", {"id": org, "name": model.organization.name}))
    for index, reason in enumerate(model.reason_codes):
        tables["reason_codes"].append(
            (
                f"reason_codes[{index}]",
                {
                    "org_id": org,
                    "code": reason.code,
                    "category": reason.category,
                    "name": reason.name,
                    "is_planned": reason.planned,
                    "loss_category": reason.loss,
                },
            )
        )
    for index, product in enumerate(model.products):
        tables["products"].append(
            (
                f"products[{index}]",
                {
                    "id": product.id,
                    "org_id": org,
                    "code": product.id,
                    "name": product.name,
                    "unit": product.unit,
                    "ideal_cycle_time_seconds": product.ideal_cycle_time_seconds,
                    "source": PLANT_MODEL_SOURCE,
                },
            )
        )
    for s, site in enumerate(model.sites):
        site_path = f"sites[{s}]"
        tables["sites"].append(
            (site_path, {"id": site.id, "org_id": org, "name": site.name, "timezone": site.timezone})
        )
        for number, shift in enumerate(site.shifts, start=1):
            shift_path = f"{site_path}.shifts[{number - 1}]"
            tables["shifts"].append(
                (
                    shift_path,
                    {
                        "id": shift.id,
                        "org_id": org,
                        "site_id": site.id,
                        "name": shift.name,
                        "shift_number": number,
                        "start_time": shift.start,
                        "end_time": shift.end,
                        "weekdays": list(shift.weekdays),
                        "effective_from": shift.effective_from,
                        "effective_to": shift.effective_to,
                        "is_active": True,
                    },
                )
            )
            for b, brk in enumerate(shift.breaks):
                tables["shift_breaks"].append(
                    (
                        f"{shift_path}.breaks[{b}]",
                        {
                            "org_id": org,
                            "shift_id": shift.id,
                            "name": brk.name,
                            "start_offset_minutes": brk.start_offset_minutes,
                            "duration_minutes": brk.duration_minutes,
                        },
                    )
                )
        for li, line in enumerate(site.lines):
            line_path = f"{site_path}.lines[{li}]"
            tables["production_lines"].append(
                (
                    line_path,
                    {
                        "id": line.id,
                        "org_id": org,
                        "site_id": site.id,
                        "name": line.name,
                        "code": line.id,
                        "is_active": True,
                    },
                )
            )
            for m, machine in enumerate(line.machines):
                machine_path = f"{line_path}.machines[{m}]"
                tables["machines"].append(
                    (
                        machine_path,
                        {
                            "id": machine.id,
                            "org_id": org,
                            "line_id": line.id,
                            "name": machine.name,
                            "code": machine.id,
                            "machine_type": machine.type,
                            "is_active": True,
                            "source": PLANT_MODEL_SOURCE,
                        },
                    )
                )
                for product_id, seconds in machine.ideal_cycle_times.items():
                    tables["machine_cycle_times"].append(
                        (
                            f"{machine_path}.ideal_cycle_times.{product_id}",
                            {
                                "org_id": org,
                                "machine_id": machine.id,
                                "product_id": product_id,
                                "ideal_cycle_time_seconds": seconds,
                                "source": PLANT_MODEL_SOURCE,
                            },
                        )
                    )
                for r, sensor_range in enumerate(machine.sensor_ranges):
                    tables["sensor_range_config"].append(
                        (
                            f"{machine_path}.sensor_ranges[{r}]",
                            {
                                "org_id": org,
                                "machine_id": machine.id,
                                "signal_type": sensor_range.signal,
                                "min_value": sensor_range.min,
                                "max_value": sensor_range.max,
                                "unit": sensor_range.unit,
                                "violation_action": sensor_range.action,
                                "is_active": True,
                            },
                        )
                    )
    for index, sensor in enumerate(model.iot_sensors):
        tables["iot_sensors"].append(
            (
                f"iot_sensors[{index}]",
                {
                    "sensor_id": sensor.sensor_id,
                    "org_id": org,
                    "sensor_type": sensor.sensor_type,
                    "machine_id": sensor.machine_id,
                    "protocol": sensor.protocol,
                    "mqtt_topic": sensor.mqtt_topic,
                    "http_endpoint": sensor.http_endpoint,
                    "polling_interval_seconds": sensor.polling_interval_seconds,
                    "unit": sensor.unit,
                    "min_expected_value": sensor.min,
                    "max_expected_value": sensor.max,
                    "is_active": True,
                },
            )
        )
    for index, tag in enumerate(model.historian_tags):
        tables["historian_tag_mappings"].append(
            (
                f"historian_tags[{index}]",
                {
                    "org_id": org,
                    "historian_system": tag.system,
                    "historian_tag": tag.tag,
                    "machine_id": tag.machine_id,
                    "signal_type": tag.signal,
                    "unit": tag.unit,
                    "scale_factor": tag.scale,
                    "offset_value": tag.offset,
                    "counter_mode": tag.counter,
                    "counter_rollover": tag.rollover,
                    "state_set": tag.state_set,
                    "is_active": True,
                },
            )
        )
    for index, state_set in enumerate(model.state_sets):
        for s_index, state in enumerate(state_set.states):
            tables["state_name_mappings"].append(
                (
                    f"state_sets[{index}].states[{s_index}]",
                    {
                        "org_id": org,
                        "state_set": state_set.name,
                        "state_key": state.key,
                        "running": state.running,
                        "reason_code": state.reason_code,
                    },
                )
            )
    return tables


def to_tables(model: PlantModel) -> dict[str, list[Row]]:
    """The warehouse rows of every table the plant model fills (`TABLE_ORDER`), with `org_id`."""
    return {table: [row for _, row in rows] for table, rows in rows_with_paths(model).items()}


def from_tables(tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> PlantModel:
    """The plant model of warehouse rows (active rows only; inactive machines, lines, sensors, tags and
    shifts are left out). Inverse of `to_tables`: `from_tables(to_tables(m)) == m` up to list order."""

    def rows(table: str) -> list[Mapping[str, Any]]:
        return [row for row in tables.get(table, []) if row.get("is_active", True) is not False]

    organizations = rows("organizations")
    if len(organizations) != 1:
        raise PlantModelError(
            [PlantModelIssue("organization", f"expected one organization, got {len(organizations)}")]
        )
    org = organizations[0]
    breaks: dict[str, list[ShiftBreak]] = {}
    for row in sorted(rows("shift_breaks"), key=lambda r: (r["shift_id"], r["start_offset_minutes"])):
        breaks.setdefault(row["shift_id"], []).append(
            ShiftBreak(
                name=row["name"],
                start_offset_minutes=int(row["start_offset_minutes"]),
                duration_minutes=int(row["duration_minutes"]),
            )
        )
    cycle_times: dict[str, dict[str, float]] = {}
    for row in sorted(rows("machine_cycle_times"), key=lambda r: (r["machine_id"], r["product_id"])):
        if row.get("source", PLANT_MODEL_SOURCE) == PLANT_MODEL_SOURCE:
            cycle_times.setdefault(row["machine_id"], {})[row["product_id"]] = float(
                row["ideal_cycle_time_seconds"]
            )
    ranges: dict[str, list[SensorRange]] = {}
    for row in sorted(rows("sensor_range_config"), key=lambda r: (r["machine_id"], r["signal_type"])):
        ranges.setdefault(row["machine_id"], []).append(
            SensorRange(
                signal=row["signal_type"],
                min=float(row["min_value"]),
                max=float(row["max_value"]),
                unit=row.get("unit"),
                action=row.get("violation_action") or "ALERT",
            )
        )
    machines: dict[str, list[Machine]] = {}
    for row in sorted(rows("machines"), key=lambda r: r["id"]):
        if row.get("source", PLANT_MODEL_SOURCE) != PLANT_MODEL_SOURCE:
            continue
        machines.setdefault(row["line_id"], []).append(
            Machine(
                id=row["id"],
                name=row["name"],
                type=row.get("machine_type"),
                ideal_cycle_times=cycle_times.get(row["id"], {}),
                sensor_ranges=ranges.get(row["id"], []),
            )
        )
    lines: dict[str, list[Line]] = {}
    for row in sorted(rows("production_lines"), key=lambda r: r["id"]):
        lines.setdefault(row["site_id"], []).append(
            Line(id=row["id"], name=row["name"], machines=machines.get(row["id"], []))
        )
    shifts: dict[str, list[Shift]] = {}
    for row in sorted(rows("shifts"), key=lambda r: (r["site_id"], r["shift_number"], r["id"])):
        shifts.setdefault(row["site_id"], []).append(
            Shift(
                id=row["id"],
                name=row["name"],
                start=row["start_time"],
                end=row["end_time"],
                weekdays=[int(day) for day in row["weekdays"]],
                effective_from=row.get("effective_from"),
                effective_to=row.get("effective_to"),
                breaks=breaks.get(row["id"], []),
            )
        )
    sites = [
        Site(
            id=row["id"],
            name=row["name"],
            timezone=row["timezone"],
            shifts=shifts.get(row["id"], []),
            lines=lines.get(row["id"], []),
        )
        for row in sorted(rows("sites"), key=lambda r: r["id"])
    ]
    state_sets: dict[str, list[State]] = {}
    for row in sorted(rows("state_name_mappings"), key=lambda r: (r["state_set"], r["state_key"])):
        key = str(row["state_key"])
        state_sets.setdefault(row["state_set"], []).append(
            State(
                name=None if key.isdigit() else key,
                code=int(key) if key.isdigit() else None,
                running=bool(row["running"]),
                reason_code=row.get("reason_code"),
            )
        )
    return PlantModel(
        organization=Organization(id=org["id"], name=org["name"]),
        reason_codes=[
            ReasonCode(
                code=row["code"],
                name=row["name"],
                category=row["category"],
                planned=bool(row["is_planned"]),
                loss=row.get("loss_category"),
            )
            for row in sorted(rows("reason_codes"), key=lambda r: r["code"])
        ],
        products=[
            Product(
                id=row["id"],
                name=row["name"],
                unit=row.get("unit") or "pcs",
                ideal_cycle_time_seconds=_float_or_none(row.get("ideal_cycle_time_seconds")),
            )
            for row in sorted(rows("products"), key=lambda r: r["id"])
            if row.get("source", PLANT_MODEL_SOURCE) == PLANT_MODEL_SOURCE
        ],
        sites=sites,
        iot_sensors=[
            IotSensor(
                sensor_id=row["sensor_id"],
                machine_id=row["machine_id"],
                sensor_type=row["sensor_type"],
                protocol=row["protocol"],
                mqtt_topic=row.get("mqtt_topic"),
                http_endpoint=row.get("http_endpoint"),
                polling_interval_seconds=_int_or_none(row.get("polling_interval_seconds")),
                unit=row["unit"],
                min=_float_or_none(row.get("min_expected_value")),
                max=_float_or_none(row.get("max_expected_value")),
            )
            for row in sorted(rows("iot_sensors"), key=lambda r: r["sensor_id"])
        ],
        historian_tags=[
            HistorianTag(
                system=row["historian_system"],
                tag=row["historian_tag"],
                machine_id=row["machine_id"],
                signal=row["signal_type"],
                state_set=row.get("state_set"),
                counter=row.get("counter_mode") or "none",
                rollover=_float_or_none(row.get("counter_rollover")),
                scale=float(row.get("scale_factor", 1.0)),
                offset=float(row.get("offset_value", 0.0)),
                unit=row.get("unit"),
            )
            for row in sorted(
                rows("historian_tag_mappings"), key=lambda r: (r["historian_system"], r["historian_tag"])
            )
        ],
        state_sets=[StateSet(name=name, states=states) for name, states in sorted(state_sets.items())],
    )


def _float_or_none(value: object) -> float | None:
    return None if value is None or value != value else float(value)  # type: ignore[arg-type]


def _int_or_none(value: object) -> int | None:
    return None if value is None or value != value else int(value)  # type: ignore[call-overload]
