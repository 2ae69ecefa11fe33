"""Per-API-key request limits (`OEE_API_RATE_LIMIT`), kept in this process's memory.

Each API process counts alone: with N processes (uvicorn workers or pods) behind one address, a key
gets up to N times the limit. The moving window counts every request of the last period, so a key
never exceeds the limit in any window of that length, and `Retry-After` is exact: the time until
the oldest counted request leaves the window.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


def parse_rate_limit(spec: str) -> list[RateLimitItem]:
    """'600/minute', or several limits at once ('600/minute;20/second'); ValueError when unreadable."""
    items = list(parse_many(spec))
    if any(item.amount < 1 for item in items):
        raise ValueError(f"a rate limit must allow at least 1 request: {spec!r}")
    return items


class KeyRateLimiter:
    """Counts each key's requests against every configured limit (a key is its id, never its secret)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.items = parse_rate_limit(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key_id: int) -> RateLimitItem | None:
        """Count one request of `key_id`; the limit it would exceed (then it is not counted), or None."""
        for item in self.items:
            if not self._limiter.hit(item, "api-key", str(key_id)):
                return item
        return None

    def retry_after_seconds(self, item: RateLimitItem, key_id: int) -> int:
        """Whole seconds until `key_id` may send again under `item` (at least 1)."""
        reset_time = self._limiter.get_window_stats(item, "api-key", str(key_id)).reset_time
        return max(1, math.ceil(reset_time - time.time()))
