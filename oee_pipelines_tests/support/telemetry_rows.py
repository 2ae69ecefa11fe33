"""Literal telemetry rows for the OEE domain tests: machine states and piece counters at given times."""

from __future__ import annotations

import pandas as pd


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_localize("UTC")


def state(machine: str, ts: str, code: str, source: str = "simulator") -> dict:
    return {
        "org_id": "demo",
        "machine_id": machine,
        "signal": "machine_state",
        "ts": utc(ts),
        "value": 1.0 if code == "RUNNING" else 0.0,
        "text_value": code,
        "source_system": source,
        "source_ref": "state-tag",
        "quality": 100,
    }


def counter(machine: str, ts: str, pieces: float, signal: str = "pieces_good") -> dict:
    return {
        "org_id": "demo",
        "machine_id": machine,
        "signal": signal,
        "ts": utc(ts),
        "value": pieces,
        "text_value": None,
        "source_system": "simulator",
        "source_ref": "counter-tag",
        "quality": 100,
    }


def minute_counters(machine: str, start: str, end: str, pieces: float = 1.0) -> list[dict]:
    """One good-piece reading per minute in `(start, end]`."""
    stamps = pd.date_range(utc(start), utc(end), freq="1min")[1:]
    return [counter(machine, str(ts.tz_localize(None)), pieces) for ts in stamps]
