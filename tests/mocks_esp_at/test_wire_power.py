"""AT+SLEEP, AT+GSLP (deep sleep, then a boot), AT+MDNS and AT+PING failures, exact bytes per profile."""

from __future__ import annotations

import pytest

from .helpers import PROFILES, AtPort, pty_emulator, tcp_server

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def test_sleep_modes_per_family(at: AtPort) -> None:
    at.cmd(b"AT+SLEEP?", b"+SLEEP:0\r\n" + OK)
    at.cmd(b"AT+SLEEP=2", OK)  # NonOS: modem sleep; ESP-AT: light sleep (reference §3.26)
    shown = {"nonos17": b"2", "at22_8266": b"3", "at3_esp32": b"2"}[at.profile]  # the 2.2 quirk answers 3
    at.cmd(b"AT+SLEEP?", b"+SLEEP:" + shown + b"\r\n" + OK)
    at.cmd(b"AT+SLEEP=3", ERROR if at.nonos else OK)  # modem sleep by listen interval: ESP-AT only
    at.cmd(b"AT+SLEEP=4", ERROR)
    at.cmd(b"AT+SLEEP=0", OK)
    at.cmd(b"AT+CWMODE_CUR=2" if at.nonos else b"AT+CWMODE=2", OK)
    at.cmd(b"AT+SLEEP=1", ERROR)  # needs the station


def test_deep_sleep_is_silent_drops_links_then_boots(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CWAUTOCONN=0", OK)  # a quiet boot: no rejoin URCs racing the exchanges after the wake-up
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server:
        port = server.getsockname()[1]
        at.cmd(b'AT+CIPSTART=0,"TCP","127.0.0.1",%d' % port, b"0,CONNECT\r\n" + OK)
        peer, _ = server.accept()
        with peer:
            peer.settimeout(3)
            at.cmd(b"AT+GSLP=100000", b"100000\r\n" + OK)  # 100 s, 1 s at the tests' timescale
            assert peer.recv(10) == b""  # the module is off: its links are gone
            at.send(b"AT\r\n")  # lost: nobody listens
            woke = at.read_until(b"\r\nready\r\n")
            assert b"OK" not in woke and b"CLOSED" not in woke
            if at.nonos:
                assert woke.startswith(b"\r\n ets Jan  8 2013,rst cause:")
            else:
                assert woke == b"\r\nready\r\n"
            at.cmd(b"AT", (b"AT\r\r\n" if at.nonos else b"AT\r\n") + OK)  # echo is back on after a boot
            at.cmd(b"ATE0", (b"ATE0\r\r\n" if at.nonos else b"ATE0\r\n") + OK)
            at.cmd(b"AT+CIPMUX?", b"+CIPMUX:0\r\n" + OK)


@pytest.mark.parametrize("profile", PROFILES)
def test_deep_sleep_zero(profile: str) -> None:
    with pty_emulator(profile) as at:
        at.boot()
        at.cmd(b"AT+GSLP=0", b"0\r\n" + OK)
        if profile == "at3_esp32":
            at.expect(b"\r\nready\r\n")  # "0 means restarting right now" (ESP32 docs)
        else:
            at.send(b"AT\r\n")  # an ESP8266 sleeps until something pulls RST
            at.emulator.inject_reset()
            data = at.read_until(b"\r\nready\r\n")
            assert b"OK" not in data
        at.cmd(b"AT", (b"AT\r\r\n" if at.nonos else b"AT\r\n") + OK)


def test_gslp_bad_values(at: AtPort) -> None:
    at.cmd(b"AT+GSLP=-1", ERROR)
    at.cmd(b"AT+GSLP=2147483648", ERROR)
    at.cmd(b"AT+GSLP", ERROR)


def test_mdns(at: AtPort) -> None:
    at.cmd(b'AT+MDNS=1,"netsocket","_http",80', OK)
    record = at.emulator.call(lambda dev, now: dev.features.mdns)
    assert record is not None
    assert (record.hostname, record.service_type, record.port, record.instance, record.proto) == (
        "netsocket",
        "_http",
        80,
        "netsocket",
        "_tcp",
    )
    extended = b'AT+MDNS=1,"netsocket","_http",8080,"Netsocket box","_tcp",2,"path","/","v","1"'
    at.cmd(extended, OK if at.profile == "at3_esp32" else ERROR)
    if at.profile == "at3_esp32":
        record = at.emulator.call(lambda dev, now: dev.features.mdns)
        assert record is not None and record.instance == "Netsocket box" and record.txt == {"path": "/", "v": "1"}
        at.cmd(b'AT+MDNS=1,"netsocket","_http",8080,"x","_tcp",2,"path","/"', ERROR)  # two pairs announced
    at.cmd(b"AT+MDNS=1", ERROR)
    at.cmd(b'AT+MDNS=1,"netsocket","_http",0', ERROR)
    at.cmd(b'AT+MDNS=0,"netsocket"', ERROR)
    at.cmd(b"AT+MDNS=0", OK)
    assert at.emulator.call(lambda dev, now: dev.features.mdns) is None


def test_ping_fails_in_the_firmware_form_without_ip_and_for_unknown_names(at: AtPort) -> None:
    failure = (b"+timeout\r\n" if at.nonos else b"+PING:TIMEOUT\r\n") + ERROR
    at.cmd(b'AT+PING="127.0.0.1"', failure)  # no IP yet
    at.join()
    at.cmd(b'AT+PING="no.such.host"', failure)
    at.cmd(b"AT+PING", ERROR)
    answer = at.answer(b'AT+PING="127.0.0.1"')
    assert answer.startswith(b"+" if at.nonos else b"+PING:")
