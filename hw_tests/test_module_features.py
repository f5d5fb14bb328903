"""What the ESP module itself offers beyond sockets, checked on the module on the desk: its own ICMP echo, and its
access point started and stopped beside the station without dropping the station's connection."""

from __future__ import annotations

import os
import secrets

import pytest

from hw_tests.servers import EchoServers
from netsocket import NetworkInterface, NsapiConnectionStatus, NsapiError, NsapiSecurity, SocketAddress, TCPSocket

pytestmark = pytest.mark.esp


def test_the_module_pings_this_machine(esp_device: NetworkInterface, servers: EchoServers) -> None:
    """``AT+PING`` from the module to the machine running the test servers: a round trip in milliseconds (or
    UNSUPPORTED on firmware without AT+PING; every firmware netsocket knows has it)."""
    result = esp_device.ping(servers.host, 5000)  # type: ignore[attr-defined]
    assert isinstance(result, int) and 0 <= result < 5000, NsapiError(result) if result < 0 else result


def test_the_access_point_comes_and_goes_beside_the_station(esp_device: NetworkInterface, servers: EchoServers) -> None:
    """A WPA2 SoftAP on a random SSID starts (station+SoftAP mode), lists its stations, and stops; a TCP connection
    the station side opened before carries data before, during and after."""
    ap = esp_device.softap()  # type: ignore[attr-defined]
    assert ap.set_credentials(f"netsocket-hw-{secrets.token_hex(3)}", secrets.token_hex(8), NsapiSecurity.WPA2) == 0
    with TCPSocket() as sock:
        assert sock.open(esp_device) == NsapiError.OK
        sock.set_timeout(10_000)
        assert sock.connect(SocketAddress(servers.host, servers.tcp_port)) == NsapiError.OK

        def echo() -> None:
            payload = os.urandom(64)
            assert sock.send(payload) == len(payload)
            got = bytearray()
            buffer = bytearray(128)
            while len(got) < len(payload):
                n = sock.recv(buffer)
                assert n > 0, NsapiError(n) if n < 0 else "peer closed"
                got += buffer[:n]
            assert bytes(got) == payload

        echo()
        try:
            assert ap.start() == NsapiError.OK
            echo()
            err, stations = ap.stations()
            assert err == NsapiError.OK and isinstance(stations, list)
        finally:
            assert ap.stop() == NsapiError.OK
        echo()
    assert esp_device.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
