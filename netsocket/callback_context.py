"""Marks the threads that are running a user callback (Mbed's "interrupt context").

``sigio``/``attach`` callbacks and interface status callbacks run on a driver's own thread (its reader thread for
the ESP-AT driver). A socket call made from there could wait for that very thread, so the socket layer refuses it
with ``RuntimeError`` instead of deadlocking. Drivers invoke user callbacks through :func:`run_callback`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

_log = logging.getLogger(__name__)
_state = threading.local()


def in_callback() -> bool:
    """True while the current thread is running a user callback."""
    return bool(getattr(_state, "depth", 0))


def run_callback(callback: Callable[..., object], *args: object) -> None:
    """Call a user callback in callback context; an exception it raises is logged, never propagated."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        callback(*args)
    except Exception:
        _log.exception("user callback %r raised", callback)
    finally:
        _state.depth -= 1


def forbid_in_callback(what: str) -> None:
    """Raise ``RuntimeError`` when called from a user callback."""
    if in_callback():
        raise RuntimeError(
            f"{what} called from a sigio/attach callback; callbacks run on the driver's thread and must not "
            "send, receive, connect, accept or wait: signal another thread instead"
        )
