"""The emulated LAN's DNS answers from a host table (`localhost` -> 127.0.0.1 by default).

Layer: sans-IO. `answer(query)` returns a response for A questions about names in the table, None for names it
does not know (the LAN then relays the query to the configured loopback DNS server, or answers NXDOMAIN with
`nxdomain(query)`), and None for anything that does not parse.
"""

from __future__ import annotations

import dns.exception
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def _parse(query: bytes) -> dns.message.Message | None:
    try:
        message = dns.message.from_wire(query)
    except (dns.exception.DNSException, ValueError):
        return None
    if message.flags & 0x8000 or len(message.question) != 1:
        return None
    return message


class DnsTable:
    def __init__(self, hosts: dict[str, str] | None = None) -> None:
        source = {"localhost": "127.0.0.1"} if hosts is None else hosts
        self.hosts = {name.lower().rstrip("."): ip for name, ip in source.items()}

    def answer(self, query: bytes) -> bytes | None:
        message = _parse(query)
        if message is None:
            return None
        question = message.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if name not in self.hosts:
            return None
        response = dns.message.make_response(message)
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, "A", self.hosts[name]))
        return response.to_wire()

    def nxdomain(self, query: bytes) -> bytes | None:
        message = _parse(query)
        if message is None:
            return None
        response = dns.message.make_response(message)
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
