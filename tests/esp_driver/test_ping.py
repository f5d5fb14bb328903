"""``interface.ping`` (AT+PING) end to end on every firmware profile, with the exact bytes on the wire."""

from __future__ import annotations

import itertools
import logging

import pytest
from netsocket.drivers.esp_at import ESP8266Interface

from netsocket import NsapiError, NsapiSecurity

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
_names = itertools.count(1)


def joined(profile: str) -> ESP8266Interface:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=4&name=ping-{next(_names)}")
    assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
    return iface


def sent_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage()[3:] for r in caplog.records if r.getMessage().startswith("-> ")]


@pytest.mark.parametrize("profile", PROFILES)
def test_ping_a_reachable_host_returns_its_round_trip_in_ms(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    iface = joined(profile)
    try:
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            millis = iface.ping("localhost", 3000)
        assert isinstance(millis, int) and not isinstance(millis, NsapiError)
        assert 0 <= millis < 1000
        assert repr(b'AT+PING="127.0.0.1"\r\n') in sent_lines(caplog)
    finally:
        iface.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_ping_an_unreachable_host_is_a_timeout_and_the_module_stays_usable(profile: str) -> None:
    iface = joined(profile)
    try:
        assert iface.ping("192.0.2.1", 5000) == NsapiError.TIMEOUT  # the module's own "no reply"
        assert isinstance(iface.ping("127.0.0.1", 3000), int)
        assert iface.get_rssi() < 0
    finally:
        iface.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_ping_errors_a_user_meets(profile: str) -> None:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=4&name=ping-{next(_names)}")
    try:
        assert iface.ping("127.0.0.1", 1000) == NsapiError.NO_CONNECTION  # not joined yet
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        assert iface.ping("no-such-host.invalid", 3000) == NsapiError.DNS_FAILURE
        assert iface.ping("bad\nname", 1000) == NsapiError.PARAMETER
        assert iface.ping("127.0.0.1", 0) == NsapiError.PARAMETER
    finally:
        iface.close()
