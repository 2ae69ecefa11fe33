"""The IoT mapping's column-wise paths give exactly what their references give.

- `flatten_messages` by shape (the default) == message by message through `explode_payload`
  (`vectorised=False`), frame for frame and object type for object type, on every payload form the
  tests know and on odd ones, and on a seeded random mix of them;
- `parse_timestamps`'s all-plain-UTC path == the general path's parse and pandas' parse of the same texts;
- the folded duplicate key == `DataFrame.duplicated` on the four columns;
- `map_readings` with the stamps parsed already == parsing them itself.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.domain.iot_mapping import (
    _first_occurrences,
    flatten_messages,
    map_readings,
    parse_timestamps,
)
from oee_pipelines_tests.support.iot import sample_sensors
from oee_pipelines_tests.support.iot_timestamps import pandas_parse_timestamps

STAMP = "2025-01-13T10:00:00.123Z"
RECEIVED_NS = 1_736_762_400_000_000_000  # 2025-01-13 10:00 UTC


class Batch(list):  # a list subclass: `explode_payload` takes it as an array, the fast path must not guess
    pass


KNOWN_SHAPES: list[object] = [
    {"sensor_id": "TEMP-M001", "temperature": 72.5, "timestamp": STAMP},
    {"temperature": 72, "sensor_id": "TEMP-M001", "timestamp": STAMP},  # same keys, other order
    {"sensor_id": "TEMP_ZONE_A", "temperature": 72.5, "humidity": 45.2, "timestamp": STAMP},
    {"sensor_id": "TEMP_ZONE_A", "humidity": 45.2, "temperature": 72.5, "timestamp": STAMP},
    {"sensor_id": "S", "x": 3, "ts": 2},
    {"sensor_id": "S", "x": 3, "ts": 1736762400, "timestamp": STAMP},  # timestamp wins over ts
    {"sensor_id": "S", "x": "7.5", "timestamp": STAMP, "machine_id": "M", "unit": "degC"},
    {"sensor_id": "S", "x": None, "timestamp": None},
    {"sensor_id": "S", "x": [1, 2], "y": {"a": 1}, "timestamp": STAMP},  # values that are not numbers
    {"sensor_id": "S", "x": 1.0},  # no timestamp at all
    {"sensor_id": 17, "temperature": 1.0, "timestamp": STAMP},  # a numeric sensor id becomes "17"
    {"sensor_id": None, "temperature": 1.0, "timestamp": STAMP},  # refused
    {"ts": 1, "values": {"a": 1.0, "b": 2.0}},
    {"sensor_id": "S", "ts": 1, "values": {"a": 1.0}},
    {"sensor_id": "S", "values": 5, "x": 1, "ts": 1},  # values not an object: the sensor_id form
    [{"sensor_id": "S", "x": 1, "ts": 1}, {"sensor_id": "S", "x": 2, "ts": 2}],
    [{"sensor_id": "S", "x": 1, "ts": 1}, {"ts": 2, "values": {"x": 2}}],  # mixed shapes
    [{"sensor_id": "S", "x": 1, "ts": 1}, {"sensor_id": "S", "y": 2, "ts": 2}],  # same length, other key
    [{"sensor_id": "S", "x": 1, "ts": 1}, {"sensor_id": "S", "x": 2}],  # a key missing further on
    [{"sensor_id": "S", "x": 1, "ts": 1}, {"ts": 2, "sensor_id": "S", "x": 2}],
    [{"sensor_id": "S", "a": 1, "b": 2, "ts": 1}, {"sensor_id": "S", "b": 2, "a": 1, "ts": 1}],
    [{"sensor_id": "S", "x": 1, "ts": 1}, {"sensor_id": 5, "x": 2, "ts": 2}],
    [{"sensor_id": "S", "x": 1, "ts": 1}, 7],
    [],
    42,
    "text",
    None,
    {"temperature": 1.0},
    {"sensor_id": "S", "ts": 1},
    {1: 2.0, "sensor_id": "S", "ts": 1},  # a key that is not text (only from Python callers)
    OrderedDict([("sensor_id", "S"), ("x", 1), ("ts", 1)]),
    Batch([{"sensor_id": "S", "x": 1, "ts": 1}]),
]


def both(payloads: list[object]) -> None:
    count = len(payloads)
    sources = ["mqtt" if index % 3 else "http" for index in range(count)]
    topics = [f"factory/topic-{index % 5}" for index in range(count)]
    received = [RECEIVED_NS + index for index in range(count)]
    fast_raw, fast_rejected = flatten_messages(sources, topics, received, payloads)
    raw, rejected = flatten_messages(sources, topics, received, payloads, vectorised=False)
    pd.testing.assert_frame_equal(fast_raw, raw, check_exact=True)
    pd.testing.assert_frame_equal(fast_rejected, rejected, check_exact=True)
    for column in ("sensor_id", "measurement", "value", "raw_ts"):  # 1 == 1.0 to pandas, not to us
        assert [type(value) for value in fast_raw[column]] == [type(value) for value in raw[column]]
        assert [repr(value) for value in fast_raw[column]] == [repr(value) for value in raw[column]]


@pytest.mark.parametrize("payload", KNOWN_SHAPES, ids=lambda payload: repr(payload)[:60])
def test_each_shape_alone_between_common_messages(payload: object) -> None:
    common = [
        {"sensor_id": "TEMP-M001", "temperature": 70.0 + index, "timestamp": STAMP} for index in range(3)
    ]
    both([common, payload, common[:1], payload])


def test_all_shapes_in_one_batch_and_none_at_all() -> None:
    both(KNOWN_SHAPES)
    both([])
    both([[]])


def test_a_seeded_random_mix_of_shapes() -> None:
    generator = random.Random(19)
    for _ in range(30):
        payloads: list[Any] = []
        for _ in range(generator.randint(1, 40)):
            if generator.random() < 0.6:
                size = generator.randint(1, 6)
                payloads.append([generator.choice(KNOWN_SHAPES[:11]) for _ in range(size)])
            else:
                payloads.append(generator.choice(KNOWN_SHAPES))
        both(payloads)


def test_the_simulator_batches_and_their_row_order() -> None:
    sensors = ["TEMP-M001", "VIB-M001", "HUM-L001"]
    kinds = ["temperature", "vibration", "humidity"]
    payloads = [
        [
            {
                "sensor_id": sensors[topic],
                kinds[topic]: round(index * 0.1, 3),
                "timestamp": f"2025-01-13T10:{index:02d}:00.000Z",
            }
            for index in range(50)
        ]
        for topic in (0, 1, 2, 0, 1)
    ]
    both(payloads)
    raw, _ = flatten_messages(["mqtt"] * 5, ["t0", "t1", "t2", "t0", "t1"], [RECEIVED_NS] * 5, payloads)
    assert raw["sensor_id"].tolist()[49:51] == ["TEMP-M001", "VIB-M001"]
    assert raw["measurement"].tolist()[100] == "humidity"
    assert len(raw) == 250


PLAIN = [
    "2025-01-13T10:00:00Z",
    "2025-01-13T10:00:00.1Z",
    "2025-01-13T10:00:00.123456Z",
    "1999-12-31T23:59:59.999Z",
]


@pytest.mark.parametrize(
    "texts",
    [
        PLAIN,
        [*PLAIN, "2025-02-30T10:00:00Z"],  # Arrow refuses it: the whole batch through pandas, NaT
        [*PLAIN, "2025-01-13T10:00:00+01:00"],
        [*PLAIN, "2025-01-13T10:00:00"],
        [*PLAIN, "1850-01-13T10:00:00Z"],
        ["2025-01-13T10:00:00z"],
        ["2025-01-13T10:00:00Z\n"],
    ],
)
def test_the_all_text_path_parses_as_the_general_path_and_pandas(texts: list[str]) -> None:
    raw_ts = pd.Series(texts, dtype=object, index=range(10, 10 + len(texts)))
    fast = parse_timestamps(raw_ts)
    pd.testing.assert_series_equal(fast, pandas_parse_timestamps(raw_ts), check_exact=True)
    # The same texts with one number among them take the general path (texts and numbers apart).
    general = parse_timestamps(
        pd.Series([*texts, 1736762400], dtype=object, index=range(10, 11 + len(texts)))
    )
    pd.testing.assert_series_equal(fast, general.iloc[:-1], check_exact=True)
    assert fast.dtype == "datetime64[ns, UTC]"
    assert fast.name is None


def test_plain_stamps_are_the_instants_they_name() -> None:
    parsed = parse_timestamps(pd.Series(PLAIN[:3], dtype=object))
    assert parsed.tolist() == [
        pd.Timestamp("2025-01-13 10:00:00", tz="UTC"),
        pd.Timestamp("2025-01-13 10:00:00.1", tz="UTC"),
        pd.Timestamp("2025-01-13 10:00:00.123456", tz="UTC"),
    ]


@pytest.mark.parametrize("seed", range(6))
def test_the_folded_duplicate_key_finds_what_duplicated_finds(seed: int) -> None:
    generator = np.random.default_rng(seed)
    size = 2_000
    sensors = generator.integers(0, 4, size)
    signals = generator.integers(-1 if seed == 5 else 0, 3, size)  # seed 5: unnamed signals (-1)
    spread = 2**62 if seed == 4 else 10_000  # seed 4: stamps too far apart to fold
    ts_ns = 1_736_762_400_000_000_000 + generator.integers(0, 30, size) * (spread // 30)
    values = generator.choice([0.0, -0.0, 1.5, 2.0], size)
    expected = ~pd.DataFrame(
        {"sensor": sensors, "signal": signals, "ts": ts_ns, "value": values}
    ).duplicated()
    first = _first_occurrences(sensors, signals, 3, ts_ns, values)
    assert (first == expected.to_numpy()).all()
    assert 0 < (~first).sum() < size


def test_map_readings_with_the_stamps_parsed_already_maps_the_same() -> None:
    payloads = [
        {"sensor_id": "TEMP-M001", "temperature": 95.0, "timestamp": STAMP},
        {"sensor_id": "TEMP-M001", "temperature": 95.0, "timestamp": STAMP},
        {"sensor_id": "VIB-M001", "vibration": "x", "timestamp": STAMP},
        {"sensor_id": "NOPE", "temperature": 1.0, "timestamp": STAMP},
        {"sensor_id": "VIB-M001", "vibration": 1.0, "timestamp": None},
        {"sensor_id": "VIB-M001", "vibration": 1.0, "timestamp": "yesterday"},
        {"ts": 1736762400, "values": {"value": 30.0}},
    ]
    raw, _ = flatten_messages(
        ["mqtt"] * 7, ["factory/MACHINE-001/temperature"] * 7, [RECEIVED_NS] * 7, payloads
    )
    given = map_readings(raw, sample_sensors(), "run-1", ts=parse_timestamps(raw["raw_ts"]))
    parsed_here = map_readings(raw, sample_sensors(), "run-1")
    assert given.telemetry.equals(parsed_here.telemetry)
    pd.testing.assert_frame_equal(given.quarantine, parsed_here.quarantine)
    assert given.duplicates_removed == parsed_here.duplicates_removed == 1
    assert sorted(given.quarantine["reason"]) == [
        "missing timestamp",
        "unknown sensor",
        "unparsable timestamp",
        "unparsable value",
    ]
    assert given.telemetry.column("ingest_run_id").to_pylist() == ["run-1"] * given.telemetry.num_rows
