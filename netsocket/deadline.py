"""One helper for every deadline, in Mbed's units: milliseconds, ``<0`` forever, ``0`` non-blocking."""

from __future__ import annotations

import time


class Deadline:
    """A point in ``time.monotonic()`` time, or none (wait forever)."""

    __slots__ = ("_end",)

    def __init__(self, timeout_ms: float | None) -> None:
        if timeout_ms is None or timeout_ms < 0:
            self._end: float | None = None
        else:
            self._end = time.monotonic() + timeout_ms / 1000.0

    @classmethod
    def from_seconds(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else seconds * 1000.0)

    @property
    def forever(self) -> bool:
        return self._end is None

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None for no deadline."""
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end
