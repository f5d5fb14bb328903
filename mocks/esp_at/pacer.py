"""When and how the module's output bytes reach the host: baud-rate throttling, random chunking, line noise,
and the garbage a receiver set to another baud rate makes of them.

Layer: sans-IO helper of the I/O adapters (no clock, no thread: callers pass `now`). Seeded through the
`random.Random` it is given, so a failing run can be replayed.

Pacing models the wire, not a token bucket: a byte reaches the far end one character time (10 bits) after the
line finished the byte before it, or after it was handed over if the line was idle. An idle line saves up nothing,
so no burst ever crosses faster than baud/10 bytes per second; bytes are handed on in chunks only once the chunk's
last byte has crossed, so chunking can make a byte late but never early.

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


#: Most bytes handed on at once (seconds of line time): throttled output stays smooth and the emulator reads the
#: host's bytes at most this far ahead of the line carrying them.
CHUNK_SECONDS = 0.005


def chunk_limit(rate: float) -> int:
    """The largest chunk at `rate` bytes per second (`CHUNK_SECONDS` worth, at least one byte)."""
    return max(1, int(rate * CHUNK_SECONDS))


class OutputPacer:
    """Module output released no sooner than the UART would have carried it, in optional random chunks."""

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
        #: Output not yet on the line, each with when it was pushed (None: taken as the `pop` that finds it), and
        #: rate switches.
        self._queue: deque[tuple[bytes, float | None] | int] = deque()
        self._pending = 0
        #: When the line finished (or will finish) its last byte; it cannot start the next one earlier.
        self._ready_at = 0.0
        #: The chunk on the line now and when its last byte arrives.
        self._in_flight: tuple[bytes, float] | None = None

    @property
    def pending(self) -> int:
        """Bytes pushed and not yet released (those on the line included)."""
        return self._pending

    def push(self, data: bytes, now: float | None = None) -> None:
        """Output the module produced at `now`: the line starts it once it is free and not before `now`."""
        if data:
            self._queue.append((data, now))
            self._pending += len(data)

    def push_baud_change(self, baud: int) -> None:
        """Switch rate once everything pushed so far has gone out (UART_CUR answers OK at the old rate)."""
        self._queue.append(baud)

    def next_time(self) -> float | None:
        """When `pop` next has bytes to release (None: nothing pushed)."""
        if self._in_flight is not None:
            return self._in_flight[1]
        if not self._queue:
            return None
        return self._ready_at

    def pop(self, now: float, host_baud: int | None = None) -> bytes:
        """The bytes whose last bit has crossed the line by `now` (possibly none), as a host UART at `host_baud`
        receives them (None: at the module's rate)."""
        out = bytearray()
        while True:
            self._apply_rate_changes()
            if self._in_flight is None and not self._start_chunk(now):
                break
            assert self._in_flight is not None
            chunk, arrives = self._in_flight
            if now < arrives:
                break
            self._in_flight = None
            self._pending -= len(chunk)
            out += self._release(chunk, host_baud)
            if self._chunking:
                self._ready_at = max(self._ready_at, now) + self._rng.uniform(0.0, self._gap_max)
                break
        # A rate switch right behind the last byte sent takes effect now: the host may answer at the new rate
        # as soon as it has read that byte.
        self._apply_rate_changes()
        return bytes(out)

    def _apply_rate_changes(self) -> None:
        if self._in_flight is not None:
            return
        while self._queue and isinstance(self._queue[0], int):
            self.line_baud = self._queue.popleft()  # type: ignore[assignment]
            if self._rate is not None:
                self._rate = self.line_baud / 10.0

    def _start_chunk(self, now: float) -> bool:
        """Put the next chunk on the line if it is free by `now`; False when there is none to start."""
        if not self._queue or now < self._ready_at:
            return False
        entry = self._queue[0]
        assert not isinstance(entry, int)
        head, pushed_at = entry
        size = len(head)
        if self._chunking:
            # Favour small chunks so that headers split mid-number and payloads split from headers.
            small = self._rng.random() < 0.6
            size = self._rng.randint(1, min(size, 8) if small else size)
        if self._rate is not None:
            size = min(size, chunk_limit(self._rate))
        chunk, rest = head[:size], head[size:]
        if rest:
            self._queue[0] = (rest, pushed_at)
        else:
            self._queue.popleft()
        # Back to back with the previous chunk when this one was already waiting: a late `pop` loses no line time.
        start = max(self._ready_at, now if pushed_at is None else pushed_at)
        self._ready_at = start + (len(chunk) / self._rate if self._rate is not None else 0.0)
        self._in_flight = (chunk, self._ready_at)
        return True

    def _release(self, chunk: bytes, host_baud: int | None) -> bytes:
        if self._noise and self._rng.random() < self._noise:
            corrupted = bytearray(chunk)
            index = self._rng.randrange(len(corrupted))
            corrupted[index] ^= 1 << self._rng.randrange(8)
            chunk = bytes(corrupted)
        return garble(chunk, self.line_baud, host_baud, self._rng)


class InputPacer:
    """Host bytes crossing the line to the module: read from the host's port as they come, handed to the module
    byte by byte as the line would deliver them (`pop`). `room` says how many more may be read now: at most
    `CHUNK_SECONDS` of line time ahead, so the host's port still fills up (and its writes block) as a real UART's
    would, and the emulator reads the next bytes before the line runs dry (no gap between reads)."""

    def __init__(self, baud: int) -> None:
        self._rate = baud / 10.0
        #: Segments on the line: (time the first byte started crossing, bytes, bytes already handed on, rate).
        self._segments: deque[tuple[float, bytes, int, float]] = deque()
        self._held = 0
        self._line_free = float("-inf")

    def set_baud(self, baud: int) -> None:
        """Bytes read from now on cross at `baud` (those already on the line keep their times)."""
        self._rate = baud / 10.0

    @property
    def held(self) -> int:
        """Bytes read from the host and not yet handed to the module."""
        return self._held

    def room(self) -> int:
        return max(0, chunk_limit(self._rate) - self._held)

    def push(self, data: bytes, now: float) -> None:
        """`data` read from the host's port at `now`: it starts crossing once the line is free."""
        if not data:
            return
        start = max(now, self._line_free)
        self._segments.append((start, data, 0, self._rate))
        self._held += len(data)
        self._line_free = start + len(data) / self._rate

    def pop(self, now: float) -> bytes:
        """The bytes that have reached the module by `now`."""
        out = bytearray()
        while self._segments:
            start, data, done, rate = self._segments[0]
            arrived = min(len(data), int((now - start) * rate + 1e-6))  # 1e-6 of a byte: float sums
            if arrived <= done:
                break
            out += data[done:arrived]
            if arrived < len(data):
                self._segments[0] = (start, data, arrived, rate)
                break
            self._segments.popleft()
        self._held -= len(out)
        return bytes(out)

    def next_time(self) -> float | None:
        """When the module next gets bytes worth a wake-up: all of them if few are held, else half of them (so that
        reading more overlaps the line carrying the rest)."""
        if not self._segments:
            return None
        keep = chunk_limit(self._rate) // 2 if self._held > chunk_limit(self._rate) // 2 else 0
        want = self._held - keep  # bytes still to be handed on before that moment
        for start, data, done, rate in self._segments:
            left = len(data) - done
            if want <= left:
                return start + (done + max(want, 1)) / rate
            want -= left
        start, data, _, rate = self._segments[-1]
        return start + len(data) / rate
