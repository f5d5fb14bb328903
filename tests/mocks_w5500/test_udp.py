"""Checklist items 32-38 (UDP), plus the LAN's DNS route: the router's port 53 answers from its table and
relays other names to a real DNS server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rrset
import pytest
from netsocket.mocks.w5500 import FakeSpiDev, LanConfig

from .spi import (
    IR_RECV,
    IR_SEND_OK,
    IR_TIMEOUT,
    SEND,
    SEND_MAC,
    UDP,
    UDP_MODE,
    Sn_DHAR,
    Sn_DIPR,
    Sn_DPORT,
    Sn_IR,
    Sn_RX_RD,
    Sn_RX_RSR,
    Sn_TX_WR,
    Wire,
    free_port,
    ip,
    rxbuf,
    sreg,
    txbuf,
    wait_until,
)


@pytest.fixture
def udp_peer() -> Iterator[socket.socket]:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5)
    yield peer
    peer.close()


def _sendto(wire: Wire, n: int, address: tuple[str, int], data: bytes) -> int:
    wire.write(sreg(n), Sn_DIPR, ip(address[0]))
    wire.w16(sreg(n), Sn_DPORT, address[1])
    ptr = wire.r16(sreg(n), Sn_TX_WR)
    wire.write(txbuf(n), ptr, data)
    wire.w16(sreg(n), Sn_TX_WR, (ptr + len(data)) & 0xFFFF)
    wire.command(n, SEND)
    wait_until(lambda: bool(wire.ir(n) & (IR_SEND_OK | IR_TIMEOUT)), timeout=5)
    result = wire.ir(n)
    wire.w8(sreg(n), Sn_IR, IR_SEND_OK | IR_TIMEOUT)
    return result


def test_send_is_split_into_mss_sized_datagrams(lan_wire: Wire, udp_peer: socket.socket) -> None:
    assert lan_wire.open(0, UDP_MODE, 6000) == UDP
    data = bytes(range(256)) * 8  # 2048 bytes: 1472 + 576
    assert _sendto(lan_wire, 0, udp_peer.getsockname(), data) & IR_SEND_OK
    first, source = udp_peer.recvfrom(4096)
    second, _ = udp_peer.recvfrom(4096)
    assert (len(first), len(second)) == (1472, 576)
    assert first + second == data
    assert source[0] == "127.0.0.1"


def test_receive_headers_partial_reads_and_drops(lan_wire: Wire, udp_peer: socket.socket) -> None:
    wire = lan_wire
    port = free_port(udp=True)
    assert wire.open(0, UDP_MODE, port) == UDP
    chip_address = ("127.0.0.1", port)
    udp_peer.sendto(b"A" * 1000, chip_address)
    udp_peer.sendto(b"B" * 1000, chip_address)
    udp_peer.sendto(b"C" * 1000, chip_address)  # 3 x 1008 > 2048: dropped by the chip
    wait_until(lambda: wire.r16_stable(0, Sn_RX_RSR) == 2016)
    assert wire.ir(0) & IR_RECV
    ptr = wire.r16(sreg(0), Sn_RX_RD)
    header = wire.read(rxbuf(0), ptr, 8)
    assert header[:4] == bytes([127, 0, 0, 1])
    assert int.from_bytes(header[4:6], "big") == udp_peer.getsockname()[1]
    assert int.from_bytes(header[6:8], "big") == 1000
    # Consume the first datagram in two RECVs: header, then payload (ioLibrary style).
    wire.w16(sreg(0), Sn_RX_RD, ptr + 8)
    wire.command(0, 0x40)
    assert wire.r16(sreg(0), Sn_RX_RSR) == 2008
    assert wire.read(rxbuf(0), ptr + 8, 1000) == b"A" * 1000
    wire.w16(sreg(0), Sn_RX_RD, ptr + 1008)
    wire.command(0, 0x40)
    assert wire.recv_datagram(0)[2] == b"B" * 1000
    assert wire.r16(sreg(0), Sn_RX_RSR) == 0
    udp_peer.sendto(b"D", chip_address)
    assert wire.recv_datagram(0)[2] == b"D"  # C was dropped, not queued


def test_unicast_to_an_absent_lan_host_times_out_and_the_socket_survives(lan_wire: Wire) -> None:
    wire = lan_wire
    wire.set_timeouts(rtr=1000, rcr=1)  # ARPTO 200 ms
    assert wire.open(0, UDP_MODE, 6002) == UDP
    started = time.monotonic()
    assert _sendto(wire, 0, ("192.168.77.123", 7), b"anyone?") == IR_TIMEOUT
    assert time.monotonic() - started >= 0.2
    assert wire.status(0) == UDP
    assert wire.ir(0) == 0  # TIMEOUT is clearable


def test_broadcast_needs_no_arp_and_works_with_no_address(wire: Wire) -> None:
    assert wire.open(0, UDP_MODE, 6003) == UDP
    assert _sendto(wire, 0, ("255.255.255.255", 9999), b"hello LAN") == IR_SEND_OK


def test_send_mac_skips_arp(lan_wire: Wire) -> None:
    wire = lan_wire
    assert wire.open(0, UDP_MODE, 6004) == UDP
    wire.write(sreg(0), Sn_DIPR, ip("192.168.77.123"))
    wire.w16(sreg(0), Sn_DPORT, 7)
    wire.write(sreg(0), Sn_DHAR, bytes.fromhex("020000000099"))
    wire.write(txbuf(0), 0, b"x")
    wire.w16(sreg(0), Sn_TX_WR, 1)
    wire.command(0, SEND_MAC)
    wait_until(lambda: wire.ir(0) == IR_SEND_OK)


def test_lan_host_alias_reaches_the_host(lan_wire: Wire, udp_peer: socket.socket) -> None:
    wire = lan_wire
    assert wire.open(0, UDP_MODE, 6005) == UDP
    port = udp_peer.getsockname()[1]
    assert _sendto(wire, 0, ("192.168.77.2", port), b"via alias") & IR_SEND_OK
    data, source = udp_peer.recvfrom(64)
    assert data == b"via alias"
    udp_peer.sendto(b"back", source)
    assert wire.recv_datagram(0) == ("192.168.77.2", port, b"back")


def _query(name: str, ident: int = 0x1234) -> bytes:
    query = dns.message.make_query(name, "A")
    query.id = ident
    return query.to_wire()


def test_dns_on_the_router_answers_from_its_table(lan_wire: Wire) -> None:
    wire = lan_wire
    assert wire.open(0, UDP_MODE, 6006) == UDP
    assert _sendto(wire, 0, ("192.168.77.1", 53), _query("localhost")) & IR_SEND_OK
    source, port, payload = wire.recv_datagram(0)
    assert (source, port) == ("192.168.77.1", 53)
    answer = dns.message.from_wire(payload)
    assert answer.id == 0x1234
    assert [item.address for item in answer.answer[0]] == ["127.0.0.1"]
    assert _sendto(wire, 0, ("192.168.77.1", 53), _query("nowhere.invalid")) & IR_SEND_OK
    assert dns.message.from_wire(wire.recv_datagram(0)[2]).rcode() == dns.rcode.NXDOMAIN


class _LoopbackDns:
    """A real UDP DNS server on 127.0.0.1 answering every A query with 10.9.8.7."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.queries: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            self.queries.append(query.question[0].name.to_text())
            response = dns.message.make_response(query)
            response.answer.append(dns.rrset.from_text(query.question[0].name, 30, "IN", "A", "10.9.8.7"))
            self.sock.sendto(response.to_wire(), source)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_dns_queries_for_other_names_are_relayed_to_a_loopback_server() -> None:
    server = _LoopbackDns()
    try:
        with FakeSpiDev(lan=LanConfig(dns_server=server.sock.getsockname())) as spi:
            wire = Wire(spi)
            wire.configure("192.168.77.50")
            assert wire.open(3, UDP_MODE, 6007) == UDP
            assert _sendto(wire, 3, ("192.168.77.1", 53), _query("example.test", 77)) & IR_SEND_OK
            source, port, payload = wire.recv_datagram(3)
            assert (source, port) == ("192.168.77.1", 53)
            answer = dns.message.from_wire(payload)
            assert answer.id == 77
            assert [item.address for item in answer.answer[0]] == ["10.9.8.7"]
            assert server.queries == ["example.test."]
    finally:
        server.close()


def test_dns_server_must_be_on_loopback() -> None:
    with pytest.raises(ValueError):
        LanConfig(dns_server=("192.0.2.1", 53))


def test_oversized_host_datagram_is_dropped(lan_wire: Wire, udp_peer: socket.socket) -> None:
    wire = lan_wire
    port = free_port(udp=True)
    assert wire.open(0, UDP_MODE, port) == UDP
    udp_peer.sendto(b"z" * 1500, ("127.0.0.1", port))  # the chip takes no IP fragments
    udp_peer.sendto(b"small", ("127.0.0.1", port))
    assert wire.recv_datagram(0)[2] == b"small"
