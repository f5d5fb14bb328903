"""netsocket.dhcp's sans-IO client machine, run against the emulator's sans-IO DHCP server (no sockets, no clock)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from netsocket.mocks.w5500 import DhcpConfig, DhcpServer

from netsocket.dhcp import (
    ACK,
    BROADCAST,
    Bound,
    DhcpMachine,
    Lost,
    Probe,
    Send,
    State,
    build_message,
    parse_reply,
)

MAC = bytes.fromhex("020000000042")
SERVER = bytes((192, 168, 77, 1))


def _machine() -> DhcpMachine:
    return DhcpMachine(MAC, hostname="test", rng=random.Random(1))


def _exchange(machine: DhcpMachine, server: DhcpServer, events: list, now: float) -> list:
    """Deliver every Send to the server and feed its replies back until nothing more is sent."""
    out = []
    queue = list(events)
    while queue:
        event = queue.pop(0)
        out.append(event)
        if isinstance(event, Send):
            reply = server.handle(event.payload, now)
            if reply is not None:
                queue.extend(machine.receive(reply.payload, now))
        elif isinstance(event, Probe):  # the conflict check: nobody else has the address
            queue.extend(machine.probe_result(False, now))
    return out


def _bind(machine: DhcpMachine, server: DhcpServer, now: float = 0.0) -> list:
    return _exchange(machine, server, machine.start(now), now)


def test_discover_offer_request_ack() -> None:
    machine, server = _machine(), DhcpServer(DhcpConfig(lease_time=100))
    events = _bind(machine, server)
    sends = [e for e in events if isinstance(e, Send)]
    assert [s.destination for s in sends] == [BROADCAST, BROADCAST]  # DISCOVER, REQUEST
    bound = [e for e in events if isinstance(e, Bound)]
    assert len(bound) == 1 and machine.state == State.BOUND
    lease = bound[0].lease
    assert lease.ip == bytes((192, 168, 77, 100))
    assert lease.gateway == SERVER and lease.netmask == bytes((255, 255, 255, 0)) and lease.dns == (SERVER,)
    assert (lease.t1, lease.t2, lease.lease_time) == (50.0, 87.0, 100.0)
    assert [name for name, _ in server.log] == ["DISCOVER", "OFFER", "REQUEST", "ACK"]


def test_renewal_at_t1_is_unicast_and_rebinding_at_t2_is_broadcast() -> None:
    machine, server = _machine(), DhcpServer(DhcpConfig(lease_time=100))
    _bind(machine, server)
    assert machine.poll(49.9) == []
    renew = machine.poll(50.0)
    assert machine.state == State.RENEWING
    assert len(renew) == 1 and isinstance(renew[0], Send) and renew[0].destination == SERVER
    events = _exchange(machine, server, renew, 50.0)
    assert any(isinstance(e, Bound) for e in events) and machine.state == State.BOUND
    assert machine.lease is not None and machine.lease.obtained == 50.0
    # Now the server goes silent: renew at T1, rebind (broadcast) at T2, lose the lease at expiry.
    server.fail_next(-1)
    first = machine.poll(100.0)
    assert machine.state == State.RENEWING and isinstance(first[0], Send) and first[0].destination == SERVER
    rebind = machine.poll(137.0)
    assert machine.state == State.REBINDING and isinstance(rebind[0], Send) and rebind[0].destination == BROADCAST
    lost = machine.poll(150.0)
    assert isinstance(lost[0], Lost) and machine.state == State.SELECTING


def test_nak_while_renewing_loses_the_lease() -> None:
    machine, server = _machine(), DhcpServer(DhcpConfig(lease_time=100))
    _bind(machine, server)
    server.fail_next(1, "nak")
    events = _exchange(machine, server, machine.poll(50.0), 50.0)
    assert any(isinstance(e, Lost) for e in events)
    assert any(isinstance(e, Bound) for e in events)  # and starts over at once, finding a new lease
    assert machine.state == State.BOUND


def test_discover_is_retransmitted_with_backoff() -> None:
    machine = _machine()
    machine.start(0.0)
    deadlines = []
    now = 0.0
    for _ in range(5):
        deadline = machine.next_deadline()
        assert deadline is not None
        deadlines.append(deadline - now)
        now = deadline
        assert isinstance(machine.poll(now)[0], Send)
    assert deadlines[0] < deadlines[2] < deadlines[4] <= 64 + 1


def test_replies_for_someone_else_are_ignored() -> None:
    machine, server = _machine(), DhcpServer()
    discover = machine.start(0.0)[0]
    assert isinstance(discover, Send)
    reply = server.handle(discover.payload, 0.0)
    assert reply is not None
    other_xid = bytearray(reply.payload)
    other_xid[4] ^= 0xFF
    other_mac = bytearray(reply.payload)
    other_mac[33] ^= 0xFF
    truncated = reply.payload[:-60].rstrip(b"\x00")[:-1]
    for bad in (bytes(other_xid), bytes(other_mac), truncated, b"", reply.payload[:239]):
        assert machine.receive(bad, 0.0) == []
    assert machine.state == State.SELECTING


@settings(max_examples=300)
@given(st.binary(max_size=700))
def test_random_bytes_never_raise(data: bytes) -> None:
    machine = _machine()
    machine.start(0.0)
    assert machine.receive(data, 0.0) == []


@given(st.integers(0, 0xFFFFFFFF))
def test_a_built_ack_parses(xid: int) -> None:
    message = bytearray(build_message(ACK, xid, MAC))
    message[0] = 2  # make it a reply
    reply = parse_reply(bytes(message), xid, MAC)
    assert reply is not None and reply.message_type == ACK


def test_stopping_a_bound_client_releases_the_lease() -> None:
    machine, server = _machine(), DhcpServer(DhcpConfig(lease_time=100))
    _bind(machine, server)
    assert server.leases
    events = machine.stop()
    assert len(events) == 1 and isinstance(events[0], Send) and events[0].destination == SERVER
    assert server.handle(events[0].payload, 1.0) is None
    assert not server.leases and server.log[-1][0] == "RELEASE"
    assert machine.stop() == []  # nothing held any more
