"""Bugs found when probing the driver (issue 9, item 6), each as the user meets it through the public API."""

from __future__ import annotations

import ast
import itertools
import logging
import re
import socket
import threading
from typing import Any

import pytest
import serial
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.drivers.esp_at import commands as cmd

from netsocket import NsapiConnectionStatus, NsapiError, NsapiEvent, NsapiSecurity, SocketAddress, TCPSocket

pytestmark = pytest.mark.esp

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
_names = itertools.count(1)


def emulator_url(profile: str = "at22_8266") -> str:
    return f"espemu://?profile={profile}&timescale=0.01&seed=4&name=probed-{next(_names)}"


class RewritingPort:
    """A serial port whose complete input lines go through ``rewrite`` (a module that prints odd values)."""

    def __init__(self, port: Any, pattern: bytes, replacement: bytes) -> None:
        self._port = port
        self._pattern = re.compile(pattern)
        self._replacement = replacement
        self._held = b""

    def read(self, size: int = 1) -> bytes:
        data = self._held + self._port.read(size)
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if tail.startswith(b"+CIPSTATUS") or b"+CIPSTATUS".startswith(tail):
            self._held, data = tail, data[:cut]  # an unfinished line that may need rewriting
        else:
            self._held = b""
        return self._pattern.sub(self._replacement, data)

    def write(self, data: bytes) -> int | None:
        return self._port.write(data)  # type: ignore[no-any-return]

    @property
    def in_waiting(self) -> int:
        return int(self._port.in_waiting)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_accept_survives_a_peer_port_out_of_range_and_frees_its_links() -> None:
    port = serial.serial_for_url(emulator_url(), timeout=0.05)
    wrapped = RewritingPort(port, rb'(\+CIPSTATUS:\d,"TCP","[0-9.]+",)\d+', rb"\g<1>99999")
    iface = ESP8266Interface(wrapped)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        server = TCPSocket()
        assert server.open(iface) == NsapiError.OK
        listen_port = free_port()
        assert server.bind(listen_port) == NsapiError.OK
        assert server.listen(2) == NsapiError.OK
        server.set_timeout(5000)
        for round_ in range(2 * 5 + 1):  # more clients than link ids: a leaked id would starve a later one
            with socket.create_connection(("127.0.0.1", listen_port), timeout=5) as client:
                client.sendall(b"client %d" % round_)
            accepted, err = server.accept()
            assert err == NsapiError.OK and accepted is not None, f"round {round_}: {err}"
            accepted.set_timeout(5000)
            got = bytearray()
            buffer = bytearray(64)
            while (result := accepted.recv(buffer)) > 0:
                got += buffer[:result]
            assert result == 0 and bytes(got) == b"client %d" % round_
            accepted.close()
        server.close()
    finally:
        iface.close()
        port.close()


def test_passphrase_is_masked_in_the_echo_of_a_module_with_echo_on(caplog: pytest.LogCaptureFixture) -> None:
    iface = ESP8266Interface(emulator_url())
    try:
        assert iface.scan(None, 0) > 0  # the module is started (echo off) ...
        # ... then echoes again, as after any reboot (through the core, so the connect starts after its OK)
        assert iface.stack.run(cmd.plain(b"ATE1")).ok
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        incoming = [r.getMessage() for r in caplog.records if r.getMessage().startswith("<- ")]
        assert any("CWJAP=" in line for line in incoming), "the module did not echo the join"
        assert not [line for line in incoming if PASSPHRASE in line]
    finally:
        iface.close()


def test_hostname_limit_is_in_bytes_and_a_non_blocking_connect_still_completes() -> None:
    iface = ESP8266Interface(emulator_url())
    statuses: list[int] = []
    changed = threading.Condition()

    def on_status(_event: NsapiEvent, status: int) -> None:
        with changed:
            statuses.append(status)
            changed.notify_all()

    iface.attach(on_status)
    try:
        assert iface.set_hostname("é" * 20) == NsapiError.PARAMETER  # 20 characters, 40 bytes
        assert iface.set_hostname("host-" + "é" * 13) == NsapiError.OK  # 31 bytes
        assert iface.set_blocking(False) == NsapiError.OK
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        with changed:
            assert changed.wait_for(lambda: NsapiConnectionStatus.GLOBAL_UP in statuses, 10.0), statuses
    finally:
        iface.close()


def test_a_caller_owned_port_reconnects_after_disconnect() -> None:
    port = serial.serial_for_url(emulator_url(), timeout=0.05)
    iface = ESP8266Interface(port)
    try:
        for _ in range(2):
            assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
            assert iface.disconnect() == NsapiError.OK
        assert port.is_open  # the caller's port stays the caller's
    finally:
        iface.close()
        port.close()


def test_wep_credentials_of_mbed_test_plan_are_accepted() -> None:
    iface = ESP8266Interface(emulator_url())
    try:
        assert iface.set_credentials("OK", "12345678", NsapiSecurity.WEP) in (NsapiError.OK, NsapiError.UNSUPPORTED)
        assert iface.set_credentials("OK", None, NsapiSecurity.WEP) == NsapiError.PARAMETER
    finally:
        iface.close()


def test_bind_accepts_the_modules_own_address_and_refuses_others() -> None:
    iface = ESP8266Interface(emulator_url())
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        own = SocketAddress()
        assert iface.get_ip_address(own) == NsapiError.OK
        for address, expected in (
            (own.get_ip_address(), NsapiError.OK),
            ("0.0.0.0", NsapiError.OK),
            ("10.99.99.99", NsapiError.PARAMETER),
        ):
            sock = TCPSocket()
            assert sock.open(iface) == NsapiError.OK
            assert sock.bind(SocketAddress(address, free_port())) == expected, address
            sock.close()
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_clients_that_send_and_hang_up_one_after_another_are_each_accepted_with_their_data(profile: str) -> None:
    """The module reuses a link id as soon as it printed the id's CLOSED; the driver must not then send
    AT+CIPCLOSE for the old connection (it would close the next client on that id, whose data is lost).
    The emulator runs at real UART speed here: the race shows at line rate."""
    url = f"espemu://?profile={profile}&timescale=0.01&seed=4&name=probed-{next(_names)}"
    iface = ESP8266Interface(url)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        with TCPSocket() as server:
            assert server.open(iface) == NsapiError.OK
            listen_port = free_port()
            assert server.bind(listen_port) == NsapiError.OK
            assert server.listen(2) == NsapiError.OK
            server.set_timeout(5000)
            received = []
            for round_ in range(11):
                with socket.create_connection(("127.0.0.1", listen_port), timeout=5) as client:
                    client.sendall(b"client %d" % round_)
                accepted, err = server.accept()
                assert err == NsapiError.OK and accepted is not None, f"round {round_}: {err}"
                with accepted:
                    accepted.set_timeout(5000)
                    got = bytearray()
                    buffer = bytearray(64)
                    while (result := accepted.recv(buffer)) > 0:
                        got += buffer[:result]
                received.append(bytes(got))
            assert received == [b"client %d" % n for n in range(11)]
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
@pytest.mark.parametrize("gap", ["at once", "after the link opened"])
def test_a_udp_socket_closed_right_after_sendto_still_sends_its_datagrams(profile: str, gap: str) -> None:
    """sendto returned the datagram's length, so closing the socket must not drop it: the link still opening (or
    just opened) carries the queue out before it closes, as a TCP socket's close flushes its tail."""
    from netsocket import UDPSocket
    from tests.servers import UdpServer

    received: list[bytes] = []
    arrived = threading.Condition()

    def collect(data: bytes, _peer: tuple[str, int]) -> None:
        with arrived:
            received.append(data)
            arrived.notify_all()

    iface = ESP8266Interface(emulator_url(profile) + "&pace=0")
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        with UdpServer("collector", collect) as collector:
            sock = UDPSocket()
            assert sock.open(iface) == NsapiError.OK
            target = SocketAddress("127.0.0.1", collector.port)
            if gap != "at once":
                assert sock.sendto(target, b"first") == 5
                with arrived:
                    assert arrived.wait_for(lambda: received, 10)
            for n in range(3):
                assert sock.sendto(target, b"reading %d" % n) == 9
            assert sock.close() == NsapiError.OK
            with arrived:
                arrived.wait_for(lambda: len(received) >= 3 + (gap != "at once"), 10)
        assert received[-3:] == [b"reading 0", b"reading 1", b"reading 2"]
    finally:
        iface.close()


def _get_big(iface: ESP8266Interface, servers: Any, busy_s: float = 0.0) -> bytes:
    """GET /big; the application is busy elsewhere for ``busy_s`` before it starts reading."""
    sock = TCPSocket()
    assert sock.open(iface) == NsapiError.OK
    sock.set_timeout(20_000)
    assert sock.connect(SocketAddress(*servers.http.address)) == NsapiError.OK
    assert sock.send(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") > 0
    threading.Event().wait(busy_s)  # not synchronisation: an application that reads late (passive mode waits)
    response = bytearray()
    buffer = bytearray(4096)
    while (result := sock.recv(buffer)) != 0:
        assert result > 0, f"recv gave {NsapiError(result)!s}"
        response += buffer[:result]
    sock.close()
    return bytes(response).partition(b"\r\n\r\n")[2]


def test_a_link_id_a_udp_socket_used_serves_a_later_tcp_socket_in_passive_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ESP-AT 3.3+ puts a UDP link in active receive (AT+CIPRECVTYPE=<id>,0) and the module keeps that per id: a
    TCP link on the same id later got its bytes as active +IPD, overflowed a buffer its reader did not drain fast
    enough and handed the application a 256 KiB body with holes (seen in a full run on the asyncio runner)."""
    from netsocket import UDPSocket
    from tests.servers import LoopbackServers, http_big_body

    iface = ESP8266Interface(emulator_url("at3_esp32") + "&pace=0")
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        with LoopbackServers() as servers, caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            udp = [UDPSocket() for _ in range(5)]  # every link id once, each switched to active receive
            for sock in udp:
                assert sock.open(iface) == NsapiError.OK
                assert sock.sendto(SocketAddress(*servers.echo_udp.address), b"ping") == 4
            for sock in udp:
                buffer = bytearray(16)
                sock.set_timeout(5000)
                assert sock.recvfrom(SocketAddress(), buffer) == 4
                assert sock.close() == NsapiError.OK
            assert _get_big(iface, servers, busy_s=1.0) == http_big_body()
        written = b"".join(
            ast.literal_eval(r.getMessage()[3:]) for r in caplog.records if r.getMessage().startswith("-> ")
        )
        for link in range(5):
            assert b"AT+CIPRECVTYPE=%d,0\r\n" % link in written
            assert b"AT+CIPRECVTYPE=%d,1\r\n" % link in written
    finally:
        iface.close()
