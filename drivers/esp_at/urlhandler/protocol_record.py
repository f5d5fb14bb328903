"""The ``record://`` pyserial URL handler: any port, with a transcript of the session written as it runs.

``record://<inner port>#file=<path>[&secret=<value>]...``: the inner port is a device path or any pyserial URL
(``record://espemu://?profile=at3_esp32#file=s.jsonl``, ``record:///dev/ttyUSB0#file=s.jsonl``); the recorder's own
options sit in the fragment, so the inner URL keeps its query. Like pyserial's ``spy://``, but the log is a
transcript that ``espemu://?replay=FILE`` plays back (see docs/transcripts.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from ..recorder import RecordingPort
from ..serial_port import register_url_handlers

SCHEME = "record://"


def parse_record_url(url: str) -> tuple[str, str, list[str]]:
    """``(inner port, transcript path, secrets)`` of a ``record://`` URL; ValueError if it names no file."""
    if not url.lower().startswith(SCHEME):
        raise ValueError(f"not a record:// URL: {url!r}")
    inner, _, fragment = url[len(SCHEME) :].partition("#")
    options = parse_qs(fragment, keep_blank_values=True)
    unknown = set(options) - {"file", "secret"}
    if unknown:
        raise ValueError(f"unknown record:// options {sorted(unknown)} (known: file, secret)")
    files = options.get("file")
    if not files or not files[-1]:
        raise ValueError("record:// needs #file=<transcript path>")
    if not inner:
        raise ValueError("record:// needs the port to record, e.g. record://espemu://#file=s.jsonl")
    return inner, files[-1], options.get("secret", [])


class Serial(SerialBase):
    """A pyserial port that forwards to an inner port and records the session."""

    _recording: RecordingPort | None = None

    def open(self) -> None:
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        try:
            inner_url, path, secrets = parse_record_url(str(self.portstr))
        except ValueError as exc:
            raise SerialException(str(exc)) from exc
        if "://" in inner_url:
            register_url_handlers(urlsplit(inner_url).scheme)
        inner = serial.serial_for_url(inner_url, baudrate=self.baudrate, timeout=self.timeout, rtscts=self.rtscts)
        try:
            self._recording = RecordingPort(inner, path, secrets=secrets, owns_inner=True)
        except OSError as exc:
            inner.close()
            raise SerialException(f"cannot write the transcript {path!r}: {exc}") from exc
        self.is_open = True

    def _live(self) -> RecordingPort:
        if not self.is_open or self._recording is None:
            raise PortNotOpenError()
        return self._recording

    def _reconfigure_port(self) -> None:
        if self._recording is not None:
            inner = self._recording.inner
            inner.timeout = self.timeout
            inner.write_timeout = self.write_timeout
            inner.baudrate = self.baudrate
            inner.rtscts = self.rtscts

    def close(self) -> None:
        if self._recording is not None:
            self._recording.close()
            self._recording = None
        self.is_open = False

    @property
    def emulator(self) -> Any:
        """The emulator behind the inner port, if it is one (for `netsocket.mocks.esp_at.find_emulator`)."""
        return getattr(self._recording.inner, "emulator", None) if self._recording is not None else None

    @property
    def in_waiting(self) -> int:
        return self._live().in_waiting

    def read(self, size: int = 1) -> bytes:
        return self._live().read(size)

    def write(self, b: bytes, /) -> int | None:  # type: ignore[override]
        return self._live().write(bytes(b))

    def flush(self) -> None:
        self._live().inner.flush()

    def reset_input_buffer(self) -> None:
        self._live().inner.reset_input_buffer()

    def reset_output_buffer(self) -> None:
        self._live().inner.reset_output_buffer()

    def send_break(self, duration: float = 0.25) -> None:
        self._live().inner.send_break(duration)

    def _update_break_state(self) -> None:
        if self._recording is not None:
            self._recording.inner.break_condition = self.break_condition

    def _update_rts_state(self) -> None:
        if self._recording is not None:
            self._recording.inner.rts = self.rts

    def _update_dtr_state(self) -> None:
        if self._recording is not None:
            self._recording.inner.dtr = self.dtr

    @property
    def cts(self) -> bool:
        return bool(self._live().inner.cts)

    @property
    def dsr(self) -> bool:
        return bool(self._live().inner.dsr)

    @property
    def ri(self) -> bool:
        return bool(self._live().inner.ri)

    @property
    def cd(self) -> bool:
        return bool(self._live().inner.cd)

    def fileno(self) -> int:
        return int(self._live().inner.fileno())

    def cancel_read(self) -> None:
        cancel = getattr(self._live().inner, "cancel_read", None)
        if callable(cancel):
            cancel()

    def cancel_write(self) -> None:
        cancel = getattr(self._live().inner, "cancel_write", None)
        if callable(cancel):
            cancel()
