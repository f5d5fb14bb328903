"""The ESP-AT driver against the emulated module when things go wrong: a module reset, a vanished port, a module
that stops answering, ``busy p...`` windows, SEND FAIL, hostile strings, and the AT trace."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.mocks.esp_at import Emulator, find_emulator

from netsocket import (
    NsapiConnectionStatus,
    NsapiError,
    NsapiEvent,
    NsapiSecurity,
    SocketAddress,
    TCPSocket,
)
from tests.servers import LoopbackServers

pytestmark = pytest.mark.esp

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
_names = itertools.count(1)


def make_interface(profile: str = "at22_8266", extra: str = "") -> ESP8266Interface:
    url = f"espemu://?profile={profile}&timescale=0.01&pace=0&seed=3&name=faults-{next(_names)}{extra}"
    return ESP8266Interface(url)


def emulator_of(iface: ESP8266Interface) -> Emulator:
    return find_emulator(iface.stack.runner.port)


class StatusLog:
    def __init__(self, iface: ESP8266Interface) -> None:
        self.statuses: list[int] = []
        self._cond = threading.Condition()
        iface.attach(self._record)

    def _record(self, event: NsapiEvent, status: int) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_for(self, status: NsapiConnectionStatus, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: status in self.statuses, timeout)


@pytest.fixture(scope="module")
def servers() -> Iterator[LoopbackServers]:
    with LoopbackServers() as running:
        yield running


@pytest.fixture(params=["at22_8266", "nonos17", "at3_esp32"])
def iface(request: pytest.FixtureRequest) -> Iterator[ESP8266Interface]:
    interface = make_interface(request.param)
    try:
        assert interface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        yield interface
    finally:
        interface.close()


def echo_socket(iface: ESP8266Interface, servers: LoopbackServers) -> TCPSocket:
    sock = TCPSocket()
    assert sock.open(iface) == NsapiError.OK
    sock.set_timeout(5000)
    assert sock.connect(SocketAddress(*servers.echo_tcp.address)) == NsapiError.OK
    return sock


def echo_once(sock: TCPSocket, data: bytes) -> None:
    assert sock.send(data) == len(data)
    got = bytearray()
    buffer = bytearray(4096)
    while len(got) < len(data):
        result = sock.recv(buffer)
        assert result > 0, f"recv gave {result!s}"
        got += buffer[:result]
    assert bytes(got) == data


def test_module_reset_loses_sockets_then_the_interface_recovers(
    iface: ESP8266Interface, servers: LoopbackServers
) -> None:
    log = StatusLog(iface)
    sock = echo_socket(iface, servers)
    echo_once(sock, b"before the reset")
    emulator_of(iface).inject_reset()
    assert log.wait_for(NsapiConnectionStatus.DISCONNECTED)
    buffer = bytearray(10)
    assert sock.recv(buffer) == NsapiError.CONNECTION_LOST
    assert sock.send(b"x") == NsapiError.CONNECTION_LOST
    assert sock.close() == NsapiError.OK
    assert iface.wait_initialised(5.0)
    assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
    again = echo_socket(iface, servers)
    echo_once(again, b"after the reset")
    again.close()


def test_a_socket_lost_to_a_reset_finds_the_interface_already_down_and_re_initialising(
    iface: ESP8266Interface, servers: LoopbackServers
) -> None:
    """The application learns of the reset from its blocked recv: by then the interface says DISCONNECTED and
    wait_initialised() waits for the re-initialisation (it must not say True while the module is not set up)."""
    sock = echo_socket(iface, servers)
    echo_once(sock, b"before the reset")
    sock.set_timeout(5000)
    seen: list[tuple[NsapiConnectionStatus, bool]] = []

    def reader() -> None:
        assert sock.recv(bytearray(10)) == NsapiError.CONNECTION_LOST
        seen.append((iface.get_connection_status(), iface.stack.runner.alive and iface._initialised))

    thread = threading.Thread(target=reader)
    thread.start()
    emulator_of(iface).inject_reset()
    thread.join(10)
    assert seen == [(NsapiConnectionStatus.DISCONNECTED, False)]
    sock.close()
    assert iface.wait_initialised(5.0)


def test_vanished_port_gives_device_error_promptly_and_ends_the_reader(
    iface: ESP8266Interface, servers: LoopbackServers
) -> None:
    log = StatusLog(iface)
    sock = echo_socket(iface, servers)
    emulator_of(iface).close()
    start = time.monotonic()
    assert sock.recv(bytearray(10)) == NsapiError.DEVICE_ERROR
    assert time.monotonic() - start < 1.0
    assert sock.send(b"x") == NsapiError.DEVICE_ERROR
    assert log.wait_for(NsapiConnectionStatus.DISCONNECTED)
    other = TCPSocket()
    assert other.open(iface) == NsapiError.DEVICE_ERROR
    assert iface.gethostbyname("localhost", SocketAddress()) == NsapiError.DEVICE_ERROR
    assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.DEVICE_ERROR
    sock.close()
    iface.close()
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith("esp_at-")]
    assert not leftovers


def test_silent_module_gives_device_error() -> None:
    iface = make_interface()
    assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
    emulator_of(iface).go_silent()
    start = time.monotonic()
    assert iface.gethostbyname("localhost", SocketAddress()) == NsapiError.DEVICE_ERROR
    assert time.monotonic() - start < 20.0
    iface.close()


def test_busy_module_is_retried_until_it_answers(iface: ESP8266Interface) -> None:
    stack = iface.stack
    # A join written behind the driver's back keeps the module busy for a while; a command sent meanwhile gets
    # "busy p..." and must be repeated until the module is free again.
    assert stack.runner.write_raw(b'AT+CWJAP="netsocket-open",""\r\n')
    reply = stack.command(b"AT+CIPSTAMAC?", timeout=10.0, expect=b"+CIPSTAMAC")
    assert reply.ok
    assert reply.busy_retries > 0
    assert any(line.startswith(b"+CIPSTAMAC") for line in reply.lines)


def test_send_fail_after_recv_is_not_reported_as_a_failed_send(
    iface: ESP8266Interface, servers: LoopbackServers
) -> None:
    sock = echo_socket(iface, servers)
    emulator_of(iface).fail_next_send()
    # The module took the bytes ("Recv N bytes"): the call must not ask the application to send them again.
    assert sock.send(b"0123456789") == 10
    sock.close()


def test_passphrase_never_appears_in_the_trace(caplog: pytest.LogCaptureFixture) -> None:
    iface = make_interface()
    try:
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        trace = "\n".join(r.getMessage() for r in caplog.records if r.name == "netsocket.drivers.esp_at")
        assert "AT+CWJAP=" in trace
        assert PASSPHRASE not in trace
        assert "-> " in trace and "<- " in trace
    finally:
        iface.close()


def test_strings_cannot_inject_commands() -> None:
    iface = make_interface()
    try:
        assert iface.set_credentials("x\r\nAT+RST", PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.PARAMETER
        assert iface.set_credentials(SSID, "pass\r\nAT+RST\r\n", NsapiSecurity.WPA2) == NsapiError.PARAMETER
        # quotes, commas and backslashes are escaped: the join is for that exact (absent) SSID
        assert iface.connect('a","b\\', PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.NO_SSID
        assert iface.gethostbyname('local"host', SocketAddress()) == NsapiError.PARAMETER
    finally:
        iface.close()


def test_wrong_passphrase_and_unknown_ssid() -> None:
    iface = make_interface()
    try:
        assert iface.connect(SSID, "wrong-pass", NsapiSecurity.WPA2) == NsapiError.AUTH_FAILURE
        assert iface.connect("no-such-ap", PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.NO_SSID
        assert iface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
    finally:
        iface.close()


def test_wifi_loss_reports_connecting_then_up_again(iface: ESP8266Interface) -> None:
    log = StatusLog(iface)
    emulator_of(iface).drop_wifi(reconnect=True)
    assert log.wait_for(NsapiConnectionStatus.CONNECTING)
    if iface.stack.dialect.name == "nonos17":
        # the emulated NonOS module does not rejoin by itself (ESP-AT does, every reconnect interval): connect()
        # with the stored credentials does (new credentials give BUSY while CONNECTING, as in Mbed)
        assert iface.connect() == NsapiError.OK
    assert log.wait_for(NsapiConnectionStatus.GLOBAL_UP, 10.0)
    assert iface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP


def test_reset_callable_revives_a_silent_module(servers: LoopbackServers) -> None:
    import serial

    port = serial.serial_for_url(
        f"espemu://?profile=at22_8266&timescale=0.01&pace=0&name=faults-{next(_names)}", timeout=0.05
    )
    emulator = find_emulator(port)
    emulator.go_silent()
    resets: list[float] = []

    def hard_reset() -> None:
        resets.append(time.monotonic())
        emulator.inject_reset()

    iface = ESP8266Interface(port, reset=hard_reset)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        assert len(resets) == 1
        sock = echo_socket(iface, servers)
        echo_once(sock, b"after a hard reset")
        sock.close()
    finally:
        iface.close()
        port.close()


def test_baud_switch_with_uart_cur(servers: LoopbackServers) -> None:
    url = f"espemu://?profile=at3_esp32&baud=115200&timescale=0.01&name=faults-{next(_names)}"
    iface = ESP8266Interface(url, 115200, target_baudrate=921600)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        assert emulator_of(iface).call(lambda dev, now: dev.uart.baud) == 921600
        assert iface.stack.runner.port.baudrate == 921600
        sock = echo_socket(iface, servers)
        echo_once(sock, bytes(range(256)) * 20)
        sock.close()
    finally:
        iface.close()


def test_from_url_builds_a_working_interface() -> None:
    from netsocket import open_interface

    iface = open_interface(f"esp://?port=espemu://%3Ftimescale%3D0.01%26pace%3D0%26name%3Durl-{next(_names)}")
    assert isinstance(iface, ESP8266Interface)
    try:
        assert iface.connect() == NsapiError.OK  # the built-in emulator's credentials
        assert iface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
    finally:
        iface.close()
    with pytest.raises(ValueError):
        ESP8266Interface.from_url("esp:///dev/ttyUSB0?colour=blue")


def test_disconnect_leaves_no_driver_thread_and_connect_starts_over(servers: LoopbackServers) -> None:
    iface = make_interface()
    try:
        for _ in range(2):
            assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
            sock = echo_socket(iface, servers)
            echo_once(sock, b"round trip")
            assert iface.disconnect() == NsapiError.OK
            assert sock.recv(bytearray(4)) < 0
            sock.close()
            assert not [t.name for t in threading.enumerate() if t.name.startswith("esp_at-")]
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["at22_8266", "nonos17"])
def test_hostname_country_and_sntp_time(profile: str) -> None:
    iface = make_interface(profile)
    try:
        assert iface.set_hostname("bad name") == NsapiError.PARAMETER
        assert iface.set_hostname("netsocket-test") == NsapiError.OK
        assert iface.set_country_code("X") == NsapiError.PARAMETER
        assert iface.set_country_code("DE", 1, 13) == NsapiError.OK
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        assert iface.set_sntp_config(True, 1, ("pool.ntp.org",)) == NsapiError.OK
        deadline = time.monotonic() + 10
        while True:  # the module syncs in the background; each question is a round trip to it
            err, now = iface.get_time()
            if err != NsapiError.TIMEOUT or time.monotonic() > deadline:
                break
        assert err == NsapiError.OK, err
        assert now is not None and now.tm_year >= 2024
    finally:
        iface.close()


def test_hardware_flow_control_is_set_at_both_ends() -> None:
    iface = ESP8266Interface(f"espemu://?timescale=0.01&pace=0&name=faults-{next(_names)}", rtscts=True)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        assert emulator_of(iface).call(lambda dev, now: dev.uart.flow) == 3
        assert iface.stack.runner.port.rtscts
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["at22_8266", "nonos17"])
def test_static_address_then_dhcp_again(profile: str) -> None:
    iface = make_interface(profile)
    try:
        static = (SocketAddress("192.168.42.77"), SocketAddress("255.255.255.0"), SocketAddress("192.168.42.1"))
        assert iface.set_network(*static) == NsapiError.OK
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        ip, mask, gateway = SocketAddress(), SocketAddress(), SocketAddress()
        assert iface.get_ip_address(ip) == NsapiError.OK
        assert iface.get_netmask(mask) == NsapiError.OK
        assert iface.get_gateway(gateway) == NsapiError.OK
        assert (ip.get_ip_address(), mask.get_ip_address(), gateway.get_ip_address()) == (
            "192.168.42.77",
            "255.255.255.0",
            "192.168.42.1",
        )
        assert iface.disconnect() == NsapiError.OK
        assert iface.set_dhcp(True) == NsapiError.OK
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        assert iface.get_ip_address(ip) == NsapiError.OK
        assert ip.get_ip_address() != "192.168.42.77"
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["at22_8266", "nonos17"])
def test_line_noise_between_answers_is_survived(profile: str, servers: LoopbackServers) -> None:
    iface = make_interface(profile)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        sock = echo_socket(iface, servers)
        emulator = emulator_of(iface)
        for round_ in range(20):
            emulator.inject_noise(16)
            echo_once(sock, b"round %d " % round_ * 40)
            address = SocketAddress()
            assert iface.gethostbyname("localhost", address) == NsapiError.OK
        sock.close()
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["at22_8266", "nonos17", "at3_esp32"])
def test_server_accepts_clients_one_after_another(profile: str) -> None:
    import socket

    iface = make_interface(profile)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        server = TCPSocket()
        assert server.open(iface) == NsapiError.OK
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        assert server.bind(port) == NsapiError.OK
        assert server.listen(2) == NsapiError.OK
        server.set_timeout(5000)
        for round_ in range(12):
            # The client says its piece and hangs up at once; the module frees the id and hands it to the next one.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"client %d" % round_)
            accepted, err = server.accept()
            assert err == NsapiError.OK and accepted is not None, f"round {round_}: {err}"
            accepted.set_timeout(5000)
            got = bytearray()
            buffer = bytearray(64)
            while (result := accepted.recv(buffer)) > 0:
                got += buffer[:result]
            assert result == 0, f"round {round_}: recv gave {result!s}"
            assert bytes(got) == b"client %d" % round_
            accepted.close()
        server.close()
    finally:
        iface.close()
