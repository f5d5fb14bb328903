"""Exact bytes of the link commands per profile over a pty, against real loopback sockets (reference §2-3)."""

from __future__ import annotations

import re
import socket

import pytest

from .helpers import AtPort, free_port, pty_emulator, tcp_server

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def _prompt(at: AtPort) -> bytes:
    return OK + (b"> " if at.nonos else b"\r\n>")


def _open_link(at: AtPort, server: socket.socket, link: int = 0) -> socket.socket:
    port = server.getsockname()[1]
    at.cmd(b'AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, port), b"%d,CONNECT\r\n" % link + OK)
    peer, _ = server.accept()
    peer.settimeout(3.0)
    return peer


def test_cipstart_needs_an_ip(at: AtPort) -> None:
    at.cmd(b'AT+CIPSTART="TCP","127.0.0.1",80', b"no ip\r\n" + ERROR)


def test_cipmux_single_link_connect_send_close(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX?", b"+CIPMUX:0\r\n" + OK)
    with tcp_server() as server:
        port = server.getsockname()[1]
        at.cmd(b'AT+CIPSTART="TCP","localhost",%d,10' % port, b"CONNECT\r\n" + OK)
        peer, _ = server.accept()
        with peer:
            peer.settimeout(3.0)
            at.cmd(b"AT+CIPSEND=4", _prompt(at))
            at.send(b"ab\r\n")
            at.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
            assert peer.recv(10) == b"ab\r\n"
            at.cmd(b"AT+CIPSEND=0,4", ERROR)  # link id given with CIPMUX=0
            at.cmd(b"AT+CIPMUX=1", b"link is builded\r\n" + ERROR)
            at.cmd(b"AT+CIPCLOSE", b"CLOSED\r\n" + OK)
            assert peer.recv(10) == b""


def test_multi_link_send_limits_and_errors(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    limit = 8192 if at.profile == "at3_esp32" else 2048
    with tcp_server() as server:
        peer = _open_link(at, server, 0)
        with peer:
            at.cmd(b'AT+CIPSTART=0,"TCP","127.0.0.1",1', b"ALREADY CONNECTED\r\n" + ERROR)
            at.cmd(b'AT+CIPSTART="TCP","127.0.0.1",1', ERROR)  # no link id with CIPMUX=1
            at.cmd(b'AT+CIPSTART=5,"TCP","127.0.0.1",1', (b"ID ERROR\r\n" if at.nonos else b"") + ERROR)
            at.cmd(b"AT+CIPSEND=0,%d" % (limit + 1), ERROR)
            at.cmd(b"AT+CIPSEND=0,0", ERROR)
            at.cmd(b"AT+CIPSEND=3,4", b"link is not valid\r\n" + ERROR)
            at.cmd(b"AT+CIPSEND=0,%d" % limit, _prompt(at))
            payload = bytes(range(256)) * (limit // 256)
            at.send(payload)
            expected = b"\r\nRecv %d bytes\r\n\r\nSEND OK\r\n" % limit
            at.expect(expected)
            received = bytearray()
            while len(received) < limit:
                received += peer.recv(limit)
            assert received == payload


def test_bytes_beyond_len_are_a_new_command(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server, _open_link(at, server) as peer:
        at.cmd(b"AT+CIPSEND=0,4", _prompt(at))
        at.send(b"dataAT\r\n")
        busy = b"\r\nbusy s...\r\n" if at.nonos else b"\r\nbusy p...\r\n"
        expected = b"\r\nRecv 4 bytes\r\n" + busy + b"\r\nSEND OK\r\n"
        at.expect(expected)
        assert peer.recv(10) == b"data"
        at.assert_quiet()


def test_plus_plus_plus_cancels_the_data_phase(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server, _open_link(at, server):
        at.cmd(b"AT+CIPSEND=0,10", _prompt(at))
        at.send(b"+++")
        at.expect(b"\r\nSEND Canceled\r\n")
        at.assert_quiet()


def test_cipsendex_stops_at_backslash_zero(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server, _open_link(at, server) as peer:
        at.cmd(b"AT+CIPSENDEX=0,20", _prompt(at))
        at.send(b"a\\\\0b\\0")
        at.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
        assert peer.recv(10) == b"a\\0b"


def test_cipclose_twice_and_close_all(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server:
        first = _open_link(at, server, 0)
        second = _open_link(at, server, 3)
        with first, second:
            at.cmd(b"AT+CIPCLOSE=0", b"0,CLOSED\r\n" + OK)
            at.cmd(b"AT+CIPCLOSE=0", (b"UNLINK\r\n" if at.nonos else b"") + ERROR)
            again = _open_link(at, server, 0)  # ids are reusable at once
            with again:
                at.cmd(b"AT+CIPCLOSE=5", b"0,CLOSED\r\n3,CLOSED\r\n" + OK)


def test_refused_and_unreachable_connects(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    at.cmd(b'AT+CIPSTART=1,"TCP","127.0.0.1",%d' % free_port(), ERROR + b"1,CLOSED\r\n")
    at.cmd(b'AT+CIPSTART=2,"TCP","192.0.2.1",80', ERROR + b"2,CLOSED\r\n")
    at.cmd(b'AT+CIPSTART=2,"TCP","no.such.name",80', (b"DNS Fail\r\n" if at.nonos else b"") + ERROR)
    at.cmd(b'AT+CIPSTART=2,"TCPX","127.0.0.1",80', (b"Link type ERROR\r\n" if at.nonos else b"") + ERROR)


def test_cipstatus_and_cipstate(at: AtPort) -> None:
    at.cmd(b"AT+CIPSTATUS", b"STATUS:%d\r\n" % (5 if at.nonos else 1) + OK)
    at.join()
    at.cmd(b"AT+CIPSTATUS", b"STATUS:2\r\n" + OK)
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server, _open_link(at, server, 2) as peer:
        line = b'2,"TCP","127.0.0.1",%d,%d,0\r\n' % (server.getsockname()[1], peer.getpeername()[1])
        at.cmd(b"AT+CIPSTATUS", b"STATUS:3\r\n+CIPSTATUS:" + line + OK)
        at.cmd(b"AT+CIPSTATE?", ERROR if at.nonos else b"+CIPSTATE:" + line + OK)
        at.cmd(b"AT+CIPCLOSE=2", b"2,CLOSED\r\n" + OK)
    at.cmd(b"AT+CIPSTATUS", b"STATUS:4\r\n" + OK)


def test_server_accepts_on_the_same_port(at: AtPort) -> None:
    at.join()
    port = free_port()
    at.cmd(b"AT+CIPSERVER=1,%d" % port, ERROR)  # needs CIPMUX=1
    at.cmd(b"AT+CIPMUX=1", OK)
    at.cmd(b"AT+CIPSERVERMAXCONN?", b"+CIPSERVERMAXCONN:5\r\n" + OK)
    at.cmd(b"AT+CIPSERVERMAXCONN=6", ERROR)
    at.cmd(b"AT+CIPSERVERMAXCONN=2", OK)
    at.cmd(b"AT+CIPSERVERMAXCONN?", b"+CIPSERVERMAXCONN:2\r\n" + OK)
    at.cmd(b"AT+CIPSTO?", b"+CIPSTO:180\r\n" + OK)
    at.cmd(b"AT+CIPSTO=7201", ERROR)
    at.cmd(b"AT+CIPSTO=60", OK)
    at.cmd(b"AT+CIPSTO?", b"+CIPSTO:60\r\n" + OK)
    at.cmd(b"AT+CIPSERVER=1,%d" % port, OK)
    if not at.nonos:
        at.cmd(b"AT+CIPSERVER?", b'+CIPSERVER:1,%d,"TCP",0\r\n' % port + OK)
    at.cmd(b"AT+CIPMUX=0", b"CIPSERVER must be 0\r\n" + ERROR)
    with socket.create_connection(("127.0.0.1", port), timeout=3) as client:
        at.expect(b"0,CONNECT\r\n")
        client.sendall(b"hi")
        at.expect(b"\r\n+IPD,0,2:hi")
        at.cmd(b"AT+CIPSEND=0,3", _prompt(at))
        at.send(b"yo!")
        at.expect(b"\r\nRecv 3 bytes\r\n\r\nSEND OK\r\n")
        assert client.recv(3) == b"yo!"
        at.cmd(b"AT+CIPSERVER=0,1", b"0,CLOSED\r\n" + OK)
        assert client.recv(3) == b""
    at.cmd(b"AT+CIPSERVER=0", b"no change\r\n" + OK if at.nonos else ERROR)


@pytest.mark.parametrize(("mux", "dinfo"), [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_active_ipd_formats(at: AtPort, mux: int, dinfo: int) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=%d" % mux, OK)
    at.cmd(b"AT+CIPDINFO=%d" % dinfo, OK)
    with tcp_server() as server:
        port = server.getsockname()[1]
        at.cmd(
            b'AT+CIPSTART=%s"TCP","127.0.0.1",%d' % (b"0," if mux else b"", port),
            (b"0,CONNECT\r\n" if mux else b"CONNECT\r\n") + OK,
        )
        peer, _ = server.accept()
        with peer:
            peer.sendall(b"hello")
            head = b"\r\n+IPD," + (b"0," if mux else b"") + b"5"
            if dinfo:
                ip = b"127.0.0.1" if at.nonos else b'"127.0.0.1"'
                head += b"," + ip + b",%d" % port
            expected = head + b":hello"
            at.expect(expected)
            peer.close()
            closed = b"0,CLOSED\r\n" if mux else b"CLOSED\r\n"
            at.expect(closed)


def test_passive_mode_notice_read_len_and_closed_timing(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    at.cmd(b"AT+CIPRECVMODE=1", OK)
    inactive = b"0" if at.nonos else b"-1"
    at.cmd(b"AT+CIPRECVLEN?", b"+CIPRECVLEN:" + b",".join([inactive] * 5) + b"\r\n" + OK)
    with tcp_server() as server, _open_link(at, server) as peer:
        peer.sendall(b"hello")
        at.expect(b"\r\n+IPD,0,5\r\n")
        peer.sendall(b"world")
        at.wait_for(lambda dev: dev.links[0].buffered == 10)
        # Only one notice until the host reads (checklist item 16).
        at.cmd(b"AT+CIPRECVLEN?", b"+CIPRECVLEN:10," + b",".join([inactive] * 4) + b"\r\n" + OK)
        head = b"\r\n+CIPRECVDATA,4:" if at.nonos else b"+CIPRECVDATA:4,"
        at.cmd(b"AT+CIPRECVDATA=0,4", head + b"hell" + OK + b"\r\n+IPD,0,6\r\n")
        peer.close()
        if at.nonos:
            # NonOS prints CLOSED at once and keeps the data readable.
            at.expect(b"0,CLOSED\r\n")
            at.cmd(b"AT+CIPRECVDATA=0,100", b"\r\n+CIPRECVDATA,6:oworld" + OK)
        else:
            at.wait_for(lambda dev: dev.links[0].peer_closed)
            at.cmd(b"AT+CIPRECVDATA=0,100", b"+CIPRECVDATA:6,oworld" + OK + b"0,CLOSED\r\n")
        at.cmd(b"AT+CIPRECVDATA=0,100", ERROR)


def test_passive_recvdata_with_dinfo(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    at.cmd(b"AT+CIPRECVMODE=1", OK)
    at.cmd(b"AT+CIPDINFO=1", OK)
    with tcp_server() as server, _open_link(at, server) as peer:
        port = server.getsockname()[1]
        peer.sendall(b"xyz")
        at.expect(b"\r\n+IPD,0,3\r\n")
        expected = b"\r\n+CIPRECVDATA,3:xyz" + OK if at.nonos else b'+CIPRECVDATA:3,"127.0.0.1",%d,xyz' % port + OK
        at.cmd(b"AT+CIPRECVDATA=0,10", expected)


@pytest.mark.parametrize("profile", ["at22_8266", "at3_esp32"])
def test_passive_held_closed_released_by_cipclose(profile: str) -> None:
    with pty_emulator(profile) as at:
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b"AT+CIPRECVMODE=1", OK)
        with tcp_server() as server, _open_link(at, server) as peer:
            peer.sendall(b"tail")
            at.expect(b"\r\n+IPD,0,4\r\n")
            peer.close()
            at.wait_for(lambda dev: dev.links[0].peer_closed)
            at.cmd(b"AT+CIPCLOSE=0", b"0,CLOSED\r\n" + OK)


def test_cipdomain_cipdns_ping(at: AtPort) -> None:
    at.join()
    quoted = b"127.0.0.1" if at.nonos else b'"127.0.0.1"'
    at.cmd(b'AT+CIPDOMAIN="localhost"', b"+CIPDOMAIN:" + quoted + b"\r\n" + OK)
    at.cmd(b'AT+CIPDOMAIN="nowhere.example"', (b"DNS Fail\r\n" if at.nonos else b"") + ERROR)
    if at.nonos:
        at.cmd(b"AT+CIPDNS_CUR?", b"+CIPDNS_CUR:208.67.222.222\r\n+CIPDNS_CUR:114.114.114.114\r\n" + OK)
        at.cmd(b'AT+CIPDNS_CUR=1,"127.0.0.53"', OK)
        at.cmd(b"AT+CIPDNS_CUR?", b"+CIPDNS_CUR:127.0.0.53\r\n" + OK)
    else:
        at.cmd(b"AT+CIPDNS?", b'+CIPDNS:0,"208.67.222.222","114.114.114.114","8.8.8.8"\r\n' + OK)
        at.cmd(b'AT+CIPDNS=1,"127.0.0.53"', OK)
        at.cmd(b"AT+CIPDNS?", b'+CIPDNS:1,"127.0.0.53"\r\n' + OK)
    answer = at.answer(b'AT+PING="localhost"')
    pattern = rb"\+(\d+)\r\n\r\nOK\r\n" if at.nonos else rb"\+PING:(\d+)\r\n\r\nOK\r\n"
    assert re.fullmatch(pattern, answer), answer
    at.cmd(b'AT+PING="192.0.2.1"', (b"+timeout\r\n" if at.nonos else b"+PING:TIMEOUT\r\n") + ERROR)


def test_cipdinfo_query(at: AtPort) -> None:
    at.cmd(b"AT+CIPDINFO=1", OK)
    at.cmd(b"AT+CIPDINFO?", b"+CIPDINFO:true\r\n" + OK if at.profile == "at3_esp32" else ERROR)


def test_sntp(at: AtPort) -> None:
    at.cmd(b"AT+CIPSNTPTIME?", b"+CIPSNTPTIME:Thu Jan  1 00:00:00 1970\r\n" + OK)
    at.join()
    at.cmd(b"AT+CIPSNTPCFG=1,8", OK)
    at.cmd(b"AT+CIPSNTPCFG?", b'+CIPSNTPCFG:1,8,"cn.ntp.org.cn","ntp.sjtu.edu.cn","us.pool.ntp.org"\r\n' + OK)
    at.cmd(b"AT+CIPSNTPCFG=1,15", ERROR)
    if at.profile == "at3_esp32":
        at.expect(b"+TIME_UPDATED\r\n")
    else:
        at.wait_for(lambda dev: dev.sntp_synced)
    answer = at.answer(b"AT+CIPSNTPTIME?")
    assert re.fullmatch(rb"\+CIPSNTPTIME:\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d 20\d\d\r\n\r\nOK\r\n", answer), answer


def test_five_link_limit(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    with tcp_server() as server:
        peers = [_open_link(at, server, i) for i in range(5)]
        try:
            at.cmd(b'AT+CIPSTART=5,"TCP","127.0.0.1",1', (b"ID ERROR\r\n" if at.nonos else b"") + ERROR)
            if not at.nonos:
                at.cmd(b'AT+CIPSTARTEX="TCP","127.0.0.1",1', ERROR)
        finally:
            for peer in peers:
                peer.close()


def test_udp_link(at: AtPort) -> None:
    at.join()
    at.cmd(b"AT+CIPMUX=1", OK)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(3)
        port = udp.getsockname()[1]
        at.cmd(b'AT+CIPSTART=4,"UDP","127.0.0.1",%d' % port, b"4,CONNECT\r\n" + OK)
        at.cmd(b"AT+CIPSEND=4,5", _prompt(at))
        at.send(b"ping!")
        at.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n")
        data, source = udp.recvfrom(100)
        assert data == b"ping!"
        udp.sendto(b"pong", source)
        at.expect(b"\r\n+IPD,4,4:pong")
        at.cmd(b"AT+CIPCLOSE=4", b"4,CLOSED\r\n" + OK)
