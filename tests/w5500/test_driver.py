"""The W5500 driver end to end on the emulator: sockets carry real traffic to loopback servers."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
import time

import pytest
from netsocket.drivers.w5500 import W5500Interface
from netsocket.drivers.w5500.registers import Sn
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import (
    NsapiConnectionStatus,
    NsapiError,
    NsapiSocketLevel,
    NsapiSocketOption,
    SocketAddress,
    TCPSocket,
    UDPSocket,
)
from tests.servers import TcpServer, UdpServer
from tests.w5500.conftest import STATIC_IP, MakeInterface, StatusLog


def _tcp(interface: W5500Interface, server: TcpServer, timeout_ms: int = 10_000) -> TCPSocket:
    sock = TCPSocket()
    assert sock.open(interface) == NsapiError.OK
    sock.set_timeout(timeout_ms)
    assert sock.connect(SocketAddress(*server.address)) == NsapiError.OK
    return sock


def _recv_exactly(sock: TCPSocket, size: int) -> bytes:
    out = bytearray()
    buffer = bytearray(8192)
    while len(out) < size:
        count = sock.recv(buffer)
        assert count > 0, f"recv gave {count} after {len(out)} of {size} bytes"
        out += buffer[:count]
    return bytes(out)


def _echo_stream(sock: TCPSocket, data: bytes) -> bytes:
    """Send ``data`` from one thread while receiving the echo on this one."""
    errors: list[object] = []

    def send() -> None:
        result = sock.send(data)
        if result != len(data):
            errors.append(result)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        return _recv_exactly(sock, len(data))
    finally:
        sender.join(timeout=30)
        assert not errors, f"send gave {errors}"


def test_static_configuration_is_reported(make_interface: MakeInterface) -> None:
    interface, _ = make_interface(mac="02:00:00:00:00:07")
    address = SocketAddress()
    assert interface.get_ip_address(address) == NsapiError.OK and address.get_ip_address() == STATIC_IP
    assert interface.get_netmask(address) == NsapiError.OK and address.get_ip_address() == "255.255.255.0"
    assert interface.get_gateway(address) == NsapiError.OK and address.get_ip_address() == "192.168.77.1"
    assert interface.get_mac_address() == "02:00:00:00:00:07"
    assert interface.chip.get_mac() == bytes.fromhex("020000000007")
    assert interface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
    assert interface.connect() == NsapiError.IS_CONNECTED


def test_tcp_echo(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, _ = make_interface()
    with _tcp(interface, tcp_echo) as sock:
        for size in (1, 10, 100, 1460, 2048, 3000, 20_000):
            data = os.urandom(size)
            assert sock.send(data) == size
            assert _recv_exactly(sock, size) == data


def test_udp_echo_reports_the_real_sender(make_interface: MakeInterface, udp_echo: UdpServer) -> None:
    interface, _ = make_interface()
    sock = UDPSocket()
    assert sock.open(interface) == NsapiError.OK
    sock.set_timeout(5000)
    try:
        server = SocketAddress(*udp_echo.address)
        for size in (1, 100, 1472):
            data = os.urandom(size)
            assert sock.sendto(server, data) == size
            sender = SocketAddress()
            buffer = bytearray(2000)
            assert sock.recvfrom(sender, buffer) == size
            assert bytes(buffer[:size]) == data
            assert sender == server
        assert sock.sendto(server, bytes(1473)) == NsapiError.PARAMETER
    finally:
        sock.close()


def test_udp_datagrams_stay_separate_and_truncate(make_interface: MakeInterface, udp_echo: UdpServer) -> None:
    interface, _ = make_interface()
    sock = UDPSocket()
    assert sock.open(interface) == NsapiError.OK
    sock.set_timeout(5000)
    try:
        server = SocketAddress(*udp_echo.address)
        assert sock.sendto(server, b"first datagram") == 14
        assert sock.sendto(server, b"second") == 6
        assert udp_echo.wait_received(2, 5)
        small = bytearray(5)
        assert sock.recvfrom(None, small) == 5 and small == b"first"
        buffer = bytearray(100)
        assert sock.recvfrom(None, buffer) == 6 and buffer[:6] == b"second"
    finally:
        sock.close()


def test_corrupt_udp_header_is_dropped_not_delivered(make_interface: MakeInterface, udp_echo: UdpServer) -> None:
    interface, fake = make_interface()
    fake.faults.corrupt_rx_headers = 1
    sock = UDPSocket()
    assert sock.open(interface) == NsapiError.OK
    sock.set_timeout(500)
    try:
        server = SocketAddress(*udp_echo.address)
        assert sock.sendto(server, b"mangled") == 7
        assert udp_echo.wait_received(1, 5)
        buffer = bytearray(100)
        assert sock.recvfrom(None, buffer) == NsapiError.CONNECTION_TIMEOUT
        sock.set_timeout(5000)
        assert sock.sendto(server, b"clean") == 5
        assert sock.recvfrom(None, buffer) == 5 and buffer[:5] == b"clean"
    finally:
        sock.close()


def test_server_accepts_host_clients_and_rearms(make_interface: MakeInterface) -> None:
    interface, _ = make_interface()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listener = TCPSocket()
    assert listener.open(interface) == NsapiError.OK
    listener.set_timeout(5000)
    assert listener.bind(port) == NsapiError.OK
    assert listener.listen(2) == NsapiError.OK
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        for round_ in range(4):  # more connections than hardware sockets in LISTEN at once: accept re-arms
            if round_ >= 2:
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            accepted, err = listener.accept()
            assert err == NsapiError.OK and accepted is not None
            peer = SocketAddress()
            assert accepted.getpeername(peer) == NsapiError.OK and peer.get_ip_address() == "127.0.0.1"
            client = next(c for c in clients if c.getsockname()[1] == peer.get_port())
            client.sendall(b"hello %d" % round_)
            assert _recv_exactly(accepted, 7) == b"hello %d" % round_
            assert accepted.send(b"reply") == 5
            assert client.recv(5) == b"reply"
            accepted.close()
            assert client.recv(1) == b""  # orderly close reached the host client
    finally:
        for client in clients:
            client.close()
        listener.close()
    assert interface.get_stack().open_sockets == 0


def test_dhcp_obtains_an_address_and_the_dns_server(make_interface: MakeInterface) -> None:
    log = StatusLog()
    interface, _ = make_interface(static=False, connect=False)
    interface.attach(log)
    assert interface.connect() == NsapiError.OK
    assert log.statuses == [NsapiConnectionStatus.CONNECTING, NsapiConnectionStatus.GLOBAL_UP]
    address = SocketAddress()
    assert interface.get_ip_address(address) == NsapiError.OK
    assert address.get_ip_address() is not None and address.get_ip_address().startswith("192.168.77.1")
    assert interface.get_gateway(address) == NsapiError.OK and address.get_ip_address() == "192.168.77.1"
    assert interface.get_netmask(address) == NsapiError.OK and address.get_ip_address() == "255.255.255.0"
    assert interface.chip.get_network().ip == SocketAddress(interface_ip(interface)).get_ip_bytes()
    dns = SocketAddress()
    assert interface.get_dns_server(0, dns) == NsapiError.OK and dns.get_ip_address() == "192.168.77.1"
    resolved = SocketAddress()
    assert interface.gethostbyname("localhost", resolved) == NsapiError.OK
    assert resolved.get_ip_address() == "127.0.0.1"
    assert interface.get_stack().open_sockets == 0  # the DHCP socket is closed while the lease is held


def interface_ip(interface: W5500Interface) -> str:
    address = SocketAddress()
    interface.get_ip_address(address)
    return str(address.get_ip_address())


def test_dhcp_failure_is_reported(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False, connect=False, dhcp_timeout=1.0)
    fake.emulator.dhcp.fail_next(-1)
    assert interface.connect() == NsapiError.DHCP_FAILURE
    assert interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED


def test_short_lease_renews_during_a_long_transfer(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    from netsocket.mocks.w5500 import LanConfig

    log = StatusLog()
    interface, fake = make_interface(static=False, connect=False, lan=LanConfig(lease_time=2), dhcp_min_lease=1)
    interface.attach(log)
    assert interface.connect() == NsapiError.OK
    dhcp = interface.dhcp
    assert dhcp is not None and dhcp.lease is not None and dhcp.lease.t1 == 1.0
    ip_before = interface_ip(interface)
    with _tcp(interface, tcp_echo) as sock:
        deadline = time.monotonic() + 20
        moved = 0
        while dhcp.bound_count < 4:  # the first lease plus three renewals
            assert time.monotonic() < deadline, f"only {dhcp.bound_count - 1} renewals"
            data = os.urandom(16_384)
            assert sock.send(data) == len(data)
            assert _recv_exactly(sock, len(data)) == data
            moved += len(data)
    assert interface_ip(interface) == ip_before
    assert NsapiConnectionStatus.DISCONNECTED not in log.statuses
    requests = [name for name, _ in fake.emulator.dhcp.log if name == "REQUEST"]
    assert len(requests) >= 4
    assert moved > 0


def test_lease_loss_is_a_status_change(make_interface: MakeInterface) -> None:
    from netsocket.mocks.w5500 import LanConfig

    log = StatusLog()
    interface, fake = make_interface(
        static=False, connect=False, lan=LanConfig(lease_time=2), dhcp_initial_backoff=0.5, dhcp_min_lease=1
    )
    interface.attach(log)
    assert interface.connect() == NsapiError.OK
    fake.emulator.dhcp.fail_next(-1)  # renewals and rebinding go unanswered
    assert log.wait_for(NsapiConnectionStatus.DISCONNECTED, timeout=10)
    assert interface.get_ip_address(SocketAddress()) == NsapiError.NO_ADDRESS
    fake.emulator.dhcp.fail_next(0)
    assert log.wait_for(NsapiConnectionStatus.GLOBAL_UP, count=2, timeout=20)


def test_five_megabytes_echo_intact(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, _ = make_interface()
    data = os.urandom(5 * 1024 * 1024)
    with _tcp(interface, tcp_echo, timeout_ms=60_000) as sock:
        echoed = _echo_stream(sock, data)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()


def test_stuck_command_register_gives_device_error_not_a_hang(
    make_interface: MakeInterface, tcp_echo: TcpServer
) -> None:
    interface, fake = make_interface()
    fake.faults.stuck_cr.update(range(8))
    sock = TCPSocket()
    assert sock.open(interface) == NsapiError.OK
    sock.set_timeout(10_000)
    started = time.monotonic()
    assert sock.connect(SocketAddress(*tcp_echo.address)) == NsapiError.DEVICE_ERROR
    assert time.monotonic() - started < 2
    sock.close()


def test_wrong_chip_gives_device_error() -> None:
    class Silent:
        def xfer2(self, data: list[int]) -> list[int]:
            return [0] * len(data)

    interface = W5500Interface(Silent())
    assert interface.connect() == NsapiError.DEVICE_ERROR
    assert interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED


def test_vanished_bus_gives_device_error_on_every_call(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, fake = make_interface()
    log = StatusLog()
    interface.attach(log)
    sock = _tcp(interface, tcp_echo)
    try:
        fake.emulator.close()  # the bus is gone: every transfer now fails
        assert sock.send(b"x") == NsapiError.DEVICE_ERROR
        assert log.wait_for(NsapiConnectionStatus.DISCONNECTED)
        assert sock.recv(bytearray(10)) == NsapiError.DEVICE_ERROR
    finally:
        sock.close()


def test_link_loss_and_return_are_status_changes(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False)
    log = StatusLog()
    interface.attach(log)
    fake.set_link(False)
    assert log.wait_for(NsapiConnectionStatus.DISCONNECTED)
    fake.set_link(True)
    assert log.wait_for(NsapiConnectionStatus.GLOBAL_UP)


def test_no_link_at_connect_gives_no_connection(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(connect=False, link_timeout=0.3)
    fake.set_link(False)
    assert interface.connect() == NsapiError.NO_CONNECTION


def test_keepalive_programs_the_chip(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, _ = make_interface()
    sock = TCPSocket()
    assert sock.open(interface) == NsapiError.OK
    try:
        assert sock.setsockopt(NsapiSocketLevel.SOCKET, NsapiSocketOption.KEEPALIVE, 1) == NsapiError.OK
        assert sock.setsockopt(NsapiSocketLevel.SOCKET, NsapiSocketOption.KEEPIDLE, 15_000) == NsapiError.OK
        assert sock.connect(SocketAddress(*tcp_echo.address)) == NsapiError.OK
        assert sock.getsockopt(NsapiSocketLevel.SOCKET, NsapiSocketOption.KEEPALIVE) == (NsapiError.OK, 1)
        values = {interface.chip.read_socket(n, Sn.KPALVTR)[0] for n in range(8)}
        assert 3 in values  # 15 s in the chip's 5-second units
    finally:
        sock.close()


def test_interrupt_line_drives_the_service_thread(tcp_echo: TcpServer) -> None:
    with FakeSpiDev() as fake:
        interface = W5500Interface(fake, interrupt=fake)
        interface.set_network(SocketAddress(STATIC_IP), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
        try:
            assert interface.connect() == NsapiError.OK
            with _tcp(interface, tcp_echo) as sock:
                data = os.urandom(50_000)
                assert _echo_stream(sock, data) == data
        finally:
            interface.close()


def test_sockets_run_out_at_eight(make_interface: MakeInterface) -> None:
    interface, _ = make_interface()
    sockets = []
    try:
        for _ in range(8):
            sock = UDPSocket()
            assert sock.open(interface) == NsapiError.OK
            sockets.append(sock)
        assert UDPSocket().open(interface) == NsapiError.NO_SOCKET
    finally:
        for sock in sockets:
            sock.close()


def test_lost_send_ok_does_not_stall_sending(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, fake = make_interface()
    fake.faults.drop_send_ok.update(range(8))
    with _tcp(interface, tcp_echo) as sock:
        started = time.monotonic()
        for round_ in range(3):
            data = b"round %d" % round_
            assert sock.send(data) == len(data)
            assert _recv_exactly(sock, len(data)) == data
        assert time.monotonic() - started < 5  # one grace period per SEND, not a hang


def test_spurious_status_values_are_transient(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, fake = make_interface()
    with _tcp(interface, tcp_echo) as sock:
        for n in range(8):
            fake.faults.inject_spurious_sr(n, 0x01, reads=3)
        for size in (10, 3000):
            data = os.urandom(size)
            assert sock.send(data) == size
            assert _recv_exactly(sock, size) == data
    udp = UDPSocket()
    fake.faults.spurious_sr.clear()
    for n in range(8):
        fake.faults.inject_spurious_sr(n, 0x01, reads=2)
    assert udp.open(interface) == NsapiError.OK
    try:
        assert udp.bind(0) == NsapiError.OK
    finally:
        udp.close()


def test_non_blocking_connect_reports_progress_by_callback(make_interface: MakeInterface) -> None:
    interface, _ = make_interface(static=False, connect=False)
    log = StatusLog()
    interface.attach(log)
    assert interface.set_blocking(False) == NsapiError.OK
    assert interface.connect() == NsapiError.OK
    assert interface.connect() == NsapiError.BUSY
    assert log.wait_for(NsapiConnectionStatus.GLOBAL_UP)
    assert log.statuses == [NsapiConnectionStatus.CONNECTING, NsapiConnectionStatus.GLOBAL_UP]
    assert interface.disconnect() == NsapiError.OK
    assert interface.connect() == NsapiError.OK
    assert interface.disconnect() == NsapiError.OK  # while the connect is still under way: cancelled
    assert interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED


def test_from_url_names_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spidev", None)  # as on a PC without the w5500 extra
    with pytest.raises(ImportError, match=r"netsocket\[w5500\]"):
        W5500Interface.from_url("w5500:///dev/spidev0.0?speed_hz=20000000")
    monkeypatch.setitem(sys.modules, "pyftdi.spi", None)
    with pytest.raises(ImportError, match=r"netsocket\[ftdi\]"):
        W5500Interface.from_url("w5500://ftdi:232h/1")
    with pytest.raises(ValueError):
        W5500Interface.from_url("esp:///dev/ttyUSB0")


def test_connect_again_after_link_loss_starts_clean(make_interface: MakeInterface, tcp_echo: TcpServer) -> None:
    interface, fake = make_interface(link_timeout=0.3)
    log = StatusLog()
    interface.attach(log)
    old = _tcp(interface, tcp_echo)
    try:
        fake.set_link(False)
        assert log.wait_for(NsapiConnectionStatus.DISCONNECTED)
        assert interface.connect() == NsapiError.NO_CONNECTION  # still no cable
        assert old.send(b"x") == NsapiError.NO_SOCKET  # connect reset the chip: old sockets are gone
        fake.set_link(True)
        assert interface.connect() == NsapiError.OK
        with _tcp(interface, tcp_echo) as fresh:
            assert fresh.send(b"again") == 5
            assert _recv_exactly(fresh, 5) == b"again"
    finally:
        old.close()


def test_static_without_an_address_is_a_parameter_error(make_interface: MakeInterface) -> None:
    interface, _ = make_interface(static=False, connect=False)
    assert interface.set_dhcp(False) == NsapiError.OK
    assert interface.connect() == NsapiError.PARAMETER
    assert interface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
    assert interface.set_dhcp(True) == NsapiError.OK
    assert interface.connect() == NsapiError.OK


def test_disconnect_releases_the_dhcp_lease(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False)
    assert fake.emulator.dhcp.leases
    assert interface.disconnect() == NsapiError.OK
    assert not fake.emulator.dhcp.leases
    assert ("RELEASE", interface_ip_text(fake)) in fake.emulator.dhcp.log


def interface_ip_text(fake: FakeSpiDev) -> str:
    acks = [address for name, address in fake.emulator.dhcp.log if name == "ACK"]
    return acks[-1]


def test_connect_waits_for_auto_negotiation() -> None:
    with FakeSpiDev(link_up_delay=0.4) as fake:
        interface = W5500Interface(fake)
        try:
            started = time.monotonic()
            assert interface.connect() == NsapiError.OK  # DHCP needs the link: connect waited for it
            assert time.monotonic() - started >= 0.3
            assert interface.get_ip_address(SocketAddress()) == NsapiError.OK
        finally:
            interface.close()
