"""When the module's output bytes reach the host: baud-rate throttling, random chunking, line noise.

Layer: sans-IO helper of the I/O adapters (no clock, no thread: callers pass `now`). Seeded through the
`random.Random` it is given, so a failing run can be replayed.
"""

from __future__ import annotations

import random
from collections import deque


class OutputPacer:
    """Module output released no faster than the UART would send it, in optional random chunks."""

    def __init__(
        self,
        rng: random.Random,
        *,
        baud: int | None = None,
        chunking: bool = False,
        noise: float = 0.0,
        gap_max: float = 0.002,
    ) -> None:
        self._rng = rng
        self._rate = baud / 10.0 if baud else None
        self._chunking = chunking
        self._noise = noise
        self._gap_max = gap_max
        self._queue: deque[bytes | int] = deque()
        self._pending = 0
        self._ready_at = 0.0

    @property
    def pending(self) -> int:
        return self._pending

    def push(self, data: bytes) -> None:
        if data:
            self._queue.append(data)
            self._pending += len(data)

    def push_baud_change(self, baud: int) -> None:
        """Switch rate once everything pushed so far has gone out (UART_CUR answers OK at the old rate)."""
        self._queue.append(baud)

    def next_time(self) -> float | None:
        if not self._queue:
            return None
        return self._ready_at

    def pop(self, now: float) -> bytes:
        """The bytes that may go out at `now` (possibly none)."""
        out = bytearray()
        while self._queue and now >= self._ready_at:
            head = self._queue[0]
            if isinstance(head, int):
                self._queue.popleft()
                if self._rate is not None:
                    self._rate = head / 10.0
                continue
            size = len(head)
            if self._chunking:
                # Favour small chunks so that headers split mid-number and payloads split from headers.
                small = self._rng.random() < 0.6
                size = self._rng.randint(1, min(size, 8) if small else size)
            if self._rate is not None:
                # Release at most ~5 ms worth at once so that throttled output stays smooth.
                size = min(size, max(1, int(self._rate * 0.005)))
            chunk, rest = head[:size], head[size:]
            if rest:
                self._queue[0] = rest
            else:
                self._queue.popleft()
            self._pending -= len(chunk)
            if self._noise and self._rng.random() < self._noise:
                corrupted = bytearray(chunk)
                index = self._rng.randrange(len(corrupted))
                corrupted[index] ^= 1 << self._rng.randrange(8)
                chunk = bytes(corrupted)
            out += chunk
            start = max(self._ready_at, now)
            if self._rate is not None:
                self._ready_at = start + len(chunk) / self._rate
            if self._chunking:
                self._ready_at = max(self._ready_at, now) + self._rng.uniform(0.0, self._gap_max)
                break
            if self._rate is not None and self._ready_at > now:
                break
        return bytes(out)
