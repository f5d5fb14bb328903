"""Mbed's DNS cases (test plan §3.6) against a loopback DNS server serving Mbed's host lists (every name points at a
loopback address), on a fresh interface per case so caches and query counts start empty."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from netsocket import NetworkInterface, NsapiError, NsapiVersion, SocketAddress
from tests.conformance.harness import Network
from tests.servers.dns_fixtures import DNS_HOSTS
from tests.servers.dns_server import LoopbackDnsServer

HOSTS = ["google.com", "youtube.com", "facebook.com", "wikipedia.org", "yahoo.com", "instagram.com"]
HOSTS_SECOND = ["ipv6ready.org", "wireshark.org", "bbc.co.uk", "cnn.com", "www.flickr.com", "www.mozilla.org"]
WAIT_S = 10.0


def ipv4_of(name: str) -> str:
    return next(ip for ip in DNS_HOSTS[name] if ":" not in ip)


@dataclass
class Resolver:
    interface: NetworkInterface
    server: LoopbackDnsServer


@pytest.fixture
def resolver(network: Network) -> Iterator[Resolver]:
    """A fresh, connected interface of the stack under test that resolves with a fresh loopback DNS server."""
    with LoopbackDnsServer(DNS_HOSTS) as server, network.fresh_interface() as interface:
        assert network.entry.connect(interface) == NsapiError.OK
        assert network.entry.use_dns_server(interface, network.route(server.address)) == NsapiError.OK
        yield Resolver(interface, server)


@dataclass
class Results:
    """Collects asynchronous DNS callbacks (which run on the driver's or resolver's thread)."""

    got: dict[str, tuple[int, SocketAddress | None]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def callback(self, name: str) -> Callable[[int, SocketAddress | None], None]:
        def deliver(result: int, address: SocketAddress | None) -> None:
            with self.cond:
                self.got[name] = (result, None if address is None else SocketAddress(address))
                self.cond.notify_all()

        return deliver

    def wait(self, names: list[str]) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: all(n in self.got for n in names), WAIT_S), (names, self.got)


def check_resolved(name: str, result: int, address: SocketAddress | None) -> None:
    assert result > 0 or result == NsapiError.OK, f"{name}: {result!s}"
    assert address is not None
    assert address.get_ip_address() == ipv4_of(name), name


def test_SYNCHRONOUS_DNS(resolver: Resolver) -> None:
    address = SocketAddress()
    assert resolver.interface.gethostbyname("google.com", address) == NsapiError.OK
    assert address.get_ip_address() == ipv4_of("google.com")


def test_SYNCHRONOUS_DNS_MULTIPLE(resolver: Resolver) -> None:
    for name in HOSTS:
        address = SocketAddress()
        assert resolver.interface.gethostbyname(name, address) == NsapiError.OK, name
        check_resolved(name, NsapiError.OK, address)


def test_SYNCHRONOUS_DNS_CACHE(network: Network, resolver: Resolver) -> None:
    """The same name 5 times: all OK; with a cache only the first asks the server."""
    for _ in range(5):
        address = SocketAddress()
        assert resolver.interface.gethostbyname("youtube.com", address) == NsapiError.OK
        assert address.get_ip_address() == ipv4_of("youtube.com")
    asked = resolver.server.query_count("youtube.com")
    assert asked == 1 if network.caps.dns_cache else asked >= 5


def test_SYNCHRONOUS_DNS_INVALID(resolver: Resolver) -> None:
    """Names the server does not know: DNS_FAILURE; the known names around them still resolve."""
    for name in ["google.com_invalid", "youtube.com", "nonexistent.netsocket.test", "facebook.com"]:
        address = SocketAddress()
        result = resolver.interface.gethostbyname(name, address)
        if name in DNS_HOSTS:
            assert result == NsapiError.OK, name
            assert address.get_ip_address() == ipv4_of(name)
        else:
            assert result == NsapiError.DNS_FAILURE, name


def test_SYNCHRONOUS_DNS_IPV6(resolver: Resolver) -> None:
    address = SocketAddress()
    assert resolver.interface.gethostbyname("v6only.netsocket.test", address, NsapiVersion.IPv6) == NsapiError.OK
    assert address.get_ip_version() == NsapiVersion.IPv6
    assert address.get_ip_address() == "::1"


def test_SYNCHRONOUS_DNS_LITERAL(resolver: Resolver) -> None:
    """A literal address resolves to itself without a query; one of the other family than asked: DNS_FAILURE."""
    address = SocketAddress()
    assert resolver.interface.gethostbyname("127.0.0.1", address) == NsapiError.OK
    assert address.get_ip_address() == "127.0.0.1"
    assert resolver.interface.gethostbyname("::1", address, NsapiVersion.IPv4) == NsapiError.DNS_FAILURE
    assert resolver.server.query_count() == 0


def test_SYNCHRONOUS_DNS_PARAMETER(resolver: Resolver) -> None:
    """Empty, over-long or control-character names: PARAMETER, and nothing is asked."""
    for name in ["", "a" * 256, "bad\nname.com", "tab\tname.com"]:
        assert resolver.interface.gethostbyname(name, SocketAddress()) == NsapiError.PARAMETER, repr(name)
        assert resolver.interface.gethostbyname_async(name, lambda r, a: None) == NsapiError.PARAMETER
    assert resolver.server.query_count() == 0


def test_ASYNCHRONOUS_DNS(resolver: Resolver) -> None:
    results = Results()
    query_id = resolver.interface.gethostbyname_async("wikipedia.org", results.callback("wikipedia.org"))
    assert query_id >= 0, f"gethostbyname_async gave {query_id!s}"
    results.wait(["wikipedia.org"])
    check_resolved("wikipedia.org", *results.got["wikipedia.org"])


def test_ASYNCHRONOUS_DNS_SIMULTANEOUS(network: Network, resolver: Resolver) -> None:
    """Six uncached names at once: up to the stack's limit start (the rest get NO_MEMORY); all started succeed."""
    results = Results()
    started = []
    for name in HOSTS:
        query_id = resolver.interface.gethostbyname_async(name, results.callback(name))
        if query_id == NsapiError.NO_MEMORY:
            continue
        assert query_id > 0, f"{name}: {query_id!s}"
        started.append(name)
    limit = network.caps.dns_async_limit
    assert len(started) == (len(HOSTS) if limit is None else min(limit, len(HOSTS)))
    results.wait(started)
    for name in started:
        check_resolved(name, *results.got[name])


def test_ASYNCHRONOUS_DNS_SIMULTANEOUS_CACHE(network: Network, resolver: Resolver) -> None:
    """Six names, one already cached: the cached one answers at once, and all six succeed."""
    assert resolver.interface.gethostbyname(HOSTS[0], SocketAddress()) == NsapiError.OK
    results = Results()
    for name in HOSTS:
        query_id = resolver.interface.gethostbyname_async(name, results.callback(name))
        assert query_id >= 0, f"{name}: {query_id!s}"
        if name == HOSTS[0] and network.caps.dns_cache:
            assert query_id == 0 and name in results.got, "a cached name is answered before the call returns"
    results.wait(HOSTS)
    for name in HOSTS:
        check_resolved(name, *results.got[name])


def test_ASYNCHRONOUS_DNS_NON_ASYNC_AND_ASYNC(resolver: Resolver) -> None:
    results = Results()
    assert resolver.interface.gethostbyname_async("yahoo.com", results.callback("yahoo.com")) >= 0
    for name in HOSTS_SECOND:
        address = SocketAddress()
        assert resolver.interface.gethostbyname(name, address) == NsapiError.OK, name
        check_resolved(name, NsapiError.OK, address)
    results.wait(["yahoo.com"])
    check_resolved("yahoo.com", *results.got["yahoo.com"])


def test_ASYNCHRONOUS_DNS_CANCEL(resolver: Resolver) -> None:
    """Cancelled queries' callbacks never run; a query started after them still completes."""
    resolver.server.behaviour.delay = 0.2
    results = Results()
    ids = {}
    for name in HOSTS[:4]:
        query_id = resolver.interface.gethostbyname_async(name, results.callback(name))
        assert query_id > 0, f"{name}: {query_id!s}"
        ids[name] = query_id
    for name, query_id in ids.items():
        assert resolver.interface.gethostbyname_async_cancel(query_id) == NsapiError.OK, name
    resolver.server.behaviour.delay = 0.0
    last = HOSTS[4]
    assert resolver.interface.gethostbyname_async(last, results.callback(last)) > 0
    results.wait([last])
    check_resolved(last, *results.got[last])
    assert set(results.got) == {last}, f"cancelled callbacks ran: {sorted(set(results.got) - {last})}"


def test_ASYNCHRONOUS_DNS_INVALID_HOST(resolver: Resolver) -> None:
    """Names 1, 3 and 5 invalid: DNS_FAILURE for those, success for 2 and 4."""
    names = [f"{HOSTS[0]}_invalid", HOSTS[1], f"{HOSTS[2]}_invalid", HOSTS[3], f"{HOSTS[4]}_invalid"]
    results = Results()
    for name in names:
        assert resolver.interface.gethostbyname_async(name, results.callback(name)) > 0, name
    results.wait(names)
    for name in names:
        result, address = results.got[name]
        if name in DNS_HOSTS:
            check_resolved(name, result, address)
        else:
            assert result == NsapiError.DNS_FAILURE, f"{name}: {result!s}"
            assert address is None
