"""The sans-IO engine: routing of parser events to the pending command and the link table."""

from __future__ import annotations

import pytest
from netsocket.drivers.esp_at import parser as p
from netsocket.drivers.esp_at.dialects import AT2_ESP8266, AT3_ESP32, NONOS_17, detect_dialect
from netsocket.drivers.esp_at.engine import ACCEPT_QUEUE_LIMIT, Engine, LinkState, ParameterError, Pending, quote


def feed(engine: Engine, wire: bytes) -> None:
    engine.feed(wire)


def open_link(engine: Engine, link_id: int, proto: str = "TCP") -> None:
    link = engine.links[link_id]
    link.state = LinkState.OPEN
    link.proto = "UDP" if proto == "UDP" else "TCP"
    link.owner = object()


def test_a_late_send_ok_does_not_complete_the_next_send() -> None:
    engine = Engine()
    open_link(engine, 0)
    engine.unconfirmed_send = True  # the previous send timed out after its 'Recv N bytes'
    pending = Pending(b"AT+CIPSEND=0,4", kind="send", link=0)
    engine.begin(pending)
    feed(engine, b"\r\nOK\r\n\r\n>")
    assert pending.stage == "prompt" and not pending.done
    engine.data_written()
    feed(engine, b"\r\nSEND OK\r\n")  # the old send's answer: not ours without our 'Recv'
    assert not pending.done and not engine.unconfirmed_send
    feed(engine, b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
    assert pending.outcome == "SEND OK" and pending.recv_count == 4


def test_results_after_busy_belong_to_the_other_command() -> None:
    engine = Engine()
    pending = Pending(b"AT+CIPSTAMAC?")
    engine.begin(pending)
    feed(engine, b"\r\nbusy p...\r\nWIFI GOT IP\r\n\r\nOK\r\n")
    assert pending.busy and not pending.done and pending.other_finished
    engine.retry()
    feed(engine, b'+CIPSTAMAC:"5c:cf:7f:01:02:03"\r\n\r\nOK\r\n')
    assert pending.outcome == "OK" and pending.lines == [b'+CIPSTAMAC:"5c:cf:7f:01:02:03"']


def test_an_ok_without_the_expected_line_is_not_the_answer() -> None:
    engine = Engine()
    pending = Pending(b"AT+GMR", expect=b"AT version:")
    engine.begin(pending)
    feed(engine, b"ATE0\r\n\r\nOK\r\n")
    assert not pending.done
    feed(engine, b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)\r\n\r\nOK\r\n")
    assert pending.outcome == "OK"


def test_ipd_anywhere_fills_the_link_and_ready_loses_everything() -> None:
    engine = Engine()
    open_link(engine, 1)
    open_link(engine, 2, "UDP")
    pending = Pending(b"AT+CWLAP")
    engine.begin(pending)
    feed(
        engine,
        b'+CWLAP:(3,"a",-50,"aa:bb:cc:dd:ee:ff",6)\r\n\r\n+IPD,1,3:abc\r\n+IPD,2,2,"1.2.3.4",99:hi\r\n\r\nOK\r\n',
    )
    assert pending.outcome == "OK" and len(pending.lines) == 1
    assert bytes(engine.links[1].rx) == b"abc"
    assert list(engine.links[2].datagrams) == [(b"hi", "1.2.3.4", 99)]
    engine.begin(Pending(b"AT"))
    feed(engine, b"\r\nready\r\n")
    assert engine.pending is not None and engine.pending.outcome == "RESET"
    assert engine.links[1].lost and engine.resets == 1


def test_passive_notice_racing_a_read_is_not_subtracted_twice() -> None:
    engine = Engine()
    open_link(engine, 0)
    engine.links[0].module_pending = 5760
    pending = Pending(b"AT+CIPRECVDATA=0,5760", kind="recvdata", link=0)
    engine.begin(pending)
    feed(engine, b"\r\n+IPD,0,2304\r\n+CIPRECVDATA:5760," + b"x" * 5760 + b"\r\nOK\r\n")
    assert pending.outcome == "OK"
    assert engine.links[0].module_pending == 2304
    assert len(engine.links[0].rx) == 5760


def test_server_accept_and_cipstart_connect_are_told_apart() -> None:
    engine = Engine()
    engine.links[0].state = LinkState.CONNECTING
    notice = engine.handle(_link(b"0,CONNECT"))
    assert notice.accepted is None
    notice = engine.handle(_link(b"3,CONNECT"))
    assert notice.accepted == 3 and list(engine.accept_queue) == [engine.links[3]]


def _link(text: bytes) -> p.LinkEvent:
    event = p.classify_line(text)
    assert isinstance(event, p.LinkEvent)
    return event


@pytest.mark.parametrize(
    ("value", "wire"),
    [("plain", b'"plain"'), ("ab\\,c", b'"ab\\\\\\,c"'), ('0123456789"\\', b'"0123456789\\"\\\\"')],
)
def test_strings_are_escaped_per_the_firmware_rules(value: str, wire: bytes) -> None:
    assert quote(value) == wire


@pytest.mark.parametrize("value", ["a\r\nAT+RST", "nul\x00", "x" * 65, "tab\t"])
def test_unsafe_strings_are_refused(value: str) -> None:
    with pytest.raises(ParameterError):
        quote(value)


def test_dialects_are_detected_from_gmr() -> None:
    nonos = detect_dialect([b"AT version:1.7.4.0(May 11 2020 19:13:04)", b"SDK version:3.0.4(9532ceb)"])
    at2 = detect_dialect([b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)"])
    at3 = detect_dialect([b"AT version:3.3.0.0(3b13d04 - ESP32C3 - May  8 2024 08:21:54)", b"SDK version:v5.0.6"])
    old32 = detect_dialect([b"AT version:2.1.0.0(abc - ESP32 - Jan 1 2020)", b"SDK version:v4.2"])
    assert nonos is not None and nonos.dialect is NONOS_17
    assert at2 is not None and at2.dialect is AT2_ESP8266
    assert at3 is not None and at3.dialect is AT3_ESP32 and at3.version == (3, 3, 0, 0)
    assert old32 is not None and old32.dialect.udp_active_command is None
    assert detect_dialect([b"garbage"]) is None


def test_an_id_reused_before_accept_queues_two_connections_each_with_its_own_data() -> None:
    engine = Engine()
    feed(engine, b"0,CONNECT\r\n\r\n+IPD,0,5,127.0.0.1,4000:first0,CLOSED\r\n0,CONNECT\r\n")
    first, second = engine.accept_queue
    assert first is not second
    assert bytes(first.rx) == b"first" and first.peer_closed
    assert second is engine.links[0] and not second.rx and not second.peer_closed


def test_the_accept_queue_is_bounded_under_a_connect_close_storm() -> None:
    engine = Engine()
    feed(engine, b"0,CONNECT\r\n0,CLOSED\r\n" * 20_000)
    assert len(engine.accept_queue) <= ACCEPT_QUEUE_LIMIT
    assert engine.dropped_connections == 20_000 - len(engine.accept_queue)


def test_extra_recvdata_payloads_of_one_read_are_not_kept() -> None:
    engine = Engine()
    open_link(engine, 0)
    engine.links[0].module_pending = 100
    pending = Pending(b"AT+CIPRECVDATA=0,100", kind="recvdata", link=0)
    engine.begin(pending)
    feed(engine, (b"+CIPRECVDATA:100," + b"y" * 100 + b"\r\n") * 1000 + b"\r\nOK\r\n")
    assert pending.outcome == "OK"
    assert bytes(engine.links[0].rx) == b"y" * 100
