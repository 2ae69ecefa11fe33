"""The demo's own faults: what the simulator injected, and which data-quality check caught each.

A plant does not say which of its readings are wrong; the simulator does, for the demo only: it
writes a fault manifest (`MANIFEST_FILE` in the data folder, counts per day, signal and fault) when
it starts. `oee demo`'s summary reads it and puts each fault beside what the warehouse's
`data_quality_alerts` found for the rule that looks for it, so the demo's failed checks read as
the injected faults they are. The pipeline itself never reads the manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from oee_pipelines.domain.alerts import DUPLICATE, GAP, LOW_COMPLETENESS, OUT_OF_RANGE

MANIFEST_FILE = "simulator_faults.json"
MANIFEST_NOTE = "written by the plant simulator for the demo; a real plant publishes no such file"

# The `enriched_telemetry` check that reports each telemetry alert type (defs/telemetry/checks.py).
CHECK_OF_ALERT = {
    OUT_OF_RANGE: "readings_within_range",
    DUPLICATE: "no_duplicate_readings",
    GAP: "telemetry_complete",
    LOW_COMPLETENESS: "telemetry_complete",
}


@dataclass(frozen=True)
class FaultKind:
    name: str  # the manifest's `fault`
    label: str
    unit: str  # what the manifest counts
    alert_types: tuple[str, ...]  # the rules that look for it, in the order to report them
    note: str = ""  # said when the checks found fewer than were injected


FAULT_KINDS = (
    FaultKind("spike", "out-of-range spikes", "readings", (OUT_OF_RANGE,)),
    FaultKind("duplicate", "repeated readings", "readings", (DUPLICATE,)),
    FaultKind(
        "dropout",
        "sensor dropouts",
        "gaps",
        (GAP, LOW_COMPLETENESS),
        note="gaps are looked for only on sensors with a polling interval (iot_sensors)",
    ),
    FaultKind(
        "questionable",
        "questionable quality",
        "readings",
        (),
        note="no check: the readings are kept with quality 50",
    ),
)
ALERT_UNITS = {GAP: "gaps", LOW_COMPLETENESS: "missing readings"}


def manifest(rows: Iterable[Mapping[str, Any]], seed: int) -> dict[str, Any]:
    """The manifest document: `rows` hold day (ISO date), signal, fault and count."""
    faults = [
        {"day": str(row["day"]), "signal": row["signal"], "fault": row["fault"], "count": int(row["count"])}
        for row in rows
    ]
    return {"note": MANIFEST_NOTE, "seed": seed, "faults": faults}


def injected_totals(document: Mapping[str, Any], first: date, last: date) -> dict[str, int]:
    """Injected faults per kind on the days first..last."""
    totals = {kind.name: 0 for kind in FAULT_KINDS}
    for row in document.get("faults", []):
        if first <= date.fromisoformat(row["day"]) <= last and row["fault"] in totals:
            totals[row["fault"]] += int(row["count"])
    return totals


def fault_lines(injected: Mapping[str, int], found: Mapping[str, tuple[int, int]]) -> list[str]:
    """One line per injected fault kind: how many, the check that caught it and what it found.

    `found`: alert_type -> (alerts, readings counted by them) over the same days.
    """
    lines = []
    for kind in FAULT_KINDS:
        count = injected.get(kind.name, 0)
        if not count:
            continue
        hits = [(t, *found[t]) for t in kind.alert_types if found.get(t, (0, 0))[0]]
        left = f"{kind.label:<22} {count:>7,} {kind.unit:<9}"
        if not hits:
            reason = kind.note if not kind.alert_types else "not caught by any check"
            lines.append(f"{left} -> {reason}")
            continue
        checks = sorted({CHECK_OF_ALERT[t] for t, _, _ in hits})
        what = ", ".join(
            f"{readings:,} {ALERT_UNITS.get(t, 'readings')} in {alerts:,} {t}" for t, alerts, readings in hits
        )
        first_hits = hits[0][2]
        note = f" ({kind.note})" if kind.note and first_hits < count else ""
        lines.append(f"{left} -> caught by {', '.join(checks)}: {what}{note}")
    return lines
