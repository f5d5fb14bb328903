"""An arm that reaches the host stack's I/O loop while it is already reporting the socket must not be used up by
that report: the next readiness still raises a callback (the race that left a freshly connected socket's sigio
silent: the pre-connect HUP reported just as ``connect`` re-armed reading)."""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Any

import pytest
from netsocket.drivers.host import io_thread
from netsocket.drivers.host.io_thread import IoThread, Watch

_RealSelector = selectors.DefaultSelector


class _PausingSelector:
    """The default selector, but after its first report of ``target`` it holds the loop until ``resume`` is set
    (the report is made; the callback not yet raised)."""

    def __init__(self, target: socket.socket, reported: threading.Event, resume: threading.Event) -> None:
        self._inner = _RealSelector()
        self._target = target
        self._reported = reported
        self._resume = resume

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(timeout)
        if not self._reported.is_set() and any(key.fd == self._target.fileno() for key, _ in ready):
            self._reported.set()
            assert self._resume.wait(5), "the test never let the loop go on"
        return ready

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_an_arm_during_a_report_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    left, right = socket.socketpair()
    left.setblocking(False)
    reported, resume = threading.Event(), threading.Event()
    monkeypatch.setattr(io_thread.selectors, "DefaultSelector", lambda: _PausingSelector(left, reported, resume))
    callbacks = threading.Semaphore(0)
    io = IoThread()
    watch = Watch(left)
    watch.callback = callbacks.release
    try:
        io.watch(watch)
        right.send(b"first")
        assert reported.wait(5), "the loop never reported the readable socket"
        io.arm(watch, read=True)  # while the loop holds a report it has not acted on yet
        resume.set()
        assert callbacks.acquire(timeout=5), "no callback for the first bytes"
        assert left.recv(100) == b"first"
        right.send(b"second")
        assert callbacks.acquire(timeout=5), "the arm made during the report was used up by it: no callback"
    finally:
        resume.set()
        io.unwatch(watch)
        left.close()
        right.close()


def test_a_report_still_uses_up_an_earlier_arm() -> None:
    """One callback per arm: a socket nobody reads is reported once, not on every turn of the loop."""
    left, right = socket.socketpair()
    left.setblocking(False)
    count = 0
    fired = threading.Event()

    def callback() -> None:
        nonlocal count
        count += 1
        fired.set()

    io = IoThread()
    watch = Watch(left)
    watch.callback = callback
    try:
        io.watch(watch)
        right.send(b"unread")
        assert fired.wait(5)
        # A second socket's report proves the loop turned since: the unread one was not reported again.
        other_left, other_right = socket.socketpair()
        with other_left, other_right:
            other_fired = threading.Event()
            other = Watch(other_left)
            other.callback = other_fired.set
            io.watch(other)
            other_right.send(b"x")
            assert other_fired.wait(5)
            io.unwatch(other)
        assert count == 1
    finally:
        io.unwatch(watch)
        left.close()
        right.close()
