"""The sync window: which span of the MES schedule (and which ERP days) one sync reads.

The window's bounds are parsed once where they enter as text (the run config, through
`sync_window`; the API parses its own parameters) and travel as a `SyncWindow` from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from oee_pipelines.domain.timestamps import parse_instant

SYNC_DAYS_BEFORE = 1
SYNC_DAYS_AFTER = 7


@dataclass(frozen=True)
class SyncWindow:
    """[start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"sync window end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )

    @classmethod
    def around(cls, now: datetime, start: datetime | None = None, end: datetime | None = None) -> SyncWindow:
        """The given bounds, a missing one defaulting to now-1 day (start) or now+7 days (end)."""
        return cls(
            start if start is not None else now - timedelta(days=SYNC_DAYS_BEFORE),
            end if end is not None else now + timedelta(days=SYNC_DAYS_AFTER),
        )

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def end_day(self) -> date:
        """The first day after the window (exclusive bound for day-based sources)."""
        last = (self.end - timedelta(microseconds=1)).date()
        return last + timedelta(days=1)


def sync_window(start: str | None, end: str | None, now: datetime) -> SyncWindow:
    """[start, end) from ISO 8601 text (a date means its midnight UTC); default now-1 day .. now+7 days."""
    return SyncWindow.around(now, _bound(start, "start"), _bound(end, "end"))


def _bound(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_instant(text)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"sync window {name}: {error}") from None
