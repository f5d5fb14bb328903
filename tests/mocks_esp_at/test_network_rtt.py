"""The emulated network round trip (`Timing.network_rtt`): the sender refills the module's receive window one
round trip after a fetch frees room, so passive-mode throughput is bounded by window / round trip."""

from __future__ import annotations

from netsocket.mocks.esp_at.rtt import RttWindow

from .test_model import Clocked


def test_window_room_is_the_free_room_with_no_round_trip() -> None:
    window = RttWindow()
    window.accepted = 5000
    assert window.room(1.0, 0.0, held=5000, window=5760) == 760
    assert window.room(1.0, 0.0, held=1000, window=5760) == 4760
    assert window.next_change(0.0) is None


def test_window_room_freed_by_a_fetch_appears_one_round_trip_later() -> None:
    window = RttWindow()
    assert window.room(0.0, 0.02, held=0, window=5760) == 5760
    window.accepted = 5760
    assert window.room(0.001, 0.02, held=5760, window=5760) == 0
    assert window.room(0.010, 0.02, held=2000, window=5760) == 0  # fetched 3760 bytes; the sender does not know
    assert window.next_change(0.02) == 0.030
    assert window.room(0.0299, 0.02, held=2000, window=5760) == 0
    assert window.room(0.030, 0.02, held=2000, window=5760) == 3760


def _passive_link(rtt: float) -> Clocked:
    rig = Clocked(network_rtt=rtt)
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPRECVMODE=1"):
        rig.run(line)
    rig.run(b'AT+CIPSTART=0,"TCP","127.0.0.1",80')
    rig.net.connections[0].incoming.append(bytes(100_000))
    rig.advance(0.05)
    return rig


def test_passive_module_takes_new_data_one_round_trip_after_a_fetch() -> None:
    rig = _passive_link(0.05)
    link, conn = rig.dev.links[0], rig.net.connections[0]
    assert len(link.rx) == 5760
    assert rig.feed(b"AT+CIPRECVDATA=0,2048\r\n").startswith(b"+CIPRECVDATA:2048,")
    rig.advance(0.04)
    assert len(link.rx) == 5760 - 2048  # the window update is still on its way
    assert rig.dev.deadline() is not None
    rig.advance(0.02)
    assert len(link.rx) == 5760
    assert sum(len(chunk) for chunk in conn.incoming) == 100_000 - 5760 - 2048


def test_passive_module_refills_at_once_with_no_round_trip() -> None:
    rig = _passive_link(0.0)
    link = rig.dev.links[0]
    rig.feed(b"AT+CIPRECVDATA=0,2048\r\n")
    rig.advance(0.01)
    assert len(link.rx) == 5760


def test_nonos_send_ok_waits_for_the_round_trip() -> None:
    rig = Clocked("nonos17", network_rtt=0.05)
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""'):
        rig.run(line)
    rig.run(b'AT+CIPSTART=0,"TCP","127.0.0.1",80')
    rig.run(b"AT+CIPSEND=0,4")
    rig.feed(b"ping")
    assert b"SEND OK" not in rig.advance(0.04)
    assert b"SEND OK" in rig.advance(0.02)


def test_network_rtt_is_a_url_parameter() -> None:
    from netsocket.mocks.esp_at import EmulatorOptions

    options = EmulatorOptions.from_url("espemu://?network_rtt=0.02&timescale=0.01")
    assert options.timing.network_rtt == 0.02
