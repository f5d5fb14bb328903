"""The W5500 driver waits without spinning the bus, acknowledges interrupts in one place, and treats a chip that
returns garbage (MISO stuck at 0xFF) as a device error that never reaches the application's buffer (issue 12)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.w5500 import W5500Interface
from netsocket.drivers.w5500.registers import Sn
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NsapiConnectionStatus, NsapiError, SocketAddress, TCPSocket
from tests.servers import TcpServer
from tests.w5500.conftest import MakeInterface, StatusLog


class StalledPeer:
    """A loopback TCP server that accepts one client and reads nothing until ``release()``."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = SocketAddress("127.0.0.1", self.server.getsockname()[1])
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.server.settimeout(5)
        self.conn, _ = self.server.accept()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def stalled_peer() -> Iterator[StalledPeer]:
    peer = StalledPeer()
    yield peer
    peer.close()


def _fill_until_blocked(sock: TCPSocket) -> None:
    """Sends until every buffer on the way is full (a send that times out with nothing taken)."""
    sock.set_timeout(200)
    chunk = bytes(65536)
    end = time.monotonic() + 20
    while sock.send(chunk) != NsapiError.CONNECTION_TIMEOUT:
        assert time.monotonic() < end, "the peer's window never filled"


@pytest.mark.parametrize("wired", [True, False], ids=["intn", "polling"])
def test_a_blocked_send_does_not_spin_the_bus(wired: bool, stalled_peer: StalledPeer) -> None:
    fake = FakeSpiDev()
    interface = W5500Interface(fake, interrupt=fake if wired else None)
    interface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    try:
        assert interface.connect() == NsapiError.OK
        with TCPSocket() as sock:
            assert sock.open(interface) == NsapiError.OK
            assert sock.connect(stalled_peer.address) == NsapiError.OK
            stalled_peer.accept()
            _fill_until_blocked(sock)
            sock.set_timeout(1000)
            fake.stats.reset()
            start = time.monotonic()
            assert sock.send(bytes(4096)) == NsapiError.CONNECTION_TIMEOUT
            rate = fake.stats.frames / (time.monotonic() - start)
        # Before issue 12 the service thread polled every 0.5 ms while a send waited: about 1300 transactions/s.
        # Now the wait for TX space backs off to the poll interval (5 ms): at most 200 rounds/s, a few frames each.
        assert rate < 450, f"{rate:.0f} SPI transactions/s while a send is blocked"
    finally:
        interface.close()
        fake.close()


def test_socket_interrupts_are_acknowledged_by_the_service_thread_only(
    make_interface: MakeInterface, tcp_echo: TcpServer
) -> None:
    interface, fake = make_interface()
    acknowledgers: set[str] = set()
    real_xfer2 = fake.xfer2

    def spy(values: list[int], *args: int) -> list[int]:
        # A write frame (RWB set) to Sn_IR of a socket register block, acknowledging some bits (not the reset of
        # every bit that OPEN/CLOSE do).
        is_sn_ir_write = len(values) == 4 and values[2] & 0x04 and (values[2] >> 3) % 4 == 1 and values[1] == Sn.IR
        if is_sn_ir_write and values[3] != 0x1F:
            acknowledgers.add(threading.current_thread().name)
        return real_xfer2(values, *args)

    fake.xfer2 = spy  # type: ignore[method-assign]
    data = bytes(range(256)) * 800
    with TCPSocket() as sock:
        assert sock.open(interface) == NsapiError.OK
        sock.set_timeout(10_000)
        assert sock.connect(SocketAddress(*tcp_echo.address)) == NsapiError.OK
        received = bytearray()
        buffer = bytearray(4096)
        for start in range(0, len(data), 8192):
            assert sock.send(data[start : start + 8192]) == min(8192, len(data) - start)
            while len(received) < min(start + 8192, len(data)):
                count = sock.recv(buffer)
                assert count > 0, f"recv gave {count!s}"
                received += buffer[:count]
    assert bytes(received) == data
    assert acknowledgers == {"w5500-service"}, f"Sn_IR acknowledged from {sorted(acknowledgers)}"


def test_miso_stuck_high_is_a_device_error_and_no_garbage_reaches_the_buffer(
    make_interface: MakeInterface, tcp_echo: TcpServer
) -> None:
    interface, fake = make_interface()
    log = StatusLog()
    interface.attach(log)
    with TCPSocket() as sock:
        assert sock.open(interface) == NsapiError.OK
        sock.set_timeout(3000)
        assert sock.connect(SocketAddress(*tcp_echo.address)) == NsapiError.OK
        assert sock.send(b"x" * 1000) == 1000
        first = bytearray(10)
        assert sock.recv(first) == 10 and first == b"x" * 10  # the rest of the echo waits in the chip
        fake.faults.miso_stuck = 0xFF
        buffer = bytearray(4096)
        start = time.monotonic()
        result = sock.recv(buffer)
        assert result == NsapiError.DEVICE_ERROR, f"recv gave {result!s}"
        assert time.monotonic() - start < 1.0
        assert buffer == bytes(4096), "bytes from a dead chip were handed to the application"
        assert log.wait_for(NsapiConnectionStatus.DISCONNECTED, timeout=2.0)
        assert interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
        assert sock.send(b"y") == NsapiError.DEVICE_ERROR
        # The driver backs off the bus instead of polling a dead chip harder (3136 transactions/s before).
        fake.stats.reset()
        quiet_start = time.monotonic()
        assert not log.wait_for(NsapiConnectionStatus.GLOBAL_UP, timeout=1.0)
        rate = fake.stats.frames / (time.monotonic() - quiet_start)
        assert rate < 20, f"{rate:.0f} SPI transactions/s on a dead chip"
    fake.faults.miso_stuck = None
    assert interface.connect() == NsapiError.OK
    assert interface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP


def test_garbage_is_detected_by_the_idle_poll(make_interface: MakeInterface) -> None:
    interface, fake = make_interface()
    log = StatusLog()
    interface.attach(log)
    fake.faults.miso_stuck = 0xFF
    assert log.wait_for(NsapiConnectionStatus.DISCONNECTED, timeout=2.0)
    with TCPSocket() as sock:
        assert sock.open(interface) == NsapiError.DEVICE_ERROR
    fake.faults.miso_stuck = None
