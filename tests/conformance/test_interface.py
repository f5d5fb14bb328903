"""Mbed's network-interface cases (test plan §3.7) on a fresh interface of the stack under test, plus the
connect/disconnect return codes of netsocket's ``NetworkInterface`` contract."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from netsocket import (
    NetworkInterface,
    NsapiConnectionStatus,
    NsapiError,
    NsapiEvent,
    SocketAddress,
    TCPSocket,
)
from tests.conformance.harness import SOCKET_TIMEOUT_MS, Network, recv_exactly

ROUNDS = 4
WAIT_S = 10.0
UP = NsapiConnectionStatus.GLOBAL_UP
DOWN = NsapiConnectionStatus.DISCONNECTED


class StatusLog:
    """Records status callbacks; ``wait_for`` waits (no polling) until a status has been reported."""

    def __init__(self, interface: NetworkInterface) -> None:
        self.statuses: list[NsapiConnectionStatus] = []
        self._cond = threading.Condition()
        interface.attach(self._record)

    def _record(self, event: NsapiEvent, status: int) -> None:
        assert event == NsapiEvent.CONNECTION_STATUS_CHANGE
        with self._cond:
            self.statuses.append(NsapiConnectionStatus(status))
            self._cond.notify_all()

    def wait_for(self, status: NsapiConnectionStatus, start: int = 0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: status in self.statuses[start:], WAIT_S)
        assert ok, f"no {status.name} within {WAIT_S} s; statuses: {self.statuses}"

    def since(self, start: int) -> list[NsapiConnectionStatus]:
        with self._cond:
            return self.statuses[start:]


def check_up_sequence(seen: list[NsapiConnectionStatus]) -> None:
    """CONNECTING, then optionally LOCAL_UP, then GLOBAL_UP (repeats allowed, nothing else)."""
    order = [NsapiConnectionStatus.CONNECTING, NsapiConnectionStatus.LOCAL_UP, UP]
    assert seen and seen[0] == NsapiConnectionStatus.CONNECTING, seen
    assert seen[-1] == UP, seen
    ranks = [order.index(status) for status in seen]
    assert ranks == sorted(ranks), f"statuses out of order: {seen}"


@pytest.fixture
def interface(network: Network) -> Iterator[NetworkInterface]:
    with network.fresh_interface() as fresh:
        yield fresh


def echo_works(network: Network, interface: NetworkInterface) -> None:
    sock = TCPSocket()
    assert sock.open(interface) == NsapiError.OK
    try:
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        assert sock.connect(network.echo_tcp) == NsapiError.OK
        assert sock.send(b"link is up") == 10
        assert recv_exactly(sock, 10) == b"link is up"
    finally:
        sock.close()


def test_NETWORKINTERFACE_CONN_DISC_REPEAT(network: Network, interface: NetworkInterface) -> None:
    """connect/disconnect 4 times: each OK, and the link carries traffic every time it is up."""
    for _ in range(ROUNDS):
        assert network.entry.connect(interface) == NsapiError.OK
        echo_works(network, interface)
        assert interface.disconnect() == NsapiError.OK


def test_NETWORKINTERFACE_STATUS(network: Network, interface: NetworkInterface) -> None:
    """Blocking connect: CONNECTING -> (LOCAL_UP) -> GLOBAL_UP, then DISCONNECTED after disconnect; 4 times."""
    log = StatusLog(interface)
    for _ in range(ROUNDS):
        start = len(log.since(0))
        assert network.entry.connect(interface) == NsapiError.OK
        log.wait_for(UP, start)
        check_up_sequence(log.since(start))
        start = len(log.since(0))
        assert interface.disconnect() == NsapiError.OK
        log.wait_for(DOWN, start)
        assert log.since(start)[-1] == DOWN


def test_NETWORKINTERFACE_STATUS_NONBLOCK(network: Network, interface: NetworkInterface) -> None:
    """The same with set_blocking(False): connect returns at once, the callbacks report the progress."""
    result = interface.set_blocking(False)
    if not network.caps.interface_nonblocking:
        assert result == NsapiError.UNSUPPORTED
        return
    assert result == NsapiError.OK
    log = StatusLog(interface)
    for _ in range(ROUNDS):
        start = len(log.since(0))
        assert network.entry.connect(interface) == NsapiError.OK
        log.wait_for(UP, start)
        check_up_sequence(log.since(start))
        assert interface.get_connection_status() == UP
        start = len(log.since(0))
        assert interface.disconnect() == NsapiError.OK
        log.wait_for(DOWN, start)
        assert interface.get_connection_status() == DOWN


def test_NETWORKINTERFACE_STATUS_GET(network: Network, interface: NetworkInterface) -> None:
    log = StatusLog(interface)
    for _ in range(ROUNDS):
        assert interface.get_connection_status() == DOWN
        start = len(log.since(0))
        assert network.entry.connect(interface) == NsapiError.OK
        log.wait_for(UP, start)
        assert interface.get_connection_status() == UP
        assert interface.disconnect() == NsapiError.OK
        assert interface.get_connection_status() == DOWN


def test_NETWORKINTERFACE_CONNECT_DISCONNECT_TWICE(network: Network, interface: NetworkInterface) -> None:
    """connect when up: IS_CONNECTED; disconnect when down: NO_CONNECTION."""
    assert interface.disconnect() == NsapiError.NO_CONNECTION
    assert network.entry.connect(interface) == NsapiError.OK
    assert network.entry.connect(interface) == NsapiError.IS_CONNECTED
    assert interface.get_connection_status() == UP
    assert interface.disconnect() == NsapiError.OK
    assert interface.disconnect() == NsapiError.NO_CONNECTION


def test_NETWORKINTERFACE_GET_IP_ADDRESS(network: Network, interface: NetworkInterface) -> None:
    assert network.entry.connect(interface) == NsapiError.OK
    address = SocketAddress()
    assert interface.get_ip_address(address) == NsapiError.OK
    assert address, "a connected interface has an address"
    mac = interface.get_mac_address()
    assert mac is None or len(mac.split(":")) == 6
