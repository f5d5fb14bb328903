"""DNS queries and responses on the wire, for netsocket's resolver (sans-IO: bytes in, results out).

Encoding and decoding are dnspython's (``dns.message``); this module only decides what a datagram means for one
outstanding question. A response is untrusted input: anything that is not a well-formed answer to *our* question
(other transaction id, not a response, other question, garbage) gives ``None`` ("ignore it and keep waiting"),
never an exception.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from netsocket.types import NsapiVersion

_RDTYPE = {NsapiVersion.IPv4: dns.rdatatype.A, NsapiVersion.IPv6: dns.rdatatype.AAAA}

MAX_RESPONSE_SIZE = 512
"""Plain DNS over UDP (no EDNS in our queries): a server sends at most 512 bytes (Mbed's ``DNS_BUFFER_SIZE``)."""
TCP_LENGTH_SIZE = 2
"""DNS over TCP puts a 2-byte big-endian length before each message (RFC 1035 §4.2.2)."""


@dataclass(frozen=True)
class DnsQuestion:
    """One question: the name (as dnspython parsed it), the record type by IP version, the transaction id."""

    name: dns.name.Name
    version: NsapiVersion
    query_id: int

    def to_wire(self) -> bytes:
        """The query datagram (recursion desired, no EDNS)."""
        query = dns.message.make_query(self.name, _RDTYPE[self.version], id=self.query_id)
        return query.to_wire()


@dataclass(frozen=True)
class DnsResult:
    """What a valid response to our question says: the rcode, the addresses found (network-order bytes, in the
    server's order) and the smallest TTL along the answer (CNAME chain included)."""

    rcode: int
    addresses: tuple[bytes, ...]
    ttl: int
    truncated: bool = False
    """The TC bit: the server had more than fits in a datagram. Nothing in such a reply is used (RFC 2181 §9):
    the question is asked again over TCP."""

    @property
    def ok(self) -> bool:
        return self.rcode == dns.rcode.NOERROR and bool(self.addresses) and not self.truncated


def tcp_frame(message: bytes) -> bytes:
    """``message`` as DNS over TCP sends it: its length (2 bytes, big-endian), then the message."""
    return len(message).to_bytes(TCP_LENGTH_SIZE, "big") + message


def make_question(host: str, version: NsapiVersion, query_id: int) -> DnsQuestion | None:
    """The question for ``host``, or None when the name cannot be put on the wire (a label over 63 bytes, an empty
    label, a name over 255 bytes once encoded, or text IDNA rejects)."""
    if version not in _RDTYPE:
        raise ValueError("a DNS question asks for IPv4 (A) or IPv6 (AAAA)")
    try:
        name = dns.name.from_text(host)
        name.to_wire()
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return None
    return DnsQuestion(name, version, query_id & 0xFFFF)


def parse_response(data: bytes, question: DnsQuestion) -> DnsResult | None:
    """Interpret a datagram as the answer to ``question``; None means it is not one (ignore it)."""
    try:
        message = dns.message.from_wire(data, ignore_trailing=True)
    except Exception:  # untrusted bytes: any parse failure means "not an answer"
        return None
    try:
        return _interpret(message, question)
    except Exception:  # a structurally odd message that dnspython accepted; still untrusted
        return None


def _interpret(message: dns.message.Message, question: DnsQuestion) -> DnsResult | None:
    if message.id != question.query_id or not message.flags & dns.flags.QR:
        return None
    if message.opcode() != dns.opcode.QUERY or len(message.question) != 1:
        return None
    echoed = message.question[0]
    rdtype = _RDTYPE[question.version]
    if echoed.name != question.name or echoed.rdtype != rdtype or echoed.rdclass != dns.rdataclass.IN:
        return None
    rcode = message.rcode()
    if message.flags & dns.flags.TC:
        return DnsResult(int(rcode), (), 0, truncated=True)
    if rcode != dns.rcode.NOERROR:
        return DnsResult(int(rcode), (), 0)
    if not isinstance(message, dns.message.QueryMessage):
        return None
    try:
        chain = message.resolve_chaining()
    except dns.exception.DNSException:
        # A broken CNAME chain (a loop, a CNAME beside other data): no usable answer.
        return DnsResult(int(rcode), (), 0)
    if chain.answer is None:
        return DnsResult(int(rcode), (), 0)
    addresses = tuple(_packed(rdata) for rdata in chain.answer)
    return DnsResult(int(rcode), addresses, max(0, int(chain.minimum_ttl)))


def _packed(rdata: object) -> bytes:
    """The rdata's address in network order (A: 4 bytes, AAAA: 16)."""
    return ipaddress.ip_address(rdata.address).packed  # type: ignore[attr-defined]
