"""IPv6 on the at3_esp32 profile (AT+CIPV6, ip6 addresses, TCPv6/UDPv6 to ::1, AAAA lookups); ERROR elsewhere."""

from __future__ import annotations

import socket

import pytest

from .helpers import pty_emulator

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266"])
def test_ipv4_only_firmware_refuses_ipv6(profile: str) -> None:
    with pty_emulator(profile) as at:
        at.boot()
        at.join()
        at.cmd(b"AT+CIPV6?", ERROR)
        at.cmd(b"AT+CIPV6=1", ERROR)
        link_type_error = b"Link type ERROR\r\n" if at.nonos else b""
        at.cmd(b'AT+CIPSTART="TCPv6","::1",80', link_type_error + ERROR)
        at.cmd(b'AT+CIPDOMAIN="localhost",3', ERROR)
        at.cmd(b'AT+CIPDOMAIN="::1"', (b"DNS Fail\r\n" if at.nonos else b"") + ERROR)


def test_addresses_and_aaaa_lookups() -> None:
    with pty_emulator("at3_esp32") as at:
        at.boot()
        at.cmd(b"AT+CIPV6?", b"+CIPV6:0\r\n" + OK)
        at.cmd(b'AT+CIPSTART="TCPv6","::1",80', ERROR)  # IPv6 is off
        at.cmd(b"AT+CIPV6=1", OK)
        at.cmd(b"AT+CIPV6?", b"+CIPV6:1\r\n" + OK)
        at.cmd(b'AT+CWJAP="netsocket-wpa2","netsocket123"', b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK)
        at.expect(b"WIFI GOT IPv6 LL\r\nWIFI GOT IPv6 GL\r\n")  # after the OK (reference §2.3)
        at.cmd(
            b"AT+CIPSTA?",
            b'+CIPSTA:ip:"192.168.42.23"\r\n+CIPSTA:gateway:"192.168.42.1"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n'
            b'+CIPSTA:ip6ll:"FE80::5ECF:7FFF:FE01:203"\r\n+CIPSTA:ip6gl:"2001:DB8:42::23"\r\n' + OK,
        )
        at.cmd(b'AT+CIPDOMAIN="localhost"', b'+CIPDOMAIN:"127.0.0.1"\r\n' + OK)
        at.cmd(b'AT+CIPDOMAIN="localhost",2', b'+CIPDOMAIN:"127.0.0.1"\r\n' + OK)
        at.cmd(b'AT+CIPDOMAIN="localhost",3', b'+CIPDOMAIN:"::1"\r\n' + OK)
        at.cmd(b'AT+CIPDOMAIN="::1"', b'+CIPDOMAIN:"::1"\r\n' + OK)  # no A record: the AAAA one
        at.cmd(b'AT+CIPDOMAIN="nowhere",3', ERROR)
        at.cmd(b'AT+CIPDOMAIN="localhost",4', ERROR)
        at.cmd(b"AT+CIPV6=0", OK)
        at.cmd(b'AT+CIPDOMAIN="localhost",3', ERROR)
        at.cmd(
            b"AT+CIPSTA?",
            b'+CIPSTA:ip:"192.168.42.23"\r\n+CIPSTA:gateway:"192.168.42.1"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n' + OK,
        )


def test_tcpv6_and_udpv6_links_reach_loopback_only() -> None:
    with (
        pty_emulator("at3_esp32") as at,
        socket.create_server(("::1", 0), family=socket.AF_INET6) as server,
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp,
    ):
        server.settimeout(3)
        udp.settimeout(3)
        udp.bind(("::1", 0))
        at.boot()
        at.cmd(b"AT+CIPV6=1", OK)
        at.cmd(b'AT+CWJAP="netsocket-wpa2","netsocket123"', b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK)
        at.expect(b"WIFI GOT IPv6 LL\r\nWIFI GOT IPv6 GL\r\n")
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b'AT+CIPSTART=0,"TCPv6","::1",%d' % server.getsockname()[1], b"0,CONNECT\r\n" + OK)
        peer, _ = server.accept()
        with peer:
            peer.settimeout(3)
            at.cmd(b"AT+CIPSEND=0,4", OK + b"\r\n>")
            at.send(b"six!")
            at.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
            assert peer.recv(10) == b"six!"
            peer.sendall(b"back")
            at.expect(b"\r\n+IPD,0,4:back")
        at.expect(b"0,CLOSED\r\n")
        at.cmd(b'AT+CIPSTART=1,"UDPv6","::1",%d' % udp.getsockname()[1], b"1,CONNECT\r\n" + OK)
        at.cmd(b"AT+CIPSEND=1,3", OK + b"\r\n>")
        at.send(b"dgm")
        at.expect(b"\r\nRecv 3 bytes\r\n\r\nSEND OK\r\n")
        data, source = udp.recvfrom(100)
        assert data == b"dgm" and source[0] == "::1"
        at.cmd(b'AT+CIPSEND=1,2,"::1",%d' % udp.getsockname()[1], OK + b"\r\n>")  # a per-datagram remote
        at.send(b"to")
        at.expect(b"\r\nRecv 2 bytes\r\n\r\nSEND OK\r\n")
        assert udp.recvfrom(100)[0] == b"to"
        at.cmd(b'AT+CIPSTART=2,"TCP","::1",80', ERROR)  # an IPv6 literal needs an IPv6 link type
        at.cmd(b'AT+CIPSTART=2,"TCPv6","2001:db8::1",80', ERROR + b"2,CLOSED\r\n", timeout=5)  # not loopback
