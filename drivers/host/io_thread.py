"""The host stack's I/O thread: one ``selectors`` loop that turns OS socket readiness into attach callbacks.

Mbed's callbacks are edge-like ("the state changed, try again"), while OS readiness is a level. So each socket
registers interest only while it is *armed*: reading is armed at open and again whenever a primitive returned
``WOULD_BLOCK``; when the OS reports readiness the interest is dropped and the callback runs once. A socket nobody
reads therefore costs one callback, not a spinning loop. Interest changes are made on this thread only: other
threads record them and wake the loop through a socket pair.

A report only uses up an arm made before the ``select`` that saw it: an arm that comes while the loop is already
reporting (a ``connect`` re-arming reading just as a pre-connect HUP is reported) stays, or its first data would
never raise a callback.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable

_log = logging.getLogger(__name__)


class Watch:
    """What the loop knows of one OS socket: the armed directions and the callback."""

    __slots__ = ("callback", "read_armed", "read_armed_at", "sock", "write_armed", "write_armed_at")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.read_armed = True
        self.write_armed = False
        self.read_armed_at = 0
        self.write_armed_at = 0
        """The loop's arm count when each direction was last asked for (``IoThread._arms``)."""
        self.callback: Callable[[], None] | None = None


class IoThread:
    """A selector loop on a daemon thread; started with the first watched socket, stopped with the last."""

    def __init__(self, name: str = "netsocket-host-io") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._watches: dict[int, Watch] = {}
        self._dirty: set[int] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_w: socket.socket | None = None
        self._arms = 0
        """Arm requests so far: a report from a ``select`` begun before a watch's latest arm does not disarm it."""

    # -- called from any thread -----------------------------------------------------------------------------------
    def watch(self, watch: Watch) -> None:
        fd = watch.sock.fileno()
        if fd < 0:
            return  # closed by socket_close on another thread before it could be watched
        with self._lock:
            self._watches[fd] = watch
            self._dirty.add(fd)
            if self._thread is None:
                self._start_locked()
        self._wake()

    def unwatch(self, watch: Watch) -> None:
        """Forget a socket (call before closing it). Stops the loop when it was the last one."""
        thread = None
        with self._lock:
            fd = next((fd for fd, w in self._watches.items() if w is watch), None)
            if fd is None:
                return
            del self._watches[fd]
            self._dirty.add(fd)
            wake_w = self._wake_w
            if not self._watches and self._thread is not None:
                # This loop's own stop flag and wake socket: a loop started after this one keeps running.
                self._stop.set()
                thread, self._thread, self._wake_w = self._thread, None, None
        self._wake(wake_w)
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def arm(self, watch: Watch, read: bool = False, write: bool = False) -> None:
        """Ask for one callback when the socket becomes readable and/or writable."""
        with self._lock:
            changed = (read and not watch.read_armed) or (write and not watch.write_armed)
            self._arms += 1
            if read:
                watch.read_armed = True
                watch.read_armed_at = self._arms
            if write:
                watch.write_armed = True
                watch.write_armed_at = self._arms
            if changed and watch.sock.fileno() in self._watches:
                self._dirty.add(watch.sock.fileno())
        if changed:
            self._wake()

    @property
    def running(self) -> bool:
        return self._thread is not None

    # -- the loop -------------------------------------------------------------------------------------------------
    def _start_locked(self) -> None:
        # Each loop owns its selector, wake pair and stop flag, so a loop still finishing while the next one
        # starts (unwatch of the last socket racing a new watch) can neither close nor stop the new one.
        self._stop = stop = threading.Event()
        selector = selectors.DefaultSelector()
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        selector.register(wake_r, selectors.EVENT_READ, None)
        self._wake_w = wake_w
        self._dirty = set(self._watches)  # the new loop registers every watch; stale fds belong to the old one
        self._thread = threading.Thread(
            target=self._run, args=(selector, wake_r, wake_w, stop), name=self._name, daemon=True
        )
        self._thread.start()

    def _wake(self, wake_w: socket.socket | None = None) -> None:
        if wake_w is None:
            wake_w = self._wake_w
        if wake_w is None:
            return
        # A full buffer means the loop is already woken; an error means it is shutting down.
        with contextlib.suppress(OSError):
            wake_w.send(b"\0")

    def _apply_changes(self, selector: selectors.BaseSelector, stop: threading.Event) -> int:
        """Bring the selector up to date; returns the arm count the coming ``select`` starts from."""
        with self._lock:
            arms = self._arms
            if stop.is_set():  # a stopped loop must not take changes meant for the next one
                return arms
            dirty, self._dirty = self._dirty, set()
            wanted: dict[int, tuple[int, Watch | None]] = {}
            for fd in dirty:
                watch = self._watches.get(fd)
                mask = 0
                if watch is not None:
                    mask = (selectors.EVENT_READ if watch.read_armed else 0) | (
                        selectors.EVENT_WRITE if watch.write_armed else 0
                    )
                wanted[fd] = (mask, watch)
        for fd, (mask, watch) in wanted.items():
            try:
                key = selector.get_key(fd)
            except (KeyError, ValueError):
                key = None
            if key is not None and key.data is None:
                # A closed socket's fd number now used by this loop's own wake socket: never unregister that.
                continue
            if key is not None and (not mask or key.data is not watch):
                selector.unregister(fd)
                key = None
            if not mask or watch is None:
                continue
            try:
                if key is None:
                    selector.register(fd, mask, watch)
                elif key.events != mask:
                    selector.modify(fd, mask, watch)
            except (OSError, ValueError):
                _log.debug("socket %d closed before it could be watched", fd)
        return arms

    def _run(
        self, selector: selectors.BaseSelector, wake_r: socket.socket, wake_w: socket.socket, stop: threading.Event
    ) -> None:
        try:
            while not stop.is_set():
                arms = self._apply_changes(selector, stop)
                for key, events in selector.select():
                    if key.data is None:
                        try:
                            while wake_r.recv(4096):
                                pass
                        except BlockingIOError:
                            pass
                        continue
                    self._fire(key.data, events, arms)
        finally:
            selector.close()
            wake_r.close()
            with self._lock:
                wake_w.close()
                if self._wake_w is wake_w:
                    self._wake_w = None

    def _fire(self, watch: Watch, events: int, arms: int) -> None:
        with self._lock:
            if events & selectors.EVENT_READ and watch.read_armed_at <= arms:
                watch.read_armed = False
            if events & selectors.EVENT_WRITE and watch.write_armed_at <= arms:
                watch.write_armed = False
            self._dirty.add(watch.sock.fileno())
            callback = watch.callback
        if callback is not None:
            callback()
