"""The RFC 864 character-generator pattern and a checker for it (sans-IO: bytes in, verdicts out).

The 95 printable ASCII characters (``' '`` to ``'~'``) form a ring. Line ``n`` is the 72 characters of the ring
starting at position ``n mod 95``, followed by CR LF, so the stream repeats every 95 lines (7030 bytes) and the
first line starts with ``' '``.
"""

from __future__ import annotations

from collections.abc import Iterator

RING = bytes(range(0x20, 0x7F))
LINE_CHARS = 72
LINE_BYTES = LINE_CHARS + 2
PERIOD_BYTES = len(RING) * LINE_BYTES


def chargen_line(n: int) -> bytes:
    """Line ``n`` (0-based) of the pattern, with its CR LF."""
    start = n % len(RING)
    doubled = RING + RING
    return doubled[start : start + LINE_CHARS] + b"\r\n"


PERIOD = b"".join(chargen_line(n) for n in range(len(RING)))
"""One full period of the stream (95 lines)."""


def chargen_bytes(offset: int, size: int) -> bytes:
    """``size`` bytes of the stream starting at byte ``offset``."""
    start = offset % PERIOD_BYTES
    out = bytearray()
    while len(out) < size:
        chunk = PERIOD[start : start + size - len(out)]
        out += chunk
        start = 0
    return bytes(out)


def chargen_chunks(chunk_size: int = 4096) -> Iterator[bytes]:
    """The endless stream in chunks (what the server sends)."""
    offset = 0
    while True:
        yield chargen_bytes(offset, chunk_size)
        offset += chunk_size


class ChargenMismatch(AssertionError):
    """Received bytes that are not the chargen stream."""


class ChargenChecker:
    """Feed received bytes in any split; raises ``ChargenMismatch`` at the first byte that breaks the pattern.

    Mbed's test also accepts a stream whose first line starts with ``'!'`` (xinetd's variant); pass ``first='!'``
    to check against that one.
    """

    def __init__(self, first: str = " ") -> None:
        self._offset = 0
        self._skew = (ord(first) - RING[0]) * LINE_BYTES
        if not 0 <= self._skew < PERIOD_BYTES:
            raise ValueError(f"a chargen stream starts with a printable character, not {first!r}")

    @property
    def checked(self) -> int:
        """How many bytes matched so far."""
        return self._offset

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        expected = chargen_bytes(self._offset + self._skew, len(data))
        if data != expected:
            at = next(i for i, (a, b) in enumerate(zip(data, expected, strict=True)) if a != b)
            line, column = divmod(self._offset + at, LINE_BYTES)
            raise ChargenMismatch(
                f"chargen stream broken at byte {self._offset + at} (line {line}, column {column}): "
                f"got {data[at : at + 16]!r}, expected {expected[at : at + 16]!r}"
            )
        self._offset += len(data)
