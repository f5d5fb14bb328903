"""netsocket.dhcp against hostile or broken servers (issue 12): RFC 2131's server-identifier rules, sane values only,
bounded lists, a minimum lease, the conflict check with DECLINE, and INIT-REBOOT. Sans-IO: replies are built here
byte by byte, as a server on the LAN could send them."""

from __future__ import annotations

import random
import struct

import pytest
from netsocket.mocks.w5500 import DhcpConfig, DhcpServer

from netsocket.dhcp import (
    ACK,
    BROADCAST,
    DECLINE,
    DECLINE_WAIT_S,
    DISCOVER,
    MAGIC_COOKIE,
    MAX_DNS_SERVERS,
    NAK,
    OFFER,
    REQUEST,
    Bound,
    DhcpMachine,
    Lost,
    Probe,
    Send,
    State,
)

MAC = bytes.fromhex("020000000042")
SERVER = bytes((192, 168, 77, 1))
ROGUE = bytes((192, 168, 77, 66))
IP = bytes((192, 168, 77, 100))


def ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def reply(
    machine: DhcpMachine,
    kind: int,
    yiaddr: bytes = IP,
    *,
    server: bytes | None = SERVER,
    netmask: bytes | None = ip("255.255.255.0"),
    router: bytes | None = SERVER,
    dns: list[bytes] | None = None,
    lease: int | None = 100,
) -> bytes:
    """A BOOTREPLY for the machine's current transaction."""
    fixed = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, machine.xid, 0, 0, bytes(4), yiaddr, bytes(4), bytes(4),
        MAC + bytes(10), b"", b"",
    )  # fmt: skip
    options = bytearray(MAGIC_COOKIE) + bytes((53, 1, kind))
    for code, value in (
        (54, server),
        (1, netmask),
        (3, router),
        (51, None if lease is None else struct.pack("!I", lease)),
    ):
        if value is not None:
            options += bytes((code, len(value))) + value
    raw_dns = b"".join(dns if dns is not None else [SERVER])
    for start in range(0, len(raw_dns), 252):  # long options are split and concatenated (RFC 3396)
        chunk = raw_dns[start : start + 252]
        options += bytes((6, len(chunk))) + chunk
    options.append(255)
    return fixed + bytes(options)


def sends(events: list[object]) -> list[Send]:
    return [event for event in events if isinstance(event, Send)]


def message_type(payload: bytes) -> int:
    options = payload[240:]
    pos = 0
    while pos < len(options):
        if options[pos] == 53:
            return options[pos + 2]
        pos += 2 + options[pos + 1] if options[pos] else 1
    raise AssertionError("no message type")


def selecting() -> DhcpMachine:
    machine = DhcpMachine(MAC, rng=random.Random(7))
    machine.start(0.0)
    return machine


def bound(now: float = 0.0) -> DhcpMachine:
    machine = selecting()
    machine.receive(reply(machine, OFFER), now)
    events = machine.receive(reply(machine, ACK), now)
    assert events == [Probe(IP)]
    assert isinstance(machine.probe_result(False, now)[0], Bound)
    return machine


def renewing() -> DhcpMachine:
    machine = bound()
    events = machine.poll(50.0)  # T1
    assert machine.state == State.RENEWING and sends(events)[0].destination == SERVER
    return machine


def test_a_renewal_answered_by_another_server_is_ignored() -> None:
    machine = renewing()
    assert machine.receive(reply(machine, ACK, ip("192.168.77.150"), server=ROGUE), 51.0) == []
    assert machine.receive(reply(machine, ACK, server=ROGUE), 51.0) == []
    assert machine.receive(reply(machine, NAK, bytes(4), server=ROGUE), 51.0) == []  # a forged NAK kills nothing
    assert machine.state == State.RENEWING and machine.lease is not None and machine.lease.ip == IP
    events = machine.receive(reply(machine, ACK), 51.0)
    assert isinstance(events[0], Bound) and events[0].lease.ip == IP


def test_a_renewal_ack_for_another_address_is_ignored() -> None:
    machine = renewing()
    assert machine.receive(reply(machine, ACK, ip("192.168.77.150")), 51.0) == []
    assert machine.lease is not None and machine.lease.ip == IP


def test_an_ack_from_a_server_other_than_the_selected_one_is_ignored() -> None:
    machine = selecting()
    machine.receive(reply(machine, OFFER), 0.0)
    assert machine.state == State.REQUESTING
    assert machine.receive(reply(machine, ACK, server=ROGUE), 0.0) == []
    assert machine.state == State.REQUESTING


@pytest.mark.parametrize(
    ("what", "options"),
    [
        ("loopback address", {"yiaddr": ip("127.0.0.1")}),
        ("multicast address", {"yiaddr": ip("224.0.0.5")}),
        ("limited broadcast", {"yiaddr": BROADCAST}),
        ("subnet broadcast", {"yiaddr": ip("192.168.77.255")}),
        ("network address", {"yiaddr": ip("192.168.77.0")}),
        ("reserved 240/4", {"yiaddr": ip("240.0.0.1")}),
        ("0/8", {"yiaddr": ip("0.1.2.3")}),
        ("multicast gateway", {"router": ip("224.0.0.1")}),
        ("loopback gateway", {"router": ip("127.0.0.1")}),
        ("broadcast gateway", {"router": BROADCAST}),
        ("gateway off the subnet", {"router": ip("10.0.0.1")}),
        ("gateway is the address itself", {"router": IP}),
        ("non-contiguous netmask", {"netmask": ip("255.0.255.0")}),
        ("zero netmask", {"netmask": ip("0.0.0.0")}),
        ("one-second lease", {"lease": 1}),
    ],
)
def test_insane_offers_and_acks_are_ignored(what: str, options: dict[str, object]) -> None:
    machine = selecting()
    assert machine.receive(reply(machine, OFFER, **options), 0.0) == [], f"an OFFER with a {what} was taken"  # type: ignore[arg-type]
    assert machine.state == State.SELECTING
    machine.receive(reply(machine, OFFER), 0.0)
    assert machine.receive(reply(machine, ACK, **options), 0.0) == [], f"an ACK with a {what} was taken"  # type: ignore[arg-type]
    assert machine.state == State.REQUESTING and machine.lease is None


def test_a_huge_dns_list_is_bounded_and_filtered() -> None:
    machine = selecting()
    machine.receive(reply(machine, OFFER), 0.0)
    junk = [BROADCAST, ip("0.0.0.0"), ip("224.0.0.251"), ip("127.0.0.53")]
    many = junk + [ip(f"10.{i // 250}.{i % 250}.1") for i in range(945)]
    assert machine.receive(reply(machine, ACK, dns=many), 0.0) == [Probe(IP)]
    (event,) = machine.probe_result(False, 0.0)
    assert isinstance(event, Bound)
    assert event.lease.dns == tuple(many[4 : 4 + MAX_DNS_SERVERS])


def test_a_taken_address_is_declined_and_the_client_starts_over() -> None:
    machine = selecting()
    machine.receive(reply(machine, OFFER), 0.0)
    assert machine.receive(reply(machine, ACK), 0.0) == [Probe(IP)]
    assert machine.lease is None, "an address not checked yet was used"
    events = machine.probe_result(True, 1.0)
    (decline,) = sends(events)
    assert message_type(decline.payload) == DECLINE and decline.destination == BROADCAST
    assert IP in decline.payload[240:] and SERVER in decline.payload[240:]  # requested-ip and server-id options
    assert machine.lease is None and not any(isinstance(event, Bound) for event in events)
    assert machine.poll(1.0 + DECLINE_WAIT_S - 0.1) == []  # RFC 2131: wait ten seconds
    (discover,) = sends(machine.poll(1.0 + DECLINE_WAIT_S))
    assert message_type(discover.payload) == DISCOVER


def test_the_emulated_server_offers_another_address_after_a_decline() -> None:
    server = DhcpServer(DhcpConfig(lease_time=100))
    machine = DhcpMachine(MAC, rng=random.Random(3))
    queue = list(machine.start(0.0))
    now, declined, bound_ips = 0.0, 0, []
    while queue and not bound_ips:
        event = queue.pop(0)
        if isinstance(event, Send):
            answer = server.handle(event.payload, now)
            if answer is not None:
                queue.extend(machine.receive(answer.payload, now))
        elif isinstance(event, Probe):
            taken = event.ip == IP  # another host has .100
            declined += taken
            queue.extend(machine.probe_result(taken, now))
            if taken:
                now += DECLINE_WAIT_S
                queue.extend(machine.poll(now))
        elif isinstance(event, Bound):
            bound_ips.append(event.lease.ip)
    assert declined == 1 and bound_ips == [ip("192.168.77.101")]
    assert IP in server.declined


def test_init_reboot_asks_for_the_previous_address() -> None:
    lease = bound().lease
    assert lease is not None
    machine = DhcpMachine(MAC, rng=random.Random(9))
    (request,) = sends(machine.start(60.0, lease))
    assert machine.state == State.INIT_REBOOT
    assert message_type(request.payload) == REQUEST and request.destination == BROADCAST
    assert request.payload[12:16] == bytes(4), "INIT-REBOOT leaves ciaddr empty"
    assert bytes((50, 4)) + IP in request.payload[240:] and bytes((54, 4)) not in request.payload[240:]
    assert machine.receive(reply(machine, ACK, ip("192.168.77.150")), 60.0) == []  # not the address asked for
    assert machine.receive(reply(machine, ACK), 60.0) == [Probe(IP)]
    assert isinstance(machine.probe_result(False, 60.0)[0], Bound)


def test_init_reboot_nak_starts_over_and_an_expired_lease_is_not_rebooted() -> None:
    lease = bound().lease
    assert lease is not None
    machine = DhcpMachine(MAC, rng=random.Random(9))
    machine.start(60.0, lease)
    (discover,) = sends(machine.receive(reply(machine, NAK, bytes(4)), 60.0))
    assert message_type(discover.payload) == DISCOVER and machine.state == State.SELECTING
    (discover,) = sends(DhcpMachine(MAC).start(lease.expires + 1, lease))
    assert message_type(discover.payload) == DISCOVER


def test_init_reboot_falls_back_to_discover_when_nobody_answers() -> None:
    lease = bound().lease
    assert lease is not None
    machine = DhcpMachine(MAC, rng=random.Random(9), initial_backoff=1.0)
    machine.start(60.0, lease)
    now, kinds = 60.0, []
    while machine.state == State.INIT_REBOOT:
        deadline = machine.next_deadline()
        assert deadline is not None
        now = deadline
        kinds += [message_type(send.payload) for send in sends(machine.poll(now))]
    assert kinds[-1] == DISCOVER and kinds[:-1] == [REQUEST] * (len(kinds) - 1)


def test_lease_expiry_is_still_reported() -> None:
    machine = renewing()
    events = machine.poll(100.0)
    assert isinstance(events[0], Lost)
