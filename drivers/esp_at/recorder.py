"""Recording a module's session at the serial boundary, as a transcript (``netsocket.transcript``).

Layers: `SessionRecorder` is the core (bytes and the clock in, transcript lines out): it masks secrets, finds the
firmware in the ``AT+GMR`` answer and writes the header once it knows it. `RecordingPort` wraps any serial-like
object (the driver's ``record=`` option); the ``record://`` URL handler (`netsocket.drivers.esp_at.urlhandler`) wraps
any port URL, in the spirit of pyserial's ``spy://``.

Masking happens before anything is written: the password parameter of the commands in `SECRET_PARAMETERS`
(``AT+CWJAP``, ``AT+CWSAP``, ..., sent or echoed) and of the answers in `SECRET_ANSWER_FIELDS` (``+CWSAP:``) is
replaced by ``MASK`` inside its quotes; the value learnt there, and every secret the caller marks, is then masked
wherever it appears (payload, a later echo), raw or AT-escaped. A line that may hold one is held until its ``\\n``
(or until the other side speaks, or the port closes), so a secret never straddles two records. Masking a payload
changes its length: a replay of that payload no longer matches it exactly.
"""

from __future__ import annotations

import datetime
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from netsocket.transcript import MASK, Chunk, Header, TranscriptWriter

SECRET_PARAMETERS: dict[bytes, tuple[int, ...]] = {
    b"AT+CWJAP": (1,),
    b"AT+CWJAP_CUR": (1,),
    b"AT+CWJAP_DEF": (1,),
    b"AT+CWSAP": (1,),
    b"AT+CWSAP_CUR": (1,),
    b"AT+CWSAP_DEF": (1,),
    b"AT+CWJEAP": (4,),
    b"AT+MQTTUSERCFG": (4,),
    b"AT+CIPSSLCPSK": (1,),
}
"""Commands whose parameters (0-based positions) are secrets: Wi-Fi passphrases (station, soft-AP, enterprise),
the MQTT password, the TLS pre-shared key."""

SECRET_ANSWER_FIELDS: dict[bytes, tuple[int, ...]] = {
    b"+CWSAP": (1,),
    b"+CWSAP_CUR": (1,),
    b"+CWSAP_DEF": (1,),
}
"""Module answers that carry a secret: the soft-AP's passphrase in the answer to ``AT+CWSAP?``."""

_SENSITIVE_STARTS = tuple(SECRET_PARAMETERS) + tuple(SECRET_ANSWER_FIELDS)

LEARNT_SECRET_MIN = 5
"""A value learnt from a command is masked elsewhere only from this length on (WEP keys are 5 characters), so
that a one-letter password does not blank every such letter of the session."""

HEADER_WAIT_LIMIT = 1 << 20
"""Bytes held back while waiting for the ``AT+GMR`` answer; past this the header is written without firmware."""


def at_escape(text: bytes) -> bytes:
    """A value as it travels inside an AT quoted parameter (reference §1.2: ``\\``, ``,`` and ``"`` escaped)."""
    return text.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b",", b"\\,")


def parameter_spans(arguments: bytes) -> list[tuple[int, int, bool]]:
    """Where each comma-separated parameter of ``AT+X=<arguments>`` lies: ``(start, end, quoted)``; for a quoted
    one the span is its content between the quotes. Backslash escapes are honoured inside quotes."""
    spans: list[tuple[int, int, bool]] = []
    i, n = 0, len(arguments)
    while i <= n:
        if i < n and arguments[i : i + 1] == b'"':
            start = i + 1
            j = start
            while j < n and arguments[j : j + 1] != b'"':
                j += 2 if arguments[j : j + 1] == b"\\" else 1
            end = min(j, n)
            spans.append((start, end, True))
            comma = arguments.find(b",", end + 1)
        else:
            comma = arguments.find(b",", i)
            spans.append((i, n if comma < 0 else comma, False))
        if comma < 0:
            break
        i = comma + 1
    return spans


def at_unescape(value: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i : i + 1] == b"\\" and i + 1 < len(value):
            i += 1
        out += value[i : i + 1]
        i += 1
    return bytes(out)


def _may_be_command(data: bytes) -> bool:
    """``data`` (after the last line end) may be a command line still being written: it starts with ``AT``."""
    return data[:2].upper() in (b"A", b"AT")


def _may_be_sensitive_line(data: bytes) -> bool:
    """``data`` (after the last line end) may be the start of a line with a secret parameter (an echoed command,
    a ``+CWSAP:`` answer) that the next read completes."""
    head = data[:16].upper()
    return bool(head) and any(name.startswith(head) or head.startswith(name) for name in _SENSITIVE_STARTS)


class SecretMasker:
    """Masks secret parameters of command lines and every known secret elsewhere."""

    def __init__(self, secrets: Iterable[str | bytes] = ()) -> None:
        self._forms: set[bytes] = set()
        for secret in secrets:
            self.add(secret.encode() if isinstance(secret, str) else secret, learnt=False)

    def add(self, secret: bytes, *, learnt: bool = True) -> None:
        if not secret or (learnt and len(secret) < LEARNT_SECRET_MIN):
            return
        self._forms |= {secret, at_escape(secret)}

    @property
    def longest(self) -> int:
        return max((len(form) for form in self._forms), default=0)

    def mask_lines(self, data: bytes) -> bytes:
        """Mask every line of ``data`` (`mask_line`), then every known secret."""
        return self.mask(b"\n".join(self.mask_line(line) for line in data.split(b"\n")))

    def mask_line(self, line: bytes) -> bytes:
        """Mask the secret parameters of one command line (``AT+CWJAP=...``, sent or echoed) or module answer
        (``+CWSAP:...``), with or without its ``\\r\\n``; the values are learnt as secrets."""
        if line.startswith(b"+"):
            name, eq, arguments = line.partition(b":")
            positions = SECRET_ANSWER_FIELDS.get(name.strip().upper()) if eq else None
        else:
            name, eq, arguments = line.partition(b"=")
            positions = SECRET_PARAMETERS.get(name.strip().upper()) if eq else None
        if positions:
            body = arguments.rstrip(b"\r\n")
            tail = arguments[len(body) :]
            spans = parameter_spans(body)
            for index in sorted(positions, reverse=True):
                if index < len(spans):
                    start, end, _quoted = spans[index]
                    if end > start:
                        self.add(at_unescape(body[start:end]))
                        self.add(body[start:end])
                        body = body[:start] + MASK + body[end:]
            line = name + eq + body + tail
        return line

    def mask(self, data: bytes) -> bytes:
        for form in sorted(self._forms, key=len, reverse=True):
            data = data.replace(form, MASK)
        return data

    def unsafe_tail(self, data: bytes) -> int:
        """How many trailing bytes of ``data`` could be the start of a secret completed by the next chunk."""
        for size in range(min(len(data), self.longest - 1), 0, -1):
            tail = data[-size:]
            if any(form.startswith(tail) for form in self._forms):
                return size
        return 0


class SessionRecorder:
    """Turns the two byte streams of a session into transcript lines. Thread-safe (a reader thread records what it
    reads while a command writes). The clock is passed in."""

    def __init__(
        self,
        writer: TranscriptWriter,
        *,
        baudrate: int | None,
        secrets: Iterable[str | bytes] = (),
        clock: Callable[[], float] = time.monotonic,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._start = clock()
        self._baudrate = baudrate
        self._extra = dict(extra or {})
        self._masker = SecretMasker(secrets)
        self._lock = threading.Lock()
        self._date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        self._date = self._date.replace("+00:00", "Z")
        # records waiting for the header (the firmware comes with the first AT+GMR answer)
        self._waiting: list[Chunk] | None = []
        self._waiting_bytes = 0
        self._gmr_state: str | None = None  # None: no AT+GMR yet; "asked": collecting; "done"
        self._gmr_lines: list[str] = []
        self._gmr_buffer = b""
        self._host_pending = b""
        self._host_pending_t = 0.0
        self._module_tail = b""
        self._module_tail_t = 0.0
        self._closed = False

    # -- the two directions ---------------------------------------------------------------------------------------
    def host(self, data: bytes) -> None:
        """Bytes the host wrote to the module."""
        if not data:
            return
        with self._lock:
            now = self._clock() - self._start
            self._flush_module_tail()
            if not self._host_pending:
                self._host_pending_t = now
            buffered = self._host_pending + data
            end = buffered.rfind(b"\n") + 1
            complete, rest = buffered[:end], buffered[end:]
            if not _may_be_command(rest):  # payload or stray bytes: nothing to hold
                complete, rest = buffered, b""
            if complete:
                self._note_host_lines(complete)
                self._emit(Chunk(self._host_pending_t, "host", self._masker.mask_lines(complete)))
            self._host_pending = rest
            if rest:
                self._host_pending_t = now

    def module(self, data: bytes) -> None:
        """Bytes the host read from the module."""
        if not data:
            return
        with self._lock:
            now = self._clock() - self._start
            self._flush_host_pending()
            if not self._module_tail:
                self._module_tail_t = now
            buffered = self._module_tail + data
            self._watch_gmr(data)
            last_line = buffered[buffered.rfind(b"\n") + 1 :]
            keep = len(last_line) if _may_be_sensitive_line(last_line) else self._masker.unsafe_tail(buffered)
            ready, self._module_tail = buffered[: len(buffered) - keep], buffered[len(buffered) - keep :]
            if ready:
                self._emit(Chunk(self._module_tail_t, "module", self._masker.mask_lines(ready)))
            self._module_tail_t = now

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._flush_host_pending()
            self._flush_module_tail()
            self._write_header()
            self._writer.close()

    # -- helpers (lock held) --------------------------------------------------------------------------------------
    def _flush_host_pending(self) -> None:
        if self._host_pending:
            pending, self._host_pending = self._host_pending, b""
            self._emit(Chunk(self._host_pending_t, "host", self._masker.mask_lines(pending)))

    def _flush_module_tail(self) -> None:
        if self._module_tail:
            tail, self._module_tail = self._module_tail, b""
            self._emit(Chunk(self._module_tail_t, "module", self._masker.mask_lines(tail)))

    def _note_host_lines(self, data: bytes) -> None:
        if self._gmr_state is None and any(line.strip().upper() == b"AT+GMR" for line in data.split(b"\n")):
            self._gmr_state = "asked"

    def _watch_gmr(self, data: bytes) -> None:
        if self._gmr_state != "asked":
            return
        self._gmr_buffer += data
        *lines, self._gmr_buffer = self._gmr_buffer.split(b"\n")
        for raw in lines:
            line = raw.strip(b"\r").decode("latin-1")
            if line in ("OK", "ERROR"):
                if not any("version" in seen.lower() for seen in self._gmr_lines):
                    # The end of an earlier command's answer that was still on its way (a retried command, a
                    # late echo): the AT+GMR answer is still to come.
                    self._gmr_lines.clear()
                    continue
                self._gmr_state = "done"
                self._write_header()
                return
            if line and line.upper() != "AT+GMR":
                self._gmr_lines.append(line)

    def _emit(self, chunk: Chunk) -> None:
        if self._waiting is None:
            self._writer.write_chunk(chunk)
            return
        self._waiting.append(chunk)
        self._waiting_bytes += len(chunk.data)
        if self._waiting_bytes > HEADER_WAIT_LIMIT:
            self._write_header()

    def _write_header(self) -> None:
        if self._waiting is None:
            return
        firmware = tuple(self._gmr_lines) if self._gmr_state == "done" else None
        self._writer.write_header(
            Header(
                date=self._date,
                baudrate=self._baudrate,
                firmware=firmware,
                extra=self._extra,
            )
        )
        waiting, self._waiting = self._waiting, None
        for chunk in waiting:
            self._writer.write_chunk(chunk)


class RecordingPort:
    """A serial-like object that records everything read from and written to ``inner``.

    Closing it finishes the transcript, and closes ``inner`` only if ``owns_inner``. Attributes it does not define
    (``emulator``, ``port``, ...) are read from ``inner``.
    """

    def __init__(
        self,
        inner: Any,
        transcript: str | os.PathLike[str] | TranscriptWriter,
        *,
        secrets: Iterable[str | bytes] = (),
        owns_inner: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        writer = transcript if isinstance(transcript, TranscriptWriter) else TranscriptWriter.open(Path(transcript))
        baudrate = getattr(inner, "baudrate", None)
        self.recorder = SessionRecorder(
            writer, baudrate=baudrate if isinstance(baudrate, int) else None, secrets=secrets, extra=extra
        )
        self.inner = inner
        self._owns_inner = owns_inner

    def read(self, size: int = 1) -> bytes:
        data: bytes = self.inner.read(size)
        self.recorder.module(data)
        return data

    def write(self, data: bytes) -> int | None:
        self.recorder.host(bytes(data))
        written: int | None = self.inner.write(data)
        return written

    def close(self) -> None:
        self.recorder.close()
        if self._owns_inner:
            self.inner.close()

    @property
    def in_waiting(self) -> int:
        return int(getattr(self.inner, "in_waiting", 0) or 0)

    @property
    def timeout(self) -> float | None:
        value: float | None = self.inner.timeout
        return value

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.inner.timeout = value

    @property
    def baudrate(self) -> int:
        value: int = self.inner.baudrate
        return value

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        self.inner.baudrate = value

    @property
    def rtscts(self) -> bool:
        return bool(self.inner.rtscts)

    @rtscts.setter
    def rtscts(self, value: bool) -> None:
        self.inner.rtscts = value

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a failed __init__)
            raise AttributeError(name)
        return getattr(self.inner, name)


__all__ = [
    "SECRET_PARAMETERS",
    "RecordingPort",
    "SecretMasker",
    "SessionRecorder",
    "at_escape",
    "parameter_spans",
]
