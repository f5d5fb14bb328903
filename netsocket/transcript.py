"""Serial transcripts: what a host and a module said to each other, one JSON Lines file per session.

Layer: pure data (files in, records out). The recorder (``netsocket.drivers.esp_at.recorder``) writes them and the
emulator's replay (``netsocket.mocks.esp_at.replay``) reads them; both import this module, never each other (the
driver and the emulator stay independent, DESIGN §2), which is why the format lives here, in the hardware-agnostic
package. The format is documented in ``docs/transcripts.md``.

Line 1 is the header::

    {"format": "netsocket-serial-transcript", "version": 1, "date": "2026-12-02T07:40:00Z", "baudrate": 115200,
     "firmware": ["AT version:2.2.0.0(...)", ...]}

then one line per chunk as the host saw it at the serial boundary::

    {"t": 0.012345, "dir": "host", "data": "AT+GMR\\r\\n"}

``t`` is seconds since the recording started (monotonic clock), ``dir`` says who sent the bytes (``host`` or
``module``), and ``data`` holds the bytes as a JSON string where each byte is the code point of the same value
(latin-1): readable where the bytes are text, lossless where they are binary. JSON escapes the control characters
(``\r``, ``\n``, ``\u0000``); the file is UTF-8, so a byte from 0x80 up takes two bytes of it. Secrets appear as
`MASK`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

FORMAT = "netsocket-serial-transcript"
VERSION = 1
MASK = b"********"
"""What a masked secret looks like in a transcript (the replay accepts any value there)."""

Direction = Literal["host", "module"]
DIRECTIONS: tuple[Direction, ...] = ("host", "module")


class TranscriptError(ValueError):
    """A transcript file that does not follow the format; the message names the line."""


@dataclass(frozen=True)
class Header:
    """The first line: when, at which rate, with which firmware (the ``AT+GMR`` answer lines, if one was seen)."""

    date: str
    baudrate: int | None = None
    firmware: tuple[str, ...] | None = None
    version: int = VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    """Any other header fields (kept, so tools can add their own)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": self.version,
            "date": self.date,
            "baudrate": self.baudrate,
            "firmware": list(self.firmware) if self.firmware is not None else None,
        }
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def from_json(cls, obj: Any, line: int = 1) -> Header:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise TranscriptError(f"line {line}: not a {FORMAT} header")
        version = obj.get("version")
        if version != VERSION:
            raise TranscriptError(f"line {line}: format version {version!r}, this netsocket reads {VERSION}")
        firmware = obj.get("firmware")
        if firmware is not None and not (isinstance(firmware, list) and all(isinstance(x, str) for x in firmware)):
            raise TranscriptError(f"line {line}: 'firmware' must be a list of strings or null")
        baudrate = obj.get("baudrate")
        if baudrate is not None and (not isinstance(baudrate, int) or isinstance(baudrate, bool) or baudrate <= 0):
            raise TranscriptError(f"line {line}: 'baudrate' must be a positive integer or null")
        known = {"format", "version", "date", "baudrate", "firmware"}
        return cls(
            date=str(obj.get("date", "")),
            baudrate=baudrate,
            firmware=tuple(firmware) if firmware is not None else None,
            version=version,
            extra={k: v for k, v in obj.items() if k not in known},
        )


@dataclass(frozen=True)
class Chunk:
    """Bytes one side sent, as one read or one write at the serial boundary."""

    t: float
    direction: Direction
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "dir": self.direction, "data": encode_bytes(self.data)}

    @classmethod
    def from_json(cls, obj: Any, line: int) -> Chunk:
        if not isinstance(obj, dict):
            raise TranscriptError(f"line {line}: a record must be a JSON object")
        t, direction, data = obj.get("t"), obj.get("dir"), obj.get("data")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or t < 0:
            raise TranscriptError(f"line {line}: 't' must be a non-negative number of seconds")
        if direction not in DIRECTIONS:
            raise TranscriptError(f"line {line}: 'dir' must be 'host' or 'module', not {direction!r}")
        if not isinstance(data, str):
            raise TranscriptError(f"line {line}: 'data' must be a string")
        try:
            raw = decode_bytes(data)
        except UnicodeEncodeError as exc:
            raise TranscriptError(f"line {line}: 'data' holds a character above \\u00ff ({exc.reason})") from exc
        return cls(float(t), direction, raw)


@dataclass(frozen=True)
class Transcript:
    header: Header
    chunks: tuple[Chunk, ...]

    def data(self, direction: Direction) -> bytes:
        """Everything one side sent, in order."""
        return b"".join(c.data for c in self.chunks if c.direction == direction)


def encode_bytes(data: bytes) -> str:
    """Bytes as a string of the code points U+0000..U+00FF (JSON then escapes the control characters)."""
    return data.decode("latin-1")


def decode_bytes(text: str) -> bytes:
    """The inverse of `encode_bytes`; a character above U+00FF raises UnicodeEncodeError."""
    return text.encode("latin-1")


class TranscriptWriter:
    """Writes a header, then chunks; every line is flushed, so a session that ends abruptly keeps what it had."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._header_written = False

    @classmethod
    def open(cls, path: str | Path) -> TranscriptWriter:
        return cls(open(path, "w", encoding="utf-8", newline="\n"))

    def write_header(self, header: Header) -> None:
        if self._header_written:
            raise RuntimeError("the header is written once, first")
        self._line(header.to_json())
        self._header_written = True

    def write_chunk(self, chunk: Chunk) -> None:
        if not self._header_written:
            raise RuntimeError("write the header first")
        self._line(chunk.to_json())

    def _line(self, obj: dict[str, Any]) -> None:
        self._stream.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def parse_lines(lines: Iterable[str]) -> Iterator[Header | Chunk]:
    """The header, then each chunk; blank lines are skipped, anything malformed raises `TranscriptError`."""
    seen_header = False
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TranscriptError(f"line {number}: not JSON ({exc.msg})") from exc
        if not seen_header:
            seen_header = True
            yield Header.from_json(obj, number)
        else:
            yield Chunk.from_json(obj, number)
    if not seen_header:
        raise TranscriptError("empty transcript: no header")


def read_transcript(path: str | Path) -> Transcript:
    """Load a whole transcript file."""
    with open(path, encoding="utf-8", newline="\n") as stream:
        items = list(parse_lines(stream))
    header = items[0]
    assert isinstance(header, Header)
    chunks = tuple(item for item in items[1:] if isinstance(item, Chunk))
    return Transcript(header, chunks)


__all__ = [
    "DIRECTIONS",
    "FORMAT",
    "MASK",
    "VERSION",
    "Chunk",
    "Direction",
    "Header",
    "Transcript",
    "TranscriptError",
    "TranscriptWriter",
    "decode_bytes",
    "encode_bytes",
    "parse_lines",
    "read_transcript",
]
