"""Where the driver's time goes: cProfile in the driver's own threads and in the application's thread (its socket
calls), during one transfer.

cProfile sees only the thread that enables it, and the ESP driver works in its own threads; `threading.setprofile`
makes each driver thread started inside the block (named ``esp_at-...``, or the asyncio runner's loop) enable its
own profiler, and the calling thread gets one too. Time spent blocked (select, reads, lock and event waits) is
left out, and so is the benchmark's own work in the calling thread (its loops and SHA-256), so the shares are of
the CPU the driver spent in Python and in C calls. Each profiler clocks its own thread's CPU time
(`time.thread_time`), not the wall clock, so a system call that waits in the kernel (a write into a full pty)
counts only for the CPU it used. Loopback servers' threads are not profiled.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Built-ins in which a thread waits rather than works.
_BLOCKING = ("select", "poll", "acquire", "wait", "sleep", "'read' of 'posix'", "recv", "accept")
#: Threads that run the driver: its reader and worker, and the asyncio runner's event loop (`esp.LoopThread`).
DRIVER_THREADS = ("esp_at-", "bench-asyncio")
#: Code in the calling thread that is the benchmark's, not the driver's.
_NOT_DRIVER = ("/benchmarks/", "_hashlib")


@contextmanager
def driver_threads_profiled(top: int = 15, caller: bool = True) -> Iterator[dict[str, Any]]:
    """Profiles the driver's threads started inside the block (and, with `caller`, the calling thread) until it
    ends; the yielded dict gets the ``top`` functions by own time (``self``: label, share, calls) once the block has
    closed what it opened, and ``busy_seconds``, the driver's CPU in all."""
    profiles: list[cProfile.Profile] = []

    def start(*_args: object) -> None:
        if threading.current_thread().name.startswith(DRIVER_THREADS):
            profiler = cProfile.Profile(time.thread_time)
            profiles.append(profiler)
            profiler.enable()

    result: dict[str, Any] = {}
    own = cProfile.Profile(time.thread_time) if caller else None
    threading.setprofile(start)
    if own is not None:
        profiles.append(own)
        own.enable()
    try:
        yield result
    finally:
        if own is not None:
            own.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
    if not profiles:
        result.update(samples=0, self=[], by_file=[], busy_seconds=0.0)
        return
    stats = pstats.Stats(*profiles)
    rows = []
    for (filename, line, name), (_, calls, seconds, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = "/".join(filename.rsplit("/", 2)[-2:])  # package/module: asyncio's and ours apart
        label = f"{where}:{line}({name})" if line else name
        if any(word in label for word in _BLOCKING) or any(word in f"{filename}{name}" for word in _NOT_DRIVER):
            continue
        rows.append((label, seconds, calls))
    busy = sum(seconds for _, seconds, _ in rows) or 1.0
    rows.sort(key=lambda row: -row[1])
    result["busy_seconds"] = busy
    result["samples"] = len(profiles)
    result["self"] = [(label, seconds / busy, calls) for label, seconds, calls in rows[:top]]
    by_file: dict[str, float] = {}
    for label, seconds, _ in rows:
        where = label.split(":", 1)[0] if ":" in label else "C built-ins (len, isinstance, locks, system calls)"
        by_file[where] = by_file.get(where, 0.0) + seconds
    result["by_file"] = sorted(((where, seconds / busy) for where, seconds in by_file.items()), key=lambda r: -r[1])[
        :top
    ]
