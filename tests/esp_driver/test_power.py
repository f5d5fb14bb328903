"""Power saving end to end on every firmware profile: ``set_sleep_mode`` (AT+SLEEP) and ``deep_sleep`` (AT+GSLP)
with the driver's recovery when the module wakes, and the exact bytes on the wire."""

from __future__ import annotations

import itertools
import logging
import socket
import threading

import pytest
from netsocket.drivers.esp_at import ESP8266Interface, SleepMode

from netsocket import NsapiConnectionStatus, NsapiError, NsapiEvent, NsapiSecurity, SocketAddress, TCPSocket

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
_names = itertools.count(1)

# reference §3.26: NonOS 1 light / 2 modem; ESP-AT 1 modem / 2 light / 3 modem at the listen interval
SLEEP_WIRE = {
    "nonos17": {SleepMode.NONE: 0, SleepMode.LIGHT: 1, SleepMode.MODEM: 2, SleepMode.MODEM_LISTEN: None},
    "at22_8266": {SleepMode.NONE: 0, SleepMode.MODEM: 1, SleepMode.LIGHT: 2, SleepMode.MODEM_LISTEN: 3},
    "at3_esp32": {SleepMode.NONE: 0, SleepMode.MODEM: 1, SleepMode.LIGHT: 2, SleepMode.MODEM_LISTEN: 3},
}


def joined(profile: str) -> ESP8266Interface:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=4&name=power-{next(_names)}")
    assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
    return iface


def sent_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage()[3:] for r in caplog.records if r.getMessage().startswith("-> ")]


@pytest.mark.parametrize("profile", PROFILES)
def test_sleep_modes_go_out_with_the_firmware_numbers(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    iface = joined(profile)
    try:
        for mode, code in SLEEP_WIRE[profile].items():
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
                result = iface.set_sleep_mode(mode)
            if code is None:
                assert result == NsapiError.UNSUPPORTED
                assert not [line for line in sent_lines(caplog) if "SLEEP" in line]
            else:
                assert result == NsapiError.OK
                assert sent_lines(caplog) == [repr(b"AT+SLEEP=%d\r\n" % code)]
        assert iface.get_rssi() < 0  # still joined and answering
        with pytest.raises(TypeError):
            iface.set_sleep_mode(1)  # type: ignore[arg-type]
    finally:
        iface.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_deep_sleep_loses_sockets_and_the_module_is_usable_again_after_it_wakes(
    profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    iface = joined(profile)
    statuses: list[int] = []
    changed = threading.Condition()

    def on_status(_event: NsapiEvent, status: int) -> None:
        with changed:
            statuses.append(status)
            changed.notify_all()

    iface.attach(on_status)
    with socket.create_server(("127.0.0.1", 0)) as server:
        sock = TCPSocket()
        try:
            assert sock.open(iface) == NsapiError.OK
            assert sock.connect(SocketAddress("127.0.0.1", server.getsockname()[1])) == NsapiError.OK
            with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
                assert iface.deep_sleep(3000) == NsapiError.OK  # 30 ms at timescale 0.01
            assert repr(b"AT+GSLP=3000\r\n") in sent_lines(caplog)
            assert iface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
            assert sock.send(b"x") == NsapiError.CONNECTION_LOST
            with caplog.at_level(logging.INFO, logger="netsocket.drivers.esp_at"):
                assert iface.wait_initialised(10.0)  # the wake-up 'ready', then the driver's re-initialisation
            messages = [record.getMessage() for record in caplog.records]
            assert any("woke from deep sleep" in message for message in messages)
            assert not any("module reset" in message for message in messages)  # expected, so no warning
            assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
            assert isinstance(iface.ping("127.0.0.1", 3000), int)
            with changed:  # reported: down at the sleep, up again after the new join
                assert statuses[0] == NsapiConnectionStatus.DISCONNECTED, statuses
                assert changed.wait_for(lambda: statuses[-1] == NsapiConnectionStatus.GLOBAL_UP, 5.0), statuses
        finally:
            sock.close()
            iface.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_deep_sleep_refuses_a_time_the_firmware_cannot_take(profile: str) -> None:
    iface = joined(profile)
    try:
        assert iface.deep_sleep(0) == NsapiError.PARAMETER
        assert iface.deep_sleep(2**31) == NsapiError.PARAMETER
        assert iface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
    finally:
        iface.close()
