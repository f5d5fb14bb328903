"""The shared event queue: delays, order, cancel, a raising event, stop and restart without leaking threads."""

from __future__ import annotations

import threading

import pytest

from netsocket.event_queue import EventQueue, call_in, shared_event_queue, stop_shared_event_queue


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def test_events_run_in_due_order_on_one_daemon_thread() -> None:
    queue = EventQueue("test-events")
    ran: list[tuple[str, str]] = []
    done = threading.Event()

    def record(what: str, last: bool = False) -> None:
        ran.append((what, threading.current_thread().name))
        if last:
            done.set()

    queue.call_in(60, lambda: record("late", last=True))
    queue.call_in(0, lambda: record("first"))
    queue.call_in(20, lambda: record("second"))
    assert done.wait(5)
    assert [what for what, _ in ran] == ["first", "second", "late"]
    assert {thread for _, thread in ran} == {"test-events"}
    assert all(t.daemon for t in _threads("test-events"))
    assert queue.stop()
    assert not _threads("test-events")


def test_cancelled_event_never_runs_and_a_raising_event_does_not_stop_the_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = EventQueue("test-events")
    ran: list[str] = []
    done = threading.Event()
    event = queue.call_in(30, lambda: ran.append("cancelled"))
    assert queue.cancel(event)
    assert not queue.cancel(event)

    def boom() -> None:
        raise ValueError("boom")

    queue.call_in(0, boom)

    def after() -> None:
        ran.append("after")
        done.set()

    queue.call_in(50, after)
    assert done.wait(5)
    assert ran == ["after"]
    assert "boom" in caplog.text
    assert queue.stop()


def test_stop_drops_pending_events_and_the_queue_restarts_on_next_use() -> None:
    queue = EventQueue("test-events")
    ran: list[str] = []
    queue.call_in(10_000, lambda: ran.append("dropped"))
    assert queue.running
    assert queue.stop()
    assert not queue.running and queue.pending() == 0
    done = threading.Event()
    queue.call_in(0, done.set)
    assert done.wait(5)
    assert ran == []
    assert queue.stop()
    assert not _threads("test-events")


def test_shared_queue_is_one_object_and_stoppable() -> None:
    done = threading.Event()
    call_in(0, done.set)
    assert done.wait(5)
    assert shared_event_queue() is shared_event_queue()
    assert stop_shared_event_queue()
    assert not _threads("netsocket-shared-events")
