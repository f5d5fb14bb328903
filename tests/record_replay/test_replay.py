"""Replay: the sans-IO core's matching, timing and divergence rules, and the ``espemu://?replay=`` port."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import serial
from netsocket.mocks.esp_at.replay import Replay, match_prefix

from netsocket.transcript import MASK, Chunk, Header, Transcript, TranscriptWriter, read_transcript


def transcript(*chunks: tuple[float, str, bytes]) -> Transcript:
    return Transcript(Header(date="2026-01-01T00:00:00Z"), tuple(Chunk(t, d, b) for t, d, b in chunks))  # type: ignore[arg-type]


def write(path: Path, script: Transcript) -> Path:
    writer = TranscriptWriter.open(path)
    writer.write_header(script.header)
    for chunk in script.chunks:
        writer.write_chunk(chunk)
    writer.close()
    return path


def drain(replay: Replay, now: float) -> bytes:
    replay.tick(now)
    return replay.take_output(now)


def test_each_answer_comes_after_its_command_with_the_recorded_delay_scaled() -> None:
    script = transcript(
        (0.3, "module", b"\r\nready\r\n"),  # before the host's first byte: at once, so the host reads it first
        (1.0, "host", b"AT\r\n"),
        (1.5, "module", b"\r\nOK\r\n"),
        (1.7, "module", b"WIFI GOT IP\r\n"),
    )
    replay = Replay(script, timescale=0.5)
    replay.start(100.0)
    assert drain(replay, 100.0) == b"\r\nready\r\n"
    assert drain(replay, 101.0) == b""  # nothing until the host speaks, however long it waits
    replay.receive(b"A", 101.0)
    replay.receive(b"T\r\n", 102.0)
    assert drain(replay, 102.2) == b""
    assert drain(replay, 102.25) == b"\r\nOK\r\n"  # 0.5 s recorded, scaled by 0.5
    assert drain(replay, 102.34) == b""
    assert drain(replay, 102.35) == b"WIFI GOT IP\r\n"
    assert replay.finished and replay.divergence is None


def test_the_host_going_on_early_gets_the_rest_of_the_answer_at_once() -> None:
    script = transcript((0.0, "host", b"AT\r\n"), (0.1, "module", b"OK\r\n"), (5.0, "module", b"late\r\n"))
    script = transcript(*[(c.t, c.direction, c.data) for c in script.chunks], (5.1, "host", b"AT+GMR\r\n"))
    replay = Replay(script)
    replay.start(0.0)
    replay.receive(b"AT\r\n", 0.0)
    assert drain(replay, 0.2) == b"OK\r\n"
    replay.receive(b"AT+GMR\r\n", 0.3)
    assert drain(replay, 0.3) == b"late\r\n"


def test_a_masked_secret_matches_any_quoted_value_with_escapes() -> None:
    expect = b'AT+CWJAP="ap","' + MASK + b'"\r\n'
    assert match_prefix(expect, b'AT+CWJAP="ap","p\\"a\\,s\\\\s"\r\n')[0] == "full"
    assert match_prefix(expect, b'AT+CWJAP="ap","p\\"a')[0] == "partial"
    assert match_prefix(expect, b'AT+CWJAP="xx","secret"\r\n')[0] == "mismatch"


def test_a_different_command_is_named_next_to_the_expected_one() -> None:
    script = transcript((0.0, "host", b"AT+CIPMUX=1\r\n"), (0.01, "module", b"\r\nOK\r\n"))
    replay = Replay(script, source="transcript t.jsonl")
    replay.start(0.0)
    replay.receive(b"AT+CIPMUX=0\r\n", 0.0)
    assert replay.divergence == (
        "replay diverged: at line 2 of the transcript t.jsonl, the host sent something else: "
        "expected 'AT+CIPMUX=1\\r\\n', received 'AT+CIPMUX=0\\r\\n'"
    )
    assert drain(replay, 1.0) == b""


def test_a_mismatch_waits_briefly_for_the_rest_of_the_line_then_reports_it() -> None:
    replay = Replay(transcript((0.0, "host", b"AT+CIPMUX=1\r\n")))
    replay.start(0.0)
    replay.receive(b"AT+CIPMODE", 0.0)
    assert replay.divergence is None and replay.next_deadline() is not None
    deadline = replay.next_deadline()
    assert deadline is not None and deadline <= 0.5
    replay.tick(deadline)
    assert replay.divergence is not None and "received 'AT+CIPMODE'" in replay.divergence


def test_a_line_left_unfinished_is_a_divergence_after_the_stall_timeout() -> None:
    replay = Replay(transcript((0.0, "host", b"ATE0\r\n")), stall_timeout=1.0)
    replay.start(0.0)
    replay.receive(b"ATE", 0.0)
    replay.tick(0.9)
    assert replay.divergence is None
    replay.tick(1.0)
    assert replay.divergence is not None
    assert "stopped in the middle of a line: expected 'ATE0\\r\\n', received 'ATE'" in replay.divergence


def test_anything_after_the_end_of_the_transcript_is_a_divergence() -> None:
    replay = Replay(transcript((0.0, "host", b"AT\r\n"), (0.0, "module", b"OK\r\n")))
    replay.start(0.0)
    replay.receive(b"AT\r\n", 0.0)
    replay.receive(b"AT+RST\r\n", 0.1)
    assert replay.divergence is not None and "'AT+RST\\r\\n' after the end" in replay.divergence


def test_lenient_mode_maps_link_ids_and_ignores_ports() -> None:
    script = transcript(
        (0.0, "host", b'AT+CIPSTART=3,"UDP","127.0.0.1",5000,40001,2\r\n'),
        (0.0, "module", b"3,CONNECT\r\n\r\nOK\r\n"),
        (0.1, "module", b"\r\n+IPD,3,4:ping"),
        (0.2, "host", b"AT+CIPCLOSE=3\r\n"),
        (0.2, "module", b"3,CLOSED\r\n\r\nOK\r\n"),
    )
    exact = Replay(script)
    exact.start(0.0)
    exact.receive(b'AT+CIPSTART=0,"UDP","127.0.0.1",5001,40999,2\r\n', 0.0)
    assert exact.divergence is not None
    lenient = Replay(script, lenient=True)
    lenient.start(0.0)
    lenient.receive(b'AT+CIPSTART=0,"UDP","127.0.0.1",5001,40999,2\r\n', 0.0)
    assert drain(lenient, 1.0) == b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,4:ping"
    lenient.receive(b"AT+CIPCLOSE=0\r\n", 1.0)
    assert drain(lenient, 2.0) == b"0,CLOSED\r\n\r\nOK\r\n"
    assert lenient.divergence is None and lenient.finished


def test_lenient_mode_answers_independent_commands_in_the_order_the_host_sends_them() -> None:
    script = transcript(
        (0.0, "host", b"AT+CIPCLOSE=0\r\n"),
        (0.0, "module", b"0,CLOSED\r\n\r\nOK\r\n"),
        (0.1, "host", b"AT+CWQAP\r\n"),
        (0.1, "module", b"\r\nOK\r\nWIFI DISCONNECT\r\n"),
    )
    lenient = Replay(script, lenient=True)
    lenient.start(0.0)
    lenient.receive(b"AT+CWQAP\r\n", 0.0)
    assert drain(lenient, 1.0) == b"\r\nOK\r\nWIFI DISCONNECT\r\n"
    lenient.receive(b"AT+CIPCLOSE=0\r\n", 1.0)
    assert drain(lenient, 2.0) == b"0,CLOSED\r\n\r\nOK\r\n"
    assert lenient.divergence is None
    exact = Replay(script)
    exact.start(0.0)
    exact.receive(b"AT+CWQAP\r\n", 0.0)
    assert exact.divergence is not None


START = b'AT+CIPSTART=0,"TCP","127.0.0.1",80\r\n'


def passive_download(*answers: tuple[bytes, bytes], host: str = "module") -> Transcript:
    """A recorded passive download of ``abcdefghij`` (ESP-AT 2.x, CIPDINFO=1): the host's reads and their answers."""
    chunks: list[tuple[float, str, bytes]] = [
        (0.0, "host", START),
        (0.01, "module", b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,10\r\n"),
    ]
    for number, (read, answer) in enumerate(answers):
        chunks += [(0.02 + 0.02 * number, "host", read), (0.03 + 0.02 * number, "module", answer)]
    chunks += [(0.5, "host", b"AT+CWQAP\r\n"), (0.51, "module", b"\r\nOK\r\n")]
    return transcript(*chunks)


RECORDED_READS = (
    (b"AT+CIPRECVDATA=0,4\r\n", b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n\r\n+IPD,0,6\r\n'),
    (b"AT+CIPRECVDATA=0,6\r\n", b'+CIPRECVDATA:6,"127.0.0.1",80,efghij\r\nOK\r\n0,CLOSED\r\n'),
    (b"AT+CIPRECVDATA=0,100\r\n", b"\r\nERROR\r\n"),
)


def test_a_passive_read_of_another_length_gets_what_the_module_holds_in_the_recorded_format() -> None:
    """The host reads 7, then 100, then once more: the module answers min(asked, held), notices what is left, holds
    its CLOSED until the buffer is drained and answers ERROR when it holds nothing: no divergence, even exact."""
    replay = Replay(passive_download(*RECORDED_READS), timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    assert drain(replay, 1.0) == b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,10\r\n"
    replay.receive(b"AT+CIPRECVDATA=0,7\r\n", 2.0)
    assert drain(replay, 2.0) == b'+CIPRECVDATA:7,"127.0.0.1",80,abcdefg\r\nOK\r\n\r\n+IPD,0,3\r\n'
    replay.receive(b"AT+CIPRECVDATA=0,100\r\n", 3.0)
    assert drain(replay, 3.0) == b'+CIPRECVDATA:3,"127.0.0.1",80,hij\r\nOK\r\n0,CLOSED\r\n'
    replay.receive(b"AT+CIPRECVDATA=0,5760\r\n", 4.0)
    assert drain(replay, 4.0) == b"\r\nERROR\r\n"
    replay.receive(b"AT+CWQAP\r\n", 5.0)
    assert drain(replay, 5.0) == b"\r\nOK\r\n"
    assert replay.divergence is None and replay.finished


def test_one_big_read_takes_what_two_recorded_answers_held_once_the_module_has_it() -> None:
    replay = Replay(passive_download(*RECORDED_READS), timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.0)
    replay.receive(b"AT+CIPRECVDATA=0,5760\r\n", 2.0)
    assert drain(replay, 2.0) == b'+CIPRECVDATA:10,"127.0.0.1",80,abcdefghij\r\nOK\r\n0,CLOSED\r\n'
    replay.receive(b"AT+CWQAP\r\n", 3.0)
    assert drain(replay, 3.0) == b"\r\nOK\r\n" and replay.divergence is None


def test_the_module_never_serves_data_before_the_recording_had_it() -> None:
    """Recorded: 4 bytes held, read, then 6 more arrived. A host asking 100 at once gets the 4 the module held."""
    script = passive_download(
        (b"AT+CIPRECVDATA=0,4\r\n", b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n'),
        (b"AT+CIPRECVDATA=0,4\r\n", b"\r\nERROR\r\n\r\n+IPD,0,6\r\n"),
        (b"AT+CIPRECVDATA=0,6\r\n", b'+CIPRECVDATA:6,"127.0.0.1",80,efghij\r\nOK\r\n'),
    )
    script = transcript(
        *[(c.t, c.direction, c.data.replace(b"+IPD,0,10", b"+IPD,0,4")) for c in script.chunks],
    )
    replay = Replay(script, timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    assert drain(replay, 1.0).endswith(b"+IPD,0,4\r\n")
    replay.receive(b"AT+CIPRECVDATA=0,100\r\n", 2.0)
    assert drain(replay, 2.0) == b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n\r\n+IPD,0,6\r\n'
    replay.receive(b"AT+CIPRECVDATA=0,100\r\n", 3.0)
    assert drain(replay, 3.0) == b'+CIPRECVDATA:6,"127.0.0.1",80,efghij\r\nOK\r\n'


def test_nonos_reads_keep_their_format() -> None:
    script = transcript(
        (0.0, "host", START),
        (0.01, "module", b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,5\r\n"),
        (0.02, "host", b"AT+CIPRECVDATA=0,5\r\n"),
        (0.03, "module", b"\r\n+CIPRECVDATA,5:hello\r\nOK\r\n"),
    )
    replay = Replay(script, timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.0)
    replay.receive(b"AT+CIPRECVDATA=0,2\r\n", 2.0)
    assert drain(replay, 2.0) == b"\r\n+CIPRECVDATA,2:he\r\nOK\r\n\r\n+IPD,0,3\r\n"
    replay.receive(b"AT+CIPRECVDATA=0,9\r\n", 3.0)
    assert drain(replay, 3.0) == b"\r\n+CIPRECVDATA,3:llo\r\nOK\r\n"
    assert replay.divergence is None and replay.finished


def test_ciprecvlen_says_what_the_module_holds_now() -> None:
    script = transcript(
        (0.0, "host", START),
        (0.01, "module", b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,10\r\n"),
        (0.02, "host", b"AT+CIPRECVLEN?\r\n"),
        (0.03, "module", b"+CIPRECVLEN:10,-1,-1,-1,-1\r\n\r\nOK\r\n"),
        (0.04, "host", b"AT+CIPRECVDATA=0,10\r\n"),
        (0.05, "module", b'+CIPRECVDATA:10,"127.0.0.1",80,abcdefghij\r\nOK\r\n'),
    )
    replay = Replay(script, timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.0)
    replay.receive(b"AT+CIPRECVDATA=0,4\r\n", 2.0)
    assert drain(replay, 2.0).startswith(b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\n')
    replay.receive(b"AT+CIPRECVLEN?\r\n", 3.0)
    assert drain(replay, 3.0) == b"+CIPRECVLEN:6,-1,-1,-1,-1\r\n\r\nOK\r\n"


def test_a_read_on_a_link_the_transcript_never_read_is_a_divergence_naming_both_lines() -> None:
    replay = Replay(passive_download(*RECORDED_READS), timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.0)
    replay.receive(b"AT+CIPRECVDATA=1,4\r\n", 2.0)
    assert replay.divergence is not None
    assert "expected 'AT+CWQAP\\r\\n', received 'AT+CIPRECVDATA=1,4\\r\\n'" in replay.divergence


def test_a_command_is_answered_whatever_the_host_has_read() -> None:
    """The application stops reading and closes: the module's answer does not wait for the reads of the recording."""
    replay = Replay(passive_download(*RECORDED_READS), timescale=0)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.0)
    replay.receive(b"AT+CIPRECVDATA=0,2\r\n", 2.0)
    assert drain(replay, 2.0).startswith(b'+CIPRECVDATA:2,"127.0.0.1",80,ab\r\n')
    replay.receive(b"AT+CWQAP\r\n", 3.0)
    assert drain(replay, 3.0).endswith(b"\r\nOK\r\n")  # after what was still held back (the CLOSED)
    assert replay.divergence is None and replay.finished


def test_a_read_cut_by_a_module_reset_is_played_as_recorded_and_the_reset_empties_the_buffers() -> None:
    script = transcript(
        (0.0, "host", START),
        (0.01, "module", b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,4\r\n"),
        (0.02, "host", b"AT+CIPRECVDATA=0,4\r\n"),
        (0.03, "module", b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n\r\n+IPD,0,9\r\n'),
        (0.04, "host", b"AT+CIPRECVDATA=0,9\r\n"),
        (0.05, "module", b" \x82<garbage\r\nready\r\n"),
        (0.06, "host", b"AT+CIPRECVDATA=0,9\r\n"),
        (0.07, "module", b"AT+CIPRECVDATA=0,9\r\n\r\nERROR\r\n"),
        (0.08, "host", b"AT\r\n"),
        (0.09, "module", b"AT\r\n\r\nOK\r\n"),
    )
    replay = Replay(script, timescale=0, lenient=True)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.0)
    replay.receive(b"AT+CIPRECVDATA=0,4\r\n", 2.0)
    assert drain(replay, 2.0) == b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n\r\n+IPD,0,9\r\n'
    replay.receive(b"AT+CIPRECVDATA=0,5760\r\n", 3.0)  # the cut read: as recorded, whatever length
    assert drain(replay, 3.0) == b" \x82<garbage\r\nready\r\n"
    replay.receive(b"AT+CIPRECVDATA=0,5760\r\n", 4.0)  # the module lost what it held
    assert drain(replay, 4.0) == b"\r\nERROR\r\n"
    replay.receive(b"AT\r\n", 5.0)
    assert drain(replay, 5.0) == b"AT\r\n\r\nOK\r\n"
    assert replay.divergence is None and replay.finished


def test_what_the_module_said_before_answering_a_read_comes_before_the_answer() -> None:
    """Recorded: the link dropped between two reads, the second got ERROR after the CLOSED. A host reading at once
    gets the CLOSED first, as recorded, not an ERROR that would look like an orderly end."""
    script = transcript(
        (0.0, "host", START),
        (0.01, "module", b"0,CONNECT\r\n\r\nOK\r\n\r\n+IPD,0,4\r\n"),
        (0.02, "host", b"AT+CIPRECVDATA=0,4\r\n"),
        (0.03, "module", b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n\r\n+IPD,0,4\r\n'),
        (0.04, "host", b"AT+CIPRECVDATA=0,4\r\n"),
        (0.5, "module", b"WIFI DISCONNECT\r\n0,CLOSED\r\n\r\nERROR\r\n"),
    )
    replay = Replay(script)
    replay.start(0.0)
    replay.receive(START, 1.0)
    drain(replay, 1.1)
    replay.receive(b"AT+CIPRECVDATA=0,4\r\n", 1.1)
    assert drain(replay, 1.1) == b'+CIPRECVDATA:4,"127.0.0.1",80,abcd\r\nOK\r\n\r\n+IPD,0,4\r\n'
    replay.receive(b"AT+CIPRECVDATA=0,4\r\n", 1.1)
    assert drain(replay, 1.1) == b"WIFI DISCONNECT\r\n0,CLOSED\r\n\r\nERROR\r\n"
    assert replay.divergence is None


def test_lenient_reads_follow_the_hosts_link_id() -> None:
    replay = Replay(passive_download(*RECORDED_READS), timescale=0, lenient=True)
    replay.start(0.0)
    replay.receive(START.replace(b"=0,", b"=3,"), 1.0)
    assert drain(replay, 1.0) == b"3,CONNECT\r\n\r\nOK\r\n\r\n+IPD,3,10\r\n"
    replay.receive(b"AT+CIPRECVDATA=3,8\r\n", 2.0)
    assert drain(replay, 2.0) == b'+CIPRECVDATA:8,"127.0.0.1",80,abcdefgh\r\nOK\r\n\r\n+IPD,3,2\r\n'
    assert replay.divergence is None


def test_the_espemu_port_fails_within_two_seconds_naming_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.jsonl",
        transcript((0.0, "host", b"AT\r\n"), (0.01, "module", b"\r\nOK\r\n"), (0.02, "host", b"ATE0\r\n")),
    )
    port = serial.serial_for_url(f"espemu://?replay={path}", timeout=0.1)
    try:
        port.write(b"AT\r\n")
        answer = b""
        while not answer.endswith(b"OK\r\n"):
            answer += port.read(16)
        assert answer == b"\r\nOK\r\n"
        start = time.monotonic()
        port.write(b"ATE1\r\n")
        with pytest.raises(serial.SerialException) as caught:
            while time.monotonic() - start < 5:
                port.read(16)
        took = time.monotonic() - start
    finally:
        port.close()
    assert took < 2.0
    assert "expected 'ATE0\\r\\n', received 'ATE1\\r\\n'" in str(caught.value)
    assert f"line 4 of the transcript {path}" in str(caught.value)


def test_a_bad_transcript_is_refused_when_the_port_opens(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"format": "something else"}) + "\n")
    with pytest.raises(serial.SerialException, match="not a netsocket-serial-transcript header"):
        serial.serial_for_url(f"espemu://?replay={path}")
    with pytest.raises(serial.SerialException, match="No such file"):
        serial.serial_for_url(f"espemu://?replay={tmp_path / 'missing.jsonl'}")


def test_the_documented_example_is_a_transcript_that_replays(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "transcripts.md").read_text()
    example = page.split("### A complete example", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.jsonl"
    path.write_text(example, encoding="utf-8")
    script = read_transcript(path)
    assert script.header.firmware is not None and script.header.baudrate == 115200
    assert b'AT+CWJAP="netsocket-wpa2","' + MASK + b'"\r\n' in script.data("host")
    port = serial.serial_for_url(f"espemu://?replay={path}&timescale=0.1", timeout=0.05)
    heard = b""
    try:
        for chunk in script.chunks:
            if chunk.direction == "host":
                port.write(chunk.data.replace(MASK, b"any passphrase"))
            else:
                deadline = time.monotonic() + 2.0
                wanted = len(heard) + len(chunk.data)
                while len(heard) < wanted and time.monotonic() < deadline:
                    heard += port.read(wanted - len(heard))
    finally:
        port.close()
    assert heard == script.data("module")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("replay=t.jsonl&profile=nonos17", "do not apply to a replay"),
        ("replay=t.jsonl&chunking=1", "do not apply to a replay"),
        ("replay=t.jsonl&join_to_connected=2", "timing fields"),
        ("lenient=1", "lenient applies to a replay only"),
    ],
)
def test_emulation_options_given_to_a_replay_are_refused(query: str, message: str) -> None:
    with pytest.raises(serial.SerialException, match=message):
        serial.serial_for_url(f"espemu://?{query}")
