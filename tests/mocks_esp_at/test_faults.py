"""Fault injection through the public API, on ``espemu://`` ports: reset, Wi-Fi loss, silence, SEND FAIL,
noise, a flooded receive buffer, and the output pacer's chunking and throttling.
"""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Iterator

import pytest
import serial
from netsocket.mocks.esp_at import find_emulator
from netsocket.mocks.esp_at.pacer import OutputPacer

from .helpers import AtPort, tcp_server

OK = b"\r\nOK\r\n"


@contextlib.contextmanager
def url_port(profile: str = "at22_8266", extra: str = "", *, pace: bool = False) -> Iterator[AtPort]:
    """A fast emulator (delays shrunk; the line paced at its baud rate only with ``pace``)."""
    url = f"espemu://?profile={profile}&timescale=0.01&seed=2&pace={int(pace)}{extra}"
    with serial.serial_for_url(url, timeout=0.05) as port:
        at = AtPort(port, find_emulator(port), profile)
        at.boot()
        yield at


def _linked(at: AtPort, server: socket.socket) -> socket.socket:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    at.cmd(b'AT+CIPSTART=0,"TCP","127.0.0.1",%d' % server.getsockname()[1], b"0,CONNECT\r\n" + OK)
    peer, _ = server.accept()
    peer.settimeout(3)
    return peer


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266"])
def test_spontaneous_reset_garbage_then_ready_links_vanish_silently(profile: str) -> None:
    with url_port(profile) as at, tcp_server() as server, _linked(at, server) as peer:
        at.emulator.inject_reset()
        data = at.read_until(b"\r\nready\r\n")
        assert len(data) > 9 and b"CLOSED" not in data
        assert peer.recv(10) == b""  # the host socket behind the link was closed
        at.cmd(b"AT+CIPMUX?", (b"AT+CIPMUX?\r\r\n" if at.nonos else b"AT+CIPMUX?\r\n") + b"+CIPMUX:0\r\n" + OK)


def test_wifi_loss_closes_links_and_esp_at_reconnects() -> None:
    with url_port() as at, tcp_server() as server, _linked(at, server) as peer:
        at.emulator.drop_wifi()
        at.expect(b"WIFI DISCONNECT\r\n0,CLOSED\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n")
        assert peer.recv(10) == b""
        at.cmd(b"AT+CIPSTATUS", b"STATUS:4\r\n" + OK)


def test_nonos_does_not_reconnect_on_its_own() -> None:
    with url_port("nonos17") as at:
        at.join()
        at.emulator.drop_wifi()
        at.expect(b"WIFI DISCONNECT\r\n")
        at.cmd(b"AT+CIPSTATUS", b"STATUS:5\r\n" + OK)


def test_silent_module_answers_nothing_until_reset() -> None:
    with url_port() as at:
        at.emulator.go_silent()
        at.send(b"AT\r\n")
        assert at.read_exact(1, timeout=0.3) == b""
        at.emulator.inject_reset()
        at.read_until(b"\r\nready\r\n")
        at.cmd(b"AT", b"AT\r\n" + OK)


@pytest.mark.parametrize(("profile", "then_ok"), [("at22_8266", False), ("nonos17", True)])
def test_send_fail(profile: str, then_ok: bool) -> None:
    with url_port(profile) as at, tcp_server() as server, _linked(at, server):
        at.emulator.fail_next_send(then_send_ok=then_ok)
        at.cmd(b"AT+CIPSEND=0,2", OK + (b"> " if at.nonos else b"\r\n>"))
        at.send(b"xy")
        at.expect(b"\r\nRecv 2 bytes\r\n\r\nSEND FAIL\r\n" + (b"\r\nSEND OK\r\n" if then_ok else b""))


def test_line_noise_reaches_the_host() -> None:
    with url_port() as at:
        at.emulator.inject_noise(7)
        assert len(at.read_exact(7)) == 7
        at.cmd(b"AT", OK)


def test_flooded_rx_buffer_drops_bytes_without_flow_control() -> None:
    with url_port(extra="&uart_drain_rate=20000") as at:
        at.send(b"X" * 6000)
        # Like a driver would: probe until the module answers again (the probes may be lost too).
        deadline = time.monotonic() + 5
        seen = b""
        while OK not in seen:
            assert time.monotonic() < deadline, seen
            at.send(b"\r\nAT\r\n")
            seen += at.read_exact(64, timeout=0.1)
        assert at.emulator.dropped_rx_bytes > 0


def test_rts_flow_control_loses_nothing() -> None:
    with url_port(extra="&uart_drain_rate=50000") as at:
        at.cmd(b"AT+UART_CUR=115200,8,1,0,1", OK)
        at.send(b"Y" * 6000 + b"\r\nAT\r\n")
        # The 6000-byte line is one over-long command, then AT: nothing was lost in between.
        at.expect(b"\r\nERROR\r\n" + OK, timeout=5)
        assert at.emulator.dropped_rx_bytes == 0


def test_garbage_gets_error_not_a_crash() -> None:
    with url_port() as at:
        at.send(bytes(range(256)) + b"\r\n")
        at.read_until(b"\r\nERROR\r\n")
        at.send(b'AT+CIPSEND=99999999999999999999\r\nAT+CWJAP="\r\nAT+=\r\nAT+CIPSTART=,,,,\r\n')
        at.read_until(b"\r\nERROR\r\n" * 4)
        at.cmd(b"AT", OK)
        assert at.emulator.running


def _chunks(seed: int, data: bytes, **options: object) -> list[bytes]:
    pacer = OutputPacer(random.Random(seed), **options)  # type: ignore[arg-type]
    pacer.push(data)
    now, out = 0.0, []
    while pacer.pending:
        chunk = pacer.pop(now)
        if chunk:
            out.append(chunk)
        next_time = pacer.next_time()
        now = max(now + 1e-6, next_time if next_time is not None else now)
    return out


def test_chunking_splits_ipd_headers_mid_number_and_payload_from_header() -> None:
    header = b"\r\n+IPD,0,1234:"
    data = header + bytes(1234)
    digits = range(header.index(b"1234") + 1, header.index(b":"))
    mid_number = header_split = False
    for seed in range(40):
        chunks = _chunks(seed, data, chunking=True)
        assert b"".join(chunks) == data
        cuts, position = set(), 0
        for chunk in chunks[:-1]:
            position += len(chunk)
            cuts.add(position)
        mid_number |= bool(cuts & set(digits))
        header_split |= len(header) in cuts
    assert mid_number and header_split


def test_throttle_to_baud_rate() -> None:
    pacer = OutputPacer(random.Random(1), baud=115200)
    pacer.push(bytes(11520))
    released, now = 0, 0.0
    while released < 11520:
        released += len(pacer.pop(now))
        next_time = pacer.next_time()
        now = next_time if next_time is not None else now
    assert 0.99 <= now <= 1.01  # 11520 bytes at 11520 bytes/s


def test_baud_change_applies_after_the_queued_output() -> None:
    pacer = OutputPacer(random.Random(1), baud=9600)
    pacer.push(bytes(960))
    pacer.push_baud_change(96000)
    pacer.push(bytes(960))
    released, now = 0, 0.0
    while released < 1920:
        released += len(pacer.pop(now))
        next_time = pacer.next_time()
        now = next_time if next_time is not None else now
    assert 1.09 <= now <= 1.11


def test_cts_flow_control_holds_the_modules_output() -> None:
    with url_port() as at:
        at.cmd(b"AT+UART_CUR=115200,8,1,0,2", OK)
        at.port.rts = False
        at.send(b"AT+GMR\r\n")
        assert at.read_exact(1, timeout=0.3) == b""
        at.port.rts = True
        at.read_until(b"Bin version:2.2.0(ESP8266_1MB)\r\n\r\nOK\r\n")


def test_baud_throttles_both_directions() -> None:
    with url_port(extra="&baud=9600", pace=True) as at:
        at.cmd(b"AT+CIPMUX=1", OK)
        start = time.monotonic()
        at.send(b"AT" + b"+" * 954 + b"\r\n")  # 958 bytes take about 1 s at 960 bytes/s
        at.read_until(b"\r\nERROR\r\n", timeout=5)
        elapsed = time.monotonic() - start
        assert 0.9 <= elapsed <= 3.0
