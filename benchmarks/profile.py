"""Where the driver's time goes: cProfile in every thread the driver starts, during one transfer.

cProfile sees only the thread that enables it, and the ESP driver works in its own threads; `threading.setprofile`
makes each thread started inside the block enable its own profiler. Time spent blocked (select, reads, lock and
event waits) is left out, so the shares are of the CPU the driver's threads spent in Python and in C calls.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Built-ins in which a thread waits rather than works.
_BLOCKING = ("select", "poll", "acquire", "wait", "sleep", "'read' of 'posix'", "recv", "accept")


@contextmanager
def driver_threads_profiled(top: int = 15) -> Iterator[dict[str, Any]]:
    """Profiles every thread started inside the block until it ends; the yielded dict gets the ``top`` functions
    by own time (``self``) with their share, once the block has closed what it opened."""
    profiles: list[cProfile.Profile] = []

    def start(*_args: object) -> None:
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.enable()

    result: dict[str, Any] = {}
    threading.setprofile(start)
    try:
        yield result
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    if not profiles:
        result.update(samples=0, self=[])
        return
    stats = pstats.Stats(*profiles)
    rows = []
    for (filename, line, name), (_, calls, own, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        label = f"{filename.rsplit('/', 1)[-1]}:{line}({name})" if line else name
        if any(word in label for word in _BLOCKING):
            continue
        rows.append((label, own, calls))
    busy = sum(own for _, own, _ in rows) or 1.0
    rows.sort(key=lambda row: -row[1])
    result["busy_seconds"] = busy
    result["samples"] = len(profiles)
    result["self"] = [(label, own / busy, calls) for label, own, calls in rows[:top]]
