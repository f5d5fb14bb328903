"""The ways to reach the emulator: the CLI on a pty and as a socket:// server, the espemu:// URL (with
pyserial-asyncio on its real file descriptor), the registry, and clean shutdown with nothing leaked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
import serial_asyncio
from netsocket.mocks.esp_at import find_emulator, running_emulators

from .helpers import AtPort, tcp_server

OK = b"\r\nOK\r\n"
GMR3 = b"AT version:3.3.0.0(3b13d04 - ESP32C3 - May  8 2024 08:21:54)\r\n"


@contextlib.contextmanager
def cli(*args: str) -> Iterator[str]:
    """Run ``python -m netsocket.mocks.esp_at`` and yield the first line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "netsocket.mocks.esp_at", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stdout is not None
        process.stdout.close()


def _probe(port: serial.SerialBase) -> bytes:
    """Send AT until the module answers (the boot's `ready` may have been flushed by the open)."""
    deadline = time.monotonic() + 5
    seen = b""
    while b"\r\nOK\r\n" not in seen:
        assert time.monotonic() < deadline, seen
        port.write(b"AT\r\n")
        seen += port.read(64)
    return seen


def test_cli_pty_at3_answers_at_over_pyserial() -> None:
    with cli("--pty", "--profile", "at3_esp32", "--timescale", "0.01") as path:
        assert path.startswith("/dev/")
        with serial.Serial(path, 115200, timeout=0.1) as port:
            _probe(port)
            port.write(b"ATE0\r\n")
            at = AtPort(port, None, "at3_esp32")  # type: ignore[arg-type]
            at.read_until(b"ATE0\r\n\r\nOK\r\n")
            port.write(b"AT+GMR\r\n")
            assert at.read_until(b"\r\n\r\nOK\r\n").endswith(
                GMR3 + b"SDK version:v5.0.6-dirty\r\ncompile time(be332568):May  8 2024 08:51:33\r\n"
                b"Bin version:v3.3.0.0(MINI-1)\r\n\r\nOK\r\n"
            )


def test_cli_socket_server() -> None:
    with (
        cli("--listen", "127.0.0.1:0", "--timescale", "0.01") as port_text,
        serial.serial_for_url(f"socket://127.0.0.1:{int(port_text)}", timeout=0.1) as port,
    ):
        assert b"\r\nOK\r\n" in _probe(port)
        port.write(b"AT+CIPMUX?\r\n")
        AtPort(port, None, "at22_8266").read_until(b"AT+CIPMUX?\r\n+CIPMUX:0\r\n\r\nOK\r\n")  # type: ignore[arg-type]


def test_url_handler_registry_and_clean_close() -> None:
    before = {t.name for t in threading.enumerate()}
    port = serial.serial_for_url("espemu://?timescale=0.01&name=unit-a", timeout=0.1)
    emulator = find_emulator(port)
    assert find_emulator("espemu://?timescale=0.01&name=unit-a") is emulator
    assert find_emulator("unit-a") is emulator
    assert running_emulators() == [emulator]
    at = AtPort(port, emulator, "at22_8266")
    at.boot()
    at.join()
    with tcp_server() as server:
        at.cmd(b'AT+CIPSTART="TCP","127.0.0.1",%d' % server.getsockname()[1], b"CONNECT\r\n" + OK)
        peer, _ = server.accept()
        with peer:
            assert emulator.open_host_sockets == 1
            port.close()
            peer.settimeout(3)
            assert peer.recv(1) == b""  # the bridged host socket is closed with the port
    assert emulator.open_host_sockets == 0
    assert not emulator.running
    assert running_emulators() == []
    assert {t.name for t in threading.enumerate()} <= before
    with pytest.raises(LookupError):
        find_emulator("unit-a")


def test_bad_url_is_a_serial_exception() -> None:
    with pytest.raises(serial.SerialException):
        serial.serial_for_url("espemu://?profile=nope")
    with pytest.raises(serial.SerialException):
        serial.serial_for_url("espemu://?timescale=2")
    with pytest.raises(serial.SerialException):
        serial.serial_for_url("espemu://?no_such_option=1")
    with pytest.raises(serial.SerialException):
        serial.serial_for_url("espemu://?quirks=debug_leaks,not_a_quirk")
    assert running_emulators() == []


def test_pyserial_asyncio_on_the_real_file_descriptor() -> None:
    async def main() -> bytes:
        reader, writer = await serial_asyncio.open_serial_connection(url="espemu://?timescale=0.01")
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\nready\r\n"), 5)
            writer.write(b"AT+CIPMUX?\r\n")
            return await asyncio.wait_for(reader.readuntil(b"\r\nOK\r\n"), 5)
        finally:
            writer.close()

    assert asyncio.run(main()) == b"AT+CIPMUX?\r\n+CIPMUX:0\r\n\r\nOK\r\n"
    assert running_emulators() == []


def test_byte_log_both_directions(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_file = tmp_path / "wire.log"
    caplog.set_level(logging.DEBUG, logger="netsocket.mocks.esp_at.wire")
    with serial.serial_for_url(f"espemu://?timescale=0.01&log_file={log_file}", timeout=0.1) as port:
        at = AtPort(port, find_emulator(port), "at22_8266")
        at.read_until(b"ready\r\n")
        at.cmd(b"AT", b"AT\r\n" + OK)
    text = log_file.read_text()
    assert "host->esp b'AT\\r\\n'" in text
    assert "esp->host b'\\r\\nready\\r\\n'" in text
    assert any("host->esp" in r.getMessage() and "b'AT\\r\\n'" in r.getMessage() for r in caplog.records)


def test_a_name_can_only_be_used_once() -> None:
    with serial.serial_for_url("espemu://?timescale=0.01&name=twice") as first:
        with pytest.raises(serial.SerialException):
            serial.serial_for_url("espemu://?timescale=0.01&name=twice")
        assert running_emulators() == [find_emulator(first)]
