"""SoftAP: AT+CWSAP, AT+CWLIF, AT+CWQIF, emulated stations and their URCs, exact bytes per profile (ref §2.4)."""

from __future__ import annotations

import socket

import pytest
from netsocket.mocks.esp_at import find_emulator

from .helpers import PROFILES, AtPort, free_port, pty_emulator

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
MAX_CONN = {"nonos17": 4, "at22_8266": 8, "at3_esp32": 10}


def _names(at: AtPort) -> tuple[bytes, bytes]:
    return (b"CWMODE_CUR", b"CWSAP_CUR") if at.nonos else (b"CWMODE", b"CWSAP")


def _lease(at: AtPort, mac: str) -> None:
    at.wait_for(lambda dev: dev.features.stations.get(mac, "") != "")


def test_cwsap_needs_the_softap_and_checks_its_values(at: AtPort) -> None:
    mode, sap = _names(at)
    at.cmd(b"AT+" + sap + b"?", ERROR)  # station mode: no SoftAP
    at.cmd(b"AT+" + mode + b"=2", OK)
    default = b'"ESP_010203","",1,0,%d,0' % MAX_CONN[at.profile]
    at.cmd(b"AT+" + sap + b"?", b"+" + sap + b":" + default + b"\r\n" + OK)
    at.cmd(b"AT+" + sap + b'="netsocket-ap","apsecret1",5,3,2', OK)
    at.cmd(b"AT+" + sap + b"?", b"+" + sap + b':"netsocket-ap","apsecret1",5,3,2,0\r\n' + OK)
    at.cmd(b"AT+" + sap + b'="open-ap","ignored",11,0', OK)
    at.cmd(b"AT+" + sap + b"?", b"+" + sap + b':"open-ap","",11,0,%d,0\r\n' % MAX_CONN[at.profile] + OK)
    for bad in (
        b'="x","apsecret1",5,1',  # WEP is never offered
        b'="x","short",5,3',  # WPA needs 8..64 bytes
        b'="x","apsecret1",14,3',  # channel 1..13
        b'="x","apsecret1",5,3,%d' % (MAX_CONN[at.profile] + 1),
        b'="x","apsecret1",5,3,1,2',  # hidden is 0 or 1
    ):
        at.cmd(b"AT+" + sap + bad, ERROR)
    other = b"AT+CWSAP" if at.nonos else b"AT+CWSAP_CUR"
    at.cmd(other + b"?", ERROR)  # the other family's spelling is an unknown command


def test_stations_join_get_a_lease_list_and_leave(at: AtPort) -> None:
    mode, sap = _names(at)
    assert at.emulator.station_join() is None  # no SoftAP yet
    at.cmd(b"AT+" + mode + b"=3", OK)
    at.cmd(b"AT+" + sap + b'="netsocket-ap","apsecret1",5,3,2', OK)
    first = at.emulator.station_join("AA:BB:CC:DD:EE:01")
    assert first == "aa:bb:cc:dd:ee:01"
    if not at.nonos:
        at.expect(b'+STA_CONNECTED:"aa:bb:cc:dd:ee:01"\r\n+DIST_STA_IP:"aa:bb:cc:dd:ee:01","192.168.4.2"\r\n')
    _lease(at, first)
    second = at.emulator.station_join()
    assert second == "02:5a:00:00:04:02"
    if not at.nonos:
        at.expect(b'+STA_CONNECTED:"02:5a:00:00:04:02"\r\n+DIST_STA_IP:"02:5a:00:00:04:02","192.168.4.3"\r\n')
    _lease(at, second)
    assert at.emulator.station_join() is None  # <max conn> is 2
    prefix = b"" if at.nonos else b"+CWLIF:"
    at.cmd(
        b"AT+CWLIF",
        prefix + b"192.168.4.2,aa:bb:cc:dd:ee:01\r\n" + prefix + b"192.168.4.3,02:5a:00:00:04:02\r\n" + OK,
    )
    assert at.emulator.station_leave(first)
    assert not at.emulator.station_leave(first)
    if not at.nonos:
        at.expect(b'+STA_DISCONNECTED:"aa:bb:cc:dd:ee:01"\r\n')
    at.cmd(b"AT+CWLIF", prefix + b"192.168.4.3,02:5a:00:00:04:02\r\n" + OK)
    if at.nonos:
        at.cmd(b"AT+CWQIF", ERROR)  # NonOS has no AT+CWQIF (Espressif's command comparison)
        at.cmd(b"AT+CWMODE_CUR=1", OK)  # the SoftAP goes down and takes its stations with it
    else:
        at.cmd(b'AT+CWQIF="aa:bb:cc:dd:ee:01"', ERROR)  # not joined
        at.cmd(b"AT+CWQIF", OK + b'+STA_DISCONNECTED:"02:5a:00:00:04:02"\r\n')
    at.cmd(b"AT+CWLIF", OK)


def test_switching_the_softap_off_drops_its_stations() -> None:
    with pty_emulator("at22_8266") as at:
        at.boot()
        at.cmd(b"AT+CWMODE=2", OK)
        mac = at.emulator.station_join()
        assert mac is not None
        at.expect(b'+STA_CONNECTED:"%s"\r\n+DIST_STA_IP:"%s","192.168.4.2"\r\n' % (mac.encode(), mac.encode()))
        at.cmd(b"AT+CWMODE=1", OK + b'+STA_DISCONNECTED:"%s"\r\n' % mac.encode())


@pytest.mark.parametrize("profile", ["at22_8266", "at3_esp32"])
def test_url_option_stations_join_when_the_softap_comes_up(profile: str) -> None:
    with pty_emulator(profile, softap_stations=2) as at:
        at.boot()
        at.cmd(b"AT+CWMODE=2", OK)
        at.expect(
            b'+STA_CONNECTED:"02:5a:00:00:04:02"\r\n+STA_CONNECTED:"02:5a:00:00:04:03"\r\n'
            b'+DIST_STA_IP:"02:5a:00:00:04:02","192.168.4.2"\r\n'
            b'+DIST_STA_IP:"02:5a:00:00:04:03","192.168.4.3"\r\n'
        )
        at.assert_quiet()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_server_on_the_softap_side_is_reachable_from_the_host(profile: str) -> None:
    with pty_emulator(profile) as at:
        at.boot()
        at.cmd(b"AT+CWMODE_CUR=2" if at.nonos else b"AT+CWMODE=2", OK)
        at.cmd(b"AT+CIPMUX=1", OK)
        port = free_port()
        at.cmd(b"AT+CIPSERVER=1,%d" % port, OK)
        with socket.create_connection(("127.0.0.1", port), timeout=3) as peer:
            at.expect(b"0,CONNECT\r\n")
            peer.sendall(b"hi")
            at.expect(b"\r\n+IPD,0,2:hi")


def test_url_options_reach_the_emulator_and_typos_are_refused() -> None:
    import serial
    from netsocket.mocks.esp_at import EmulatorOptions

    url = "espemu://?profile=at3_esp32&timescale=0.01&boot=0&softap_stations=1&world=features"
    port = serial.serial_for_url(url, timeout=0.05)
    try:
        at = AtPort(port, find_emulator(port), "at3_esp32")
        at.cmd(b"ATE0", b"ATE0\r\n" + OK)
        at.cmd(b"AT+CWMODE=3", OK)
        at.expect(b'+STA_CONNECTED:"02:5a:00:00:04:02"\r\n+DIST_STA_IP:"02:5a:00:00:04:02","192.168.4.2"\r\n')
        scan = at.answer(b'AT+CWLAP="netsocket-wpa3"')
        assert scan.startswith(b'+CWLAP:(6,"netsocket-wpa3",')
    finally:
        port.close()
    with pytest.raises(ValueError, match="unknown world"):
        EmulatorOptions.from_url("espemu://?world=moon")
    with pytest.raises(ValueError, match="softap_stations"):
        EmulatorOptions.from_url("espemu://?softap_stations=11")
