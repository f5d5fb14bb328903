"""URC injection at every point of checklist item 13, carrying real pending events, on the sans-IO model.

Each case arms one real event (data from the peer, the peer closing, a client connecting, the AP going away),
restricts injection to one point with probability 1, and checks the message lands exactly there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace

import pytest
from netsocket.mocks.esp_at import EspAtDevice, Faults, Timing, get_profile

from .fakenet import FakeConnection, FakeNetwork


def _instant_timing() -> Timing:
    zero = {f.name: 0.0 for f in fields(Timing) if f.name not in ("timescale", "uart_drain_rate")}
    return replace(Timing(**zero), reconnect_interval=1e6)


class Rig:
    def __init__(self, passive: bool) -> None:
        self.net = FakeNetwork()
        self.dev = EspAtDevice(get_profile("at22_8266"), self.net, timing=_instant_timing(), boot=False, seed=5)
        self.now = 0.0
        self.out = bytearray()
        self.dev.echo = False
        for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""'):
            self.run(line)
        if passive:
            self.run(b"AT+CIPRECVMODE=1")
        self.run(b'AT+CIPSTART=0,"TCP","127.0.0.1",5000')
        self.run(b'AT+CIPSTART=1,"TCP","127.0.0.1",5001')
        self.run(b"AT+CIPSERVER=1,333")
        self.events = self.net.connections[0]
        self.other = self.net.connections[1]
        self.out.clear()

    def tick(self) -> None:
        self.now += 0.001
        self.dev.tick(self.now)
        self.out += self.dev.take_output()

    def feed(self, data: bytes) -> None:
        self.dev.receive(data, self.now)
        self.out += self.dev.take_output()

    def run(self, line: bytes) -> None:
        self.feed(line + b"\r\n")
        for _ in range(5):
            self.tick()


def _arm(rig: Rig, kind: str) -> None:
    if kind == "ipd":
        rig.events.incoming.append(b"hi")
    elif kind == "closed":
        rig.events.eof = True
    elif kind == "connect":
        rig.net.listeners[0].pending.append(FakeConnection(remote=("127.0.0.1", 40000)))
    else:
        rig.dev.drop_wifi_at_injection_point()


def _urc(kind: str, passive: bool) -> bytes:
    return {
        "ipd": b"\r\n+IPD,0,2\r\n" if passive else b"\r\n+IPD,0,2:hi",
        "closed": b"0,CLOSED\r\n",
        "connect": b"2,CONNECT\r\n",
        "wifi": b"WIFI DISCONNECT\r\n0,CLOSED\r\n1,CLOSED\r\n",
    }[kind]


def _echo(rig: Rig, arm: Callable[[], None]) -> bytes:
    rig.dev.echo = True
    arm()
    rig.feed(b"AT\r\n")
    return b"A{urc}T\r\n\r\nOK\r\n"


def _after_echo(rig: Rig, arm: Callable[[], None]) -> bytes:
    rig.dev.echo = True
    arm()
    rig.feed(b"AT\r\n")
    return b"AT\r\n{urc}\r\nOK\r\n"


def _before_final(rig: Rig, arm: Callable[[], None]) -> bytes:
    arm()
    rig.feed(b"AT+CIPMUX?\r\n")
    return b"+CIPMUX:1\r\n{urc}\r\nOK\r\n"


def _send(rig: Rig, arm: Callable[[], None], arm_at: str) -> None:
    rig.feed(b"AT+CIPSEND=1,4\r\n")
    if arm_at == "before_prompt":
        arm()
    rig.tick()
    if arm_at != "before_prompt":
        arm()
    rig.feed(b"abcd")
    rig.tick()
    rig.tick()
    assert rig.other.sent == b"abcd"


def _before_prompt(rig: Rig, arm: Callable[[], None]) -> bytes:
    _send(rig, arm, "before_prompt")
    return b"\r\nOK\r\n{urc}\r\n>\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n"


def _after_prompt(rig: Rig, arm: Callable[[], None]) -> bytes:
    _send(rig, arm, "after_prompt")
    return b"\r\nOK\r\n\r\n>{urc}\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n"


def _after_recv(rig: Rig, arm: Callable[[], None]) -> bytes:
    _send(rig, arm, "after_recv")
    return b"\r\nOK\r\n\r\n>\r\nRecv 4 bytes\r\n{urc}\r\nSEND OK\r\n"


def _before_recvdata(rig: Rig, arm: Callable[[], None]) -> bytes:
    rig.other.incoming.append(b"data")
    rig.tick()
    assert bytes(rig.out) == b"\r\n+IPD,1,4\r\n"
    rig.out.clear()
    arm()
    rig.feed(b"AT+CIPRECVDATA=1,10\r\n")
    return b"{urc}+CIPRECVDATA:4,data\r\nOK\r\n"


SCENARIOS: dict[str, tuple[Callable[[Rig, Callable[[], None]], bytes], bool]] = {
    "echo": (_echo, False),
    "after_echo": (_after_echo, False),
    "before_final": (_before_final, False),
    "before_prompt": (_before_prompt, False),
    "after_prompt": (_after_prompt, False),
    "after_recv": (_after_recv, False),
    "before_recvdata": (_before_recvdata, True),
}


# Losing Wi-Fi mid-send also fails the send, so those three points have their own test below.
CASES = [
    (point, kind)
    for point in sorted(SCENARIOS)
    for kind in ("ipd", "closed", "connect", "wifi")
    if not (kind == "wifi" and point in ("before_prompt", "after_prompt", "after_recv"))
]


@pytest.mark.parametrize(("point", "kind"), CASES)
def test_urc_lands_at_the_injection_point(point: str, kind: str) -> None:
    scenario, passive = SCENARIOS[point]
    rig = Rig(passive)
    rig.dev.faults = Faults(inject=1.0, inject_points=frozenset({point}))
    template = scenario(rig, lambda: _arm(rig, kind))
    assert bytes(rig.out) == template.replace(b"{urc}", _urc(kind, passive))


def test_wifi_loss_between_prompt_and_recv_fails_the_send() -> None:
    rig = Rig(passive=False)
    rig.dev.faults = Faults(inject=1.0, inject_points=frozenset({"after_prompt"}))
    rig.feed(b"AT+CIPSEND=1,4\r\n")
    rig.tick()
    rig.dev.drop_wifi_at_injection_point()
    rig.feed(b"abcd")
    rig.tick()
    assert bytes(rig.out) == (
        b"\r\nOK\r\n\r\n>WIFI DISCONNECT\r\n0,CLOSED\r\n1,CLOSED\r\n\r\nRecv 4 bytes\r\n\r\nSEND FAIL\r\n"
    )


def test_no_injection_without_a_pending_event() -> None:
    rig = Rig(passive=False)
    rig.dev.faults = Faults(inject=1.0)
    rig.dev.echo = True
    rig.feed(b"AT+CIPMUX?\r\n")
    assert bytes(rig.out) == b"AT+CIPMUX?\r\n+CIPMUX:1\r\n\r\nOK\r\n"


def test_closed_right_after_the_last_data_byte() -> None:
    rig = Rig(passive=False)
    rig.events.incoming.append(b"last")
    rig.events.eof = True
    rig.tick()
    rig.tick()
    assert bytes(rig.out) == b"\r\n+IPD,0,4:last0,CLOSED\r\n"
