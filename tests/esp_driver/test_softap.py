"""The module as an access point (``ESP8266Interface.softap()``) end to end on every firmware profile: the exact
bytes on the wire, the station list, join/leave events, bad values, the station side kept up beside it, a module
reset, and a TCP server on the SoftAP side reached from a host socket."""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface, SoftAPEvent, SoftAPEventKind, SoftAPStation
from netsocket.drivers.esp_at import commands as cmd
from netsocket.drivers.esp_at.core import ATCore
from netsocket.drivers.esp_at.dialects import AT2_ESP8266, NONOS_17
from netsocket.drivers.esp_at.parser import Line, StationEvent, classify_line
from netsocket.mocks.esp_at import running_emulators
from netsocket.mocks.esp_at.emulator import Emulator

from netsocket import NsapiConnectionStatus, NsapiError, NsapiSecurity, SocketAddress, TCPSocket
from tests.servers import TcpServer
from tests.servers.services import echo_tcp

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
MAX_STATIONS = {"nonos17": 4, "at22_8266": 8, "at3_esp32": 10}
WAIT = 5.0
_names = itertools.count(1)


def sent_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage()[3:] for r in caplog.records if r.getMessage().startswith("-> ")]


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def module(profile: str) -> Iterator[tuple[ESP8266Interface, Emulator]]:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=5&name=softap-{next(_names)}")
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        (emulator,) = running_emulators()
        yield iface, emulator
    finally:
        iface.close()


class Events:
    """The events a SoftAP delivers, waited for with a timeout (no sleeps)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[SoftAPEvent] = queue.Queue()

    def __call__(self, event: SoftAPEvent) -> None:
        self.queue.put(event)

    def next(self) -> SoftAPEvent:
        return self.queue.get(timeout=WAIT)

    def assert_none(self) -> None:
        assert self.queue.empty(), list(self.queue.queue)


def nonos(iface: ESP8266Interface) -> bool:
    return not iface.stack.dialect.softap_urcs


def leased(iface: ESP8266Interface, mac: str) -> list[SoftAPStation]:
    """The station list (AT+CWLIF) once it shows ``mac`` with an address (leased after the emulated DHCP delay;
    each look is one AT round trip)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        err, found = iface.softap().stations()
        assert err == NsapiError.OK
        if any(station.mac == mac for station in found):
            return found
    raise AssertionError(f"{mac} never got a lease")


def echo(sock: TCPSocket, data: bytes) -> bytes:
    assert sock.send(data) == len(data)
    buffer = bytearray(len(data))
    got = 0
    while got < len(data):
        n = sock.recv(memoryview(buffer)[got:])
        assert n > 0, n
        got += n
    return bytes(buffer)


@pytest.fixture
def echo_server() -> Iterator[TcpServer]:
    with echo_tcp() as server:
        yield server


def test_start_list_events_and_stop_with_the_station_side_kept_up(
    module: tuple[ESP8266Interface, Emulator],
    profile: str,
    caplog: pytest.LogCaptureFixture,
    echo_server: TcpServer,
) -> None:
    iface, emulator = module
    link = TCPSocket()
    assert link.open(iface) == NsapiError.OK
    link.set_timeout(int(WAIT * 1000))
    assert link.connect(SocketAddress("127.0.0.1", echo_server.port)) == NsapiError.OK
    assert echo(link, b"before the SoftAP") == b"before the SoftAP"
    ap = iface.softap()
    assert ap is iface.softap()
    events = Events()
    ap.attach(events)
    assert ap.set_credentials("netsocket-ap", "apsecret1", NsapiSecurity.WPA2) == NsapiError.OK
    assert ap.set_channel(5) == NsapiError.OK
    assert ap.set_max_stations(2) == NsapiError.OK
    with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
        assert ap.start() == NsapiError.OK
    mode, sap = ("AT+CWMODE_CUR", "AT+CWSAP_CUR") if profile == "nonos17" else ("AT+CWMODE", "AT+CWSAP")
    assert sent_lines(caplog) == [
        repr(f"{mode}=3\r\n".encode()),
        repr(f'{sap}="netsocket-ap","********",5,3,2,0\r\n'.encode()),  # the log masks the passphrase
    ]
    config = emulator.call(lambda dev, _now: (dev.cwmode, vars(dev.softap_config)))
    assert config == (
        3,
        {"ssid": "netsocket-ap", "password": "apsecret1", "channel": 5, "ecn": 3, "max_conn": 2, "hidden": 0},
    )
    assert ap.is_started()

    mac = emulator.station_join("AA:BB:CC:DD:EE:01")
    assert mac == "aa:bb:cc:dd:ee:01"
    assert leased(iface, mac) == [SoftAPStation(mac, "192.168.4.2")]
    assert events.next() == SoftAPEvent(SoftAPEventKind.JOINED, mac)
    assert events.next() == SoftAPEvent(SoftAPEventKind.GOT_IP, mac, "192.168.4.2")
    # The station side works beside the SoftAP (CWMODE 3): still joined, its connection carries data, it resolves.
    assert iface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
    assert echo(link, b"beside the SoftAP") == b"beside the SoftAP"
    address = SocketAddress()
    assert iface.gethostbyname("localhost", address) == NsapiError.OK and address.get_ip_address() == "127.0.0.1"

    assert emulator.station_leave(mac)
    if nonos(iface):  # no +STA_DISCONNECTED on NonOS: the next list tells
        assert ap.stations() == (NsapiError.OK, [])
    assert events.next() == SoftAPEvent(SoftAPEventKind.LEFT, mac, "192.168.4.2")
    assert ap.stations() == (NsapiError.OK, [])

    other = emulator.station_join()
    assert other is not None
    leased(iface, other)
    assert [e.kind for e in (events.next(), events.next())] == [SoftAPEventKind.JOINED, SoftAPEventKind.GOT_IP]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
        assert ap.stop() == NsapiError.OK
    assert sent_lines(caplog) == [repr(f"{mode}=1\r\n".encode())]
    assert events.next() == SoftAPEvent(SoftAPEventKind.LEFT, other, "192.168.4.2")
    assert emulator.call(lambda dev, _now: (dev.cwmode, dict(dev.features.stations))) == (1, {})
    assert iface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
    assert emulator.call(lambda dev, _now: dev.wifi_connected())
    assert echo(link, b"after the SoftAP") == b"after the SoftAP"  # the same connection, never dropped
    link.close()
    assert ap.stop() == NsapiError.NO_CONNECTION
    assert ap.stations() == (NsapiError.NO_CONNECTION, [])
    events.assert_none()  # the late +STA_DISCONNECTED of a station already reported gone gives no second LEFT


def test_bad_values_are_parameter_and_missing_features_unsupported(
    module: tuple[ESP8266Interface, Emulator], profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    iface, emulator = module
    ap = iface.softap()
    assert ap.start() == NsapiError.PARAMETER  # no SSID yet
    assert ap.set_credentials("", "apsecret1", NsapiSecurity.WPA2) == NsapiError.PARAMETER
    assert ap.set_credentials("x" * 33, "apsecret1", NsapiSecurity.WPA2) == NsapiError.PARAMETER
    assert ap.set_credentials("ap", "short", NsapiSecurity.WPA2) == NsapiError.PARAMETER
    assert ap.set_credentials("ap", "p" * 65, NsapiSecurity.WPA_WPA2) == NsapiError.PARAMETER
    assert ap.set_credentials("bad\nname", "apsecret1", NsapiSecurity.WPA2) == NsapiError.PARAMETER
    assert ap.set_channel(0) == NsapiError.PARAMETER and ap.set_channel(15) == NsapiError.PARAMETER
    assert ap.set_max_stations(0) == NsapiError.PARAMETER
    with pytest.raises(TypeError):
        ap.set_channel("6")  # type: ignore[arg-type]
    assert ap.get_ssid() is None
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
        assert ap.set_credentials("ap", "apsecret1", NsapiSecurity.WEP) == NsapiError.OK
        assert ap.start() == NsapiError.UNSUPPORTED  # no firmware offers WEP on its SoftAP
        assert ap.set_credentials("ap", "apsecret1", NsapiSecurity.WPA3) == NsapiError.OK
        assert ap.start() == NsapiError.UNSUPPORTED
        assert ap.set_credentials("ap", "apsecret1", NsapiSecurity.WPA) == NsapiError.OK
        assert ap.set_channel(14) == NsapiError.OK
        assert ap.start() == NsapiError.PARAMETER  # channels 1..13 on every firmware
        assert ap.set_channel(11) == NsapiError.OK
        assert ap.set_max_stations(MAX_STATIONS[profile] + 1) == NsapiError.OK
        assert ap.start() == NsapiError.PARAMETER
    assert sent_lines(caplog) == []  # refused before a byte went out
    assert not ap.is_started()
    assert ap.set_max_stations(None) == NsapiError.OK
    assert ap.set_hidden(True) == NsapiError.OK
    assert ap.set_credentials('quote",comma', "apsecret1", NsapiSecurity.WPA) == NsapiError.OK
    assert ap.start() == NsapiError.OK
    config = emulator.call(lambda dev, _now: vars(dev.softap_config))
    assert config == {
        "ssid": 'quote",comma',
        "password": "apsecret1",
        "channel": 11,
        "ecn": 2,
        "max_conn": MAX_STATIONS[profile],
        "hidden": 1,
    }
    assert ap.set_credentials("open-ap", "ignored", NsapiSecurity.NONE) == NsapiError.OK
    assert ap.start() == NsapiError.OK  # reconfigured while up
    state = emulator.call(lambda dev, _now: (dev.softap_config.ssid, dev.softap_config.ecn, dev.softap_config.password))
    assert state == ("open-ap", 0, "")  # an open network goes out with an empty passphrase


def test_a_module_reset_brings_the_softap_back(module: tuple[ESP8266Interface, Emulator]) -> None:
    """Chosen behaviour: a started SoftAP is set up again after the driver re-initialised the module; its
    stations get LEFT at the reset and join again."""
    iface, emulator = module
    ap = iface.softap()
    events = Events()
    ap.attach(events)
    assert ap.set_credentials("netsocket-ap", "apsecret1", NsapiSecurity.WPA_WPA2) == NsapiError.OK
    assert ap.start() == NsapiError.OK
    mac = emulator.station_join()
    assert mac is not None
    leased(iface, mac)
    assert [events.next().kind, events.next().kind] == [SoftAPEventKind.JOINED, SoftAPEventKind.GOT_IP]
    emulator.inject_reset()
    assert events.next() == SoftAPEvent(SoftAPEventKind.LEFT, mac, "192.168.4.2")
    assert iface.wait_initialised(WAIT)
    assert ap.is_started()
    state = emulator.call(lambda dev, _now: (dev.cwmode, dev.softap_config.ssid, dev.softap_config.ecn))
    assert state == (3, "netsocket-ap", 4)
    again = emulator.station_join()
    assert again is not None
    assert leased(iface, again) == [SoftAPStation(again, "192.168.4.2")]
    assert events.next() == SoftAPEvent(SoftAPEventKind.JOINED, again)


def test_a_tcp_server_on_the_softap_side_is_reachable_from_the_host(profile: str) -> None:
    """Only the SoftAP is up (the station never joins): the module's server is the host's 127.0.0.1:<port>."""
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=6&name=softap-{next(_names)}")
    try:
        ap = iface.softap()
        assert ap.set_credentials("netsocket-ap", "apsecret1", NsapiSecurity.WPA2) == NsapiError.OK
        assert ap.start() == NsapiError.OK
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = TCPSocket()
        assert server.open(iface) == NsapiError.OK
        assert server.bind(port) == NsapiError.OK
        assert server.listen(1) == NsapiError.OK
        server.set_timeout(int(WAIT * 1000))
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as peer:
            client, err = server.accept()
            assert err == NsapiError.OK and client is not None
            client.set_timeout(int(WAIT * 1000))
            peer.sendall(b"hello softap")
            buffer = bytearray(64)
            got = client.recv(buffer)
            assert got > 0 and bytes(buffer[:got]) == b"hello softap"[:got]
            assert client.send(b"welcome") == 7
            assert peer.recv(64) == b"welcome"
            client.close()
        server.close()
    finally:
        iface.close()


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b'+STA_CONNECTED:"AA:bb:cc:dd:ee:01"', StationEvent("CONNECTED", "aa:bb:cc:dd:ee:01")),
        (b'+STA_CONNECTED: "aa:bb:cc:dd:ee:01"', StationEvent("CONNECTED", "aa:bb:cc:dd:ee:01")),  # as the docs show
        (b'+DIST_STA_IP:"aa:bb:cc:dd:ee:01","192.168.4.2"', StationEvent("GOT IP", "aa:bb:cc:dd:ee:01", "192.168.4.2")),
        (b'+STA_DISCONNECTED:"aa:bb:cc:dd:ee:01"', StationEvent("DISCONNECTED", "aa:bb:cc:dd:ee:01")),
        (b'+STA_CONNECTED:"aa:bb:cc:dd:ee"', Line(b'+STA_CONNECTED:"aa:bb:cc:dd:ee"')),
        (b'+DIST_STA_IP:"aa:bb:cc:dd:ee:01",192.168.4.2', Line(b'+DIST_STA_IP:"aa:bb:cc:dd:ee:01",192.168.4.2')),
    ],
)
def test_station_messages_are_recognised_and_malformed_ones_are_lines(line: bytes, event: object) -> None:
    assert classify_line(line) == event


def test_station_messages_inside_a_reply_are_notices_not_reply_lines() -> None:
    """A station joining while AT+CWLIF is answered: its messages go to the callbacks, its reply keeps its lines."""
    core = ATCore()
    exchange = core.submit(cmd.STATION_LIST, 100.0)
    assert core.data_to_send() == b"AT+CWLIF\r\n"
    notices = core.receive_data(
        b'+CWLIF:192.168.4.2,aa:bb:cc:dd:ee:01\r\n+STA_CONNECTED:"aa:bb:cc:dd:ee:02"\r\n\r\nOK\r\n', 100.0
    )
    assert [n.station for n in notices if n.station is not None] == [StationEvent("CONNECTED", "aa:bb:cc:dd:ee:02")]
    assert all(n.for_callbacks for n in notices if n.station is not None)
    assert exchange.outcome == "OK"
    assert cmd.softap_stations(AT2_ESP8266, exchange.lines) == [("aa:bb:cc:dd:ee:01", "192.168.4.2")]
    assert cmd.softap_stations(NONOS_17, [b"192.168.4.3,AA:BB:CC:DD:EE:03", b"garbage"]) == [
        ("aa:bb:cc:dd:ee:03", "192.168.4.3")
    ]


def test_a_callback_that_makes_a_blocking_call_gets_runtime_error_not_a_deadlock(
    module: tuple[ESP8266Interface, Emulator],
) -> None:
    iface, emulator = module
    ap = iface.softap()
    outcomes: queue.Queue[str] = queue.Queue()

    def blocking(event: SoftAPEvent) -> None:
        try:
            ap.stations()
        except RuntimeError as exc:
            outcomes.put(f"{event.kind.value}: {exc}")

    ap.attach(blocking)
    assert ap.set_credentials("netsocket-ap", "", NsapiSecurity.NONE) == NsapiError.OK
    assert ap.start() == NsapiError.OK
    mac = emulator.station_join()
    assert mac is not None
    leased(iface, mac)
    assert outcomes.get(timeout=WAIT).startswith("joined: ESPSoftAP.stations called from a sigio/attach callback")
    ap.attach(None)
    assert ap.stop() == NsapiError.OK
