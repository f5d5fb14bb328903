"""Mbed's generic SOCKET_* cases (test plan §3.2), run for TCP and UDP on every stack, plus the error table's
"any call on an unopened or closed socket gives NO_SOCKET"."""

from __future__ import annotations

import pytest

from netsocket import (
    NsapiError,
    NsapiProtocol,
    NsapiSocketLevel,
    NsapiSocketOption,
    NsapiVersion,
    SocketAddress,
    TCPSocket,
    UDPSocket,
)
from netsocket.socket import InternetSocket
from tests.conformance.harness import Network, Sockets, free_port

OPEN_LIMIT_PROBE = 32
"""For a stack without a socket limit the suite opens this many, and all must succeed."""

PROTOCOLS = [NsapiProtocol.TCP, NsapiProtocol.UDP]


@pytest.fixture(params=PROTOCOLS, ids=["TCP", "UDP"])
def proto(request: pytest.FixtureRequest) -> NsapiProtocol:
    value: NsapiProtocol = request.param
    return value


def new_socket(proto: NsapiProtocol) -> InternetSocket:
    return TCPSocket() if proto == NsapiProtocol.TCP else UDPSocket()


def opened(sockets: Sockets, proto: NsapiProtocol) -> InternetSocket:
    return sockets.tcp() if proto == NsapiProtocol.TCP else sockets.udp()


def bind_expected(network: Network, proto: NsapiProtocol, with_address: bool = False) -> NsapiError:
    """OK where the stack binds, else the documented UNSUPPORTED."""
    if proto not in network.caps.bind or (with_address and not network.caps.bind_address):
        return NsapiError.UNSUPPORTED
    return NsapiError.OK


def test_SOCKET_OPEN_DESTRUCT(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """new, open, delete 100 times: every open is OK (so deleting an open socket frees it)."""
    for _ in range(100):
        sock = new_socket(proto)
        assert sock.open(network.interface) == NsapiError.OK
        del sock


def test_SOCKET_OPEN_LIMIT(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """Open until the stack refuses, free all, repeat: at least 4, the same count both rounds."""
    limit = network.caps.max_sockets
    counts = []
    for _round in range(2):
        held: list[InternetSocket] = []
        refusal = None
        try:
            while len(held) < (OPEN_LIMIT_PROBE if limit is None else limit + 1):
                sock = new_socket(proto)
                result = sock.open(network.interface)
                if result != NsapiError.OK:
                    refusal = result
                    break
                held.append(sock)
        finally:
            for sock in held:
                assert sock.close() == NsapiError.OK
        if limit is None:
            assert refusal is None, f"open refused after {len(held)} sockets: {refusal}"
        else:
            assert refusal in (NsapiError.NO_SOCKET, NsapiError.NO_MEMORY), f"after {len(held)}: {refusal}"
            assert len(held) <= limit
        counts.append(len(held))
    assert counts[0] >= 4
    assert counts[0] == counts[1]


def test_SOCKET_OPEN_TWICE(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    sock = opened(sockets, proto)
    assert sock.open(network.interface) == NsapiError.PARAMETER
    assert sock.is_open  # the first open still stands
    assert sock.close() == NsapiError.OK


def test_SOCKET_OPEN_WITHOUT_STACK(proto: NsapiProtocol) -> None:
    """Mbed: a NULL stack gives PARAMETER."""
    sock = new_socket(proto)
    assert sock.open(None) == NsapiError.PARAMETER  # type: ignore[arg-type]
    assert not sock.is_open


def test_SOCKET_OPEN_CLOSE_REPEAT(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    sock = new_socket(proto)
    for _ in range(2):
        assert sock.open(network.interface) == NsapiError.OK
        assert sock.close() == NsapiError.OK


def test_SOCKET_BIND_PORT(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    sock = opened(sockets, proto)
    assert sock.bind(free_port()) == bind_expected(network, proto)


def test_SOCKET_BIND_PORT_FAIL(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """A second socket binding a port already bound gets PARAMETER."""
    port = free_port()
    first, second = opened(sockets, proto), opened(sockets, proto)
    expected = bind_expected(network, proto)
    assert first.bind(port) == expected
    assert second.bind(port) == (NsapiError.PARAMETER if expected == NsapiError.OK else expected)


def test_SOCKET_BIND_ADDRESS_INVALID(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """Binding an address that is not the stack's own gives PARAMETER."""
    foreign = ["190.2.3.4"] + (["fe80::ff01"] if network.caps.ipv6 else [])
    for ip in foreign:
        sock = opened(sockets, proto)
        expected = bind_expected(network, proto, with_address=True)
        result = sock.bind(SocketAddress(ip, free_port()))
        assert result == (NsapiError.PARAMETER if expected == NsapiError.OK else expected), ip


def test_SOCKET_BIND_WRONG_TYPE(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """Mbed's case: the bytes fe80:ff01.. taken as an address of the interface's own family (not local):
    PARAMETER."""
    own = SocketAddress()
    assert network.interface.get_ip_address(own) == NsapiError.OK
    raw = bytes([0xFE, 0x80, 0xFF, 0x01]) + bytes(12)
    wrong = SocketAddress(raw[:4] if own.get_ip_version() == NsapiVersion.IPv4 else raw, free_port())
    sock = opened(sockets, proto)
    expected = bind_expected(network, proto, with_address=True)
    assert sock.bind(wrong) == (NsapiError.PARAMETER if expected == NsapiError.OK else expected)


def test_SOCKET_BIND_ADDRESS(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """Binding the interface's own address and a port is OK."""
    own = SocketAddress()
    assert network.interface.get_ip_address(own) == NsapiError.OK
    assert own, "the interface has an address once connected"
    own.set_port(free_port())
    sock = opened(sockets, proto)
    assert sock.bind(own) == bind_expected(network, proto, with_address=True)


def test_SOCKET_BIND_UNOPENED(proto: NsapiProtocol) -> None:
    assert new_socket(proto).bind(free_port()) == NsapiError.NO_SOCKET
    assert new_socket(proto).bind(SocketAddress("127.0.0.1", free_port())) == NsapiError.NO_SOCKET


def test_SOCKET_BIND_PORT_OUT_OF_RANGE(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    sock = opened(sockets, proto)
    assert sock.bind(65536) == NsapiError.PARAMETER
    assert sock.bind(-1) == NsapiError.PARAMETER


def _check_no_socket(sock: InternetSocket, network: Network, proto: NsapiProtocol) -> None:
    target = network.echo_tcp if proto == NsapiProtocol.TCP else network.echo_udp
    buffer = bytearray(16)
    peer = SocketAddress()
    if proto == NsapiProtocol.TCP:
        assert sock.connect(target) == NsapiError.NO_SOCKET
        assert sock.listen() == NsapiError.NO_SOCKET
        assert sock.accept() == (None, NsapiError.NO_SOCKET)
    else:
        # Mbed: a UDP connect only records the peer, so it is OK even unopened; UDP has no listen/accept.
        assert sock.connect(target) == NsapiError.OK
        assert sock.listen() == NsapiError.UNSUPPORTED
        assert sock.accept() == (None, NsapiError.UNSUPPORTED)
    assert sock.send(b"hello") == NsapiError.NO_SOCKET
    assert sock.sendto(target, b"hello") == NsapiError.NO_SOCKET
    assert sock.recv(buffer) == NsapiError.NO_SOCKET
    assert sock.recvfrom(peer, buffer) == NsapiError.NO_SOCKET
    assert sock.bind(free_port()) == NsapiError.NO_SOCKET
    assert sock.getpeername(peer) == NsapiError.NO_SOCKET
    assert sock.setsockopt(NsapiSocketLevel.SOCKET, NsapiSocketOption.REUSEADDR, 1) == NsapiError.NO_SOCKET
    assert sock.getsockopt(NsapiSocketLevel.SOCKET, NsapiSocketOption.REUSEADDR) == (NsapiError.NO_SOCKET, None)
    assert sock.close() == NsapiError.NO_SOCKET


def test_SOCKET_UNOPENED_NO_SOCKET(network: Network, proto: NsapiProtocol) -> None:
    """Every call on a socket never opened gives NO_SOCKET (Mbed §1.16)."""
    _check_no_socket(new_socket(proto), network, proto)


def test_SOCKET_CLOSED_NO_SOCKET(network: Network, sockets: Sockets, proto: NsapiProtocol) -> None:
    """Every call on a socket already closed gives NO_SOCKET; the stack is not asked about it."""
    sock = opened(sockets, proto)
    if proto == NsapiProtocol.TCP:
        assert sock.connect(network.echo_tcp) == NsapiError.OK
    else:
        assert sock.sendto(network.echo_udp, b"x") == 1
    assert sock.close() == NsapiError.OK
    _check_no_socket(sock, network, proto)
