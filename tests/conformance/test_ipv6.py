"""IPv6 cases: on every stack whose capabilities say ``ipv6`` (the host, ESP-AT 3.x for the ESP32), TCP and UDP
echo through the servers on ::1, the link-local address after connect, and an AAAA look-up through the stack's own
resolver; on every IPv4-only stack, UNSUPPORTED for an IPv6 destination. Each case is parametrized over the
stacks it applies to, so it is not collected (rather than skipped) for the others.

Mbed's test plan has IPv6 variants of its cases (NETWORKINTERFACE_STATUS_GET: ``get_ipv6_link_local_address``
returns OK with version IPv6; the echo cases with IPv6 servers); these are those, on loopback."""

from __future__ import annotations

import ipaddress

import pytest

from netsocket import NsapiError, NsapiVersion, SocketAddress, TCPSocket
from tests.conformance.harness import ECHO_SIZES, Network, Sockets, payload, recv_exactly
from tests.conformance.stacks import STACKS, StackEntry

IPV6_STACKS = [entry for entry in STACKS if entry.caps.ipv6]
IPV4_ONLY_STACKS = [entry for entry in STACKS if not entry.caps.ipv6]
AAAA_STACKS = [entry for entry in IPV6_STACKS if entry.aaaa_name is not None]
TRIES = 3
"""Tries per datagram, as Mbed's echo cases (loopback: a datagram lost in all of them is a bug)."""


def on(stacks: list[StackEntry]) -> pytest.MarkDecorator:
    """Run a case on these stacks only (the ``network`` fixture, session-scoped, is shared with the suite)."""
    return pytest.mark.parametrize("network", stacks, indirect=True, ids=[entry.name for entry in stacks])


@on(IPV6_STACKS)
def test_IPV6_TCPSOCKET_ECHOTEST(network: Network, sockets: Sockets) -> None:
    """Mbed's echo sizes over TCP to an IPv6 literal; the peer is that literal."""
    sock = sockets.tcp(network.echo_tcp6)
    for size in ECHO_SIZES:
        data = payload(size, seed=6)
        assert sock.send(data) == size
        assert recv_exactly(sock, size) == data
    peer = SocketAddress()
    assert sock.getpeername(peer) == NsapiError.OK
    assert peer == network.echo_tcp6 and peer.get_ip_version() == NsapiVersion.IPv6


@on(IPV6_STACKS)
def test_IPV6_UDPSOCKET_ECHOTEST(network: Network, sockets: Sockets) -> None:
    """Mbed's echo sizes as datagrams to ::1; each echo comes from the server's IPv6 address."""
    sock = sockets.udp()
    sock.set_timeout(1000)
    for size in ECHO_SIZES:
        data = payload(size, seed=7)
        buffer = bytearray(size + 100)
        for _ in range(TRIES):
            assert sock.sendto(network.echo_udp6, data) == size
            sender = SocketAddress()
            result = sock.recvfrom(sender, buffer)
            if result == NsapiError.CONNECTION_TIMEOUT:
                continue
            assert result == size and buffer[:size] == data
            assert sender == network.echo_udp6
            break
        else:
            raise AssertionError(f"no echo of a {size}-byte datagram over IPv6 in {TRIES} tries")


@on(IPV6_STACKS)
def test_IPV6_LINK_LOCAL_ADDRESS(network: Network) -> None:
    """After connect, ``get_ipv6_link_local_address`` gives OK and an fe80::/10 address (Mbed's STATUS_GET, IPv6);
    ``get_ip_address`` stays what it was."""
    address = SocketAddress()
    assert network.interface.get_ipv6_link_local_address(address) == NsapiError.OK
    assert address.get_ip_version() == NsapiVersion.IPv6
    assert ipaddress.IPv6Address(address.get_ip_address() or "::").is_link_local


@on(AAAA_STACKS)
def test_IPV6_AAAA_LOOKUP(network: Network) -> None:
    """An IPv6 look-up through the stack's own resolver gives ::1; an IPv6 look-up of a name with no address
    gives DNS_FAILURE."""
    assert network.entry.aaaa_name is not None
    address = SocketAddress()
    assert network.interface.gethostbyname(network.entry.aaaa_name, address, NsapiVersion.IPv6) == NsapiError.OK
    assert address.get_ip_version() == NsapiVersion.IPv6 and address.get_ip_address() == "::1"
    missing = SocketAddress()
    assert network.interface.gethostbyname("nowhere.invalid", missing, NsapiVersion.IPv6) == NsapiError.DNS_FAILURE


@on(IPV4_ONLY_STACKS)
def test_IPV4_ONLY_STACK_IPV6_DESTINATION_UNSUPPORTED(network: Network, sockets: Sockets) -> None:
    """A stack that cannot carry IPv6 answers UNSUPPORTED to a TCP connect to an IPv6 literal (not PARAMETER: the
    address is good, the stack lacks the family), and the socket still works for IPv4 afterwards."""
    sock: TCPSocket = sockets.tcp()
    assert sock.connect(network.echo_tcp6) == NsapiError.UNSUPPORTED
    assert sock.connect(network.echo_tcp) == NsapiError.OK
    assert sock.send(b"v4") == 2
    assert recv_exactly(sock, 2) == b"v4"
