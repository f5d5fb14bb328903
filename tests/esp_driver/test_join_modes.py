"""Join modes end to end on every firmware profile (the emulator's ``world=features``): WPA3 and WPA2/WPA3 where
the firmware has them, and joining one access point by its BSSID, with the exact bytes on the wire."""

from __future__ import annotations

import itertools
import logging

import pytest
from netsocket.drivers.esp_at import ESP8266Interface

from netsocket import NsapiConnectionStatus, NsapiError, NsapiSecurity

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
CWJAP = {"nonos17": b"AT+CWJAP_CUR=", "at22_8266": b"AT+CWJAP=", "at3_esp32": b"AT+CWJAP="}
_names = itertools.count(1)


def module(profile: str) -> ESP8266Interface:
    return ESP8266Interface(
        f"espemu://?profile={profile}&world=features&timescale=0.01&seed=4&name=joinmodes-{next(_names)}"
    )


def sent_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage()[3:] for r in caplog.records if r.getMessage().startswith("-> ")]


@pytest.mark.parametrize("profile", PROFILES)
def test_wpa3_joins_on_esp_at_3_and_is_unsupported_before(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    iface = module(profile)
    try:
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            result = iface.connect("netsocket-wpa3", "netsocket123", NsapiSecurity.WPA3)
        joins = [line for line in sent_lines(caplog) if "CWJAP" in line]
        if profile == "at3_esp32":
            assert result == NsapiError.OK
            assert joins == [repr(CWJAP[profile] + b'"netsocket-wpa3","********"\r\n')]  # the log masks it
        else:
            assert result == NsapiError.UNSUPPORTED
            assert joins == []  # refused before anything goes to the module
            assert iface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
    finally:
        iface.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_wpa2_wpa3_network_joins_on_every_firmware(profile: str) -> None:
    iface = module(profile)
    try:
        assert iface.connect("netsocket-mixed", "netsocket123", NsapiSecurity.WPA3_WPA2) == NsapiError.OK
        assert iface.get_rssi() == -55
    finally:
        iface.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_join_by_bssid_reaches_the_second_network_of_the_same_name(
    profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    iface = module(profile)
    try:
        # without a BSSID the module joins the first netsocket-wpa2, whose passphrase this is not
        assert iface.connect("netsocket-wpa2", "othernet123", NsapiSecurity.WPA2) == NsapiError.AUTH_FAILURE
        assert iface.set_bssid(bytes.fromhex("020000000206")) == NsapiError.OK
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.connect("netsocket-wpa2", "othernet123", NsapiSecurity.WPA2) == NsapiError.OK
        joins = [line for line in sent_lines(caplog) if "CWJAP" in line and "=" in line]
        assert len(joins) == 1 and joins[0].endswith(repr(b',"02:00:00:00:02:06"\r\n')[2:]), joins
        assert joins[0].startswith(repr(CWJAP[profile] + b'"netsocket-wpa2",')[:-1])
        assert iface.get_rssi() == -70
        assert iface.disconnect() == NsapiError.OK
        assert iface.set_bssid(None) == NsapiError.OK
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        assert iface.get_rssi() == -58
    finally:
        iface.close()


def test_a_malformed_bssid_is_a_parameter_error() -> None:
    iface = module("at22_8266")
    try:
        for bad in ("02:00:00:00:02", "02:00:00:00:02:0g", "020000000206", b"\x02\x00"):
            assert iface.set_bssid(bad) == NsapiError.PARAMETER
        with pytest.raises(TypeError):
            iface.set_bssid(42)  # type: ignore[arg-type]
    finally:
        iface.close()
