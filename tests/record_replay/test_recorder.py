"""The transcript format and the recorder: bytes survive, the firmware is named, secrets never reach the file."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import pytest
import serial
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.drivers.esp_at.record_pty import serve_recording_pty
from netsocket.drivers.esp_at.recorder import SecretMasker, SessionRecorder, parameter_spans
from netsocket.mocks.esp_at import find_emulator

import netsocket
from netsocket import NsapiError, NsapiSecurity
from netsocket.transcript import MASK, Chunk, Header, TranscriptError, TranscriptWriter, read_transcript

# Every AT metacharacter: quotes, commas, backslashes, and the text of CR/LF escapes.
NASTY = 'p"a,s\\s\\r\\n"w,\\",AT+x\\'


def test_every_byte_value_survives_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter.open(path)
    writer.write_header(Header(date="2026-01-01T00:00:00Z", baudrate=115200, firmware=("AT version:x",)))
    payload = bytes(range(256)) * 2
    writer.write_chunk(Chunk(0.5, "module", payload))
    writer.write_chunk(Chunk(0.75, "host", b"AT\r\n"))
    writer.close()
    assert path.read_text(encoding="utf-8").count("\n") == 3
    transcript = read_transcript(path)
    assert transcript.header.firmware == ("AT version:x",)
    assert transcript.data("module") == payload
    assert transcript.data("host") == b"AT\r\n"
    assert [c.t for c in transcript.chunks] == [0.5, 0.75]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "no header"),
        (['{"format": "other"}'], "line 1: not a netsocket-serial-transcript header"),
        (['{"format": "netsocket-serial-transcript", "version": 99}'], "format version 99"),
        (['{"format": "netsocket-serial-transcript", "version": 1}', "{nope"], "line 2: not JSON"),
        (['{"format": "netsocket-serial-transcript", "version": 1}', '{"t": 1, "dir": "up", "data": ""}'], "'dir'"),
        (
            ['{"format": "netsocket-serial-transcript", "version": 1}', '{"t": 1, "dir": "host", "data": "\\u0100"}'],
            "line 2: 'data' holds a character above",
        ),
    ],
)
def test_a_malformed_transcript_is_refused_naming_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TranscriptError, match=message.replace("(", r"\(")):
        read_transcript(path)


def test_parameters_are_split_honouring_quotes_and_escapes() -> None:
    args = b'"ab\\\\\\,c","0123\\"\\\\",,1'
    spans = [args[s:e] for s, e, _q in parameter_spans(args)]
    assert spans == [b"ab\\\\\\,c", b'0123\\"\\\\', b"", b"1"]


def test_the_passphrase_is_masked_in_commands_and_wherever_it_appears_again() -> None:
    masker = SecretMasker()
    line = b'AT+CWJAP="my,ssid","' + NASTY.replace("\\", "\\\\").replace('"', '\\"').replace(",", "\\,").encode()
    line += b'",,1\r\n'
    masked = masker.mask_lines(line)
    assert masked == b'AT+CWJAP="my,ssid","' + MASK + b'",,1\r\n'
    assert masker.mask(b"echo " + NASTY.encode() + b" end") == b"echo " + MASK + b" end"


def test_a_secret_split_across_writes_and_reads_is_still_masked(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    clock = iter(x / 100 for x in range(1000))
    recorder = SessionRecorder(
        TranscriptWriter.open(path), baudrate=9600, secrets=["hunter22"], clock=lambda: next(clock)
    )
    recorder.host(b'AT+CWSAP_CUR="ap","s3')  # a command line written in pieces
    recorder.host(b'cret-pw",5,3\r\n')
    recorder.module(b'AT+CWSAP_CUR="ap","s3cr')  # echo on, read in pieces
    recorder.module(b'et-pw",5,3\r\n\r\nOK\r\n')
    recorder.module(b"+IPD,0,12:xxhunter")  # a marked secret in received data, split by the reads
    recorder.module(b"22xx\r\n")
    recorder.close()
    text = path.read_text()
    assert "s3cret-pw" not in text and "hunter22" not in text and "s3cr" not in text
    transcript = read_transcript(path)
    assert transcript.data("host") == b'AT+CWSAP_CUR="ap","' + MASK + b'",5,3\r\n'
    assert transcript.data("module").endswith(b"+IPD,0,12:xx" + MASK + b"xx\r\n")
    assert transcript.header.firmware is None and transcript.header.baudrate == 9600


def test_passphrases_in_echoed_commands_and_soft_ap_answers_are_masked_even_when_short(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    recorder = SessionRecorder(TranscriptWriter.open(path), baudrate=None)
    recorder.host(b'AT+CWJAP="ap","ab,c"\r\n')  # shorter than a learnt secret is masked elsewhere
    recorder.module(b'AT+CWJAP="ap","a')  # echo on, split inside the passphrase
    recorder.module(b'b\\,c"\r\n\r\nOK\r\n')
    recorder.host(b"AT+CWSAP_CUR?\r\n")
    recorder.module(b'+CWSAP_CUR:"my-ap","sp')  # the soft-AP's passphrase, set long ago, read in pieces
    recorder.module(b'-pw",5,3,4,0\r\n\r\nOK\r\n')
    recorder.close()
    module = read_transcript(path).data("module")
    assert (
        module == b'AT+CWJAP="ap","' + MASK + b'"\r\n\r\nOK\r\n+CWSAP_CUR:"my-ap","' + MASK + b'",5,3,4,0\r\n\r\nOK\r\n'
    )
    assert "sp-pw" not in path.read_text() and "ab" not in path.read_text().split("\n", 1)[1]


def test_a_driver_session_is_recorded_with_the_firmware_and_never_the_passphrase(tmp_path: Path) -> None:
    """The driver's ``record=`` option on an emulated module whose access point has a passphrase full of AT
    metacharacters: the join works, and the passphrase appears nowhere in the transcript, raw or escaped."""
    path = tmp_path / "session.jsonl"
    port = serial.serial_for_url("espemu://?profile=at3_esp32&timescale=0.01", timeout=0.05)

    def set_passphrase(dev: object, now: float) -> None:
        for ap in dev.world.access_points:  # type: ignore[attr-defined]
            if ap.ssid == "netsocket-wpa2":
                ap.password = NASTY

    find_emulator(port).call(set_passphrase)
    iface = ESP8266Interface(port, record=path)
    try:
        assert iface.connect("netsocket-wpa2", NASTY, NsapiSecurity.WPA2) == NsapiError.OK
    finally:
        iface.disconnect()
        iface.close()
        port.close()
    text = path.read_text()
    escaped = NASTY.replace("\\", "\\\\").replace('"', '\\"').replace(",", "\\,")
    for form in (NASTY, escaped, json.dumps(NASTY)[1:-1], json.dumps(escaped)[1:-1], "s\\\\s", "AT+x"):
        assert form not in text
    transcript = read_transcript(path)
    assert transcript.header.firmware is not None and transcript.header.firmware[0].startswith("AT version:3.")
    assert b'AT+CWJAP="netsocket-wpa2","' + MASK + b'"\r\n' in transcript.data("host")
    assert b"WIFI GOT IP" in transcript.data("module")


def test_a_passphrase_with_a_real_line_break_is_refused_and_nothing_of_it_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    iface = ESP8266Interface("espemu://?timescale=0.01&boot=0", record=path)
    try:
        assert iface.connect("netsocket-wpa2", "secret\r\nAT+RESTORE", NsapiSecurity.WPA2) == NsapiError.PARAMETER
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
    finally:
        iface.disconnect()
        iface.close()
    text = path.read_text()
    assert "secret" not in text and "RESTORE" not in text and "netsocket123" not in text


def test_the_record_url_wraps_any_port_url(tmp_path: Path) -> None:
    path = tmp_path / "url.jsonl"
    url = f"record://espemu://?profile=nonos17&timescale=0.01#file={path}&secret=hunter22"
    iface = ESP8266Interface(url)
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        assert find_emulator(iface.stack.runner.port).device.profile.name == "nonos17"
    finally:
        iface.disconnect()
        iface.close()
    transcript = read_transcript(path)
    assert transcript.header.firmware is not None and transcript.header.firmware[0].startswith("AT version:1.7")
    assert b"netsocket123" not in path.read_bytes()


def test_a_record_url_without_a_file_is_refused() -> None:
    with pytest.raises(serial.SerialException, match="#file="):
        serial.serial_for_url("record://espemu://")


def test_a_recording_pty_in_front_of_a_port_records_any_program(tmp_path: Path) -> None:
    """``python -m netsocket.drivers.esp_at.record_pty``'s function: the driver talks to the pty path, the
    transcript holds the session with the passphrase masked."""
    path = tmp_path / "pty.jsonl"
    stop = threading.Event()
    ready: queue.Queue[str] = queue.Queue()
    server = threading.Thread(
        target=serve_recording_pty,
        args=("espemu://?profile=at22_8266&timescale=0.01&boot=0", path, stop),
        kwargs={"on_ready": ready.put},
        name="esp_at-test-record-pty",
    )
    server.start()
    try:
        device = ready.get(timeout=10)
        iface = ESP8266Interface(device)
        try:
            assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        finally:
            iface.disconnect()
            iface.close()
    finally:
        stop.set()
        server.join(10)
    transcript = read_transcript(path)
    assert transcript.header.firmware is not None and transcript.header.firmware[0].startswith("AT version:2.2")
    assert b'AT+CWJAP="netsocket-wpa2","' + MASK + b'"\r\n' in transcript.data("host")
    assert b"netsocket123" not in path.read_bytes()


def test_an_esp_url_with_record_writes_a_transcript(tmp_path: Path) -> None:
    path = tmp_path / "url.jsonl"
    iface = netsocket.open_interface(f"esp://?record={path}")
    try:
        assert iface.connect() == NsapiError.OK
    finally:
        iface.disconnect()
        iface.close()  # type: ignore[attr-defined]
    transcript = read_transcript(path)
    assert transcript.header.firmware is not None
    assert b'AT+CWJAP="netsocket-wpa2","' + MASK + b'"\r\n' in transcript.data("host")


def test_the_firmware_is_the_gmr_answer_even_behind_the_end_of_an_earlier_answer(tmp_path: Path) -> None:
    """A command's answer still on its way when the driver asks AT+GMR (a late echo, a retried command) is not
    taken for the firmware."""
    path = tmp_path / "late.jsonl"
    recorder = SessionRecorder(TranscriptWriter.open(path), baudrate=115200)
    recorder.host(b"ATE0\r\n")
    recorder.host(b"AT+GMR\r\n")
    recorder.module(b"ATE0\r\n\r\nOK\r\n")
    recorder.module(b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)\r\nSDK version:v3.4\r\n\r\nOK\r\n")
    recorder.close()
    firmware = read_transcript(path).header.firmware
    assert firmware is not None and firmware[0].startswith("AT version:2.2.0.0")
