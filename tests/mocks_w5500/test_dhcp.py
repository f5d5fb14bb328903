"""The emulated LAN's DHCP server, driven through the chip's UDP socket on port 68 (checklist items 33, 36)
and directly (strict parsing, leases, renewals, NAK and silence injection)."""

from __future__ import annotations

import pytest
from netsocket.mocks.w5500 import DhcpConfig, DhcpServer, FakeSpiDev, LanConfig

from .spi import (
    IR_SEND_OK,
    SEND,
    UDP,
    UDP_MODE,
    Sn_DIPR,
    Sn_DPORT,
    Sn_IR,
    Sn_TX_WR,
    Wire,
    ip,
    sreg,
    txbuf,
    wait_until,
)

MAC = bytes.fromhex("020000aabbcc")
DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6


def dhcp_message(kind: int, xid: int, *, broadcast: bool = True, ciaddr: bytes = bytes(4), **options: bytes) -> bytes:
    """A BOOTREQUEST built field by field (RFC 2131 layout)."""
    fixed = bytearray(236)
    fixed[0:4] = b"\x01\x01\x06\x00"
    fixed[4:8] = xid.to_bytes(4, "big")
    fixed[10:12] = b"\x80\x00" if broadcast else b"\x00\x00"
    fixed[12:16] = ciaddr
    fixed[28:34] = MAC
    opts = bytearray(b"\x63\x82\x53\x63\x35\x01" + bytes([kind]))
    codes = {"requested": 50, "server": 54}
    for name, value in options.items():
        opts += bytes([codes[name], len(value)]) + value
    opts.append(255)
    return bytes(fixed + opts)


def parse_reply(payload: bytes) -> tuple[int, bytes, dict[int, bytes]]:
    assert payload[0] == 2 and payload[236:240] == b"\x63\x82\x53\x63"
    options: dict[int, bytes] = {}
    pos = 240
    while payload[pos] != 255:
        options[payload[pos]] = payload[pos + 2 : pos + 2 + payload[pos + 1]]
        pos += 2 + payload[pos + 1]
    return int.from_bytes(payload[4:8], "big"), payload[16:20], options


def _send(wire: Wire, destination: str, data: bytes) -> None:
    wire.write(sreg(0), Sn_DIPR, ip(destination))
    wire.w16(sreg(0), Sn_DPORT, 67)
    ptr = wire.r16(sreg(0), Sn_TX_WR)
    wire.write(txbuf(0), ptr, data)
    wire.w16(sreg(0), Sn_TX_WR, (ptr + len(data)) & 0xFFFF)
    wire.command(0, SEND)
    wait_until(lambda: bool(wire.ir(0) & IR_SEND_OK))
    wire.w8(sreg(0), Sn_IR, 0xFF)


def _exchange(wire: Wire, destination: str, data: bytes) -> tuple[str, int, tuple[int, bytes, dict[int, bytes]]]:
    _send(wire, destination, data)
    source, port, payload = wire.recv_datagram(0)
    return source, port, parse_reply(payload)


@pytest.mark.parametrize("broadcast", [True, False], ids=["broadcast-flag", "unicast-reply"])
def test_discover_offer_request_ack_over_the_chips_udp_socket(wire: Wire, broadcast: bool) -> None:
    wire.write(0x00, 0x09, MAC)  # SHAR; SIPR stays 0.0.0.0
    assert wire.open(0, UDP_MODE, 68) == UDP
    source, port, (xid, offered, options) = _exchange(
        wire, "255.255.255.255", dhcp_message(DISCOVER, 0xABCD, broadcast=broadcast)
    )
    assert (source, port, xid) == ("192.168.77.1", 67, 0xABCD)
    assert options[53] == bytes([OFFER])
    assert offered[:3] == bytes([192, 168, 77]) and 100 <= offered[3] <= 199
    assert options[1] == ip("255.255.255.0") and options[3] == ip("192.168.77.1") and options[6] == ip("192.168.77.1")
    assert options[54] == ip("192.168.77.1")
    request = dhcp_message(REQUEST, 0xABCE, broadcast=broadcast, requested=offered, server=options[54])
    _, _, (xid, acked, options) = _exchange(wire, "255.255.255.255", request)
    assert (xid, acked, options[53]) == (0xABCE, offered, bytes([ACK]))
    assert int.from_bytes(options[51], "big") == 3600
    assert int.from_bytes(options[58], "big") == 1800 and int.from_bytes(options[59], "big") == 3150


def test_renewal_is_unicast_to_the_server_and_acked() -> None:
    with FakeSpiDev(lan=LanConfig(lease_time=4)) as spi:
        wire = Wire(spi)
        wire.write(0x00, 0x09, MAC)
        assert wire.open(0, UDP_MODE, 68) == UDP
        _, _, (_, offered, options) = _exchange(wire, "255.255.255.255", dhcp_message(DISCOVER, 1))
        assert int.from_bytes(options[58], "big") == 2
        _exchange(wire, "255.255.255.255", dhcp_message(REQUEST, 2, requested=offered, server=options[54]))
        wire.configure(".".join(str(b) for b in offered))
        renew = dhcp_message(REQUEST, 3, broadcast=False, ciaddr=offered)
        _, _, (xid, acked, options) = _exchange(wire, "192.168.77.1", renew)
        assert (xid, acked, options[53]) == (3, offered, bytes([ACK]))
        assert ("ACK", ".".join(str(b) for b in offered)) in spi.emulator.dhcp.log


def test_injected_nak_and_silence(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    assert wire.open(0, UDP_MODE, 68) == UDP
    spi.emulator.dhcp.fail_next(1, "silent")
    _send(wire, "255.255.255.255", dhcp_message(DISCOVER, 9))
    _, _, (_, offered, options) = _exchange(wire, "255.255.255.255", dhcp_message(DISCOVER, 10))
    assert options[53] == bytes([OFFER])
    spi.emulator.dhcp.fail_next(1, "nak")
    _, _, (_, _, options) = _exchange(
        wire, "255.255.255.255", dhcp_message(REQUEST, 11, requested=offered, server=options[54])
    )
    assert options[53] == bytes([NAK])
    assert spi.emulator.dhcp.log[0] == ("DISCOVER", "0.0.0.0")


def test_reply_to_a_different_address_is_not_delivered_once_configured(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    wire.configure("192.168.77.50")
    assert wire.open(0, UDP_MODE, 68) == UDP
    _send(wire, "255.255.255.255", dhcp_message(DISCOVER, 5, broadcast=False))  # OFFER unicast to .100
    _, _, (_, _, options) = _exchange(wire, "255.255.255.255", dhcp_message(DISCOVER, 6, broadcast=True))
    assert options[53] == bytes([OFFER])  # only the broadcast reply arrived


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m[:200],  # truncated fixed part
        lambda m: m[:236] + b"\x00\x00\x00\x00" + m[240:],  # no magic cookie
        lambda m: b"\x02" + m[1:],  # a BOOTREPLY
        lambda m: m[:-1],  # options never end
        lambda m: m[:240] + b"\x32\x09\x01" + m[240:],  # option length runs past the end... then garbage
        lambda m: m[:240] + b"\xff",  # no message type
    ],
    ids=["short", "no-cookie", "reply", "no-end", "bad-length", "no-type"],
)
def test_malformed_requests_are_ignored(mutate: object) -> None:
    server = DhcpServer(DhcpConfig())
    assert callable(mutate)
    assert server.handle(mutate(dhcp_message(DISCOVER, 1)), now=0.0) is None


def test_lease_expiry_frees_the_address_for_someone_else() -> None:
    server = DhcpServer(DhcpConfig(pool_first="192.168.77.100", pool_last="192.168.77.100", lease_time=5))
    offer = server.handle(dhcp_message(DISCOVER, 1), now=0.0)
    assert offer is not None
    ack = server.handle(dhcp_message(REQUEST, 2, requested=ip("192.168.77.100"), server=ip("192.168.77.1")), 0.0)
    assert ack is not None and parse_reply(ack.payload)[2][53] == bytes([ACK])
    other = dhcp_message(DISCOVER, 3).replace(MAC, bytes.fromhex("020000000001"), 1)
    assert server.handle(other, now=1.0) is None  # pool exhausted
    assert server.handle(other, now=6.0) is not None
