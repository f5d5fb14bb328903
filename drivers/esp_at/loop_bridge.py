"""Blocking driver code on an event loop's own thread, with no thread: greenlets.

The driver's start-up, joins, look-ups and socket jobs are written as plain calls that wait for the module's reply
(``Runner.wait``). Under asyncio they run in a greenlet started by ``run_blocking``: when one of them waits, it
switches back to the coroutine that started it, which awaits the event, then switches back with the result
(the pattern SQLAlchemy's asyncio layer uses). Waiting anywhere else on the loop's thread is refused with an error
rather than blocking the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")


class _BridgedGreenlet(greenlet.greenlet):  # type: ignore[misc]
    """A greenlet whose waits are carried out by the coroutine that runs it."""


def in_bridge() -> bool:
    """True inside ``run_blocking``: a wait may switch to the event loop."""
    return isinstance(greenlet.getcurrent(), _BridgedGreenlet)


def await_only(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` from blocking code running under ``run_blocking``."""
    current = greenlet.getcurrent()
    if not isinstance(current, _BridgedGreenlet):
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # never awaited: no "was never awaited" warning on top of the error
        raise RuntimeError("a blocking driver call on the event loop's thread: use the Async interface (await)")
    parent = current.parent
    assert parent is not None
    result: T = parent.switch(awaitable)
    return result


async def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` on this thread; each of its waits is awaited here, so the loop keeps running."""
    child = _BridgedGreenlet(function)
    value: Any = child.switch(*args)
    while not child.dead:
        try:
            sent = await value
        except BaseException as exc:  # the awaited wait failed or was cancelled: raise it inside the call
            value = child.throw(exc)
        else:
            value = child.switch(sent)
    return value  # type: ignore[no-any-return]


def off_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """True on any thread but ``loop``'s."""
    try:
        return asyncio.get_running_loop() is not loop
    except RuntimeError:
        return True


def call_on_loop(loop: asyncio.AbstractEventLoop, function: Callable[..., T], *args: Any) -> T:
    """From another thread: run ``function(*args)`` on ``loop`` (bridged, so it may wait) and return its result."""
    return asyncio.run_coroutine_threadsafe(run_blocking(function, *args), loop).result()


class GreenletRLock:
    """``threading.RLock`` held per greenlet rather than per thread: blocking driver calls that run as greenlets on
    one loop's thread (``run_blocking``) exclude each other, where an ``RLock`` would let them all in at once.

    A bridged greenlet that must wait awaits a future (the loop keeps running); a plain thread waits on a condition;
    any other code on a running loop's thread is refused rather than allowed to block the loop."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._released = threading.Condition(self._mutex)
        self._owner: greenlet.greenlet | None = None
        self._count = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def acquire(self) -> bool:
        me = greenlet.getcurrent()
        with self._mutex:
            while self._owner is not None and self._owner is not me:
                if in_bridge():
                    self._await_release()
                elif _running_loop() is not None:
                    raise RuntimeError("a blocking driver call on the event loop's thread: use the Async interface")
                else:
                    self._released.wait()
            self._owner = me
            self._count += 1
            return True

    def _await_release(self) -> None:
        """With ``_mutex`` held: release it, await the next release, take it again."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        entry = (loop, waiter)
        self._waiters.append(entry)
        self._mutex.release()
        try:
            await_only(waiter)
        finally:
            self._mutex.acquire()
            if entry in self._waiters:
                self._waiters.remove(entry)

    def release(self) -> None:
        with self._mutex:
            if self._owner is not greenlet.getcurrent():
                raise RuntimeError("cannot release a lock this greenlet does not hold")
            self._count -= 1
            if self._count:
                return
            self._owner = None
            self._released.notify_all()
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(_set_done, waiter)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _set_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopCondition:
    """A ``threading.Condition`` look-alike for one event loop's thread: ``wait`` releases the lock and awaits a
    notification (or the timeout) through ``await_only``, so waiters are greenlets and the loop never blocks."""

    def __init__(self, lock: threading.Lock, loop: Callable[[], asyncio.AbstractEventLoop | None]) -> None:
        self._lock = lock
        self._loop_of = loop
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop_of()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._lock.release()
        try:
            done, _pending = await_only(asyncio.wait([waiter], timeout=timeout))
            return bool(done)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            self._lock.acquire()

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        result = predicate()
        while not result:
            left = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if left is not None and left <= 0:
                break
            self.wait(left)
            result = predicate()
        return result

    def notify_all(self) -> None:
        """Wake every waiter; from another thread (a synchronous caller), through the loop."""
        loop = self._loop_of()
        if loop is not None and off_loop(loop):
            loop.call_soon_threadsafe(self._wake)
        else:
            self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    notify = notify_all
