"""One helper for every deadline, in Mbed's units: milliseconds, ``<0`` forever, ``0`` non-blocking.

Huge and non-finite values have one meaning everywhere (``timeout_ms``): anything from ``FOREVER_MS`` (Mbed's
``osWaitForever``, 0xFFFFFFFF ms, about 49.7 days) up, and ``+inf``, is forever, like a negative value; NaN is a
programming error (``ValueError``); a positive fraction of a millisecond rounds up to 1 ms (still blocking).
"""

from __future__ import annotations

import math
import threading
import time

FOREVER_MS = 0xFFFFFFFF
"""Mbed's ``osWaitForever``: a timeout of this many milliseconds or more waits forever."""


def timeout_ms(value: float) -> int:
    """``value`` (milliseconds) as netsocket keeps it: ``-1`` forever, ``0`` non-blocking, else 1..FOREVER_MS-1.
    ``ValueError`` for NaN."""
    if math.isnan(value):
        raise ValueError("a timeout cannot be NaN (not a number)")
    if value < 0 or value >= FOREVER_MS:
        return -1
    return math.ceil(value)


MAIN_THREAD_SLICE_S = 0.2
"""The longest a wait on the main thread sleeps before it looks again (see `interruptible`)."""


def interruptible(timeout: float | None) -> float | None:
    """``timeout`` for a ``Condition.wait`` in a loop that re-checks its condition, cut to ``MAIN_THREAD_SLICE_S``
    on the main thread. The kernel may hand a Ctrl-C to any thread of the process, and CPython raises
    ``KeyboardInterrupt`` only when the main thread wakes: an untimed wait there would swallow Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return timeout
    return MAIN_THREAD_SLICE_S if timeout is None else min(timeout, MAIN_THREAD_SLICE_S)


class Deadline:
    """A point in ``time.monotonic()`` time, or none (wait forever)."""

    __slots__ = ("_end",)

    def __init__(self, timeout: float | None) -> None:
        milliseconds = -1 if timeout is None else timeout_ms(timeout)
        if milliseconds < 0:
            self._end: float | None = None
        else:
            self._end = time.monotonic() + milliseconds / 1000.0

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
