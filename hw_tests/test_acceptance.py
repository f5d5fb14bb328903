"""What a user checks first with a module on the desk: it joins, resolves, and carries TCP and UDP intact."""

from __future__ import annotations

import hashlib
import os
import threading

from hw_tests.servers import EchoServers
from netsocket import NetworkInterface, NsapiConnectionStatus, NsapiError, SocketAddress, TCPSocket, UDPSocket


def test_interface_is_up_with_an_address(device: NetworkInterface) -> None:
    assert device.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
    address = SocketAddress()
    assert device.get_ip_address(address) == NsapiError.OK
    assert address


def test_literal_addresses_resolve_without_dns(device: NetworkInterface, servers: EchoServers) -> None:
    address = SocketAddress()
    assert device.gethostbyname(servers.host, address) == NsapiError.OK
    assert address.get_ip_address() == servers.host


def test_tcp_echo_of_every_test_plan_size(device: NetworkInterface, servers: EchoServers) -> None:
    with TCPSocket() as sock:
        assert sock.open(device) == NsapiError.OK
        sock.set_timeout(10_000)
        assert sock.connect(SocketAddress(servers.host, servers.tcp_port)) == NsapiError.OK
        buffer = bytearray(1500)
        for size in [*range(1, 11), *range(100, 1300, 100)]:
            payload = os.urandom(size)
            assert sock.send(payload) == size
            got = bytearray()
            while len(got) < size:
                n = sock.recv(buffer)
                assert n > 0, NsapiError(n) if n < 0 else "peer closed"
                got += buffer[:n]
            assert bytes(got) == payload


def test_tcp_bulk_echo_is_intact(device: NetworkInterface, servers: EchoServers) -> None:
    data = os.urandom(256 * 1024)
    with TCPSocket() as sock:
        assert sock.open(device) == NsapiError.OK
        sock.set_timeout(30_000)
        assert sock.connect(SocketAddress(servers.host, servers.tcp_port)) == NsapiError.OK
        sender_result: list[int] = []
        sender = threading.Thread(target=lambda: sender_result.append(sock.send(data)))
        sender.start()
        digest = hashlib.sha256()
        received = 0
        buffer = bytearray(4096)
        while received < len(data):
            n = sock.recv(buffer)
            assert n > 0, NsapiError(n) if n < 0 else "peer closed"
            digest.update(buffer[:n])
            received += n
        sender.join()
        assert sender_result == [len(data)]
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_udp_echo(device: NetworkInterface, servers: EchoServers) -> None:
    with UDPSocket() as sock:
        assert sock.open(device) == NsapiError.OK
        sock.set_timeout(2000)
        server = SocketAddress(servers.host, servers.udp_port)
        buffer = bytearray(1500)
        answered = 0
        for size in (1, 64, 512, 1024):
            payload = os.urandom(size)
            for _attempt in range(3):  # UDP may lose a datagram on a real network
                assert sock.sendto(server, payload) == size
                sender = SocketAddress()
                n = sock.recvfrom(sender, buffer)
                if n == NsapiError.CONNECTION_TIMEOUT:
                    continue
                assert n == size and bytes(buffer[:n]) == payload
                assert sender == server
                answered += 1
                break
        assert answered == 4


def test_recv_timeout_is_reported_as_connection_timeout(device: NetworkInterface, servers: EchoServers) -> None:
    with TCPSocket() as sock:
        assert sock.open(device) == NsapiError.OK
        assert sock.connect(SocketAddress(servers.host, servers.tcp_port)) == NsapiError.OK
        sock.set_timeout(300)
        assert sock.recv(bytearray(10)) == NsapiError.CONNECTION_TIMEOUT
