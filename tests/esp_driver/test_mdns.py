"""``set_mdns`` (AT+MDNS) end to end on every firmware profile, with the exact bytes on the wire and what the
emulated module then announces."""

from __future__ import annotations

import itertools
import logging

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.mocks.esp_at import running_emulators

from netsocket import NsapiError, NsapiSecurity

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
_names = itertools.count(1)


def sent_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage()[3:] for r in caplog.records if r.getMessage().startswith("-> ")]


@pytest.mark.parametrize("profile", PROFILES)
def test_mdns_announces_a_host_and_service_then_stops(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=4&name=mdns-{next(_names)}")
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        (emulator,) = running_emulators()
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.set_mdns("sensor-1", "_http", 8080) == NsapiError.OK
        assert sent_lines(caplog) == [repr(b'AT+MDNS=1,"sensor-1","_http",8080\r\n')]
        record = emulator.call(lambda dev, _now: dev.features.mdns)
        assert record is not None and (record.hostname, record.service_type, record.port) == ("sensor-1", "_http", 8080)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.set_mdns(None) == NsapiError.OK
        assert sent_lines(caplog) == [repr(b"AT+MDNS=0\r\n")]
        assert emulator.call(lambda dev, _now: dev.features.mdns) is None
        assert iface.set_mdns("sensor-1", "_http", 0) == NsapiError.PARAMETER
        assert iface.set_mdns("sensor-1", "", 80) == NsapiError.PARAMETER
        assert iface.set_mdns("bad\nname", "_http", 80) == NsapiError.PARAMETER
    finally:
        iface.close()
