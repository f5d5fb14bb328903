"""netsocket's resolver over the host reference stack, against real DNS servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from netsocket.drivers.host import HostStack

from netsocket import NsapiError, NsapiVersion, SocketAddress
from netsocket.callback_context import in_callback
from netsocket.dns import DnsConfig, DnsResolver
from netsocket.event_queue import EventQueue, stop_shared_event_queue
from tests.servers.dns_server import Behaviour, LoopbackDnsServer
from tests.servers.dnsmasq import DnsmasqServer

FAST = DnsConfig(response_wait_ms=300, total_attempts=4, retries=1)


class Results:
    """Collects asynchronous callbacks and lets a test wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.calls: list[tuple[int, SocketAddress | None, str, bool]] = []
        self.threads: list[str] = []

    def callback(self, tag: str) -> Callable[[int, SocketAddress | None], None]:
        def record(result: int, address: SocketAddress | None) -> None:
            with self._cond:
                self.calls.append((result, address, tag, in_callback()))
                self.threads.append(threading.current_thread().name)
                self._cond.notify_all()

        return record

    def wait(self, *, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= count, timeout)


@pytest.fixture
def results() -> Results:
    return Results()


@pytest.fixture
def stack() -> Iterator[HostStack]:
    host = HostStack()
    host.dns.set_config(FAST)
    yield host
    assert host.dns.close()
    host.close()
    assert stop_shared_event_queue()


def _server(server: LoopbackDnsServer | DnsmasqServer) -> SocketAddress:
    return SocketAddress(*server.address)


def _alive(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


# -- blocking queries ---------------------------------------------------------------------------------------------
def test_sync_resolve_fills_the_address_and_keeps_its_port(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    assert stack.add_dns_server(_server(dns_server)) == NsapiError.OK
    address = SocketAddress(None, 8080)
    assert stack.gethostbyname("google.com", address) == NsapiError.OK
    assert address == SocketAddress("127.0.0.11", 8080)
    assert dns_server.queries[0].rdtype == "A"
    assert stack.open_sockets == 0, "the query's UDP socket was not closed"


def test_ipv6_and_unspec_falls_back_to_aaaa(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    stack.add_dns_server(_server(dns_server))
    address = SocketAddress()
    assert stack.gethostbyname("google.com", address, NsapiVersion.IPv6) == NsapiError.OK
    assert address.get_ip_address() == "::1"
    assert stack.gethostbyname("v6only.netsocket.test", address) == NsapiError.OK
    assert address.get_ip_address() == "::1"
    assert [q.rdtype for q in dns_server.queries if q.name == "v6only.netsocket.test"] == ["A", "AAAA"]
    assert stack.gethostbyname("v6only.netsocket.test", address, NsapiVersion.IPv4) == NsapiError.DNS_FAILURE


def test_cname_chain_is_followed(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    dns_server.set_records("alias.netsocket.test", "cname:google.com")
    stack.add_dns_server(_server(dns_server))
    address = SocketAddress()
    assert stack.gethostbyname("alias.netsocket.test", address) == NsapiError.OK
    assert address.get_ip_address() == "127.0.0.11"


def test_nxdomain_is_a_final_dns_failure(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    stack.add_dns_server(_server(dns_server))
    address = SocketAddress()
    assert stack.gethostbyname("google.com_invalid", address) == NsapiError.DNS_FAILURE
    assert dns_server.query_count() == 1, "an rcode != 0 must not be retried"
    assert not address


@pytest.mark.parametrize("knob", ["servfail", "refuse"])
def test_error_rcodes_are_dns_failure(stack: HostStack, dns_server: LoopbackDnsServer, knob: str) -> None:
    setattr(dns_server.behaviour, knob, True)
    stack.add_dns_server(_server(dns_server))
    assert stack.gethostbyname("google.com", SocketAddress()) == NsapiError.DNS_FAILURE
    assert dns_server.query_count() == 1


def test_literals_never_touch_the_network(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    address = SocketAddress(None, 53)
    assert stack.dns.gethostbyname("10.1.2.3", address, NsapiVersion.UNSPEC) == NsapiError.OK
    assert address == SocketAddress("10.1.2.3", 53)
    stack.add_dns_server(_server(dns_server))
    assert stack.gethostbyname("::1", address, NsapiVersion.IPv6) == NsapiError.OK
    assert stack.gethostbyname("::1", address, NsapiVersion.IPv4) == NsapiError.DNS_FAILURE
    assert stack.gethostbyname("127.0.0.1", address, NsapiVersion.IPv6) == NsapiError.DNS_FAILURE
    assert dns_server.query_count() == 0


@pytest.mark.parametrize("name", ["", "a" * 256, "bad name", "tab\there"])
def test_bad_names_are_parameter_errors(stack: HostStack, dns_server: LoopbackDnsServer, name: str) -> None:
    stack.add_dns_server(_server(dns_server))
    assert stack.dns.gethostbyname(name, SocketAddress(), NsapiVersion.UNSPEC) == NsapiError.PARAMETER
    assert stack.dns.gethostbyname_async(name, lambda r, a: None, NsapiVersion.UNSPEC) == NsapiError.PARAMETER
    assert dns_server.query_count() == 0


def test_name_that_cannot_be_encoded_is_dns_failure(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    stack.add_dns_server(_server(dns_server))
    assert stack.gethostbyname("a" * 64 + ".test", SocketAddress()) == NsapiError.DNS_FAILURE
    assert stack.gethostbyname("a..test", SocketAddress()) == NsapiError.DNS_FAILURE
    assert dns_server.query_count() == 0


def test_no_servers_is_no_address_without_traffic(stack: HostStack, results: Results) -> None:
    resolver = DnsResolver(stack, FAST)
    assert not resolver.has_servers
    assert resolver.gethostbyname("google.com", SocketAddress(), NsapiVersion.UNSPEC) == NsapiError.NO_ADDRESS
    assert resolver.gethostbyname_async("google.com", results.callback("x"), NsapiVersion.UNSPEC) == (
        NsapiError.NO_ADDRESS
    )
    assert stack.open_sockets == 0
    assert results.calls == []


def test_server_list_front_insertion_duplicates_and_limit(stack: HostStack) -> None:
    resolver = stack.dns
    for port in range(1, 8):
        assert resolver.add_server(SocketAddress("127.0.0.1", port)) == NsapiError.OK
    assert resolver.add_server(SocketAddress("127.0.0.1", 7)) == NsapiError.OK
    assert resolver.add_server(SocketAddress()) == NsapiError.PARAMETER
    got = []
    for index in range(6):
        address = SocketAddress()
        if stack.get_dns_server(index, address) == NsapiError.OK:
            got.append(address.get_port())
    assert got == [7, 6, 5, 4, 3]
    assert stack.get_dns_server(5, SocketAddress()) == NsapiError.NO_ADDRESS


def test_silent_server_is_retried_then_the_next_one_answers(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    with LoopbackDnsServer({}, Behaviour(drop=-1)) as silent:
        stack.add_dns_server(_server(dns_server))
        stack.add_dns_server(_server(silent))  # added last, so asked first
        address = SocketAddress()
        assert stack.gethostbyname("youtube.com", address) == NsapiError.OK
        assert address.get_ip_address() == "127.0.0.12"
        assert silent.query_count() == 1 + FAST.retries
        assert dns_server.query_count() == 1


def test_all_servers_silent_is_timeout_after_total_attempts(stack: HostStack) -> None:
    with LoopbackDnsServer({}, Behaviour(drop=-1)) as one, LoopbackDnsServer({}, Behaviour(drop=-1)) as two:
        stack.add_dns_server(_server(one))
        stack.add_dns_server(_server(two))
        started = time.monotonic()
        assert stack.gethostbyname("google.com", SocketAddress()) == NsapiError.TIMEOUT
        elapsed = time.monotonic() - started
        assert one.query_count() + two.query_count() == FAST.total_attempts
        assert two.query_count() == one.query_count() == 2
        assert elapsed < FAST.total_attempts * FAST.response_wait_ms / 1000 + 2.0
        assert stack.open_sockets == 0


@pytest.mark.parametrize("decoy", ["malformed_first", "wrong_id_first", "wrong_question_first", "foreign_source_first"])
def test_replies_that_are_not_ours_are_ignored(stack: HostStack, dns_server: LoopbackDnsServer, decoy: str) -> None:
    setattr(dns_server.behaviour, decoy, True)
    stack.add_dns_server(_server(dns_server))
    address = SocketAddress()
    assert stack.gethostbyname("facebook.com", address) == NsapiError.OK
    assert address.get_ip_address() == "127.0.0.13", "a decoy's address was taken"
    assert dns_server.query_count() == 1, "the resolver gave up on the first send instead of waiting on"


def test_only_decoys_end_in_timeout_not_in_a_wrong_answer(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    dns_server.behaviour.wrong_id_first = True
    dns_server.behaviour.reply_override = lambda query: None  # the decoy only
    stack.add_dns_server(_server(dns_server))
    assert stack.gethostbyname("facebook.com", SocketAddress()) == NsapiError.TIMEOUT


# -- cache --------------------------------------------------------------------------------------------------------
def test_cache_hit_is_faster_and_sends_nothing(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    dns_server.behaviour.delay = 0.15
    stack.add_dns_server(_server(dns_server))
    timings = []
    for _ in range(5):
        address = SocketAddress()
        started = time.monotonic()
        assert stack.gethostbyname("wikipedia.org", address) == NsapiError.OK
        timings.append(time.monotonic() - started)
        assert address.get_ip_address() == "127.0.0.14"
    assert dns_server.query_count() == 1
    assert max(timings[1:]) < timings[0]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_expiry_and_ttl_zero(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    clock = FakeClock()
    resolver = DnsResolver(stack, FAST, clock=clock)
    resolver.add_server(_server(dns_server))
    dns_server.behaviour.ttl = 60
    unspec = NsapiVersion.UNSPEC
    assert resolver.gethostbyname("yahoo.com", SocketAddress(), unspec) == NsapiError.OK
    clock.now += 59
    assert resolver.gethostbyname("yahoo.com", SocketAddress(), unspec) == NsapiError.OK
    assert dns_server.query_count("yahoo.com") == 1
    clock.now += 2
    assert resolver.gethostbyname("yahoo.com", SocketAddress(), unspec) == NsapiError.OK
    assert dns_server.query_count("yahoo.com") == 2
    dns_server.behaviour.ttl = 0
    for _ in range(2):
        assert resolver.gethostbyname("cnn.com", SocketAddress(), unspec) == NsapiError.OK
    assert dns_server.query_count("cnn.com") == 2


def test_cache_evicts_the_least_recently_used(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    stack.add_dns_server(_server(dns_server))
    unspec = NsapiVersion.UNSPEC
    for name in ("google.com", "youtube.com", "facebook.com", "google.com", "yahoo.com"):
        assert stack.dns.gethostbyname(name, SocketAddress(), unspec) == NsapiError.OK
    assert dns_server.query_count() == 4
    assert stack.dns.gethostbyname("google.com", SocketAddress(), unspec) == NsapiError.OK  # touched: kept
    assert dns_server.query_count() == 4
    assert stack.dns.gethostbyname("youtube.com", SocketAddress(), unspec) == NsapiError.OK  # evicted
    assert dns_server.query_count() == 5


def test_reset_clears_the_cache(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    stack.add_dns_server(_server(dns_server))
    stack.gethostbyname("google.com", SocketAddress())
    stack.dns.reset()
    stack.gethostbyname("google.com", SocketAddress())
    assert dns_server.query_count() == 2


# -- asynchronous queries -----------------------------------------------------------------------------------------
HOSTS = ["google.com", "youtube.com", "facebook.com", "wikipedia.org", "yahoo.com", "instagram.com"]


def test_six_async_queries_sixth_is_no_memory_five_callbacks_succeed(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    dns_server.behaviour.delay = 0.2  # so the first answer cannot free a slot before the sixth call
    stack.add_dns_server(_server(dns_server))
    ids = [stack.gethostbyname_async(name, results.callback(name)) for name in HOSTS]
    assert all(query_id > 0 for query_id in ids[:5])
    assert len(set(ids[:5])) == 5
    assert ids[5] == NsapiError.NO_MEMORY
    assert results.wait(count=5)
    by_tag = {tag: (result, address) for result, address, tag, _ in results.calls}
    assert set(by_tag) == set(HOSTS[:5])
    for index, name in enumerate(HOSTS[:5]):
        result, address = by_tag[name]
        assert result == 1
        assert address is not None and address.get_ip_address() == f"127.0.0.{11 + index}"
    assert all(flag for *_, flag in results.calls), "callbacks must run in callback context"
    assert set(results.threads) == {"netsocket-shared-events"}
    assert stack.dns.in_flight() == 0
    assert stack.gethostbyname_async(HOSTS[5], results.callback(HOSTS[5])) > 0, "slots were not freed"
    assert results.wait(count=6)


def test_async_cache_hit_and_literal_call_back_before_returning(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    stack.add_dns_server(_server(dns_server))
    assert stack.gethostbyname("google.com", SocketAddress()) == NsapiError.OK
    assert stack.gethostbyname_async("google.com", results.callback("cached")) == NsapiError.OK
    assert stack.gethostbyname_async("127.0.0.5", results.callback("literal")) == NsapiError.OK
    assert [(r, a.get_ip_address() if a else None, t) for r, a, t, _ in results.calls] == [
        (1, "127.0.0.11", "cached"),
        (1, "127.0.0.5", "literal"),
    ]
    assert stack.dns.gethostbyname_async("::1", results.callback("v6"), NsapiVersion.IPv4) == NsapiError.DNS_FAILURE
    assert len(results.calls) == 2
    assert dns_server.query_count() == 1


def test_async_failures_reach_the_callback(stack: HostStack, dns_server: LoopbackDnsServer, results: Results) -> None:
    stack.add_dns_server(_server(dns_server))
    for index, name in enumerate(["google.com_invalid", "google.com", "youtube.com_invalid", "youtube.com"]):
        assert stack.gethostbyname_async(name, results.callback(str(index))) > 0
    assert results.wait(count=4)
    outcome = {tag: result for result, _, tag, _ in results.calls}
    assert outcome == {"0": NsapiError.DNS_FAILURE, "1": 1, "2": NsapiError.DNS_FAILURE, "3": 1}


def test_async_all_silent_is_timeout(stack: HostStack, results: Results) -> None:
    stack.dns.set_config(DnsConfig(response_wait_ms=100, total_attempts=2, retries=0))
    with LoopbackDnsServer({}, Behaviour(drop=-1)) as silent:
        stack.add_dns_server(_server(silent))
        assert stack.gethostbyname_async("google.com", results.callback("t")) > 0
        assert results.wait(count=1)
    assert results.calls[0][:2] == (NsapiError.TIMEOUT, None)


def test_cancel(stack: HostStack, dns_server: LoopbackDnsServer, results: Results) -> None:
    dns_server.behaviour.delay = 0.2
    stack.add_dns_server(_server(dns_server))
    ids = [stack.gethostbyname_async(name, results.callback(name)) for name in HOSTS[:4]]
    assert all(query_id > 0 for query_id in ids)
    cancelled = {HOSTS[0], HOSTS[2]}  # the running one and a queued one
    assert stack.gethostbyname_async_cancel(ids[0]) == NsapiError.OK
    assert stack.gethostbyname_async_cancel(ids[2]) == NsapiError.OK
    assert stack.gethostbyname_async_cancel(ids[2]) == NsapiError.PARAMETER
    assert stack.gethostbyname_async_cancel(4321) == NsapiError.PARAMETER
    assert results.wait(count=2)
    assert {tag for *_, tag, _ in results.calls} == set(HOSTS[:4]) - cancelled
    assert all(result == 1 for result, *_ in results.calls)
    assert stack.gethostbyname_async_cancel(ids[1]) == NsapiError.PARAMETER, "already done"
    # The cancelled queries' deadlines pass without a late callback.
    assert stack.dns.close()
    assert len(results.calls) == 2
    assert stack.open_sockets == 0


def test_cancel_all_in_flight_then_no_callback_ever_runs(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    dns_server.behaviour.delay = 0.2
    stack.add_dns_server(_server(dns_server))
    ids = [stack.gethostbyname_async(name, results.callback(name)) for name in HOSTS[:5]]
    assert [stack.gethostbyname_async_cancel(i) for i in ids] == [NsapiError.OK] * 5
    assert stack.dns.close()
    # A canary posted after the cancels runs after anything the cancelled queries could still have posted.
    assert stack.gethostbyname_async("wireshark.org", results.callback("canary")) > 0
    assert results.wait(count=1)
    assert [tag for *_, tag, _ in results.calls] == ["canary"]


def test_ids_restart_after_reset_and_wrap_after_0x7fff(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    stack.add_dns_server(_server(dns_server))
    first = stack.gethostbyname_async("google.com", results.callback("a"))
    assert results.wait(count=1)
    stack.dns.reset()
    assert stack.gethostbyname_async("google.com", results.callback("b")) == first == 1
    assert results.wait(count=2)
    stack.dns._next_id = 0x7FFF  # white-box: skip 32766 queries
    stack.dns.reset()  # reset wins over the counter
    stack.dns._next_id = 0x7FFF
    assert stack.gethostbyname_async("youtube.com", results.callback("c")) == 0x7FFF
    assert stack.gethostbyname_async("facebook.com", results.callback("d")) == 1
    assert results.wait(count=4)


def test_callback_may_start_another_query(stack: HostStack, dns_server: LoopbackDnsServer, results: Results) -> None:
    stack.add_dns_server(_server(dns_server))
    second = results.callback("second")

    def first(result: int, address: SocketAddress | None) -> None:
        assert stack.gethostbyname_async("youtube.com", second) > 0

    assert stack.gethostbyname_async("google.com", first) > 0
    assert results.wait(count=1)
    assert results.calls[0][0] == 1


def test_no_threads_or_sockets_leak(dns_server: LoopbackDnsServer, results: Results) -> None:
    host = HostStack()
    host.dns.set_config(FAST)
    host.add_dns_server(_server(dns_server))
    for name in HOSTS[:5]:
        assert host.gethostbyname_async(name, results.callback(name)) > 0
    assert results.wait(count=5)
    assert host.dns.close()
    assert not _alive("netsocket-dns")
    assert host.open_sockets == 0
    host.close()
    assert stop_shared_event_queue()
    assert not _alive("netsocket-shared-events")


# -- against real dnsmasq ------------------------------------------------------------------------------------------
def test_dnsmasq_round_trip(stack: HostStack, dnsmasq_dns: DnsmasqServer, results: Results) -> None:
    stack.add_dns_server(_server(dnsmasq_dns))
    address = SocketAddress()
    assert stack.gethostbyname("www.mozilla.org", address) == NsapiError.OK
    assert address.get_ip_address() == "127.0.0.26"
    assert stack.gethostbyname("bbc.co.uk", address, NsapiVersion.IPv6) == NsapiError.OK
    assert address.get_ip_address() == "::1"
    assert stack.gethostbyname("google.com_invalid", address) == NsapiError.DNS_FAILURE
    assert stack.gethostbyname_async("cnn.com", results.callback("cnn")) > 0
    assert results.wait(count=1)
    assert results.calls[0][0] == 1 and results.calls[0][1] == SocketAddress("127.0.0.24")


def test_external_call_in_runs_callbacks_on_the_applications_queue(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    app_queue = EventQueue("app-queue")
    stack.dns.set_call_in(app_queue.call_in)
    try:
        stack.add_dns_server(_server(dns_server))
        for name in HOSTS[:3]:
            assert stack.gethostbyname_async(name, results.callback(name)) > 0
        assert results.wait(count=3)
        assert set(results.threads) == {"app-queue"}
    finally:
        stack.dns.set_call_in(None)
        assert app_queue.stop()


def test_sync_queries_from_several_threads_and_async_together_get_their_own_answers(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    dns_server.behaviour.delay = 0.05
    stack.dns.set_config(DnsConfig(response_wait_ms=2000, total_attempts=2, cache_size=0))
    stack.add_dns_server(_server(dns_server))
    expected = {name: f"127.0.0.{11 + i}" for i, name in enumerate(HOSTS)}
    got: dict[str, str | None] = {}

    def resolve(name: str) -> None:
        address = SocketAddress()
        assert stack.gethostbyname(name, address) == NsapiError.OK
        got[name] = address.get_ip_address()

    assert stack.gethostbyname_async("wireshark.org", results.callback("async")) > 0
    threads = [threading.Thread(target=resolve, args=(name,)) for name in HOSTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert got == expected
    assert results.wait(count=1)
    assert results.calls[0][1] == SocketAddress("127.0.0.22")
    assert stack.open_sockets == 0


def test_blocking_query_from_a_callback_raises_instead_of_deadlocking(
    stack: HostStack, dns_server: LoopbackDnsServer
) -> None:
    stack.add_dns_server(_server(dns_server))
    seen: list[BaseException] = []
    done = threading.Event()

    def callback(result: int, address: SocketAddress | None) -> None:
        try:
            stack.gethostbyname("youtube.com", SocketAddress())
        except RuntimeError as exc:
            seen.append(exc)
        done.set()

    assert stack.gethostbyname_async("google.com", callback) > 0
    assert done.wait(5)
    assert len(seen) == 1


# -- truncated answers (issue 12) ---------------------------------------------------------------------------------
def test_a_truncated_answer_is_asked_again_over_tcp(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    """A UDP reply with the TC bit (carrying a wrong address here) is not used: the same server is asked over TCP
    through the stack, and its full answer is the result."""
    dns_server.behaviour.truncate_udp = True
    stack.add_dns_server(_server(dns_server))
    address = SocketAddress()
    assert stack.gethostbyname("google.com", address) == NsapiError.OK
    assert address == SocketAddress("127.0.0.11"), f"the truncated reply's address was used: {address}"
    assert dns_server.tcp_queries == 1
    assert stack.open_sockets == 0, "the query's sockets were not closed"


def test_a_truncated_answer_without_tcp_is_a_dns_failure(stack: HostStack, dns_server: LoopbackDnsServer) -> None:
    dns_server.behaviour.truncate_udp = True
    dns_server.behaviour.serve_tcp = False
    stack.add_dns_server(_server(dns_server))
    address = SocketAddress()
    assert stack.gethostbyname("google.com", address) == NsapiError.DNS_FAILURE
    assert not address, f"the truncated reply's address was used: {address}"
    assert stack.open_sockets == 0


def test_a_truncated_answer_asked_asynchronously(
    stack: HostStack, dns_server: LoopbackDnsServer, results: Results
) -> None:
    dns_server.behaviour.truncate_udp = True
    stack.add_dns_server(_server(dns_server))
    assert stack.gethostbyname_async("google.com", results.callback("tc")) > 0
    assert results.wait(count=1)
    result, address, _, _ = results.calls[0]
    assert result == 1 and address == SocketAddress("127.0.0.11")  # the async callback gets 1 for success
