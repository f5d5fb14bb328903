"""A small timer/callback thread, like Mbed's shared event queue (``mbed_event_queue()``).

Layer: I/O support for the API. ``call_in(delay_ms, fn)`` runs ``fn`` on the queue's one worker thread after the
delay; events run one at a time in due order (FIFO for equal times). The thread starts on first use, is a daemon,
and ``stop()`` ends it (pending events are dropped); the next ``call_in`` starts it again, so tests can stop it in
teardown whatever ran before. An event that raises is logged and the queue goes on.

``fn`` runs as it is: code that calls *user* callbacks from an event wraps them in
``netsocket.callback_context.run_callback`` itself.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

_log = logging.getLogger(__name__)


class EventQueue:
    """Runs callables on one worker thread after a delay."""

    def __init__(self, name: str = "netsocket-events") -> None:
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stop_token: threading.Event | None = None

    def call_in(self, delay_ms: float, fn: Callable[[], object]) -> int:
        """Run ``fn()`` on the queue thread in ``delay_ms`` ms (0: as soon as possible). Returns an event id > 0."""
        if not callable(fn):
            raise TypeError("call_in takes a callable")
        due = time.monotonic() + max(0.0, float(delay_ms)) / 1000.0
        with self._cond:
            event_id = next(self._ids)
            heapq.heappush(self._heap, (due, event_id, fn))
            if self._thread is None:
                self._stop_token = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop_token,), name=self._name, daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return event_id

    def call(self, fn: Callable[[], object]) -> int:
        """``call_in(0, fn)``."""
        return self.call_in(0, fn)

    def cancel(self, event_id: int) -> bool:
        """Drop a pending event: True if it had not started yet."""
        with self._cond:
            if any(entry[1] == event_id for entry in self._heap) and event_id not in self._cancelled:
                self._cancelled.add(event_id)
                return True
        return False

    @property
    def running(self) -> bool:
        with self._cond:
            return self._thread is not None

    def pending(self) -> int:
        """Events waiting to run (cancelled ones excluded)."""
        with self._cond:
            return len(self._heap) - len(self._cancelled)

    def stop(self, timeout: float = 5.0) -> bool:
        """End the worker thread, dropping pending events; True once it has ended (or was not running).

        Called from an event on the queue itself, it only asks the thread to end after that event."""
        with self._cond:
            thread, token = self._thread, self._stop_token
            if thread is None or token is None:
                return True
            token.set()
            self._thread = self._stop_token = None
            self._heap.clear()
            self._cancelled.clear()
            self._cond.notify_all()
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self, stop_token: threading.Event) -> None:
        while True:
            with self._cond:
                while True:
                    if stop_token.is_set():
                        return
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            _, event_id, fn = heapq.heappop(self._heap)
                            if event_id in self._cancelled:
                                self._cancelled.discard(event_id)
                                continue
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                fn()
            except Exception:
                _log.exception("event %r raised", fn)


_shared_lock = threading.Lock()
_shared: EventQueue | None = None


def shared_event_queue() -> EventQueue:
    """netsocket's shared event queue (created on first use; its thread starts with the first event)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = EventQueue("netsocket-shared-events")
        return _shared


def call_in(delay_ms: float, fn: Callable[[], object]) -> int:
    """Post ``fn`` to the shared event queue; see ``EventQueue.call_in``."""
    return shared_event_queue().call_in(delay_ms, fn)


def stop_shared_event_queue(timeout: float = 5.0) -> bool:
    """Stop the shared queue's thread (for tests and clean shutdown); it restarts on the next ``call_in``."""
    with _shared_lock:
        queue = _shared
    return True if queue is None else queue.stop(timeout)
