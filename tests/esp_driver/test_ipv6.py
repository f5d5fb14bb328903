"""IPv6 end to end on every firmware profile: ESP-AT 3.x for the ESP32 (at3_esp32) turns it on at start-up and
carries TCP, TLS (on the host) and UDP to ::1, AAAA look-ups and the station's link-local address, with the exact
commands of the reference on the wire (esp_at.md §2.3, §3.11, §3.13, §3.22); the IPv4-only firmware answers
UNSUPPORTED and sends nothing for IPv6."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.mocks.esp_at import running_emulators
from netsocket.mocks.esp_at.device import EspAtDevice

from netsocket import NsapiError, NsapiSecurity, NsapiVersion, SocketAddress, TCPSocket, UDPSocket
from netsocket.tls import TLSSocket
from tests.servers import LOOPBACK6, TcpServer, UdpServer
from tests.servers.services import TlsServices, echo_tcp, echo_udp

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
IPV4_ONLY = ("nonos17", "at22_8266")
STATION_LINK_LOCAL = "fe80::5ecf:7fff:fe01:203"
"""The emulated station's link-local address (EUI-64 of its MAC; docs/esp_emulator.md)."""
_names = itertools.count(1)


def sent_lines(caplog: pytest.LogCaptureFixture) -> list[bytes]:
    """What the driver wrote to the module, one entry per write."""
    records = [r for r in caplog.records if r.getMessage().startswith("-> ") and isinstance(r.args, tuple)]
    return [r.args[0] for r in records if isinstance(r.args, tuple) and isinstance(r.args[0], bytes)]


@pytest.fixture
def wire(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
        yield caplog


@pytest.fixture(params=PROFILES)
def joined(request: pytest.FixtureRequest) -> Iterator[tuple[str, ESP8266Interface]]:
    profile: str = request.param
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&pace=0&seed=6&name=ipv6-{next(_names)}")
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        yield profile, iface
    finally:
        iface.close()


@pytest.fixture
def echo6() -> Iterator[tuple[TcpServer, UdpServer]]:
    with echo_tcp(LOOPBACK6) as tcp, echo_udp("echo-udp6", LOOPBACK6) as udp:
        yield tcp, udp


@pytest.mark.parametrize("profile", PROFILES)
def test_start_up_turns_ipv6_on_before_the_join_where_the_firmware_has_it(
    profile: str, wire: pytest.LogCaptureFixture
) -> None:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&pace=0&name=ipv6-{next(_names)}")
    try:
        address = SocketAddress()
        assert iface.get_ipv6_link_local_address(address) == NsapiError.NO_ADDRESS  # firmware not known yet
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        sent = sent_lines(wire)
        join = next(i for i, line in enumerate(sent) if line.startswith(b"AT+CWJAP"))
        if profile == "at3_esp32":
            assert b"AT+CIPV6=1\r\n" in sent[:join]
        else:
            assert not [line for line in sent if b"CIPV6" in line]
    finally:
        iface.close()


def test_link_local_address(joined: tuple[str, ESP8266Interface]) -> None:
    profile, iface = joined
    address = SocketAddress("1.2.3.4", 80)
    if profile in IPV4_ONLY:
        assert iface.get_ipv6_link_local_address(address) == NsapiError.UNSUPPORTED
        return
    assert iface.get_ipv6_link_local_address(address) == NsapiError.OK
    assert address.get_ip_version() == NsapiVersion.IPv6
    assert (address.get_ip_address(), address.get_port()) == (STATION_LINK_LOCAL, 80)
    own = SocketAddress()
    assert iface.get_ip_address(own) == NsapiError.OK and own.get_ip_version() == NsapiVersion.IPv4
    assert iface.disconnect() == NsapiError.OK
    assert iface.get_ipv6_link_local_address(address) == NsapiError.NO_ADDRESS


@pytest.mark.parametrize("joined", ["at3_esp32"], indirect=True)
def test_an_address_announced_after_the_join_is_read_again(
    joined: tuple[str, ESP8266Interface], wire: pytest.LogCaptureFixture
) -> None:
    """A global address comes when the router advertises a prefix, possibly long after the join: its
    ``WIFI GOT IPv6 GL`` makes the driver read ``AT+CIPSTA?`` again."""
    _profile, iface = joined
    (emulator,) = running_emulators()
    assert iface.stack.ipv6_global == "2001:db8:42::23"

    def renumber(dev: EspAtDevice, _now: float) -> None:
        dev.world.station_ip6_gl = "2001:db8:77::23"
        dev.emit(b"WIFI GOT IPv6 GL\r\n")

    wire.clear()
    emulator.call(renumber)
    assert iface.get_rssi() < 0  # a round trip: the notice, sent before its answer, has been read
    looked_up = threading.Event()
    assert iface.gethostbyname_async("localhost", lambda _result, _address: looked_up.set()) > 0
    assert looked_up.wait(5)  # a worker job queued behind the re-read
    assert iface.stack.ipv6_global == "2001:db8:77::23"
    assert sent_lines(wire).count(b"AT+CIPSTA?\r\n") == 1


def test_tcp_echo_to_an_ipv6_literal(
    joined: tuple[str, ESP8266Interface], echo6: tuple[TcpServer, UdpServer], wire: pytest.LogCaptureFixture
) -> None:
    profile, iface = joined
    server = SocketAddress(*echo6[0].address)
    with TCPSocket() as sock:
        assert sock.open(iface) == NsapiError.OK
        sock.set_timeout(5000)
        wire.clear()
        if profile in IPV4_ONLY:
            assert sock.connect(server) == NsapiError.UNSUPPORTED
            assert not [line for line in sent_lines(wire) if b"CIPSTART" in line]
            return
        assert sock.connect(server) == NsapiError.OK
        starts = [line for line in sent_lines(wire) if line.startswith(b"AT+CIPSTART=")]
        assert len(starts) == 1 and starts[0].endswith(b',"TCPv6","::1",%d\r\n' % server.get_port())
        assert sock.send(b"over six") == 8
        buffer = bytearray(8)
        assert sock.recv(buffer) == 8 and buffer == b"over six"
        peer = SocketAddress()
        assert sock.getpeername(peer) == NsapiError.OK and peer == server


def test_udp_round_trip_over_ipv6(
    joined: tuple[str, ESP8266Interface], echo6: tuple[TcpServer, UdpServer], wire: pytest.LogCaptureFixture
) -> None:
    profile, iface = joined
    server = SocketAddress(*echo6[1].address)
    with UDPSocket() as sock:
        assert sock.open(iface) == NsapiError.OK
        sock.set_timeout(5000)
        wire.clear()
        if profile in IPV4_ONLY:
            assert sock.sendto(server, b"dgram") == NsapiError.UNSUPPORTED
            assert not [line for line in sent_lines(wire) if b"CIPSTART" in line or b"CIPSEND" in line]
            return
        assert sock.sendto(server, b"dgram") == 5
        sender, buffer = SocketAddress(), bytearray(16)
        assert sock.recvfrom(sender, buffer) == 5 and buffer[:5] == b"dgram"
        assert sender == server
        sent = sent_lines(wire)
        (start,) = [line for line in sent if line.startswith(b"AT+CIPSTART=")]
        assert start.split(b",")[1:3] == [b'"UDPv6"', b'"::"'] and start.endswith(b",2\r\n")
        assert [line.split(b",", 2)[2] for line in sent if line.startswith(b"AT+CIPSEND=")] == [
            b'"::1",%d\r\n' % server.get_port()
        ]
        # the link carries IPv6 only: an IPv4 destination is the wrong family now
        assert sock.sendto(SocketAddress("127.0.0.1", server.get_port()), b"v4") == NsapiError.PARAMETER


def test_a_udp_socket_bound_to_an_ipv6_address_receives_from_ipv6_peers(
    joined: tuple[str, ESP8266Interface], wire: pytest.LogCaptureFixture
) -> None:
    profile, iface = joined
    with UDPSocket() as sock, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as peer:
        assert sock.open(iface) == NsapiError.OK
        sock.set_timeout(5000)
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
        if profile in IPV4_ONLY:
            assert sock.bind(SocketAddress("::", port)) == NsapiError.UNSUPPORTED
            return
        assert sock.bind(SocketAddress("fe80::1", port)) == NsapiError.PARAMETER  # not the station's
        link_started = threading.Event()
        sock.sigio(link_started.set)
        assert sock.bind(SocketAddress(STATION_LINK_LOCAL, port)) == NsapiError.OK  # the link opens now
        assert link_started.wait(5)
        sender, buffer = SocketAddress(), bytearray(16)
        peer.sendto(b"to six", ("::1", port))  # the emulator bridges the link to [::1]:port
        assert sock.recvfrom(sender, buffer) == 6 and buffer[:6] == b"to six"
        assert sender == SocketAddress("::1", peer.getsockname()[1])
        starts = [line for line in sent_lines(wire) if line.startswith(b"AT+CIPSTART=")]
        assert len(starts) == 1 and starts[0].endswith(b',"UDPv6","::",0,%d,2\r\n' % port)


@pytest.mark.parametrize("joined", ["at3_esp32"], indirect=True)  # elsewhere: the UNSUPPORTED connect above
def test_tls_on_the_host_over_a_tcpv6_link(joined: tuple[str, ESP8266Interface]) -> None:
    _profile, iface = joined
    tls = TlsServices()
    with tls.echo(LOOPBACK6) as server, TLSSocket() as sock:
        assert sock.open(iface) == NsapiError.OK
        sock.set_timeout(10_000)
        assert sock.set_root_ca_cert(tls.ca_pem) == NsapiError.OK
        assert sock.set_hostname(TlsServices.HOSTNAME) == NsapiError.OK
        assert sock.connect(SocketAddress(*server.address)) == NsapiError.OK
        assert sock.send(b"secret six") == 10
        buffer = bytearray(10)
        assert sock.recv(buffer) == 10 and buffer == b"secret six"


def test_aaaa_lookups_through_the_module(joined: tuple[str, ESP8266Interface], wire: pytest.LogCaptureFixture) -> None:
    profile, iface = joined
    address = SocketAddress()
    wire.clear()
    if profile in IPV4_ONLY:
        assert iface.gethostbyname("localhost", address, NsapiVersion.IPv6) == NsapiError.UNSUPPORTED
        assert iface.gethostbyname("localhost", address, NsapiVersion.IPv4) == NsapiError.OK
        assert sent_lines(wire) == [b'AT+CIPDOMAIN="localhost"\r\n']  # no <ip network>: IPv4 is all there is
        return
    assert iface.gethostbyname("localhost", address, NsapiVersion.IPv6) == NsapiError.OK
    assert address.get_ip_address() == "::1" and address.get_ip_version() == NsapiVersion.IPv6
    assert iface.gethostbyname("localhost", address, NsapiVersion.IPv4) == NsapiError.OK
    assert address.get_ip_address() == "127.0.0.1"
    assert iface.gethostbyname("nowhere.invalid", address, NsapiVersion.IPv6) == NsapiError.DNS_FAILURE
    assert sent_lines(wire) == [
        b'AT+CIPDOMAIN="localhost",3\r\n',
        b'AT+CIPDOMAIN="localhost",2\r\n',
        b'AT+CIPDOMAIN="nowhere.invalid",3\r\n',
    ]
