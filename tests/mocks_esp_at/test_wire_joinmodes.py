"""Join modes in the features world: WPA3 and WPA2/WPA3 (ESP-AT 3.x values), AT+CWJEAP, joining by BSSID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import PROFILES, AtPort, pty_emulator

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"

_LINES = {
    "open": b'+CWLAP:(0,"netsocket-open",-42,"02:00:00:00:01:01",1,-1,-1,0,0,7,0)\r\n',
    "wpa2": b'+CWLAP:(3,"netsocket-wpa2",-58,"02:00:00:00:01:06",6,-1,-1,4,4,7,0)\r\n',
    "neighbour": b'+CWLAP:(4,"neighbour",-80,"02:00:00:00:01:0b",11,-1,-1,5,5,7,0)\r\n',
    "wpa3": b'+CWLAP:(6,"netsocket-wpa3",-50,"02:00:00:00:03:0b",11,-1,-1,4,4,7,0)\r\n',
    "mixed": b'+CWLAP:(7,"netsocket-mixed",-55,"02:00:00:00:03:03",3,-1,-1,4,4,7,0)\r\n',
    "mixed_as_wpa2": b'+CWLAP:(3,"netsocket-mixed",-55,"02:00:00:00:03:03",3,-1,-1,4,4,7,0)\r\n',
    "eap": b'+CWLAP:(5,"netsocket-eap",-61,"02:00:00:00:03:09",9,-1,-1,4,4,7,0)\r\n',
    "wpa2_other": b'+CWLAP:(3,"netsocket-wpa2",-70,"02:00:00:00:02:06",13,-1,-1,4,4,7,0)\r\n',
}
SCAN = {
    "nonos17": ("open", "wpa2", "neighbour", "mixed_as_wpa2", "wpa2_other"),
    "at22_8266": ("open", "wpa2", "neighbour", "mixed_as_wpa2", "eap", "wpa2_other"),
    "at3_esp32": ("open", "wpa2", "neighbour", "wpa3", "mixed", "eap", "wpa2_other"),
}
JOINED = b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK


@pytest.fixture(params=PROFILES)
def featured(request: pytest.FixtureRequest) -> Iterator[AtPort]:
    with pty_emulator(request.param, world="features") as port:
        port.boot()
        yield port


def _cwjap(at: AtPort) -> bytes:
    return b"AT+CWJAP_CUR" if at.nonos else b"AT+CWJAP"


def _failed(at: AtPort, code: int) -> bytes:
    return b"+CWJAP:%d\r\n" % code + (b"\r\nFAIL\r\n" if at.nonos else ERROR)


def test_scan_shows_the_securities_the_firmware_knows(featured: AtPort) -> None:
    expected = b"".join(_LINES[name] for name in SCAN[featured.profile])
    featured.cmd(b"AT+CWLAP", expected + OK)


def test_wpa3_joins_on_esp_at_3_only_and_transition_mode_everywhere(featured: AtPort) -> None:
    at = featured
    esp32 = at.profile == "at3_esp32"
    at.cmd(_cwjap(at) + b'="netsocket-wpa3","netsocket123"', JOINED if esp32 else _failed(at, 3))
    mixed = (b"WIFI DISCONNECT\r\n" if esp32 else b"") + JOINED
    at.cmd(_cwjap(at) + b'="netsocket-mixed","netsocket123"', mixed)


def test_join_by_bssid_picks_one_of_two_aps_with_the_same_ssid(featured: AtPort) -> None:
    at = featured
    at.cmd(_cwjap(at) + b'="netsocket-wpa2","othernet123"', _failed(at, 2))  # the first (stronger) AP
    at.cmd(_cwjap(at) + b'="netsocket-wpa2","othernet123","02:00:00:00:02:06"', JOINED)
    query = b"AT+CWJAP_CUR?" if at.nonos else b"AT+CWJAP?"
    answer = at.answer(query)
    assert b'"netsocket-wpa2","02:00:00:00:02:06",13,-70' in answer
    at.cmd(
        _cwjap(at) + b'="netsocket-wpa2","netsocket123","02:00:00:00:02:06"',
        b"WIFI DISCONNECT\r\n" + _failed(at, 2),
    )
    at.cmd(_cwjap(at) + b'="netsocket-wpa2","netsocket123","02:00:00:00:09:09"', _failed(at, 3))


def test_cwjeap_on_esp32_only(featured: AtPort) -> None:
    at = featured
    peap = b'AT+CWJEAP="netsocket-eap",1,"anonymous@netsocket","user","netsocket123",0'
    if at.profile != "at3_esp32":
        at.cmd(peap, ERROR)  # ESP8266 firmware has no AT+CWJEAP
        at.cmd(_cwjap(at) + b'="netsocket-eap","netsocket123"', _failed(at, 2 if not at.nonos else 3))
        return
    at.cmd(b"AT+CWJEAP?", OK)
    at.cmd(peap, JOINED)
    at.cmd(b"AT+CWJEAP?", b'+CWJEAP:"netsocket-eap",1,"anonymous@netsocket","user","netsocket123",0\r\n' + OK)
    at.cmd(
        b'AT+CWJEAP="netsocket-eap",2,"anonymous@netsocket","user","wrong",0',
        b"WIFI DISCONNECT\r\n+CWJEAP:Timeout\r\n" + ERROR,
    )
    at.cmd(b'AT+CWJEAP="netsocket-eap",0,"anonymous@netsocket",,,3', JOINED)  # EAP-TLS: the client certificate
    at.cmd(b'AT+CWJEAP="netsocket-eap",0,"anonymous@netsocket",,,2', b"WIFI DISCONNECT\r\n+CWJEAP:Timeout\r\n" + ERROR)
    at.cmd(b'AT+CWJEAP="nowhere",1,"id","user","pw",0', b"+CWJEAP:Timeout\r\n" + ERROR)
    at.cmd(b'AT+CWJEAP="netsocket-eap",1,"anonymous@netsocket",,,0', ERROR)  # PEAP needs username and password
    at.cmd(b'AT+CWJEAP="netsocket-eap",3,"id","user","pw",0', ERROR)  # no such method
    at.cmd(b'AT+CWJAP="netsocket-eap","netsocket123"', _failed(at, 2))  # a PSK join never works there
