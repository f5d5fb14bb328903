"""netsocket.nonblocking: one retry loop, one deadline per call, under a blocking and an awaitable wait."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from netsocket import NsapiError
from netsocket.aio import AsyncTCPSocket
from netsocket.deadline import Deadline
from netsocket.nonblocking import attempts, run_async, run_blocking

WAIT = frozenset({NsapiError.WOULD_BLOCK})


def test_the_loop_retries_until_done_and_times_out_once_for_the_whole_call() -> None:
    answers = iter([NsapiError.WOULD_BLOCK, NsapiError.WOULD_BLOCK, 7])
    waits: list[float | None] = []
    assert run_blocking(attempts(lambda: next(answers), WAIT, Deadline(-1)), waits.append) == 7
    assert waits == [None, None]

    started = time.monotonic()
    result = run_blocking(attempts(lambda: NsapiError.WOULD_BLOCK, WAIT, Deadline(200)), time.sleep)
    assert result == NsapiError.CONNECTION_TIMEOUT
    assert 0.15 <= time.monotonic() - started < 1.0


def test_non_blocking_is_one_attempt_and_its_own_answer() -> None:
    calls: list[int] = []

    def attempt() -> tuple[int, str]:
        calls.append(1)
        return NsapiError.WOULD_BLOCK, "x"

    assert run_blocking(attempts(attempt, frozenset(), Deadline(0)), lambda _s: None) == (NsapiError.WOULD_BLOCK, "x")
    assert calls == [1]


def test_the_async_form_takes_the_same_loop() -> None:
    answers = iter([NsapiError.WOULD_BLOCK, NsapiError.OK])

    async def wait(_seconds: float | None) -> None:
        await asyncio.sleep(0)

    assert asyncio.run(run_async(attempts(lambda: next(answers), WAIT, Deadline(-1)), wait)) == NsapiError.OK


class _TrickleTCP:
    """A TCPSocket stand-in that takes one byte per wake-up: a slow peer."""

    def __init__(self) -> None:
        self.room = 0

    def send(self, data: Any) -> int:
        if not self.room:
            return NsapiError.WOULD_BLOCK
        self.room -= 1
        return 1


def test_an_async_send_has_one_deadline_not_one_per_chunk() -> None:
    async def main() -> tuple[int, float]:
        sock = AsyncTCPSocket()
        trickle = _TrickleTCP()
        sock._tcp = trickle  # type: ignore[assignment]
        loop = asyncio.get_running_loop()

        def tick() -> None:
            trickle.room += 1
            sock._ready.set()
            loop.call_later(0.05, tick)

        loop.call_later(0.05, tick)
        started = time.monotonic()
        sent = await sock.send(b"x" * 100, timeout=0.3)  # every byte comes within 0.3 s of the one before
        return sent, time.monotonic() - started

    sent, took = asyncio.run(main())
    assert 0 < sent < 100  # what went out before the call's deadline, as a blocking send reports it
    assert took < 1.5
