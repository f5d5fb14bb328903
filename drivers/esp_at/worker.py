"""The driver's one worker thread: every piece of work that waits for the module and is not the caller's own
blocking call (socket AT work, asynchronous DNS look-ups, a non-blocking join, re-initialisation after a reset,
address refresh after a rejoin) runs here, one at a time, as the module takes one command at a time.

With the AT reader thread that makes two threads per module, whatever the number of sockets, look-ups, joins and
reconnects.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

_log = logging.getLogger("netsocket.drivers.esp_at")

Job = Callable[[], None]


class Worker:
    """Runs queued jobs first-come, then whatever ``next_job`` (the socket layer, called under ``cond``) offers."""

    def __init__(self, cond: threading.Condition, next_job: Callable[[], Job | None], alive: Callable[[], bool]):
        self._cond = cond
        self._next_job = next_job
        self._alive = alive
        self._jobs: deque[tuple[Job, Job | None]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._exited = False

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._exited = False
            self._thread = threading.Thread(target=self._loop, name="esp_at-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the job under way; queued jobs are abandoned (their ``abandon`` runs on this thread)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._let_go()
        with self._cond:
            left = list(self._jobs)
            self._jobs.clear()
        for _job, abandon in left:
            if abandon is not None:
                abandon()

    def _let_go(self) -> None:
        """Once asked to stop: wait for the job under way, unless that is the caller."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._exited

    def submit(self, job: Job, abandon: Job | None = None) -> None:
        """Run ``job`` on the worker; ``abandon`` instead if the worker stops first (or is not running)."""
        with self._cond:
            if self.running and not self._stopping:
                self._jobs.append((job, abandon))
                self._cond.notify_all()
                return
        if abandon is not None:
            abandon()

    def _loop(self) -> None:
        while True:
            with self._cond:
                job = None
                while not self._stopping:
                    if self._jobs:
                        job = self._jobs.popleft()[0]
                        break
                    job = self._next_job()
                    if job is not None or not self._alive():
                        break
                    self._cond.wait()
                if self._stopping or job is None:
                    self._exited = True  # later jobs are abandoned at once
                    return
            try:
                job()
            except Exception:  # a driver bug must not kill the worker silently
                _log.exception("ESP-AT worker job failed")
