from __future__ import annotations

import pytest

from oee_pipelines.domain.plant_model import (
    PlantModelError,
    from_tables,
    parse_plant_model,
    to_tables,
)
from oee_pipelines_tests.support.plant_model import example_text

BAD_FILE = """
version: 1
organization: {id: acme, name: Acme}
reason_codes:
  - {code: STOP, name: Stop, category: Breakdowns, planned: false, loss: breakdowns}
products: [{id: P1, name: P, ideal_cycle_time_seconds: 0}]
sites:
  - id: S1
    name: Site
    timezone: Europe/Warsawx
    shifts:
      - {id: EARLY, name: Early, start: "06:00", end: "14:00"}
      - {id: LATE, name: Late, start: "13:30", end: "22:00"}
      - {id: NIGHT, name: Night, start: "22:00", end: "06:00", weekdays: [7]}
      - {id: SAT, name: Saturday, start: "21:00", end: "23:00", weekdays: [6]}
    lines:
      - id: L1
        name: Line 1
        machines:
          - {id: M1, name: Filler, ideal_cycle_times: {NOPE: 1.0}}
          - {id: M3, name: Capper}
      - id: L2
        name: Line 2
        machines:
          - {id: M2, name: Labeller}
          - {id: M3, name: Packer, idle_cycle_time: 2}
iot_sensors:
  - {sensor_id: T1, machine_id: M9, sensor_type: temperature, protocol: MQTT, mqtt_topic: t, unit: degC}
historian_tags:
  - {system: pi, tag: S.State, machine_id: M1, signal: machine_state, state_set: STATES}
  - {system: pi, tag: S.Good, machine_id: MX, signal: pieces_good}
state_sets:
  - name: STATES
    states:
      - {name: Run, running: true}
      - {name: Setup, running: false, reason_code: SETUP}
"""


def test_example_file_parses_and_round_trips_through_tables() -> None:
    model = parse_plant_model(example_text())
    tables = to_tables(model)
    assert len(tables["machines"]) == 3
    assert tables["machine_cycle_times"] == [
        {
            "org_id": "acme",
            "machine_id": "M1",
            "product_id": "BTL-500",
            "ideal_cycle_time_seconds": 1.4,
            "source": "plant_model",
        }
    ]
    assert {row["state_key"] for row in tables["state_name_mappings"]} == {"run", "stop", "setup", "4"}
    again = parse_plant_model(from_tables(tables).to_yaml())

    def rows(t: dict[str, list[dict[str, object]]]) -> dict[str, list[str]]:
        return {name: sorted(repr(sorted(r.items())) for r in table) for name, table in t.items()}

    assert rows(to_tables(again)) == rows(tables)


def test_every_error_is_reported_with_its_path() -> None:
    with pytest.raises(PlantModelError) as caught:
        parse_plant_model(BAD_FILE)
    messages = {str(issue) for issue in caught.value.issues}
    expected = {
        "products[0].ideal_cycle_time_seconds: Input should be greater than 0 (got 0)",
        "sites[0].timezone: 'Europe/Warsawx' is not an IANA time zone "
        "(e.g. Europe/Warsaw, America/Chicago, UTC)",
        "sites[0].lines[1].machines[1].idle_cycle_time: unknown key",
        "sites[0].lines[1].machines[1].id: duplicate id 'M3' (also at sites[0].lines[0].machines[1])",
        "sites[0].lines[0].machines[0].ideal_cycle_times.NOPE: unknown product 'NOPE' (not in products)",
        "sites[0].shifts[1]: shift 'LATE' overlaps shift 'EARLY' (sites[0].shifts[0]) on ISO weekday 1",
        "iot_sensors[0].machine_id: unknown machine 'M9' (not in sites[].lines[].machines)",
        "historian_tags[1].machine_id: unknown machine 'MX' (not in sites[].lines[].machines)",
        "state_sets[0].states[1].reason_code: undefined reason code 'SETUP' (not in reason_codes)",
    }
    assert expected <= messages, messages - expected
    # A night shift on Sunday crosses into Monday: it overlaps Monday's early shift? No (22-06 ends at 06).
    assert not any("'NIGHT'" in m and "EARLY" in m for m in messages)
    assert not any("'SAT'" in m for m in messages)
    assert len(messages) == len(expected)


def test_night_shift_crossing_midnight_overlaps_the_next_days_shift() -> None:
    text = example_text().replace('start: "06:00", end: "14:00"', 'start: "05:00", end: "14:00"')
    with pytest.raises(PlantModelError) as caught:
        parse_plant_model(text)
    assert [str(i) for i in caught.value.issues] == [
        "sites[0].shifts[2]: shift 'WAW-NIGHT' overlaps shift 'WAW-MORNING' (sites[0].shifts[0]) "
        "on ISO weekday 1"
    ]


def test_shifts_of_disjoint_effective_periods_do_not_overlap() -> None:
    text = (
        example_text()
        .replace(
            "effective_to: null",
            "effective_to: 2025-06-01",
        )
        .replace(
            "lines:\n      - id: L1",
            '  - {id: WAW-NIGHT-2, name: Night, start: "22:00", end: "05:00", weekdays: [1, 2, 3, 4, 5], '
            "effective_from: 2025-06-01}\n    lines:\n      - id: L1",
            1,
        )
    )
    model = parse_plant_model(text)
    assert [s.id for s in model.sites[0].shifts][-1] == "WAW-NIGHT-2"


def test_unquoted_time_and_yaml_syntax_errors_name_where() -> None:
    with pytest.raises(PlantModelError) as caught:
        parse_plant_model(example_text().replace('end: "14:00"', "end: 14:00", 1))
    assert 'sites[0].shifts[0].end: write the time in quotes, e.g. "22:00"' in str(caught.value)
    with pytest.raises(PlantModelError) as caught:
        parse_plant_model("version: 1\norganization: {id: a, name: b\n")
    assert str(caught.value).startswith("line ")
    with pytest.raises(PlantModelError) as caught:
        parse_plant_model("version: 1\nversion: 1\norganization: {id: a, name: b}\n")
    assert "appears twice" in str(caught.value)
