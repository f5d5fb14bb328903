"""examples.sensor_sleep end to end: readings reach a UDP collector on 127.0.0.1, and the module really slept
between them: ``AT+GSLP`` then the module's ``ready`` on the emulated wire (deep sleep), or ``AT+SLEEP`` on
and off around the readings (``--modem-sleep``)."""

from __future__ import annotations

import ast
import logging
import threading

import pytest

from examples import sensor_sleep
from tests.examples.running import HOST, ExampleProcess
from tests.servers import UdpServer

WIRE = "netsocket.mocks.esp_at.wire"
PROFILES = ["nonos17", "at22_8266", "at3_esp32"]
JOIN = b'="netsocket-wpa2","'
"""The part of every firmware's join command (AT+CWJAP / AT+CWJAP_CUR) that no query has."""
#: AT+SLEEP's numbers for modem sleep and for none (reference §3.26: NonOS 2 is modem sleep, ESP-AT 1).
MODEM_SLEEP = {"nonos17": b"AT+SLEEP=2\r\n", "at22_8266": b"AT+SLEEP=1\r\n", "at3_esp32": b"AT+SLEEP=1\r\n"}


class Collector:
    """A UDP collector that acknowledges each reading as the example expects (``ack #<n>``)."""

    def __init__(self, acknowledge: bool = True) -> None:
        self.readings: list[bytes] = []
        self._lock = threading.Lock()
        self._acknowledge = acknowledge
        self.server = UdpServer("sensor-collector", self._handle)

    def _handle(self, data: bytes, sender: tuple[str, int]) -> bytes | None:
        with self._lock:
            self.readings.append(data)
        return b"ack " + data.split()[1] if self._acknowledge else None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture
def collector() -> Collector:
    made = Collector()
    with made.server:
        yield made  # type: ignore[misc]


def wire(caplog: pytest.LogCaptureFixture, direction: str) -> bytes:
    """All bytes that went one way (``host->esp`` or ``esp->host``), from the emulator's wire log."""
    chunks = [r.getMessage().split(f" {direction} ", 1) for r in caplog.records if r.name == WIRE]
    return b"".join(ast.literal_eval(chunk[1]) for chunk in chunks if len(chunk) == 2)


@pytest.mark.parametrize("profile", PROFILES)
def test_deep_sleep_between_readings(
    profile: str, collector: Collector, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    port = f"espemu://?timescale=0.05&pace=0&profile={profile}"
    argv = ["--port", port, "--collector", collector.address, "--count", "3", "--sleep-ms", "4000"]
    with caplog.at_level(logging.DEBUG, logger=WIRE):
        assert sensor_sleep.main(argv) == 0
    assert [r.split()[:2] for r in collector.readings] == [[b"sensor-1", f"#{n}".encode()] for n in (1, 2, 3)]
    assert all(r.split()[2].startswith(b"rssi=-") for r in collector.readings)
    sent = wire(caplog, "host->esp")
    assert sent.count(b"AT+GSLP=4000\r\n") == 2  # none after the last reading
    assert wire(caplog, "esp->host").count(b"\r\nready\r\n") >= 2  # each wake-up (and the boot)
    assert sent.count(JOIN) == 3  # joined again after each wake-up
    out = capsys.readouterr().out
    assert out.count("Deep sleep for 4000 ms") == 2 and out.count("Module awake and initialised again") == 2
    assert out.rstrip().endswith("3 readings sent, 3 acknowledged")


@pytest.mark.parametrize("profile", PROFILES)
def test_modem_sleep_stays_joined(
    profile: str, collector: Collector, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    port = f"espemu://?timescale=0.05&pace=0&profile={profile}"
    argv = ["--port", port, "--collector", collector.address, "--count", "3", "--sleep-ms", "50", "--modem-sleep"]
    with caplog.at_level(logging.DEBUG, logger=WIRE):
        assert sensor_sleep.main(argv) == 0
    assert [r.split()[1] for r in collector.readings] == [b"#1", b"#2", b"#3"]
    sent = wire(caplog, "host->esp")
    assert sent.count(MODEM_SLEEP[profile]) == 1 and sent.count(b"AT+SLEEP=0\r\n") == 1
    assert sent.index(MODEM_SLEEP[profile]) < sent.index(b"AT+SLEEP=0\r\n")
    assert sent.count(JOIN) == 1 and b"AT+GSLP" not in sent
    assert "3 readings sent, 3 acknowledged" in capsys.readouterr().out


def test_run_as_a_user_does_with_its_own_collector() -> None:
    with ExampleProcess("sensor_sleep", ["--count", "2", "--sleep-ms", "500"]) as example:
        status, out, err = example.finish(90)
    assert status == 0, err
    assert out.count("Collector got from 127.0.0.1:") == 2
    assert "Reading 2 sent: sensor-1 #2 rssi=-58dBm (acknowledged)" in out
    assert "Traceback" not in err


def test_an_unacknowledged_reading_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    silent = Collector(acknowledge=False)
    with silent.server:
        argv = ["--port", "espemu://?timescale=0.05&pace=0", "--collector", silent.address, "--count", "1"]
        assert sensor_sleep.main([*argv, "--ack-ms", "300"]) == 1
    assert len(silent.readings) == 1
    assert "NOT acknowledged" in capsys.readouterr().out


def test_an_interface_without_power_saving_is_told_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert sensor_sleep.main([*HOST, "--count", "2"]) == 1
    assert "has no deep_sleep()" in capsys.readouterr().err
