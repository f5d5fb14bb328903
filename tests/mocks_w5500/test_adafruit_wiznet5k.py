"""Adafruit's CircuitPython W5500 driver (`adafruit_wiznet5k`, from PyPI) runs unchanged on CPython
against the emulator: DHCP from the emulated LAN, DNS through the router, and a TCP echo through a loopback
server.

Only two shims are needed, and the emulator ships them (`netsocket.mocks.w5500.circuitpython`): a busio.SPI-like
bus and a digitalio-like chip-select pin, turning `SPIDevice`'s lock/CS/write/readinto into one W5500 frame each.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from netsocket.mocks.w5500 import FakeSpiDev, LanConfig
from netsocket.mocks.w5500.circuitpython import BusioSPI, ChipSelectPin

from .spi import free_port, wait_until

wiznet = pytest.importorskip("adafruit_wiznet5k.adafruit_wiznet5k")
socketpool = pytest.importorskip("adafruit_wiznet5k.adafruit_wiznet5k_socketpool")


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(20)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:
                pass  # the driver may close its socket abortively (CLOSE sends RST)

    thread = threading.Thread(target=serve)
    thread.start()
    yield server.getsockname()
    server.close()
    thread.join(timeout=20)


def _driver(spi: FakeSpiDev, is_dhcp: bool) -> Any:
    return wiznet.WIZNET5K(BusioSPI(spi.emulator), ChipSelectPin(spi.emulator), is_dhcp=is_dhcp)


def _echo(eth: Any, address: tuple[str, int]) -> bytes:
    pool = socketpool.SocketPool(eth)
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(address)
        message = b"through the emulated W5500 " * 40
        sock.send(message)
        received = bytearray()
        buffer = bytearray(512)
        while len(received) < len(message):
            count = sock.recv_into(buffer)
            assert count > 0
            received += buffer[:count]
        return bytes(received)
    finally:
        sock.close()


@pytest.mark.slow
def test_adafruit_driver_with_static_address_echoes_over_tcp(echo_server: tuple[str, int]) -> None:
    with FakeSpiDev() as spi:
        eth = _driver(spi, is_dhcp=False)
        assert eth.chip == "w5500"
        assert eth.link_status
        eth.ifconfig = (
            eth.unpretty_ip("192.168.77.60"),
            eth.unpretty_ip("255.255.255.0"),
            eth.unpretty_ip("192.168.77.1"),
            eth.unpretty_ip("192.168.77.1"),
        )
        assert _echo(eth, echo_server) == b"through the emulated W5500 " * 40


@pytest.mark.slow
def test_adafruit_driver_gets_a_dhcp_lease_resolves_and_echoes(echo_server: tuple[str, int]) -> None:
    with FakeSpiDev() as spi:
        eth = _driver(spi, is_dhcp=True)
        ip, subnet, gateway, dns = (eth.pretty_ip(value) for value in eth.ifconfig)
        assert ip.startswith("192.168.77.")
        assert (subnet, gateway, dns) == ("255.255.255.0", "192.168.77.1", "192.168.77.1")
        assert eth.pretty_ip(eth.get_host_by_name("localhost")) == "127.0.0.1"
        assert _echo(eth, echo_server) == b"through the emulated W5500 " * 40
        assert ("ACK", ip) in spi.emulator.dhcp.log


@pytest.mark.slow
def test_adafruit_server_socket_accepts_a_host_connection() -> None:
    port = free_port()
    with FakeSpiDev() as spi:
        eth = _driver(spi, is_dhcp=False)
        eth.ifconfig = tuple(
            eth.unpretty_ip(text) for text in ("192.168.77.61", "255.255.255.0", "192.168.77.1", "192.168.77.1")
        )
        pool = socketpool.SocketPool(eth)
        server = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
        server.settimeout(10)
        server.bind(("", port))
        server.listen()
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            conn, (peer_ip, peer_port) = server.accept()
            assert (peer_ip, peer_port) == client.getsockname()
            client.sendall(b"hello chip")
            buffer = bytearray(32)
            count = conn.recv_into(buffer)
            assert bytes(buffer[:count]) == b"hello chip"
            conn.send(b"hello host")
            assert client.recv(32) == b"hello host"
            conn.close()
        finally:
            client.close()
            server.close()


@pytest.mark.slow
def test_adafruit_driver_renews_a_short_lease_with_a_unicast_request() -> None:
    with FakeSpiDev(lan=LanConfig(lease_time=2)) as spi:
        eth = _driver(spi, is_dhcp=True)
        address = eth.pretty_ip(eth.ip_address)
        log = spi.emulator.dhcp.log
        acks_before = log.count(("ACK", address))

        def renewed() -> bool:
            eth.maintain_dhcp_lease()
            return ("REQUEST", address) in log and log.count(("ACK", address)) > acks_before

        wait_until(renewed, timeout=10)  # T1 = 1 s; a renewal REQUEST carries the leased address as ciaddr
        assert eth.pretty_ip(eth.ip_address) == address
