"""Commands as data: builders with the firmware's escaping and length rules, and the readers of their replies,
checked against answer lines quoted in shared/reference/esp_at.md."""

from __future__ import annotations

from dataclasses import replace

import pytest
from netsocket.drivers.esp_at import commands as cmd
from netsocket.drivers.esp_at.dialects import AT2_ESP8266, AT3_ESP32, NONOS_17, Dialect


def test_join_escapes_its_strings_and_respects_the_command_line_limit() -> None:
    # reference §1.2: the SSID ab\,c with password 0123456789"\ goes out as AT+CWJAP="ab\\\,c","0123456789\"\\"
    join = cmd.join(AT2_ESP8266, "ab\\,c", '0123456789"\\', None, 25.0)
    assert join.line == b'AT+CWJAP="ab\\\\\\,c","0123456789\\"\\\\"'
    assert cmd.join(NONOS_17, "s", "p" * 8, "aa:bb:cc:dd:ee:ff", 25.0).line.endswith(b',"aa:bb:cc:dd:ee:ff"')
    with pytest.raises(cmd.ParameterError):  # 32 + 64 escaped characters: over NonOS's 128-byte line
        cmd.join(NONOS_17, "," * 32, "," * 63, None, 25.0)
    with pytest.raises(cmd.ParameterError):
        cmd.join(AT2_ESP8266, "ssid", "pass\r\nAT+RST", None, 25.0)


def test_send_and_fetch_carry_their_payload_and_size() -> None:
    send = cmd.udp_send(2, b"hello", "10.0.0.1", 53)
    assert (send.line, send.kind, send.link, send.payload) == (b'AT+CIPSEND=2,5,"10.0.0.1",53', "send", 2, b"hello")
    fetch = cmd.fetch(1, 5760)
    assert (fetch.line, fetch.kind, fetch.wanted) == (b"AT+CIPRECVDATA=1,5760", "recvdata", 5760)
    assert cmd.tcp_start(0, "127.0.0.1", 80, keepalive=60).line == b'AT+CIPSTART=0,"TCP","127.0.0.1",80,60'


def test_peer_table_keeps_well_formed_peers_only() -> None:
    lines = [
        b"STATUS:3",
        b'+CIPSTATUS:0,"TCP","192.168.1.5",40000,80,1',
        b'+CIPSTATUS:1,"TCP","192.168.1.6",99999,80,1',
        b'+CIPSTATUS:2,"TCP","not-an-ip",1234,80,1',
        b'+CIPSTATUS:4,"UDP","0.0.0.0",2390,2390,0',
        b'+CIPSTATUS:9,"TCP","192.168.1.7",1,80,1',
    ]
    assert cmd.peer_table(lines) == {0: ("192.168.1.5", 40000), 4: ("0.0.0.0", 2390)}


@pytest.mark.parametrize(
    ("line", "held"),
    [
        (b"+CIPRECVLEN:-1,-1,-1,-1,424", {4: 424}),
        (b"+CIPRECVLEN:654,-1,-1,-1,-1", {0: 654}),
        (b"+CIPRECVLEN:0,2664,0,0,0", {1: 2664}),
        (b"+CIPRECVLEN:100,,,,,", {0: 100}),
    ],
)
def test_recv_lengths_per_link(line: bytes, held: dict[int, int]) -> None:
    assert cmd.recv_lengths([line]) == held


def test_resolved_address_quoted_or_not() -> None:
    assert cmd.resolved_address([b'+CIPDOMAIN:"93.184.216.34"']) == "93.184.216.34"
    assert cmd.resolved_address([b"+CIPDOMAIN:93.184.216.34"]) == "93.184.216.34"
    assert cmd.resolved_address([b"DNS Fail"]) is None
    with pytest.raises(cmd.ParameterError):
        cmd.resolve('local"host\r\n')


def test_wifi_replies() -> None:
    assert cmd.station_addresses(
        [b'+CIPSTA:ip:"192.168.1.23"', b'+CIPSTA_CUR:gateway:"192.168.1.1"', b"+CIPSTA:netmask:255.255.255.0"]
    ) == {"ip": "192.168.1.23", "gateway": "192.168.1.1", "netmask": "255.255.255.0"}
    (ap,) = cmd.access_points([b'+CWLAP:(3,"My,\\"AP",-52,"aa:bb:cc:dd:ee:ff",6,-1,-1,4,4,7,0)'])
    assert (ap.ecn, ap.ssid, ap.rssi, ap.bssid, ap.channel) == (3, 'My,"AP', -52, "aa:bb:cc:dd:ee:ff", 6)
    assert cmd.rssi([b'+CWJAP:"a,b","aa:bb:cc:dd:ee:ff",6,-58,0,0,0,0,0']) == -58
    assert cmd.rssi([b"No AP"]) is None
    assert cmd.join_error([b"+CWJAP:2"]) == 2 and cmd.join_error([b"FAIL"]) is None
    assert cmd.mac_address([b'+CIPSTAMAC:"5c:cf:7f:01:02:03"']) == "5c:cf:7f:01:02:03"


@pytest.mark.parametrize(
    ("dialect", "ok_line", "fail_line"),
    [
        (NONOS_17, b"+7", b"+timeout"),
        (AT2_ESP8266, b"+PING:7", b"+PING:TIMEOUT"),
        (AT3_ESP32, b"+PING:7", b"+PING:TIMEOUT"),
    ],
)
def test_ping_reads_both_reply_shapes(dialect: Dialect, ok_line: bytes, fail_line: bytes) -> None:
    command = cmd.ping(dialect, "127.0.0.1", 3.0)
    assert command is not None and command.line == b'AT+PING="127.0.0.1"' and command.timeout == 3.0
    assert cmd.ping_time(dialect, [ok_line]) == 7
    assert cmd.ping_time(dialect, [fail_line]) is None
    assert cmd.ping(replace(dialect, ping_reply=None), "127.0.0.1", 1.0) is None


# -- IPv6 (ESP-AT 3.x, reference §3.11, §3.13, §3.16, §3.22) ------------------------------------------------------
def test_an_ipv6_literal_opens_a_v6_link_type() -> None:
    assert cmd.tcp_start(1, "::1", 7).line == b'AT+CIPSTART=1,"TCPv6","::1",7'
    assert cmd.tcp_start(1, "2001:db8::5", 443, keepalive=60).line == b'AT+CIPSTART=1,"TCPv6","2001:db8::5",443,60'
    assert cmd.udp_start(2, 50000, ipv6=True).line == b'AT+CIPSTART=2,"UDPv6","::",0,50000,2'
    assert cmd.udp_start(2, 50000).line == b'AT+CIPSTART=2,"UDP","0.0.0.0",0,50000,2'
    assert cmd.udp_send(2, b"x", "::1", 53).line == b'AT+CIPSEND=2,1,"::1",53'


def test_peer_table_reads_ipv6_peers_whatever_their_case() -> None:
    lines = [
        b"STATUS:3",
        b'+CIPSTATUS:0,"TCP","FE80::5ECF:7FFF:FE01:203",40000,80,1',
        b'+CIPSTATUS:1,"TCPv6","::1",65535,80,1',
        b'+CIPSTATUS:2,"TCP","::1::2",1234,80,1',
        b'+CIPSTATE:3,"UDP","2001:DB8::1",5353,5353,0',
        b'+CIPSTATUS:4,"TCP",::1,80,80,1',
    ]
    assert cmd.peer_table(lines) == {
        0: ("fe80::5ecf:7fff:fe01:203", 40000),
        1: ("::1", 65535),
        3: ("2001:db8::1", 5353),
        4: ("::1", 80),
    }


def test_aaaa_lookups_and_their_answers() -> None:
    assert cmd.resolve("localhost", 3).line == b'AT+CIPDOMAIN="localhost",3'
    assert cmd.resolve("localhost", 2).line == b'AT+CIPDOMAIN="localhost",2'
    assert cmd.resolve("localhost").line == b'AT+CIPDOMAIN="localhost"'
    assert cmd.resolved_address([b'+CIPDOMAIN:"::1"']) == "::1"
    assert cmd.resolved_address([b'+CIPDOMAIN:"2001:DB8:0:0::23"']) == "2001:db8::23"
    assert cmd.resolved_address([b'+CIPDOMAIN:"2001:db8::g"']) is None
    assert cmd.resolved_address([b'+CIPDOMAIN:":::"']) is None


def test_station_addresses_with_ipv6_lines() -> None:
    lines = [
        b'+CIPSTA:ip:"192.168.42.23"',
        b'+CIPSTA:gateway:"192.168.42.1"',
        b'+CIPSTA:netmask:"255.255.255.0"',
        b'+CIPSTA:ip6ll:"FE80::5ECF:7FFF:FE01:203"',
        b'+CIPSTA:ip6gl:"2001:DB8:42::23"',
    ]
    assert cmd.station_addresses(lines) == {
        "ip": "192.168.42.23",
        "gateway": "192.168.42.1",
        "netmask": "255.255.255.0",
        "ip6ll": "fe80::5ecf:7fff:fe01:203",
        "ip6gl": "2001:db8:42::23",
    }
    assert cmd.station_addresses([b'+CIPSTA:ip6ll:"FE80::5ECF::1"']) == {}


def test_only_esp32_at3_turns_ipv6_on() -> None:
    assert AT3_ESP32.ipv6_command == b"AT+CIPV6=1"
    assert NONOS_17.ipv6_command is None and AT2_ESP8266.ipv6_command is None
    assert AT2_ESP8266.resolve_network == () and dict(AT3_ESP32.resolve_network) == {1: 2, 2: 3}
