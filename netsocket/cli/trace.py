"""``netsocket trace -- COMMAND ...``: run another subcommand with a live, readable trace of the device traffic.

Layer: application. The ESP driver logs every byte it sends (``-> ...``, with the Wi-Fi passphrase already masked)
and receives (``<- ...``) at DEBUG on ``netsocket.drivers.esp_at``; the W5500 driver logs its chip events on
``netsocket.drivers.w5500``, and every SPI frame with its reply on ``netsocket.drivers.w5500.spi``. This subcommand
shows those records on stderr, one readable line each (SPI frames decoded: block, offset, data), while the other
subcommand runs as usual on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from netsocket.config import load_settings

from .terminal import mask, readable

LOGGERS = ("netsocket.drivers.esp_at", "netsocket.drivers.w5500")


def register(sub: Any) -> None:
    p = sub.add_parser("trace", help="run another subcommand with a live AT/SPI trace on stderr")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    p.set_defaults(handler=cmd_trace)


def describe_spi(out: bytes, reply: bytes) -> str:
    """One W5500 SPI frame in words: ``SPI read  socket 0 reg 0x0003 -> 17``, ``SPI write tx 1 0x0000 <- ...``."""
    if len(out) < 3:
        return f"SPI {out.hex(' ')}"
    offset, control = out[0] << 8 | out[1], out[2]
    bsb, write = control >> 3, bool(control & 0x04)
    if bsb == 0:
        block = "common"
    else:
        block = f"{('socket', 'tx', 'rx')[(bsb - 1) % 4] if (bsb - 1) % 4 < 3 else 'reserved'} {(bsb - 1) // 4}"
    data = out[3:] if write else reply[3:]
    shown = data[:16].hex(" ") + (f" ... ({len(data)} bytes)" if len(data) > 16 else "")
    return f"SPI {'write' if write else 'read '} {block} {offset:#06x} {'<-' if write else '->'} {shown}"


class TraceHandler(logging.Handler):
    """Driver debug records as ``  0.123 -> AT+GMR`` lines (bytes shown readably, secrets masked)."""

    def __init__(self, stream: Any, secrets: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self._stream = stream
        self._secrets = secrets
        self._start = time.monotonic()
        self._received = bytearray()  # the module's output arrives in pieces: shown a whole line at a time

    def emit(self, record: logging.LogRecord) -> None:
        try:
            args = record.args if isinstance(record.args, tuple) else ()
            data = bytes(args[0]) if args and isinstance(args[0], (bytes, bytearray)) else None
            if record.msg == "<- %r" and data is not None:
                self._received += data
                while (end := self._received.find(b"\n")) >= 0 or self._received.endswith(b"> "):
                    cut = end + 1 if end >= 0 else len(self._received)
                    self._show("<-", bytes(self._received[:cut]))
                    del self._received[:cut]
            elif record.msg == "spi %r %r" and data is not None and isinstance(args[1], bytes):
                self._write(describe_spi(data, args[1]))
            elif record.msg == "-> %r" and data is not None:
                self._show("<-", bytes(self._received))
                self._received.clear()
                self._show("->", data)
            else:
                self._write(f"   {record.getMessage()}")
        except Exception:  # a trace must never break the command it watches
            self.handleError(record)

    def _show(self, arrow: str, data: bytes) -> None:
        text = readable(data).strip("\n")
        if text.strip():
            self._write(f"{arrow} " + text.replace("\n", "\n" + " " * 12))

    def _write(self, line: str) -> None:
        self._stream.write(f"{time.monotonic() - self._start:8.3f} {mask(line, self._secrets)}\n")
        self._stream.flush()


def cmd_trace(args: argparse.Namespace) -> int:
    from . import main

    rest = list(args.rest)
    if rest and rest[0] == "--":
        rest = rest[1:]
    if not rest or rest[0] == "trace":
        sys.stderr.write("usage: netsocket trace -- COMMAND [ARGS...] (for example: netsocket trace -- info)\n")
        return 2
    password = load_settings().wifi_password
    handler = TraceHandler(sys.stderr, [password] if password else [])
    loggers = [logging.getLogger(name) for name in LOGGERS]
    previous = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        return main(rest)
    finally:
        for lg, level in zip(loggers, previous, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
