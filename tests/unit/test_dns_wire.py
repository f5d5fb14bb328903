"""The resolver's sans-IO wire layer: queries it builds, replies it accepts, and untrusted bytes it must survive."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netsocket.drivers.host import HostStack

from netsocket import NsapiError, SocketAddress
from netsocket.dns import DnsConfig
from netsocket.dns_cache import DnsCache
from netsocket.dns_wire import DnsQuestion, DnsResult, make_question, parse_response
from netsocket.event_queue import stop_shared_event_queue
from netsocket.types import NsapiVersion
from tests.servers.dns_server import LoopbackDnsServer

V4, V6 = NsapiVersion.IPv4, NsapiVersion.IPv6


def _question(name: str = "example.test", version: NsapiVersion = V4, query_id: int = 0x1234) -> DnsQuestion:
    question = make_question(name, version, query_id)
    assert question is not None
    return question


def _reply(question: DnsQuestion, *records: tuple[str, str, str], ttl: int = 60) -> dns.message.Message:
    reply = dns.message.make_response(dns.message.from_wire(question.to_wire()))
    for owner, rdtype, value in records:
        reply.answer.append(dns.rrset.from_text(owner, ttl, "IN", rdtype, value))
    return reply


def test_query_is_a_recursive_a_or_aaaa_question_with_our_id() -> None:
    for version, rdtype in ((V4, "A"), (V6, "AAAA")):
        query = dns.message.from_wire(_question(version=version, query_id=0xBEEF).to_wire())
        assert query.id == 0xBEEF
        assert query.flags & dns.flags.RD
        assert [(q.name.to_text(), dns.rdatatype.to_text(q.rdtype)) for q in query.question] == [
            ("example.test.", rdtype)
        ]


def test_good_answer_gives_addresses_and_ttl() -> None:
    question = _question()
    reply = _reply(question, ("example.test.", "A", "192.0.2.1"), ttl=77)
    result = parse_response(reply.to_wire(), question)
    assert result == DnsResult(0, (bytes([192, 0, 2, 1]),), 77)
    assert result.ok


def test_cname_chain_ttl_is_the_smallest() -> None:
    question = _question(version=V6)
    reply = _reply(question, ("example.test.", "CNAME", "real.test."), ttl=30)
    reply.answer.append(dns.rrset.from_text("real.test.", 300, "IN", "AAAA", "2001:db8::1"))
    result = parse_response(reply.to_wire(), question)
    assert result is not None and result.ttl == 30 and len(result.addresses[0]) == 16


def test_records_for_another_name_are_not_an_answer() -> None:
    question = _question()
    reply = _reply(question, ("evil.test.", "A", "192.0.2.66"))
    result = parse_response(reply.to_wire(), question)
    assert result is not None and not result.ok and result.addresses == ()


def test_rcode_is_reported() -> None:
    question = _question()
    reply = _reply(question)
    reply.set_rcode(dns.rcode.NXDOMAIN)
    result = parse_response(reply.to_wire(), question)
    assert result is not None and result.rcode == dns.rcode.NXDOMAIN and not result.ok


@pytest.mark.parametrize("mutation", ["id", "not_response", "question", "rdtype"])
def test_replies_to_other_questions_are_ignored(mutation: str) -> None:
    question = _question()
    if mutation == "question":
        other = _question("other.test")
        reply = _reply(other, ("other.test.", "A", "192.0.2.1"))
    elif mutation == "rdtype":
        reply = _reply(_question(version=V6), ("example.test.", "AAAA", "::1"))
    else:
        reply = _reply(question, ("example.test.", "A", "192.0.2.1"))
        if mutation == "id":
            reply.id ^= 1
        else:
            reply.flags &= ~dns.flags.QR
    assert parse_response(reply.to_wire(), question) is None


@pytest.mark.parametrize("name", ["a" * 64, "a..b", "x." * 128])
def test_names_that_do_not_fit_the_wire_give_no_question(name: str) -> None:
    assert make_question(name, V4, 1) is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = parse_response(data, _question())
    assert result is None or isinstance(result, DnsResult)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=0xFF))
def test_bytes_behind_a_matching_header_never_raise(tail: bytes, flags_low: int) -> None:
    question = _question()
    # Our id, QR set, one question, one answer: gets past the header into dnspython's record parsing.
    header = question.query_id.to_bytes(2, "big") + bytes([0x81, flags_low]) + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    echoed = question.to_wire()[12:]
    for data in (header + tail, header + echoed + tail):
        result = parse_response(data, question)
        assert result is None or isinstance(result, DnsResult)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["example.test.", "b.test."]), st.sampled_from(["A", "CNAME"])), max_size=6))
def test_odd_but_wellformed_answers_never_raise(records: list[tuple[str, str]]) -> None:
    question = _question()
    reply = _reply(question)
    for owner, rdtype in records:
        value = "192.0.2.9" if rdtype == "A" else ("b.test." if owner == "example.test." else "example.test.")
        reply.answer.append(dns.rrset.from_text(owner, 5, "IN", rdtype, value))
    result = parse_response(reply.to_wire(), question)
    assert result is None or isinstance(result, DnsResult)


def test_cache_basics() -> None:
    now = [0.0]
    cache = DnsCache(2, clock=lambda: now[0])
    cache.put("A.test.", V4, b"\x01\x02\x03\x04", 10)
    cache.put("a.test", V6, bytes(16), 10)
    assert cache.get("a.test", NsapiVersion.UNSPEC) == (V4, b"\x01\x02\x03\x04")
    assert cache.get("a.test", V6) == (V6, bytes(16))
    cache.put("zero.test", V4, b"\x01\x01\x01\x01", 0)
    assert cache.get("zero.test", V4) is None and len(cache) == 2
    now[0] = 10.0
    assert cache.get("a.test", NsapiVersion.UNSPEC) is None and len(cache) == 0


@settings(max_examples=15, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_random_replies_from_a_real_server_never_escape_the_resolver(reply: bytes) -> None:
    """End to end: whatever the server sends back, the call returns an nsapi code and raises nothing."""
    stack = HostStack()
    stack.dns.set_config(DnsConfig(response_wait_ms=40, total_attempts=1, retries=0))
    try:
        with LoopbackDnsServer({}) as server:
            server.behaviour.reply_override = lambda query: query[:2] + reply
            stack.add_dns_server(SocketAddress(*server.address))
            result = stack.gethostbyname("example.test", SocketAddress())
            assert result in (NsapiError.TIMEOUT, NsapiError.DNS_FAILURE, NsapiError.OK)
    finally:
        stack.close()
        assert stop_shared_event_queue()
