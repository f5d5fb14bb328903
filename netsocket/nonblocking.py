"""The one retry loop behind every blocking and awaitable socket call (trio's pattern): try the non-blocking
primitive; while it says "not yet", wait for the stack's wake-up or the call's deadline, in whatever way the
caller waits, then try again.

``attempts`` is the loop itself, as a generator that yields how long the caller may wait (seconds, None for no
deadline) and returns the final result; ``run_blocking`` drives it with a blocking wait (``netsocket.socket``),
``run_async`` with an awaitable one (``netsocket.aio``). One deadline covers the whole call, however many waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any

from netsocket.deadline import Deadline
from netsocket.errors import NsapiError

Steps = Generator["float | None", None, Any]


def status_of(result: Any) -> int:
    """A primitive's status: the result itself (an int) or the first element of its tuple."""
    return int(result[0] if isinstance(result, tuple) else result)


def attempts(attempt: Callable[[], Any], retry_on: frozenset[int], deadline: Deadline) -> Steps:
    """Call ``attempt`` until its status is not in ``retry_on`` (an empty set: once, the non-blocking case);
    between two calls yield the seconds left. Ends with the result, or ``CONNECTION_TIMEOUT`` in its status's place
    once the deadline has passed."""
    while True:
        result = attempt()
        if status_of(result) not in retry_on:
            return result
        remaining = deadline.remaining()
        if remaining == 0.0:
            return NsapiError.CONNECTION_TIMEOUT
        yield remaining
        if deadline.expired():  # no last attempt: a call never polls the primitive
            return NsapiError.CONNECTION_TIMEOUT


def run_blocking(steps: Steps, wait: Callable[[float | None], object]) -> Any:
    """Drive ``attempts`` with ``wait(seconds_or_None)``, which returns on a wake-up or when the time is up."""
    try:
        while True:
            wait(next(steps))
    except StopIteration as done:
        return done.value


async def run_async(steps: Steps, wait: Callable[[float | None], Awaitable[object]]) -> Any:
    """Drive ``attempts`` with an awaitable ``wait``."""
    try:
        while True:
            await wait(next(steps))
    except StopIteration as done:
        return done.value
