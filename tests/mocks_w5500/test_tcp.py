"""Checklist items 20-31: TCP through the emulated LAN to real host sockets on loopback."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time

import pytest
from netsocket.mocks.w5500 import FakeSpiDev, LanConfig

from .spi import (
    CLOSE,
    CLOSE_WAIT,
    CLOSED,
    DISCON,
    ESTABLISHED,
    FIN_WAIT,
    INIT,
    IR_CON,
    IR_DISCON,
    IR_RECV,
    IR_TIMEOUT,
    LISTEN,
    RECV,
    SEND_KEEP,
    SOCK_LISTEN,
    SYNSENT,
    TCP_MODE,
    Sn_DHAR,
    Sn_DIPR,
    Sn_DPORT,
    Sn_IR,
    Sn_MSSR,
    Sn_RX_RSR,
    Wire,
    free_port,
    sreg,
    wait_until,
)


def _connected(wire: Wire, server: socket.socket, n: int = 0) -> socket.socket:
    wire.connect(n, ("127.0.0.1", server.getsockname()[1]))
    wait_until(lambda: wire.status(n) == ESTABLISHED)
    peer, _ = server.accept()
    peer.settimeout(5)
    return peer


def test_connect_to_a_loopback_server(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    wire.connect(0, ("127.0.0.1", tcp_server.getsockname()[1]))
    assert wire.status(0) in (SYNSENT, ESTABLISHED)
    wait_until(lambda: wire.status(0) == ESTABLISHED)
    assert wire.ir(0) & IR_CON
    assert wire.read(sreg(0), Sn_DHAR, 6) == bytes.fromhex("024e53000001")  # the router's MAC (via GAR)
    assert wire.r16(sreg(0), Sn_MSSR) == 1460
    peer, _ = tcp_server.accept()
    with peer:
        wire.send(0, b"ping")
        assert peer.recv(4) == b"ping"


def test_connect_refused_by_the_host_goes_to_closed(lan_wire: Wire) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    lan_wire.connect(0, ("127.0.0.1", port))
    wait_until(lambda: lan_wire.status(0) == CLOSED)
    assert not lan_wire.ir(0) & IR_CON


def test_connect_without_answer_times_out_after_tcpto() -> None:
    lan = LanConfig(blackholes={("127.0.0.1", 9)})
    with FakeSpiDev(lan=lan) as spi:
        wire = Wire(spi)
        wire.configure("192.168.77.50")
        wire.set_timeouts(rtr=500, rcr=2)  # TCPTO = (50 + 100 + 200) ms
        started = time.monotonic()
        wire.connect(0, ("127.0.0.1", 9))
        assert wire.status(0) == SYNSENT
        wait_until(lambda: wire.status(0) == CLOSED)
        elapsed = time.monotonic() - started
        assert wire.ir(0) & IR_TIMEOUT
        assert 0.3 <= elapsed < 2.0


@pytest.mark.parametrize(
    ("gateway", "destination"),
    [("0.0.0.0", "127.0.0.1"), ("192.168.77.1", "10.1.2.3"), ("192.168.77.1", "192.168.77.77")],
    ids=["no-gateway", "non-loopback", "absent-lan-host"],
)
def test_unreachable_next_hop_times_out_after_arpto(spi: FakeSpiDev, gateway: str, destination: str) -> None:
    wire = Wire(spi)
    wire.configure("192.168.77.50", gateway=gateway)
    wire.set_timeouts(rtr=1000, rcr=2)  # ARPTO = 100 ms x 3
    started = time.monotonic()
    wire.connect(0, (destination, 80))
    wait_until(lambda: wire.status(0) == CLOSED)
    assert wire.ir(0) & IR_TIMEOUT
    assert 0.3 <= time.monotonic() - started < 2.0


def test_listen_sockets_share_a_port_and_each_takes_one_connection(lan_wire: Wire) -> None:
    wire = lan_wire
    port = free_port()
    for n in (2, 5):
        assert wire.open(n, TCP_MODE, port) == INIT
        wire.command(n, LISTEN)
        assert wire.status(n) == SOCK_LISTEN
    assert wire.spi.host_listen_address(port) == ("127.0.0.1", port)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        wait_until(lambda: wire.status(2) == ESTABLISHED and wire.status(5) == ESTABLISHED)
        for n, client in zip((2, 5), clients, strict=False):
            assert wire.ir(n) & IR_CON
            assert wire.read(sreg(n), Sn_DIPR, 4) == bytes([127, 0, 0, 1])
            assert wire.r16(sreg(n), Sn_DPORT) in {c.getsockname()[1] for c in clients}
            assert wire.read(sreg(n), Sn_DHAR, 6) != b"\xff" * 6
            client.sendall(b"hi %d" % n)
        seen = {wire.recv_exactly(2, 4), wire.recv_exactly(5, 4)}
        assert seen == {b"hi 2", b"hi 5"}
        # No socket listens any more: the chip refuses further connections.
        assert wire.spi.host_listen_address(port) is None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        for client in clients:
            client.close()


def test_connection_beyond_the_listening_sockets_is_reset() -> None:
    # No pump thread: the emulator looks at the host listener only when the test clocks a frame, so both
    # connections are waiting in the kernel's backlog when it does.
    with FakeSpiDev(threaded=False) as spi:
        wire = Wire(spi)
        wire.configure("192.168.77.50")
        port = free_port()
        wire.open(1, TCP_MODE, port)
        wire.command(1, LISTEN)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as first,
            socket.create_connection(("127.0.0.1", port), timeout=5) as second,
        ):
            wait_until(lambda: wire.status(1) == ESTABLISHED)
            accepted = wire.r16(sreg(1), Sn_DPORT)
            assert accepted in (first.getsockname()[1], second.getsockname()[1])
            refused = second if first.getsockname()[1] == accepted else first
            with pytest.raises(ConnectionResetError):
                refused.recv(1)


def test_receive_window_backpressure_and_recv_reraise(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        payload = os.urandom(300_000)
        peer.setblocking(False)
        sent = 0
        # The chip holds 2 KB; the rest stays in the host kernel until the driver frees ring space.
        for _ in range(1000):
            try:
                sent += peer.send(payload[sent : sent + 65536])
            except BlockingIOError:
                break
        wait_until(lambda: wire.r16_stable(0, Sn_RX_RSR) == 2048)
        assert all(wire.r16_stable(0, Sn_RX_RSR) == 2048 for _ in range(50))
        wire.w8(sreg(0), Sn_IR, IR_RECV)
        first = wire.recv(0, 100)
        assert wire.ir(0) & IR_RECV  # data left after RECV: RECV raised again
        received = bytearray(first)
        while len(received) < len(payload):
            if sent < len(payload):
                with contextlib.suppress(BlockingIOError):
                    sent += peer.send(payload[sent : sent + 65536])
            received += wire.recv(0)
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_echo_larger_than_the_buffers_wraps_the_rings(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        data = os.urandom(20_000)
        for start in range(0, len(data), 1500):
            wire.send(0, data[start : start + 1500])
        echoed = bytearray()
        while len(echoed) < len(data):
            echoed += peer.recv(65536)
        assert echoed == data
        peer.sendall(data)
        assert wire.recv_exactly(0, len(data)) == data


def test_peer_fin_gives_close_wait_with_data_still_readable(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        peer.sendall(b"last words")
        peer.shutdown(socket.SHUT_WR)
        wait_until(lambda: wire.status(0) == CLOSE_WAIT)
        assert wire.ir(0) & IR_DISCON
        wire.w8(sreg(0), Sn_IR, IR_DISCON)
        assert wire.recv_exactly(0, 10) == b"last words"
        assert not wire.ir(0) & IR_DISCON  # raised once per FIN
        wire.send(0, b"reply")  # half-closed: sending still works
        assert peer.recv(5) == b"reply"
        wire.command(0, DISCON)  # LAST_ACK, then CLOSED
        wait_until(lambda: wire.status(0) == CLOSED)
        assert peer.recv(5) == b""


def test_peer_reset_closes_the_socket(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()
    wait_until(lambda: wire.status(0) == CLOSED)


def test_discon_waits_in_fin_wait_for_the_peer_fin(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        wire.send(0, b"bye")
        wire.command(0, DISCON)
        assert wire.status(0) == FIN_WAIT
        assert peer.recv(16) == b"bye"
        assert peer.recv(16) == b""  # our FIN
        peer.sendall(b"late")  # data still flows to a FIN_WAIT socket
        peer.shutdown(socket.SHUT_WR)
        wait_until(lambda: wire.status(0) == CLOSED)
        assert wire.ir(0) & IR_DISCON


def test_discon_without_peer_fin_times_out(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        wire.command(0, DISCON)
        wait_until(lambda: wire.status(0) == CLOSED)
        assert wire.ir(0) & IR_TIMEOUT


def test_close_resets_the_host_connection_without_fin(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        wire.command(0, CLOSE)
        assert wire.status(0) == CLOSED
        with pytest.raises(ConnectionResetError):
            peer.recv(1)


def test_send_with_the_cable_pulled_times_out_and_link_down_keeps_state(
    spi: FakeSpiDev, tcp_server: socket.socket
) -> None:
    wire = Wire(spi)
    wire.configure("192.168.77.50")
    wire.set_timeouts()
    peer = _connected(wire, tcp_server)
    with peer:
        spi.set_link(False)
        assert wire.status(0) == ESTABLISHED  # state survives the link drop
        wire.send(0, b"into the void", wait_ok=False)
        wait_until(lambda: wire.status(0) == CLOSED)
        assert wire.ir(0) & IR_TIMEOUT


def test_held_data_is_sent_when_the_link_returns_in_time(spi: FakeSpiDev, tcp_server: socket.socket) -> None:
    wire = Wire(spi)
    wire.configure("192.168.77.50")
    peer = _connected(wire, tcp_server)
    with peer:
        spi.set_link(False)
        wire.send(0, b"delayed", wait_ok=False)
        spi.set_link(True)
        assert peer.recv(16) == b"delayed"
        wait_until(lambda: wire.ir(0) & 0x10 == 0x10)


def test_send_keep_with_the_link_down_times_out(spi: FakeSpiDev, tcp_server: socket.socket) -> None:
    wire = Wire(spi)
    wire.configure("192.168.77.50")
    wire.set_timeouts()
    peer = _connected(wire, tcp_server)
    with peer:
        wire.command(0, SEND_KEEP)
        assert wire.status(0) == ESTABLISHED
        spi.set_link(False)
        wire.command(0, SEND_KEEP)
        wait_until(lambda: wire.status(0) == CLOSED)
        assert wire.ir(0) & IR_TIMEOUT


def test_recv_command_on_an_empty_socket_raises_nothing(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    peer = _connected(wire, tcp_server)
    with peer:
        wire.w8(sreg(0), Sn_IR, 0xFF)
        wire.command(0, RECV)
        assert wire.ir(0) == 0


@pytest.mark.slow
def test_five_megabytes_echo_intact_with_16k_buffers(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    for n in range(8):
        wire.w8(sreg(n), 0x1E, 16 if n == 0 else 0)
        wire.w8(sreg(n), 0x1F, 16 if n == 0 else 0)
    peer = _connected(wire, tcp_server)
    payload = os.urandom(5 * 1024 * 1024)
    echoed = bytearray()

    def echo() -> None:
        while len(echoed) < len(payload):
            chunk = peer.recv(1 << 16)
            if not chunk:
                return
            echoed.extend(chunk)
            peer.sendall(chunk)

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        wire.spi.stats.reset()
        received = bytearray()
        sent = 0
        while len(received) < len(payload):
            if sent < len(payload) and wire.r16_stable(0, 0x20) >= 4093:  # Sn_TX_FSR
                chunk = payload[sent : sent + 4093]
                wire.send(0, chunk, wait_ok=False)
                sent += len(chunk)
            received += wire.recv(0, 4093)
        thread.join(timeout=30)
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        assert wire.spi.stats.bytes / (2 * len(payload)) < 1.05  # headers and register polling included
    finally:
        peer.close()
        thread.join(timeout=5)
