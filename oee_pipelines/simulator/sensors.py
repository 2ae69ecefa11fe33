"""Process sensor readings of one machine (or line) over one UTC day, with realistic faults.

Values follow the machine state (a running machine warms up, builds pressure, vibrates, and
its speed is its piece rate), plus Gaussian noise. Faults are drawn for every reading whatever
is later selected: out-of-range spikes, questionable quality, gaps and exact duplicates.
Randomness is seeded per (seed, machine, day, signal), so asking for fewer signals or machines
does not change the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oee_pipelines.simulator.events import RUNNING, SECONDS_PER_DAY

SENSOR_STREAM = 3
SPIKE_PROBABILITY = 0.0015
QUESTIONABLE_PROBABILITY = 0.002
DUPLICATE_PROBABILITY = 0.001
GAPS_PER_DAY = 0.8
LONGEST_GAP_READINGS = 60


@dataclass(frozen=True)
class ProcessSignal:
    name: str
    unit: str
    min_value: float  # the expected range, as registered in sensor_range_config
    max_value: float
    violation_action: str
    noise: float


PROCESS_SIGNALS = (
    ProcessSignal("temperature", "degC", 10.0, 90.0, "ALERT", 0.4),
    ProcessSignal("pressure", "bar", 0.5, 8.0, "REJECT", 0.05),
    ProcessSignal("vibration", "mm/s", 0.0, 8.0, "DEGRADE", 0.15),
    ProcessSignal("speed", "ppm", 0.0, 90.0, "ALERT", 0.5),
    ProcessSignal("humidity", "%RH", 20.0, 80.0, "ALERT", 1.0),
)
MACHINE_SIGNALS = ("temperature", "pressure", "vibration", "speed")
LINE_SIGNALS = ("humidity",)


@dataclass(frozen=True)
class Readings:
    offsets: np.ndarray  # int64 seconds from midnight UTC
    values: np.ndarray  # float64
    quality: np.ndarray  # int16


def signal_spec(name: str) -> ProcessSignal:
    for signal in PROCESS_SIGNALS:
        if signal.name == name:
            return signal
    raise KeyError(f"no process signal {name!r}")


def signal_rng(seed: int, owner_index: int, day_ordinal: int, name: str) -> np.random.Generator:
    signal_number = [signal.name for signal in PROCESS_SIGNALS].index(name)
    return np.random.default_rng([seed, SENSOR_STREAM, owner_index, day_ordinal, signal_number])


def machine_signal_readings(
    name: str, states: np.ndarray, piece_rate: np.ndarray, interval: int, rng: np.random.Generator
) -> Readings:
    offsets = np.arange(0, SECONDS_PER_DAY, interval)
    running = (states == RUNNING).astype(np.float64)
    if name == "temperature":
        base = 22.0 + 43.0 * _trailing_mean(running, 900)[offsets]
    elif name == "pressure":
        base = 1.0 + 5.0 * _trailing_mean(running, 60)[offsets]
    elif name == "vibration":
        base = 0.3 + 2.2 * running[offsets]
    elif name == "speed":
        base = 60.0 * piece_rate[offsets] * running[offsets]
    else:
        raise KeyError(f"{name!r} is not a machine signal")
    return _with_faults(signal_spec(name), offsets, base, rng)


def line_signal_readings(name: str, interval: int, rng: np.random.Generator) -> Readings:
    if name != "humidity":
        raise KeyError(f"{name!r} is not a line signal")
    offsets = np.arange(0, SECONDS_PER_DAY, interval)
    base = 45.0 + 8.0 * np.sin(2 * np.pi * (offsets - 6 * 3600) / SECONDS_PER_DAY)
    return _with_faults(signal_spec(name), offsets, base, rng)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` seconds up to each second (fewer at the start of the day)."""
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


@dataclass(frozen=True)
class FaultDraw:
    """The random part of one sensor-day: noise and where each fault falls (one entry per reading)."""

    noise: np.ndarray
    spikes: np.ndarray  # bool: the reading is replaced by an out-of-range spike
    spike_factor: np.ndarray  # the spike's multiple of the range maximum
    questionable: np.ndarray  # bool: quality 50
    keep: np.ndarray  # bool: False inside a gap (the reading is never sent)
    repeated: np.ndarray  # bool per kept reading: sent twice
    gaps: int

    def counts(self) -> dict[str, int]:
        """What the sensor-day sends wrong: spike and questionable readings as sent, repeats, gaps."""
        sent = np.where(self.repeated, 2, 1)
        return {
            "spike": int((self.spikes[self.keep] * sent).sum()),
            "duplicate": int(self.repeated.sum()),
            "dropout": self.gaps,
            "questionable": int((self.questionable[self.keep] * sent).sum()),
        }


def draw_faults(count: int, noise: float, rng: np.random.Generator) -> FaultDraw:
    """Draws in a fixed order, so the readings and the fault manifest agree for the same rng."""
    noise_values = rng.normal(0.0, noise, count)
    spikes = rng.random(count) < SPIKE_PROBABILITY
    spike_factor = rng.uniform(1.3, 2.0, count)
    questionable = rng.random(count) < QUESTIONABLE_PROBABILITY
    keep = np.ones(count, dtype=bool)
    gap_count = int(rng.poisson(GAPS_PER_DAY))
    for gap_start, gap_length in zip(
        rng.integers(0, count, gap_count).tolist(),
        rng.integers(3, LONGEST_GAP_READINGS, gap_count).tolist(),
        strict=True,
    ):
        keep[gap_start : gap_start + gap_length] = False
    repeated = (rng.random(count) < DUPLICATE_PROBABILITY)[keep]
    return FaultDraw(noise_values, spikes, spike_factor, questionable, keep, repeated, gap_count)


def _with_faults(
    signal: ProcessSignal, offsets: np.ndarray, base: np.ndarray, rng: np.random.Generator
) -> Readings:
    draw = draw_faults(len(offsets), signal.noise, rng)
    values = base + draw.noise
    values = np.maximum(values, signal.min_value) if signal.min_value == 0.0 else values
    values = np.where(draw.spikes, signal.max_value * draw.spike_factor, values)
    quality = np.where(draw.questionable, 50, 100).astype(np.int16)
    repeats = np.where(draw.repeated, 2, 1)
    keep = draw.keep
    return Readings(
        offsets=np.repeat(offsets[keep], repeats).astype(np.int64),
        values=np.repeat(values[keep], repeats),
        quality=np.repeat(quality[keep], repeats),
    )
