"""The one interface of every historian client: read the recorded values of a tag list over a range.

`HistorianClient` is a `typing.Protocol`: the PI Web API and AVEVA clients implement it without
inheriting from it, and the backfill talks to either through it alone (no `isinstance` dispatch).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

import pyarrow as pa


class HistorianNotConfiguredError(Exception):
    """A historian is asked for that the connector configuration does not describe."""


class HistorianClient(Protocol):
    """A connected historian client (a context manager: leaving it closes its connections)."""

    @property
    def page_limit(self) -> int | None:
        """Values per stream per request in use (PI `maxCount`, after any server limit); None when
        the server decides the page size (AVEVA `@odata.nextLink`)."""
        ...

    @property
    def page_limit_reason(self) -> str | None:
        """Why `page_limit` is below the configured one (a server limit), None while it is not."""
        ...

    def read_points(self, tags: Sequence[str], start: datetime, end: datetime) -> Iterator[pa.Table]:
        """Stored values with start <= ts < end, one raw point table (`RAW_POINT_SCHEMA`) per page."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> None: ...
