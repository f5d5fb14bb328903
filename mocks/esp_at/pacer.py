"""When and how the module's output bytes reach the host: baud-rate throttling, random chunking, line noise,
and the garbage a receiver set to another baud rate makes of them.

Layer: sans-IO helper of the I/O adapters (no clock, no thread: callers pass `now`). Seeded through the
`random.Random` it is given, so a failing run can be replayed.

Baud mismatch: a UART receiver set to another rate than the sender's samples the wrong bits, so it sees framing
errors and bytes that are not the ones sent, more of them when it runs faster and fewer when slower. `garble`
models that: within `BAUD_TOLERANCE` the bytes pass (real UARTs tolerate a few percent, which is why an ESP8266's
115273 baud talks to a PC's 115200); beyond it every byte becomes garbage with the high bit set (never a valid
``OK``), in a count scaled by the ratio of the rates.
"""

from __future__ import annotations

import random
from collections import deque

#: Relative rate difference a UART receiver still decodes correctly.
BAUD_TOLERANCE = 0.03


def rates_match(sender: int, receiver: int) -> bool:
    return abs(sender - receiver) <= BAUD_TOLERANCE * max(sender, receiver)


def garble(data: bytes, sender: int, receiver: int | None, rng: random.Random) -> bytes:
    """What a receiver at `receiver` baud makes of `data` sent at `sender` baud (None: the same rate)."""
    if not data or receiver is None or rates_match(sender, receiver):
        return data
    count = max(1, round(len(data) * receiver / sender))
    return bytes(rng.randrange(0x80, 0x100) for _ in range(min(count, 8 * len(data))))


class OutputPacer:
    """Module output released no faster than the UART would send it, in optional random chunks."""

    def __init__(
        self,
        rng: random.Random,
        *,
        baud: int | None = None,
        line_baud: int = 115200,
        chunking: bool = False,
        noise: float = 0.0,
        gap_max: float = 0.002,
    ) -> None:
        self._rng = rng
        self._rate = baud / 10.0 if baud else None
        #: The rate the module's UART sends at now (switched by `push_baud_change` once earlier output drained).
        self.line_baud = baud or line_baud
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

    def pop(self, now: float, host_baud: int | None = None) -> bytes:
        """The bytes that may go out at `now` (possibly none), as a host UART at `host_baud` receives them
        (None: at the module's rate)."""
        out = bytearray()
        while self._queue and now >= self._ready_at:
            head = self._queue[0]
            if isinstance(head, int):
                self._queue.popleft()
                self.line_baud = head
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
            out += garble(chunk, self.line_baud, host_baud, self._rng)
            start = max(self._ready_at, now)
            if self._rate is not None:
                self._ready_at = start + len(chunk) / self._rate
            if self._chunking:
                self._ready_at = max(self._ready_at, now) + self._rng.uniform(0.0, self._gap_max)
                break
            if self._rate is not None and self._ready_at > now:
                break
        # A rate switch right behind the last byte sent takes effect now: the host may answer at the new rate
        # as soon as it has read that byte.
        while self._queue and isinstance(self._queue[0], int):
            self.line_baud = self._queue.popleft()  # type: ignore[assignment]
            if self._rate is not None:
                self._rate = self.line_baud / 10.0
        return bytes(out)
