"""The sans-IO AT parser: every transcript of the reference, split at every point, gives the same events; random
and mutated input never raises and never grows memory without bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netsocket.drivers.esp_at import parser as p

from tests.unit.esp_at_sansio.transcripts import TRANSCRIPTS, Transcript


def parse_all(data: bytes, splits: list[int], recvdata_addr: bool) -> list[p.Event]:
    parser = p.ATParser(recvdata_addr=recvdata_addr)
    events: list[p.Event] = []
    start = 0
    for cut in [*sorted(splits), len(data)]:
        parser.receive_data(data[start:cut])
        start = cut
        while not isinstance(event := parser.next_event(), p._NeedData):
            events.append(event)
    return events


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.name for t in TRANSCRIPTS])
def test_transcript_whole(transcript: Transcript) -> None:
    assert parse_all(transcript.wire, [], transcript.recvdata_addr) == transcript.events


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.name for t in TRANSCRIPTS])
def test_transcript_every_single_split(transcript: Transcript) -> None:
    for cut in range(1, len(transcript.wire)):
        assert parse_all(transcript.wire, [cut], transcript.recvdata_addr) == transcript.events, cut


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.name for t in TRANSCRIPTS])
def test_transcript_byte_by_byte(transcript: Transcript) -> None:
    cuts = list(range(1, len(transcript.wire)))
    assert parse_all(transcript.wire, cuts, transcript.recvdata_addr) == transcript.events


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_transcripts_any_splits(data: st.DataObject) -> None:
    transcript = data.draw(st.sampled_from(TRANSCRIPTS))
    size = len(transcript.wire)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=size), max_size=12))
    assert parse_all(transcript.wire, cuts, transcript.recvdata_addr) == transcript.events


def test_hostile_length_is_rejected_and_parsing_resumes() -> None:
    wire = b"\r\n+IPD,0,999999999:" + b"x" * 100 + b"\r\n0,CLOSED\r\n\r\nOK\r\n"
    events = parse_all(wire, [], False)
    assert any(isinstance(e, p.Garbage) for e in events)
    assert events[-2:] == [p.LinkEvent(0, "CLOSED"), p.Result("OK")]


def test_length_above_the_firmware_limit_is_rejected() -> None:
    parser = p.ATParser(max_data=2048)
    parser.receive_data(b"\r\n+IPD,1,2049:")
    parser.receive_data(b"y" * 3000)
    assert isinstance(parser.next_event(), p._NeedData)
    assert parser.buffered == 0  # the rejected header's bytes are skipped, not kept
    parser.receive_data(b"\r\nOK\r\n")
    assert isinstance(parser.next_event(), p.Garbage)
    assert parser.next_event() == p.Result("OK")


def test_endless_line_is_dropped_in_bounded_memory() -> None:
    parser = p.ATParser()
    events: list[p.Event] = []
    for _ in range(1000):
        parser.receive_data(b"z" * 1000)
        while not isinstance(event := parser.next_event(), p._NeedData):
            events.append(event)
        assert parser.buffered <= 2 * p.MAX_LINE
    parser.receive_data(b"\r\nOK\r\n")
    while not isinstance(event := parser.next_event(), p._NeedData):
        events.append(event)
    assert isinstance(events[0], p.Garbage)
    assert events[-1] == p.Result("OK")


def test_binary_payload_with_line_breaks_and_keywords_is_data() -> None:
    payload = b"\r\nOK\r\n>+IPD,0,3:abc\r\nready\r\n\x00\xff"
    wire = b"\r\n+IPD,2,%d:" % len(payload) + payload + b"2,CLOSED\r\n"
    assert parse_all(wire, [], False) == [p.IpdData(2, payload), p.LinkEvent(2, "CLOSED")]


def test_recvdata_without_address_when_cipdinfo_expected_is_tolerated() -> None:
    assert parse_all(b"+CIPRECVDATA:3,abc\r\nOK\r\n", [], True) == [p.RecvData(b"abc"), p.Result("OK")]


@settings(max_examples=400, deadline=None)
@given(blob=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8))
def test_fuzz_random_bytes_never_raise(blob: bytes, cuts: list[int]) -> None:
    parser = p.ATParser(max_data=2048)
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(blob)), len(blob)]:
        parser.receive_data(blob[start:cut])
        start = cut
        while not isinstance(parser.next_event(), p._NeedData):
            pass
        assert parser.buffered <= 2048 + p.MAX_LINE + p.MAX_HEADER + len(blob)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_fuzz_mutated_transcripts_never_raise_and_resynchronise(data: st.DataObject) -> None:
    transcript = data.draw(st.sampled_from(TRANSCRIPTS))
    wire = bytearray(transcript.wire)
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        if not wire:
            break
        at = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "insert", "digit"]))
        if action == "flip":
            wire[at] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
        elif action == "drop":
            del wire[at]
        elif action == "insert":
            wire[at:at] = data.draw(st.sampled_from([b"\r\n", b":", b",", b'"', b"+IPD,", b"9999999999", b">"]))
        else:
            wire[at:at] = b"9"
    # After the damage, a clean line still comes through (resynchronisation at the next line).
    tail = b"\r\n\r\nWIFI GOT IP\r\n"
    parser = p.ATParser(max_data=2048, recvdata_addr=transcript.recvdata_addr)
    parser.receive_data(bytes(wire))
    events: list[p.Event] = []
    while not isinstance(event := parser.next_event(), p._NeedData):
        events.append(event)
    # an open payload may swallow the tail as data; feed enough filler to close any payload, then the tail
    parser.receive_data(b"\r\n" * 1100 + tail)
    while not isinstance(event := parser.next_event(), p._NeedData):
        events.append(event)
    assert events[-1] == p.WifiEvent("GOT IP")


def test_noise_glued_to_the_prompt_still_gives_the_prompt_while_one_is_expected() -> None:
    parser = p.ATParser()
    parser.receive_data(b"\r\nOK\r\n\r\n\x8f\x13>")
    assert parser.next_event() == p.Result("OK")
    assert isinstance(parser.next_event(), p._NeedData)  # not waiting for a prompt: an unfinished line
    parser.expect_prompt = True
    assert parser.next_event() == p.Garbage("noise before the prompt", 2)
    assert parser.next_event() == p.Prompt()


@pytest.mark.parametrize(
    "frame, event",
    [
        (b"+IPD,0,3:abc", p.IpdData(0, b"abc")),
        (b"+CIPRECVDATA:3,abc", p.RecvData(b"abc")),
        (b"+CIPRECVDATA,3:abc", p.RecvData(b"abc")),
    ],
)
def test_noise_glued_before_a_data_header_does_not_hide_the_data(frame: bytes, event: p.Event) -> None:
    wire = b"\r\n\x13\xfe}" + frame + b"\r\nOK\r\n"
    for cut in range(len(wire) + 1):
        events = parse_all(wire, [cut], False)
        assert events == [p.Garbage("noise before a data header", 3), event, p.Result("OK")], cut


def test_an_echoed_recvdata_command_stays_a_line() -> None:
    assert parse_all(b"AT+CIPRECVDATA=0,100\r\n", [], False) == [p.Line(b"AT+CIPRECVDATA=0,100")]
