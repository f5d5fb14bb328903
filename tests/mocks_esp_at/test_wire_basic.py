"""Exact bytes of the basic and Wi-Fi commands, per firmware profile, over a pty (reference §1, §3.2-3.11)."""

from __future__ import annotations

import pytest

from .helpers import AtPort, pty_emulator

GMR = {
    "nonos17": b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n"
    b"compile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\nOK\r\n",
    "at22_8266": b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)\r\n"
    b"SDK version:v3.4-22-g967752e2\r\ncompile time(6800286):Aug  4 2021 17:20:05\r\n"
    b"Bin version:2.2.0(ESP8266_1MB)\r\n\r\nOK\r\n",
    "at3_esp32": b"AT version:3.3.0.0(3b13d04 - ESP32C3 - May  8 2024 08:21:54)\r\n"
    b"SDK version:v5.0.6-dirty\r\ncompile time(be332568):May  8 2024 08:51:33\r\n"
    b"Bin version:v3.3.0.0(MINI-1)\r\n\r\nOK\r\n",
}
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


@pytest.mark.parametrize("profile", ["at22_8266", "at3_esp32"])
def test_espat_boot_prints_only_ready(profile: str) -> None:
    with pty_emulator(profile) as at:
        at.expect(b"\r\nready\r\n")
        at.cmd(b"AT", b"AT\r\n\r\nOK\r\n")  # echo is on after boot


def test_nonos_boot_text_then_garbled_burst_then_ready() -> None:
    with pty_emulator("nonos17") as at:
        data = at.read_until(b"\r\nready\r\n")
        assert data.startswith(b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n")
        assert b"jump to run user1 @ 1000\r\n\r\n" in data
        burst = data[data.index(b"jump to run user1 @ 1000\r\n\r\n") + 28 : -9]
        assert 3 <= len(burst) <= 8 and all(b >= 0x80 for b in burst)
        at.cmd(b"AT", b"AT\r\r\n\r\nOK\r\n")  # NonOS echoes CR twice (reference §8.2)


def test_echo_off_and_on(at: AtPort) -> None:
    at.cmd(b"AT", OK)
    at.cmd(b"ATE1", OK)
    at.cmd(b"AT", (b"AT\r\r\n" if at.nonos else b"AT\r\n") + OK)
    at.cmd(b"ATE0", (b"ATE0\r\r\n" if at.nonos else b"ATE0\r\n") + OK)


def test_gmr(at: AtPort) -> None:
    at.cmd(b"AT+GMR", GMR[at.profile])


def test_lowercase_prefix(at: AtPort) -> None:
    at.cmd(b"at", OK if at.nonos else ERROR)
    if not at.nonos:
        at.cmd(b"AT+SYSLOG=1", OK)
        at.cmd(b"at", b"ERR CODE:0x01030000\r\n" + ERROR)
        at.cmd(b"AT+FAKE", b"ERR CODE:0x01090000\r\n" + ERROR)


def test_command_length_limit(at: AtPort) -> None:
    limit = 128 if at.nonos else 256
    at.cmd(b'AT+CIPDOMAIN="' + b"a" * (limit - 15) + b'"', ERROR)  # within the limit, but too long a name
    at.cmd(b"AT+CWMODE?" + b" " * (limit - 9), ERROR)
    at.cmd(b"AT", OK)


def test_stray_crlf_is_an_empty_command(at: AtPort) -> None:
    at.cmd(b"AT\r\n", OK + ERROR)


def test_unknown_and_dialect_gated_commands(at: AtPort) -> None:
    if at.nonos:
        for line in (b"AT+CWSTATE?", b"AT+CIPSTATE?", b"AT+CIPRECVTYPE=1", b"AT+SYSSTORE=0", b"AT+SYSLOG=1"):
            at.cmd(line, ERROR)
        at.cmd(b"AT+CIPSSLSIZE=4096", OK)
        at.cmd(b"AT+CWMODE_CUR?", b"+CWMODE_CUR:1\r\n" + OK)
    else:
        for line in (b"AT+CWMODE_CUR?", b"AT+CIPSSLSIZE=4096", b"AT+CIPCLOSEMODE=0,1", b"AT+CIPSENDBUF=0,1"):
            at.cmd(line, ERROR)
        at.cmd(b"AT+CWSTATE?", b'+CWSTATE:0,""\r\n' + OK)
        at.cmd(b"AT+CIPRECVMODE?", b"+CIPRECVMODE:0\r\n" + OK)
    if at.profile == "at3_esp32":
        at.cmd(b"AT+CIPRECVTYPE=1", OK)
    elif not at.nonos:
        at.cmd(b"AT+CIPRECVTYPE=1", ERROR)


def test_uart_cur(at: AtPort) -> None:
    actual = b"115201" if at.profile == "at3_esp32" else b"115273"
    at.cmd(b"AT+UART_CUR?", b"+UART_CUR:" + actual + b",8,1,0,0\r\n" + OK)
    at.cmd(b"AT+UART_CUR=115200,8,1,0", ERROR)
    at.cmd(b"AT+UART_CUR=115200,8,1,0,3", OK)
    at.cmd(b"AT+UART_CUR?", b"+UART_CUR:" + actual + b",8,1,0,3\r\n" + OK)


def test_sysmsg(at: AtPort) -> None:
    good, bad = (b"AT+SYSMSG_CUR", b"AT+SYSMSG") if at.nonos else (b"AT+SYSMSG", b"AT+SYSMSG_CUR")
    at.cmd(bad + b"=2", ERROR)
    at.cmd(good + b"=2", OK)
    at.cmd(good + b"?", b"+" + good[3:] + b":2\r\n" + OK)


def test_cwmode(at: AtPort) -> None:
    name = b"CWMODE_CUR" if at.nonos else b"CWMODE"
    at.cmd(b"AT+" + name + b"?", b"+" + name + b":1\r\n" + OK)
    at.cmd(b"AT+" + name + b"=3", OK)
    at.cmd(b"AT+" + name + b"?", b"+" + name + b":3\r\n" + OK)
    at.cmd(b"AT+" + name + b"=0", ERROR if at.nonos else OK)
    at.cmd(b"AT+" + name + b"=4", ERROR)


def test_cwjap_success_query_and_cwqap(at: AtPort) -> None:
    query = b"AT+CWJAP_CUR?" if at.nonos else b"AT+CWJAP?"
    at.cmd(query, b"No AP\r\n" + OK)
    at.join()
    tail = {"nonos17": b",0", "at22_8266": b",0,1,3,0,0", "at3_esp32": b",0,1,3,0,1"}[at.profile]
    prefix = b"+CWJAP_CUR:" if at.nonos else b"+CWJAP:"
    at.cmd(query, prefix + b'"netsocket-wpa2","02:00:00:00:01:06",6,-58' + tail + b"\r\n" + OK)
    # Joining again while connected first drops the old association (reference §3.7).
    name = b"AT+CWJAP_CUR" if at.nonos else b"AT+CWJAP"
    at.cmd(name + b'="netsocket-open",""', b"WIFI DISCONNECT\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK)
    at.cmd(b"AT+CWQAP", OK + b"WIFI DISCONNECT\r\n")
    at.cmd(b"AT+CWQAP", OK)


@pytest.mark.parametrize(("ssid", "password", "code"), [("netsocket-wpa2", "wrong", 2), ("nowhere", "x", 3)])
def test_cwjap_failure_codes(at: AtPort, ssid: str, password: str, code: int) -> None:
    name = b"AT+CWJAP_CUR" if at.nonos else b"AT+CWJAP"
    final = b"\r\nFAIL\r\n" if at.nonos else ERROR
    at.cmd(name + f'="{ssid}","{password}"'.encode(), b"+CWJAP:%d\r\n" % code + final)


def test_cwjap_unknown_passphrase_network_fails_with_code_2(at: AtPort) -> None:
    name = b"AT+CWJAP_CUR" if at.nonos else b"AT+CWJAP"
    at.cmd(name + b'="neighbour","guess"', b"+CWJAP:2\r\n" + (b"\r\nFAIL\r\n" if at.nonos else ERROR))


def test_busy_during_join_drops_the_line() -> None:
    with pty_emulator("at22_8266", timescale=0.1) as at:
        at.boot()
        at.send(b'AT+CWJAP="netsocket-wpa2","netsocket123"\r\nAT\r\n')
        expected = b"\r\nbusy p...\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"
        at.expect(expected)
        at.assert_quiet()


CWLAP_ALL = (
    b'+CWLAP:(0,"netsocket-open",-42,"02:00:00:00:01:01",1,-1,-1,0,0,7,0)\r\n'
    b'+CWLAP:(3,"netsocket-wpa2",-58,"02:00:00:00:01:06",6,-1,-1,4,4,7,0)\r\n'
    b'+CWLAP:(4,"neighbour",-80,"02:00:00:00:01:0b",11,-1,-1,5,5,7,0)\r\n'
)


def test_cwlap_and_cwlapopt(at: AtPort) -> None:
    at.cmd(b"AT+CWLAP", CWLAP_ALL + OK)
    at.cmd(b'AT+CWLAP="neighbour"', CWLAP_ALL.splitlines(keepends=True)[2] + OK)
    at.cmd(b"AT+CWLAPOPT=1,23", OK)
    at.cmd(
        b"AT+CWLAP",
        b'+CWLAP:(0,"netsocket-open",-42,1)\r\n+CWLAP:(3,"netsocket-wpa2",-58,6)\r\n'
        b'+CWLAP:(4,"neighbour",-80,11)\r\n' + OK,
    )
    mode = b"AT+CWMODE_CUR=2" if at.nonos else b"AT+CWMODE=2"
    at.cmd(mode, OK)
    at.cmd(b"AT+CWLAP", ERROR)


def test_addresses(at: AtPort) -> None:
    sta, mac = (b"CIPSTA_CUR", b"CIPSTAMAC_CUR") if at.nonos else (b"CIPSTA", b"CIPSTAMAC")
    at.cmd(b"AT+CIFSR", b'+CIFSR:STAIP,"0.0.0.0"\r\n+CIFSR:STAMAC,"5c:cf:7f:01:02:03"\r\n' + OK)
    at.join()
    at.cmd(
        b"AT+" + sta + b"?",
        b"+"
        + sta
        + b':ip:"192.168.42.23"\r\n+'
        + sta
        + b':gateway:"192.168.42.1"\r\n+'
        + sta
        + b':netmask:"255.255.255.0"\r\n'
        + OK,
    )
    at.cmd(b"AT+CIFSR", b'+CIFSR:STAIP,"192.168.42.23"\r\n+CIFSR:STAMAC,"5c:cf:7f:01:02:03"\r\n' + OK)
    at.cmd(b"AT+" + mac + b"?", b"+" + mac + b':"5c:cf:7f:01:02:03"\r\n' + OK)
    at.cmd(b"AT+" + mac + b'="1b:00:00:00:00:01"', ERROR)  # multicast bit set
    at.cmd(b"AT+CWMODE" + (b"_CUR" if at.nonos else b"") + b"=3", OK)
    at.cmd(
        b"AT+CIFSR",
        b'+CIFSR:APIP,"192.168.4.1"\r\n+CIFSR:APMAC,"5e:cf:7f:01:02:03"\r\n'
        b'+CIFSR:STAIP,"192.168.42.23"\r\n+CIFSR:STAMAC,"5c:cf:7f:01:02:03"\r\n' + OK,
    )


def test_rst_prints_ok_then_ready_forgets_ram_settings_and_autoconnects(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    at.send(b"AT+RST\r\n")
    data = at.read_until(b"\r\nready\r\n")
    assert data.startswith(OK + (b"WIFI DISCONNECT\r\n" if at.nonos else b""))
    if not at.nonos:
        assert data == OK + b"\r\nready\r\n"
        # ESP-AT stored the AP (SYSSTORE=1) and auto-connects after boot (checklist item 3).
        at.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n")
    at.cmd(b"AT", (b"AT\r\r\n" if at.nonos else b"AT\r\n") + OK)  # echo back on
    at.cmd(b"ATE0", (b"ATE0\r\r\n" if at.nonos else b"ATE0\r\n") + OK)
    at.cmd(b"AT+CIPMUX?", b"+CIPMUX:0\r\n" + OK)
