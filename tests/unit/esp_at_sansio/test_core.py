"""The sans-IO protocol core: routing of parser events to the command in flight and the link table, busy backoff,
the CIPSEND rules, timers, and the bounds on what the module can make it hold."""

from __future__ import annotations

import pytest
from netsocket.drivers.esp_at import commands as cmd
from netsocket.drivers.esp_at.commands import Command, ParameterError, quote
from netsocket.drivers.esp_at.core import BUSY_BACKOFF_FIRST, ATCore
from netsocket.drivers.esp_at.dialects import AT2_ESP8266, AT3_ESP32, NONOS_17, detect_dialect
from netsocket.drivers.esp_at.links import ACCEPT_QUEUE_LIMIT, LinkState

NOW = 100.0


def feed(core: ATCore, wire: bytes, now: float = NOW) -> None:
    core.receive_data(wire, now)


def open_link(core: ATCore, proto: str = "TCP") -> int:
    link = core.table.claim(object(), "UDP" if proto == "UDP" else "TCP")
    assert link is not None
    core.table.opened(link)
    return link.id


def test_a_command_goes_out_when_submitted_and_the_next_waits_its_turn() -> None:
    core = ATCore()
    first = core.submit(cmd.plain(b"AT"), NOW)
    second = core.submit(cmd.plain(b"AT+GMR"), NOW)
    assert core.data_to_send() == b"AT\r\n"
    feed(core, b"\r\nOK\r\n")
    assert first.outcome == "OK" and not second.done
    assert core.data_to_send() == b"AT+GMR\r\n"


def test_the_payload_follows_the_prompt_and_recv_n_bytes_is_never_a_failure() -> None:
    core = ATCore()
    link = open_link(core)
    send = core.submit(cmd.tcp_send(link, b"abcd"), NOW)
    assert core.data_to_send() == b"AT+CIPSEND=%d,4\r\n" % link
    feed(core, b">")  # a '>' before the command's OK is noise
    assert core.data_to_send() == b""
    feed(core, b"\r\nOK\r\n\r\n>")
    assert core.data_to_send() == b"abcd"
    feed(core, b"\r\nRecv 4 bytes\r\n")
    core.handle_timer(send.deadline)  # no SEND OK in time: the module took the bytes all the same
    assert send.outcome == "SEND OK" and core.unconfirmed_send


def test_a_late_send_ok_does_not_complete_the_next_send() -> None:
    core = ATCore()
    link = open_link(core)
    core.unconfirmed_send = True  # the previous send timed out after its 'Recv N bytes'
    send = core.submit(cmd.tcp_send(link, b"abcd"), NOW)
    feed(core, b"\r\nOK\r\n\r\n>")
    feed(core, b"\r\nSEND OK\r\n")  # the old send's answer: not ours without our 'Recv'
    assert not send.done and not core.unconfirmed_send
    feed(core, b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
    assert send.outcome == "SEND OK" and send.recv_count == 4


def test_busy_is_retried_after_a_backoff_or_as_soon_as_the_other_command_ends() -> None:
    core = ATCore()
    query = core.submit(Command(b"AT+CIPSTAMAC?"), NOW)
    core.data_to_send()
    feed(core, b"\r\nbusy p...\r\n")
    assert core.next_deadline() == pytest.approx(NOW + BUSY_BACKOFF_FIRST)
    core.handle_timer(NOW + BUSY_BACKOFF_FIRST)
    assert core.data_to_send() == b"AT+CIPSTAMAC?\r\n" and query.busy_retries == 1
    feed(core, b"\r\nbusy p...\r\nWIFI GOT IP\r\n\r\nOK\r\n", NOW + 0.03)  # that OK is the other command's
    assert not query.done and query.busy_retries == 2
    assert core.data_to_send() == b"AT+CIPSTAMAC?\r\n"
    feed(core, b'+CIPSTAMAC:"5c:cf:7f:01:02:03"\r\n\r\nOK\r\n')
    assert query.outcome == "OK" and query.lines == [b'+CIPSTAMAC:"5c:cf:7f:01:02:03"']


def test_a_silent_module_times_out_as_silent_and_a_queued_command_within_its_deadline() -> None:
    core = ATCore()
    first = core.submit(cmd.plain(b"AT", 0.5), NOW)
    second = core.submit(cmd.plain(b"AT", 0.2), NOW)
    core.handle_timer(NOW + 0.2)
    assert second.outcome == "TIMEOUT" and not first.done
    core.handle_timer(NOW + 0.5)
    assert first.outcome == "TIMEOUT" and first.silent and first.device_error
    assert core.next_deadline() is None


def test_an_ok_without_the_expected_line_is_not_the_answer() -> None:
    core = ATCore()
    gmr = core.submit(Command(b"AT+GMR", expect=b"AT version:"), NOW)
    feed(core, b"ATE0\r\n\r\nOK\r\n")
    assert not gmr.done
    feed(core, b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)\r\n\r\nOK\r\n")
    assert gmr.outcome == "OK"


def test_ipd_anywhere_fills_the_link_and_ready_loses_everything() -> None:
    core = ATCore()
    tcp, udp = open_link(core), open_link(core, "UDP")
    scan = core.submit(Command(b"AT+CWLAP"), NOW)
    feed(
        core,
        b'+CWLAP:(3,"a",-50,"aa:bb:cc:dd:ee:ff",6)\r\n\r\n+IPD,%d,3:abc\r\n+IPD,%d,2,"1.2.3.4",99:hi\r\n\r\nOK\r\n'
        % (tcp, udp),
    )
    assert scan.outcome == "OK" and len(scan.lines) == 1
    assert bytes(core.links[tcp].rx) == b"abc"
    assert list(core.links[udp].datagrams) == [(b"hi", "1.2.3.4", 99)]
    probe = core.submit(Command(b"AT"), NOW)
    feed(core, b"\r\nready\r\n")
    assert probe.outcome == "RESET"
    assert core.links[tcp].lost and core.resets == 1


def test_passive_notice_racing_a_read_is_not_subtracted_twice() -> None:
    core = ATCore()
    link = open_link(core)
    feed(core, b"+IPD,%d,5760\r\n" % link)
    read = core.submit(cmd.fetch(link, 5760), NOW)
    feed(core, b"\r\n+IPD,%d,2304\r\n+CIPRECVDATA:5760," % link + b"x" * 5760 + b"\r\nOK\r\n")
    assert read.outcome == "OK"
    assert core.links[link].module_pending == 2304
    assert len(core.links[link].rx) == 5760


@pytest.mark.parametrize(
    "answer",
    [b"\r\n+IPD,%d,1120\r\n\r\nERROR\r\n", b"\r\nERROR\r\n\r\n+IPD,%d,1120\r\n"],
    ids=["notice-before-error", "notice-after-error"],
)
def test_a_notice_around_the_error_of_an_empty_read_is_still_read(answer: bytes) -> None:
    """The module found nothing to read, but data arrived while it answered: ``+IPD,<id>,<n>`` comes before (or
    after) the read's ERROR. Those bytes are held and must be fetched, or the socket never hears of them (a sigio
    loop stalls)."""
    core = ATCore()
    link = open_link(core)
    read = core.submit(cmd.fetch(link, 5760), NOW)
    feed(core, answer % link)
    assert read.outcome == "ERROR"
    assert core.links[link].module_pending == 1120
    again = core.submit(cmd.fetch(link, 5760), NOW)
    feed(core, b"\r\nERROR\r\n")  # a read too many is harmless; it does not keep the link reading forever
    assert again.outcome == "ERROR"
    assert core.links[link].module_pending == 0


def test_server_accept_and_cipstart_connect_are_told_apart() -> None:
    core = ATCore()
    ours = core.table.claim(object(), "TCP")
    assert ours is not None
    feed(core, b"%d,CONNECT\r\n" % ours.id)
    assert ours.state is LinkState.CONNECTING and not core.accept_queue
    other = (ours.id + 3) % 5
    feed(core, b"%d,CONNECT\r\n" % other)
    assert list(core.accept_queue) == [core.links[other]]


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
    engine = ATCore()
    feed(engine, b"0,CONNECT\r\n\r\n+IPD,0,5,127.0.0.1,4000:first0,CLOSED\r\n0,CONNECT\r\n")
    first, second = engine.accept_queue
    assert first is not second
    assert bytes(first.rx) == b"first" and first.peer_closed
    assert second is engine.links[0] and not second.rx and not second.peer_closed


def test_the_accept_queue_is_bounded_under_a_connect_close_storm() -> None:
    engine = ATCore()
    feed(engine, b"0,CONNECT\r\n0,CLOSED\r\n" * 20_000)
    assert len(engine.accept_queue) <= ACCEPT_QUEUE_LIMIT
    assert engine.dropped_connections == 20_000 - len(engine.accept_queue)


def test_extra_recvdata_payloads_of_one_read_are_not_kept() -> None:
    core = ATCore()
    link = open_link(core)
    feed(core, b"+IPD,%d,100\r\n" % link)
    read = core.submit(cmd.fetch(link, 100), NOW)
    feed(core, (b"+CIPRECVDATA:100," + b"y" * 100 + b"\r\n") * 1000 + b"\r\nOK\r\n")
    assert read.outcome == "OK"
    assert bytes(core.links[link].rx) == b"y" * 100


SEND_WIRE = (
    b"\r\nOK\r\n\r\n>"  # CIPSEND's prompt
    b"+IPD,0,12\r\n"  # a passive notice between '>' and Recv (reference §2)
    b"\r\nRecv 4 bytes\r\n"
    b"1,CONNECT\r\n"  # a server client between Recv and SEND OK
    b"\r\nSEND OK\r\n"
)
FETCH_WIRE = (
    b'+CIPRECVDATA:12,"127.0.0.1",7,hello\r\nworld\r\n\r\nOK\r\n'  # CR LF inside the data
    b"WIFI DISCONNECT\r\n"
)


def run_split(send_pieces: list[bytes], fetch_pieces: list[bytes]) -> tuple[object, ...]:
    """The send, then the fetch queued behind it; its answer comes once its command went out."""
    core = ATCore()
    link = core.table.claim(object(), "TCP")
    assert link is not None and link.id == 0
    core.table.opened(link)
    send = core.submit(cmd.tcp_send(0, b"abcd"), NOW)
    fetch = core.submit(cmd.fetch(0, 12), NOW)
    sent = bytearray(core.data_to_send())
    for piece in send_pieces:
        core.receive_data(piece, NOW)
        sent += core.data_to_send()
    for piece in fetch_pieces:
        core.receive_data(piece, NOW)
        sent += core.data_to_send()
    return (
        send.outcome,
        send.recv_count,
        fetch.outcome,
        bytes(core.links[0].rx),
        core.links[0].module_pending,
        [queued.id for queued in core.accept_queue],
        core.wifi_up,
        bytes(sent),
    )


def splits(wire: bytes) -> list[list[bytes]]:
    return [[wire]] + [[wire[:cut], wire[cut:]] for cut in range(1, len(wire))] + [[bytes([b]) for b in wire]]


def test_the_core_gives_the_same_result_however_the_input_is_split() -> None:
    whole = run_split([SEND_WIRE], [FETCH_WIRE])
    assert whole == (
        "SEND OK",
        4,
        "OK",
        b"hello\r\nworld",
        0,
        [1],
        False,
        b"AT+CIPSEND=0,4\r\nabcdAT+CIPRECVDATA=0,12\r\n",
    )
    for pieces in splits(SEND_WIRE):
        assert run_split(pieces, [FETCH_WIRE]) == whole, pieces
    for pieces in splits(FETCH_WIRE):
        assert run_split([SEND_WIRE], pieces) == whole, pieces


def test_random_bytes_neither_crash_the_core_nor_grow_it() -> None:
    import random

    rng = random.Random(9)
    core = ATCore()
    for link_id in range(3):
        link = core.table.claim(object(), "TCP" if link_id else "UDP")
        assert link is not None
        core.table.opened(link)
    alphabet = b'+IPD,0123456789:\r\n>OKERRORSENDbusyp.CLOSEDCONNECTreadyWIFI"CIPRECVDATA'
    for round_ in range(300):
        if core.pending is None:
            core.submit(cmd.fetch(round_ % 3, 100) if round_ % 2 else cmd.tcp_send(1, b"xy"), NOW + round_)
        noise = bytes(rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256) for _ in range(200))
        core.receive_data(noise, NOW + round_)
        core.handle_timer(NOW + round_ + 10)
        core.data_to_send()
    assert core.parser.buffered < 20_000
    assert all(link.buffered <= 16_384 + 32 * 8192 for link in core.links)


def test_ipv6_peers_reach_their_links_and_the_ipv6_notices_are_wifi_news() -> None:
    core = ATCore(AT3_ESP32)
    core.set_ipv6(True)
    udp = open_link(core, "UDP")
    join = core.submit(Command(b'AT+CWJAP="a","b"'), NOW)
    notices = core.receive_data(
        b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\nWIFI GOT IPv6 LL\r\nWIFI GOT IPv6 GL\r\n"
        b'\r\n+IPD,%d,5,"FE80::1:2",5683:a:b:c' % udp,
        NOW,
    )
    assert join.outcome == "OK" and join.lines == []
    assert [n.wifi for n in notices if n.wifi is not None] == ["CONNECTED", "GOT IP", "GOT IPv6 LL", "GOT IPv6 GL"]
    assert list(core.links[udp].datagrams) == [(b"a:b:c", "FE80::1:2", 5683)]
    feed(core, b"\r\nready\r\n")
    assert not core.ipv6  # a RAM-only setting: the re-initialisation turns it on again


def test_an_active_mode_stream_that_overflows_keeps_nothing_after_the_cut() -> None:
    """Active +IPD into a full buffer: the bytes before the cut stay readable, nothing after the cut is kept (a
    stream with a hole would be handed to the application as if whole); the loss is counted."""
    from netsocket.drivers.esp_at.links import TCP_BUFFER_LIMIT

    core = ATCore()
    link = open_link(core)
    chunk = bytes(range(256)) * 8  # 2048 bytes per +IPD
    for _ in range(TCP_BUFFER_LIMIT // len(chunk) + 1):
        feed(core, b"+IPD,%d,%d:" % (link, len(chunk)) + chunk)
    kept = core.table[link]
    assert len(kept.rx) == TCP_BUFFER_LIMIT and kept.dropped_bytes == len(chunk)
    core.table.take_bytes(kept, len(kept.rx))  # the application drains the buffer
    feed(core, b"+IPD,%d,%d:" % (link, len(chunk)) + chunk)  # room again, but after the cut
    assert kept.rx == b"" and kept.dropped_bytes == 2 * len(chunk)
