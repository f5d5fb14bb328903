"""Transcripts against the driver: the shipped ones replay to the same application bytes, a fresh recording of an
HTTP download replays on every profile, and a driver that strays from a transcript is told so within 2 s.

``tests/data/transcripts/`` is made by ``python -m tests.record_replay.transcripts`` (``make transcripts``)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.drivers.esp_at.commands import Command
from netsocket.drivers.esp_at.core import Exchange
from netsocket.drivers.esp_at.runner import Runner

from netsocket import NsapiError, NsapiSecurity
from netsocket.transcript import read_transcript
from tests.record_replay.scenarios import PROFILES, SCENARIOS, body, finish, http_get
from tests.record_replay.transcripts import ROOT, THREAD_RACES, TRANSCRIPTS, load_manifest, record, replay

pytestmark = pytest.mark.esp

MANIFEST = load_manifest()


def _id(entry: dict[str, Any]) -> str:
    return str(entry["file"]).removesuffix(".jsonl")


def test_the_shipped_transcripts_cover_every_scenario_and_profile() -> None:
    shipped = {(e["scenario"], e["profile"]) for e in MANIFEST}
    assert shipped == {(s.name, p) for s in SCENARIOS.values() for p in s.profiles}
    assert {p for name, p in shipped if name == "download"} == set(PROFILES)
    for entry in MANIFEST:
        transcript = read_transcript(TRANSCRIPTS / entry["file"])
        assert transcript.header.firmware, entry["file"]
        assert b"netsocket123" not in (TRANSCRIPTS / entry["file"]).read_bytes()


@pytest.mark.parametrize("entry", MANIFEST, ids=_id)
def test_every_transcript_replays_to_the_bytes_of_the_original_run(entry: dict[str, Any]) -> None:
    """Lenient replay of the whole session, connect to close: same bytes (SHA-256), same result codes, no
    divergence."""
    run = replay(
        TRANSCRIPTS / entry["file"], SCENARIOS[entry["scenario"]], tuple(entry["address"]), options="&lenient=1"
    )
    assert run.divergence is None
    assert (run.outcome.sha256, len(run.outcome.received), run.outcome.codes) == (
        entry["sha256"],
        entry["size"],
        entry["codes"],
    )


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["scenario"] not in THREAD_RACES], ids=_id)
def test_the_application_part_of_every_transcript_replays_exactly(entry: dict[str, Any]) -> None:
    """Exact matching up to the end of the application's work (closing a socket and leaving the network race on
    two driver threads, so their order at the very end may differ: the lenient test covers it)."""
    run = replay(TRANSCRIPTS / entry["file"], SCENARIOS[entry["scenario"]], tuple(entry["address"]))
    assert run.divergence_in_session is None
    assert (run.outcome.sha256, run.outcome.codes) == (entry["sha256"], entry["codes"])


@pytest.mark.parametrize("profile", PROFILES)
def test_an_http_download_recorded_through_the_emulated_module_replays_to_the_same_bytes(
    profile: str, tmp_path: Path
) -> None:
    path = tmp_path / f"download-{profile}.jsonl"
    scenario = SCENARIOS["download"]
    original, address = record(scenario, profile, path)
    assert original.codes == [] and original.received.endswith(body(24 * 1024, seed=1))
    again = replay(path, scenario, address)
    assert again.divergence_in_session is None
    assert again.outcome.sha256 == original.sha256


def _stray_from(monkeypatch: pytest.MonkeyPatch, line: bytes, instead: bytes) -> None:
    """A driver change: one command of start-up is sent differently."""
    submit = Runner.submit

    def changed(self: Runner, command: Command, deadline: float | None = None) -> Exchange:
        return submit(self, dataclasses.replace(command, line=instead) if command.line == line else command, deadline)

    monkeypatch.setattr(Runner, "submit", changed)


def test_a_driver_sending_another_command_is_told_where_within_two_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    path = TRANSCRIPTS / "download-at22_8266.jsonl"
    _stray_from(monkeypatch, b"AT+CIPDINFO=1", b"AT+CIPDINFO=0")
    iface = ESP8266Interface(f"espemu://?replay={path}")
    try:
        start = time.monotonic()
        err = iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2)
        took = time.monotonic() - start
        divergence = iface.stack.runner.port.replay.divergence
        failed = iface.stack.runner.failed
    finally:
        iface.close()
    assert err == NsapiError.DEVICE_ERROR
    assert took < 2.0
    assert divergence is not None and failed is not None and "replay diverged: at line" in failed
    assert "expected 'AT+CIPDINFO=1\\r\\n', received 'AT+CIPDINFO=0\\r\\n'" in divergence
    assert f"transcript {path}" in divergence


def test_an_application_sending_other_data_is_told_which_line_differs() -> None:
    entry = next(e for e in MANIFEST if e["file"] == "download-at3_esp32.jsonl")
    iface = ESP8266Interface(f"espemu://?replay={TRANSCRIPTS / entry['file']}")
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        start = time.monotonic()
        outcome = http_get("/dat4")(iface, tuple(entry["address"]), None)
        took = time.monotonic() - start
        divergence = iface.stack.runner.port.replay.divergence
    finally:
        iface.close()
    assert outcome.received == b"" and outcome.codes
    assert took < 2.0 + 1.0  # the divergence within 2 s, then the socket's own error path
    assert divergence is not None
    assert "expected 'GET /data HTTP/1.0\\r\\n', received 'GET /dat4 HTTP/1.0\\r\\n'" in divergence


@pytest.fixture
def replay_pty() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    path = TRANSCRIPTS / "download-nonos17.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "netsocket.mocks.esp_at", "--pty", "--replay", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        device = server.stdout.readline().strip()
        assert device.startswith("/dev/"), f"the replay printed {device!r} instead of a device path"
        yield device, server
    finally:
        server.terminate()
        server.wait(10)
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()


def test_a_transcript_replays_on_a_pseudo_terminal(replay_pty: tuple[str, subprocess.Popen[str]]) -> None:
    device, _server = replay_pty
    entry = next(e for e in MANIFEST if e["file"] == "download-nonos17.jsonl")
    iface = ESP8266Interface(device)
    outcome = None
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        outcome = SCENARIOS["download"].run(iface, tuple(entry["address"]), None)
    finally:
        finish(iface, outcome)
    assert (outcome.sha256, outcome.codes) == (entry["sha256"], entry["codes"])


def test_a_divergence_on_a_pseudo_terminal_is_printed_and_closes_it(
    replay_pty: tuple[str, subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    device, server = replay_pty
    _stray_from(monkeypatch, b"AT+CIPMUX=1", b"AT+CIPMUX=0")
    iface = ESP8266Interface(device)
    try:
        start = time.monotonic()
        err = iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2)
        took = time.monotonic() - start
    finally:
        iface.close()
    assert err == NsapiError.DEVICE_ERROR and took < 2.0
    assert server.wait(5) == 0
    assert server.stderr is not None
    assert "expected 'AT+CIPMUX=1\\r\\n', received 'AT+CIPMUX=0\\r\\n'" in server.stderr.read()


def test_the_hardware_suite_records_the_esp_session(tmp_path: Path) -> None:
    """``pytest hw_tests --esp-record FILE``: the transcript names the firmware and never holds the passphrase."""
    path = tmp_path / "hw.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "hw_tests",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "esp",
            "-k",
            "interface_is_up or tcp_echo_of_every",
            "--esp-port=espemu://?profile=at3_esp32&timescale=0.1&boot=0",
            f"--esp-record={path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    transcript = read_transcript(path)
    assert transcript.header.firmware is not None and transcript.header.firmware[0].startswith("AT version:3.")
    assert transcript.header.baudrate == 115200
    host = transcript.data("host")
    assert b'AT+CWJAP="netsocket-wpa2","********"\r\n' in host and b"AT+CIPSEND=" in host
    assert b"netsocket123" not in path.read_bytes()


@pytest.mark.parametrize("name", ["download-at3_esp32.jsonl", "udp-at22_8266.jsonl"])
def test_lenient_replay_tolerates_another_peer_port(name: str) -> None:
    entry = next(e for e in MANIFEST if e["file"] == name)
    host, port = entry["address"]
    other = (host, port + 1 if port < 65535 else port - 1)
    exact = replay(TRANSCRIPTS / name, SCENARIOS[entry["scenario"]], other)
    assert exact.divergence_in_session is not None and f",{other[1]}" in exact.divergence_in_session
    lenient = replay(TRANSCRIPTS / name, SCENARIOS[entry["scenario"]], other, options="&lenient=1")
    assert lenient.divergence is None
    assert (lenient.outcome.sha256, lenient.outcome.codes) == (entry["sha256"], entry["codes"])


def test_a_transcript_replays_to_every_socket_client_of_the_listening_server() -> None:
    entry = next(e for e in MANIFEST if e["file"] == "upload-at3_esp32.jsonl")
    server = subprocess.Popen(
        [sys.executable, "-m", "netsocket.mocks.esp_at", "--listen", "127.0.0.1:0", "--replay", entry["file"]],
        cwd=TRANSCRIPTS,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        for _ in range(2):  # each client gets the module's side from the start
            iface = ESP8266Interface(f"socket://127.0.0.1:{port}")
            outcome = None
            try:
                assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
                outcome = SCENARIOS["upload"].run(iface, tuple(entry["address"]), None)
            finally:
                finish(iface, outcome)
            assert (outcome.sha256, outcome.codes) == (entry["sha256"], entry["codes"])
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
