"""Typed errors raised by every connector: which system, which call, and why."""

from __future__ import annotations


class SourceSystemError(Exception):
    """A source system call failed for good (after retries, or on a non-retryable answer)."""

    def __init__(self, system: str, call: str, reason: str, *, status_code: int | None = None) -> None:
        self.system = system
        self.call = call
        self.reason = reason
        self.status_code = status_code
        status = f" (HTTP {status_code})" if status_code is not None else ""
        super().__init__(f"{system}: {call} failed{status}: {reason}")


class SourceAuthError(SourceSystemError):
    """The source system refused our credentials (401/403): retrying will not help."""


class SourceDataError(SourceSystemError):
    """The source system answered, but the body could not be understood."""
