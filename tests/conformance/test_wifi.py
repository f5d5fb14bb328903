"""Mbed's Wi-Fi cases (test plan §3.8), for the stacks whose interface is a ``WiFiInterface`` (entries with a
``wifi`` world in ``stacks.STACKS``). Each case gets a fresh, disconnected interface. With no Wi-Fi stack
registered these cases are deselected (see conftest.py), never counted as passed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from netsocket import NsapiConnectionStatus, NsapiError, NsapiSecurity, WiFiAccessPoint, WiFiInterface
from tests.conformance.stacks import StackEntry, WifiWorld
from tests.servers import LoopbackServers

CONNECT_FAILURES = (NsapiError.CONNECTION_TIMEOUT, NsapiError.NO_CONNECTION, NsapiError.NO_SSID)


@dataclass
class Wifi:
    interface: WiFiInterface
    world: WifiWorld


@pytest.fixture
def wifi(wifi_network: StackEntry, loopback_servers: LoopbackServers) -> Iterator[Wifi]:
    interface = wifi_network.make_interface(loopback_servers)
    try:
        assert isinstance(interface, WiFiInterface)
        assert wifi_network.wifi is not None
        yield Wifi(interface, wifi_network.wifi)
    finally:
        wifi_network.release(interface)


def test_WIFI_CONSTRUCTOR(wifi: Wifi) -> None:
    assert wifi.interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED


def test_WIFI_CONNECT_NOCREDENTIALS(wifi: Wifi) -> None:
    assert wifi.interface.connect() in (NsapiError.PARAMETER, NsapiError.NO_SSID)


def test_WIFI_SET_CREDENTIAL(wifi: Wifi) -> None:
    iface = wifi.interface
    ok, param = NsapiError.OK, NsapiError.PARAMETER
    assert iface.set_credentials(None, "12345678", NsapiSecurity.WPA2) == param
    assert iface.set_credentials("", "12345678", NsapiSecurity.WPA2) == param
    for security in (NsapiSecurity.WPA_WPA2, NsapiSecurity.WPA3_WPA2, NsapiSecurity.WEP):
        assert iface.set_credentials("OK", None, security) == param, security.name
    assert iface.set_credentials("OK", None, NsapiSecurity.NONE) == ok
    assert iface.set_credentials("OK", "", NsapiSecurity.NONE) == ok
    assert iface.set_credentials("OK", "x" * 64, NsapiSecurity.WPA2) == param
    assert iface.set_credentials("OK", "x" * 63, NsapiSecurity.WPA2) == ok
    for security in (NsapiSecurity.WPA_WPA2, NsapiSecurity.WPA3_WPA2):
        assert iface.set_credentials("OK", "", security) == param, security.name
    for security in (
        NsapiSecurity.WPA_WPA2,
        NsapiSecurity.WPA3_WPA2,
        NsapiSecurity.WPA2,
        NsapiSecurity.WPA3,
        NsapiSecurity.WPA,
    ):
        assert iface.set_credentials("OK", "12345678", security) == ok, security.name
    assert iface.set_credentials("OK", "12345678", NsapiSecurity.WEP) in (ok, param, NsapiError.UNSUPPORTED)
    assert iface.set_credentials("x" * 33, None, NsapiSecurity.NONE) == param


def test_WIFI_SET_CHANNEL(wifi: Wifi) -> None:
    iface = wifi.interface
    assert iface.set_channel(0) == NsapiError.OK
    if not wifi.world.set_channel_supported:
        for channel in (1, 13):
            assert iface.set_channel(channel) == NsapiError.UNSUPPORTED
        return
    assert iface.set_channel(1) == NsapiError.OK
    assert iface.set_channel(13) in (NsapiError.OK, NsapiError.PARAMETER)
    assert iface.set_channel(15) == NsapiError.PARAMETER


def test_WIFI_CONNECT_PARAMS_NULL(wifi: Wifi) -> None:
    assert wifi.interface.connect(None, None) in (NsapiError.PARAMETER, NsapiError.NO_SSID)
    assert wifi.interface.connect("", "") == NsapiError.PARAMETER


def test_WIFI_SCAN_NULL(wifi: Wifi) -> None:
    assert wifi.interface.scan(None, 0) >= 2


def test_WIFI_SCAN(wifi: Wifi) -> None:
    found: list[WiFiAccessPoint] = []
    count = wifi.interface.scan(found, 10)
    assert count >= 2
    assert count == len(found) <= 10
    by_ssid = {ap.get_ssid(): ap for ap in found}
    secure, open_ = by_ssid[wifi.world.secure_ssid], by_ssid[wifi.world.open_ssid]
    for ap in found:
        assert -100 < ap.get_rssi() < -10, ap
        assert len(ap.get_bssid()) == 6, ap
    assert secure.get_security() == wifi.world.secure_security
    assert secure.get_channel() == wifi.world.secure_channel
    assert open_.get_security() == NsapiSecurity.NONE
    assert open_.get_channel() == wifi.world.open_channel


def test_WIFI_GET_RSSI(wifi: Wifi) -> None:
    assert wifi.interface.get_rssi() == 0
    world = wifi.world
    assert wifi.interface.connect(world.secure_ssid, world.secure_pass, world.secure_security) == NsapiError.OK
    assert -100 < wifi.interface.get_rssi() < -10


def test_WIFI_CONNECT_DISCONNECT_REPEAT(wifi: Wifi) -> None:
    world = wifi.world
    assert wifi.interface.set_credentials(world.secure_ssid, world.secure_pass, world.secure_security) == 0
    for _ in range(10):
        assert wifi.interface.connect() == NsapiError.OK
        assert wifi.interface.disconnect() == NsapiError.OK


def test_WIFI_CONNECT_PARAMS_VALID_SECURE(wifi: Wifi) -> None:
    world = wifi.world
    assert wifi.interface.connect(world.secure_ssid, world.secure_pass, world.secure_security) == NsapiError.OK
    assert wifi.interface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP


def test_WIFI_CONNECT_PARAMS_CHANNEL(wifi: Wifi) -> None:
    world = wifi.world
    result = wifi.interface.connect(world.secure_ssid, world.secure_pass, world.secure_security, world.secure_channel)
    assert result == (NsapiError.OK if world.set_channel_supported else NsapiError.UNSUPPORTED)


def test_WIFI_CONNECT_PARAMS_CHANNEL_FAIL(wifi: Wifi) -> None:
    world = wifi.world
    if not world.set_channel_supported:
        assert wifi.interface.set_channel(world.secure_channel % 13 + 1) == NsapiError.UNSUPPORTED
        return
    wrong = world.secure_channel % 13 + 1
    result = wifi.interface.connect(world.secure_ssid, world.secure_pass, world.secure_security, wrong)
    assert result in CONNECT_FAILURES


def test_WIFI_CONNECT_SECURE(wifi: Wifi) -> None:
    world = wifi.world
    assert wifi.interface.set_credentials(world.secure_ssid, world.secure_pass, world.secure_security) == 0
    assert wifi.interface.connect() == NsapiError.OK


def test_WIFI_CONNECT_SECURE_FAIL(wifi: Wifi) -> None:
    """A wrong 8-character pass phrase: AUTH_FAILURE (DESIGN's error table)."""
    world = wifi.world
    assert wifi.interface.set_credentials(world.secure_ssid, "aaaaaaaa", world.secure_security) == 0
    assert wifi.interface.connect() == NsapiError.AUTH_FAILURE
    assert wifi.interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED


def test_WIFI_CONNECT_UNKNOWN_SSID(wifi: Wifi) -> None:
    """An SSID no access point has: NO_SSID (DESIGN's error table)."""
    assert wifi.interface.set_credentials("netsocket-nowhere", None, NsapiSecurity.NONE) == 0
    assert wifi.interface.connect() == NsapiError.NO_SSID


def test_WIFI_CONNECT(wifi: Wifi) -> None:
    """The open network, with no pass phrase and with an empty one; the SSID string is copied."""
    ssid = list(wifi.world.open_ssid)
    assert wifi.interface.set_credentials("".join(ssid), None, NsapiSecurity.NONE) == NsapiError.OK
    ssid.clear()
    assert wifi.interface.connect() == NsapiError.OK
    assert wifi.interface.disconnect() == NsapiError.OK
    assert wifi.interface.set_credentials(wifi.world.open_ssid, "", NsapiSecurity.NONE) == NsapiError.OK
    assert wifi.interface.connect() == NsapiError.OK
