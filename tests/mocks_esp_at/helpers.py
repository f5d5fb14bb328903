"""Test helpers: an emulator on an in-process pseudo-terminal, driven with pyserial, read with deadlines."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import tty
from collections.abc import Iterator
from typing import Any

import serial
from netsocket.mocks.esp_at import Emulator, EmulatorOptions, Timing
from netsocket.mocks.esp_at.transport import FdTransport

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
FAST = 0.01


class AtPort:
    """A pyserial port on the emulator's pty, with exact-bytes helpers."""

    def __init__(self, port: serial.Serial, emulator: Emulator, profile: str) -> None:
        self.port = port
        self.emulator = emulator
        self.profile = profile

    @property
    def nonos(self) -> bool:
        return self.profile == "nonos17"

    def read_exact(self, count: int, timeout: float = 3.0) -> bytes:
        data = bytearray()
        deadline = time.monotonic() + timeout
        while len(data) < count and time.monotonic() < deadline:
            data += self.port.read(count - len(data))
        return bytes(data)

    def read_until(self, pattern: bytes, timeout: float = 3.0) -> bytes:
        data = bytearray()
        deadline = time.monotonic() + timeout
        while pattern not in data:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout}s; got {bytes(data)!r}")
            data += self.port.read(max(1, self.port.in_waiting))
        return bytes(data)

    def expect(self, literal: bytes, timeout: float = 3.0) -> None:
        got = self.read_exact(len(literal), timeout)
        assert got == literal, f"expected {literal!r}, got {got!r}"

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def cmd(self, line: bytes, expect: bytes, timeout: float = 3.0) -> None:
        """Send `line` + CR LF and assert the module answers exactly `expect`."""
        self.port.write(line + b"\r\n")
        got = self.read_exact(len(expect), timeout)
        assert got == expect, f"{line!r}: expected {expect!r}, got {got!r}"

    def answer(self, line: bytes, final: bytes = b"\r\nOK\r\n", timeout: float = 3.0) -> bytes:
        self.port.write(line + b"\r\n")
        return self.read_until(final, timeout)

    def assert_quiet(self) -> None:
        """Nothing more is waiting, checked with an AT round trip (no sleeping)."""
        self.port.write(b"AT\r\n")
        got = self.read_exact(6)
        assert got == b"\r\nOK\r\n", f"unexpected extra output {got!r}"

    def boot(self) -> None:
        self.read_until(b"\r\nready\r\n")
        self.cmd(b"ATE0", (b"ATE0\r\r\n" if self.nonos else b"ATE0\r\n") + b"\r\nOK\r\n")

    def join(self) -> None:
        name = b"AT+CWJAP_CUR" if self.nonos else b"AT+CWJAP"
        self.cmd(name + b'="netsocket-wpa2","netsocket123"', b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n")

    def wait_for(self, predicate: Any, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.emulator.call(lambda dev, now: predicate(dev)):
            if time.monotonic() > deadline:
                raise AssertionError("condition on the emulated device not reached")
            self.port.read(0)


@contextlib.contextmanager
def pty_emulator(profile: str, timescale: float = FAST, **options: Any) -> Iterator[AtPort]:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    options.setdefault("pace", False)  # a fast test: opt out of real-life line speed explicitly
    opts = EmulatorOptions(profile=profile, timing=Timing().with_timescale(timescale), seed=1, **options)
    emulator = Emulator(opts, FdTransport(master), aliases=(path,))
    # Open before starting: pyserial flushes the input on open, which would eat an early `ready`.
    port = serial.Serial(path, 115200, timeout=0.05)
    emulator.start()
    try:
        yield AtPort(port, emulator, profile)
    finally:
        port.close()
        emulator.close()
        os.close(slave)


@contextlib.contextmanager
def tcp_server() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(3.0)
    try:
        yield server
    finally:
        server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
