"""Machine-state log imports: what a machine was doing, one state per row, for plants whose machines
are logged by hand or in a spreadsheet. Landed as `machine_state` telemetry (`source_system="import"`).

A row is a state from `start` until `end`, or, without `end`, until the machine's next row in the
file (a machine's last row without `end` only marks the state at its time). `state` is `RUNNING`
(any case) or the name of a stop; a stop's reason is `reason_code` or, when that is empty, the state
itself read as a reason code. Both must be in the reason-code table.

Telemetry `machine_state` rows are state changes, and the OEE chain treats a machine silent for more
than its gap limit (5 minutes) as unknown time. So each state is landed as its change at `start` and a
repeat of the same state every whole minute until its end, plus one at `end` when no row starts there
(the time after it is unknown until the next row): what a historian sampling the state would write.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.imports.engine import (
    Checked,
    ColumnSpec,
    ImportSpec,
    OverlapCheck,
    require_end_after_start,
)
from oee_pipelines.domain.imports.model import ImportReference
from oee_pipelines.domain.telemetry import MACHINE_STATE, RUNNING, empty_telemetry, to_telemetry_table

SOURCE_SYSTEM = "import"
GOOD_QUALITY = 100
# The repeat interval of a landed state: well inside the OEE chain's 5-minute gap limit.
REPEAT_SECONDS = 60
_MICROS = 1_000_000
UNKNOWN_STATE = "unknown state (write RUNNING, or a stop's reason code from the reason-code table)"
UNKNOWN_REASON = "unknown reason code (codes are case-sensitive)"


def _known_codes(reference: ImportReference) -> set[str]:
    if reference.reason_codes is None:
        raise ValueError("a machine-state log needs the reason-code table (ImportReference.reason_codes)")
    return set(reference.reason_codes["code"].astype(str))


def _is_running(state: pd.Series) -> pd.Series:
    return (state.str.upper() == RUNNING).fillna(False).astype(bool)


def _check_rows(checked: Checked) -> None:
    require_end_after_start(checked, "start", "end")
    codes = _known_codes(checked.reference)
    state, reason = checked.text["state"], checked.text["reason_code"]
    running = _is_running(state).to_numpy()
    has_state, has_reason = state.notna().to_numpy(), reason.notna().to_numpy()
    problems, raw = checked.problems, checked.raw
    problems.add(
        ~has_state & ~has_reason,
        "state",
        raw["state"],
        "write RUNNING in state, or the stop's reason code in reason_code",
    )
    problems.add(running & has_reason, "reason_code", raw["reason_code"], "a RUNNING row has no reason code")
    unknown_reason = has_reason & ~reason.isin(list(codes)).to_numpy(dtype=bool)
    problems.add(unknown_reason & ~running, "reason_code", raw["reason_code"], UNKNOWN_REASON)
    state_as_code = has_state & ~running & ~has_reason
    unknown_state = state_as_code & ~state.isin(list(codes)).to_numpy(dtype=bool)
    problems.add(unknown_state, "state", raw["state"], UNKNOWN_STATE)


def state_rows(valid: pd.DataFrame) -> pd.DataFrame:
    """machine_id, ts, value, text_value of every landed state row (changes, repeats and end marks)."""
    frame = valid.sort_values(["machine_id", "start"], kind="stable").reset_index(drop=True)
    running = _is_running(frame["state"])
    text = frame["reason_code"].where(frame["reason_code"].notna(), frame["state"])
    text = text.astype(object).where(~running, RUNNING)
    start = _micros(frame["start"])
    next_start = frame.groupby("machine_id", sort=False)["start"].shift(-1)
    next_micros = _micros(next_start)
    has_next = next_start.notna().to_numpy()
    has_end = frame["end"].notna().to_numpy()
    end = np.where(has_end, _micros(frame["end"]), 0)
    until = np.where(has_end, end, np.where(has_next, next_micros, start))
    step = REPEAT_SECONDS * _MICROS
    first_repeat = (start // step + 1) * step
    repeats = np.maximum(0, (until - first_repeat + step - 1) // step)
    owner = np.repeat(np.arange(len(frame)), repeats)
    offsets = np.arange(int(repeats.sum())) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    repeat_ts = first_repeat[owner] + offsets * step
    end_mark = has_end & ~(has_next & (next_micros == end))
    marks = np.flatnonzero(end_mark)
    rows = np.concatenate([np.arange(len(frame)), owner, marks])
    ts = np.concatenate([start, repeat_ts, end[marks]])
    landed = pd.DataFrame(
        {
            "machine_id": frame["machine_id"].to_numpy()[rows],
            "ts": pd.to_datetime(ts, unit="us", utc=True),
            "value": np.where(running.to_numpy(), 1.0, 0.0)[rows],
            "text_value": text.to_numpy()[rows],
        }
    )
    return landed.sort_values(["machine_id", "ts"], kind="stable").reset_index(drop=True)


def _micros(stamps: pd.Series) -> np.ndarray:
    """UTC timestamps as integer microseconds (NaT as the smallest integer, masked by the caller)."""
    naive = pd.to_datetime(stamps, utc=True).dt.tz_convert(None)
    return naive.to_numpy(dtype="datetime64[us]").view("int64")


def _land(valid: pd.DataFrame, reference: ImportReference, file_name: str, run_id: str | None) -> pa.Table:
    rows = state_rows(valid)
    frame = pd.DataFrame(
        {
            "org_id": reference.org_id,
            # Site and line are completed from the machine reference when the rows land.
            "site_id": None,
            "line_id": None,
            "machine_id": rows["machine_id"],
            "signal": MACHINE_STATE,
            "ts": rows["ts"],
            "value": rows["value"],
            "text_value": rows["text_value"],
            "unit": None,
            "quality": np.int16(GOOD_QUALITY),
            "source_system": SOURCE_SYSTEM,
            "source_ref": file_name,
            "ingest_run_id": run_id,
        }
    )
    return to_telemetry_table(frame)


# A state with an end must end before the machine's next state starts.
STATES_MUST_NOT_OVERLAP = OverlapCheck(
    group="machine_id",
    start="start",
    end="end",
    end_required=False,
    reason="overlaps the state of the same machine in row {row}",
)

MACHINE_STATE_LOG: ImportSpec[pa.Table] = ImportSpec(
    kind="machine_state_log",
    columns=(
        ColumnSpec("machine_id", required=True, known_in="machine_ids"),
        ColumnSpec(
            "start", "timestamp", required=True, aliases=("timestamp", "start_time", "start_timestamp")
        ),
        ColumnSpec("end", "timestamp", aliases=("end_time", "end_timestamp")),
        ColumnSpec("state"),
        ColumnSpec("reason_code"),
    ),
    key=(("machine_id", "machine_id"), ("start", "ts")),
    check_rows=_check_rows,
    land=_land,
    empty_landing=empty_telemetry,
    # No `combine_landed`: a state without an end runs until the machine's next row, wherever it is.
    overlaps=STATES_MUST_NOT_OVERLAP,
)
