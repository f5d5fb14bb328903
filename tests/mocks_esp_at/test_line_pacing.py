"""The emulated UART carries N bytes in no less than N * 10 / baud seconds, both ways, whatever the line did before:
an idle line saves up nothing, and chunks are handed on only once their last byte has crossed. (A line that let
5 ms of a burst through unpaced made uploads measure 1.005 of baud/10, which no wire can carry.)"""

from __future__ import annotations

import random
import socket
import time

import pytest
import serial
from netsocket.mocks.esp_at import find_emulator
from netsocket.mocks.esp_at.pacer import InputPacer, OutputPacer

from .helpers import AtPort, tcp_server

OK = b"\r\nOK\r\n"


def _output_arrivals(pacer: OutputPacer, now: float, size: int, wake_late: float = 0.0) -> list[tuple[float, int]]:
    """(time, bytes) of each release until `size` bytes came out, waking `wake_late` after each `next_time`."""
    out, released = [], 0
    while released < size:
        chunk = pacer.pop(now)
        if chunk:
            out.append((now, len(chunk)))
            released += len(chunk)
        next_time = pacer.next_time()
        assert next_time is not None or released == size
        now = max(now, next_time if next_time is not None else now) + wake_late
    return out


@pytest.mark.parametrize("baud", [115200, 921600, 3_000_000])
@pytest.mark.parametrize("idle", [0.0, 0.004, 1.0])
def test_module_output_never_crosses_faster_than_the_line(baud: int, idle: float) -> None:
    rate = baud / 10
    pacer = OutputPacer(random.Random(1), baud=baud)
    pacer.push(b"x" * 100, 0.0)
    _output_arrivals(pacer, 0.0, 100)
    start = 100 / rate + idle  # the line has been idle this long when the burst is produced
    pacer.push(bytes(20_000), start)
    crossed = 0
    for at, count in _output_arrivals(pacer, start, 20_000):
        crossed += count
        assert at - start >= crossed / rate - 1e-9, (at - start, crossed)
    assert crossed == 20_000


def test_a_late_wake_up_costs_the_output_no_line_time() -> None:
    pacer = OutputPacer(random.Random(1), baud=921600)
    pacer.push(bytes(92160), 0.0)
    arrivals = _output_arrivals(pacer, 0.0, 92160, wake_late=0.0003)
    assert arrivals[-1][0] <= 1.0 + 0.001  # one second of line time, not one plus a wake-up per chunk


def _input_arrivals(
    line: InputPacer, writes: list[tuple[float, bytes]], step: float
) -> tuple[list[tuple[float, int]], bytes]:
    """Feed host `writes` (time, bytes) as the emulator reads them (up to `room()`), popping every `step`."""
    now, pending, out, got = 0.0, bytearray(), [], bytearray()
    writes = list(writes)
    total = sum(len(data) for _, data in writes)
    while len(got) < total:
        while writes and writes[0][0] <= now:
            pending += writes.pop(0)[1]
        taken = min(len(pending), line.room())
        line.push(bytes(pending[:taken]), now)
        del pending[:taken]
        data = line.pop(now)
        if data:
            got += data
            out.append((now, len(got)))
        now += step
    return out, bytes(got)


@pytest.mark.parametrize("baud", [115200, 921600, 3_000_000])
def test_host_bytes_never_reach_the_module_faster_than_the_line(baud: int) -> None:
    rate = baud / 10
    command = b"AT+CIPSEND=0,2048\r\n"
    data = bytes(range(256)) * 8
    # A command, a pause (the module's prompt, a network round trip), then the data all at once.
    writes = [(0.0, command), (0.05, data)]
    arrivals, got = _input_arrivals(InputPacer(baud), writes, step=0.0001)
    assert got == command + data  # in order, nothing lost or doubled
    for at, count in arrivals:
        if count <= len(command):
            assert at >= count / rate - 1e-9
        else:
            assert at - 0.05 >= (count - len(command)) / rate - 1e-9, (at, count)
    # And the line is kept busy: the data is in within a wake-up step of its time on the wire.
    assert arrivals[-1][0] - 0.05 <= len(data) / rate + 0.0002


def test_the_host_can_only_read_ahead_a_few_milliseconds_of_line_time() -> None:
    line = InputPacer(921600)
    assert 0 < line.room() <= 921600 / 10 * 0.005 + 1
    line.push(bytes(line.room()), 0.0)
    assert line.room() == 0 and line.pop(0.0) == b""
    assert line.next_time() is not None and line.next_time() > 0.0  # type: ignore[operator]


def test_a_baud_change_applies_to_bytes_read_after_it() -> None:
    line = InputPacer(9600)
    line.push(b"a" * 10, 0.0)
    line.set_baud(96000)
    line.push(b"b" * 10, 0.0)
    assert line.pop(0.0105) == b"a" * 10  # 10 bytes at 960 B/s (10.4 ms), then 10 at 9,600 B/s right behind them
    assert line.pop(0.0106) == b"b"
    assert line.pop(0.0115) == b"b" * 9


def test_an_idle_emulated_line_lets_no_burst_through() -> None:
    """End to end: after the line sat idle, a 2,048-byte CIPSEND payload still takes its 22 ms at 921600 baud."""
    url = "espemu://?profile=at3_esp32&timescale=0.01&seed=2&baud=921600"
    with serial.serial_for_url(url, baudrate=921600, timeout=0.05) as port, tcp_server() as server:
        at = AtPort(port, find_emulator(port), "at3_esp32")
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b'AT+CIPSTART=0,"TCP","127.0.0.1",%d' % server.getsockname()[1], b"0,CONNECT\r\n" + OK)
        peer, _ = server.accept()
        with peer:
            at.send(b"AT+CIPSEND=0,2048\r\n")
            at.read_until(b">")
            time.sleep(0.05)  # the idle line a network round trip leaves: a token bucket would save it up
            written = time.monotonic()
            at.send(bytes(2048))
            at.read_until(b"Recv 2048 bytes")
            assert time.monotonic() - written >= 2048 / 92160
            assert _recv_all(peer, 2048) == bytes(2048)


def _recv_all(peer: socket.socket, size: int) -> bytes:
    peer.settimeout(3)
    data = bytearray()
    while len(data) < size and (chunk := peer.recv(size - len(data))):
        data += chunk
    return bytes(data)
