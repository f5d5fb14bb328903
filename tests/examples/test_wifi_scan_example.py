"""examples.wifi_scan end to end on the emulated ESP8266's default world (DESIGN.md §5)."""

from __future__ import annotations

import pytest

from examples import wifi_scan
from tests.examples.running import FAST_ESP, HOST


def test_lists_the_default_worlds_access_points(capsys: pytest.CaptureFixture[str]) -> None:
    assert wifi_scan.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Scanning with ESP8266 on espemu:// (the built-in emulator)"
    assert lines[1] == "3 networks visible"
    assert lines[2].split() == ["SSID", "BSSID", "SECURITY", "RSSI", "CHANNEL"]
    rows = [line.split() for line in lines[3:]]
    assert [(row[0], row[2], row[3], row[4]) for row in rows] == [
        ("netsocket-open", "NONE", "-42", "1"),
        ("netsocket-wpa2", "WPA2", "-58", "6"),
        ("neighbour", "WPA_WPA2", "-80", "11"),
    ]
    for row in rows:
        assert len(row[1]) == 17 and row[1].count(":") == 5


def test_on_another_firmware_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert wifi_scan.main(["--port", "espemu://?timescale=0.05&profile=at3_esp32"]) == 0
    assert "3 networks visible" in capsys.readouterr().out


def test_refuses_an_interface_without_wifi(capsys: pytest.CaptureFixture[str]) -> None:
    assert wifi_scan.main(HOST) == 1
    captured = capsys.readouterr()
    assert "needs a Wi-Fi interface" in captured.err
    assert "networks visible" not in captured.out


def test_reports_a_module_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    assert wifi_scan.main(["--port", "/dev/netsocket-no-such-port"]) == 1
    err = capsys.readouterr().err
    assert "there is no serial port /dev/netsocket-no-such-port: NSAPI_ERROR_DEVICE_ERROR" in err
    assert "hint: " in err and "scan failed" not in err


def test_fast_emulator_scan_does_not_join(capsys: pytest.CaptureFixture[str]) -> None:
    assert wifi_scan.main([*FAST_ESP, "--ssid", "nowhere"]) == 0
    assert "Network:" not in capsys.readouterr().out


def test_a_module_at_another_baud_rate_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """The emulated module's UART at 9600, the example at 115200: garbage, as on a real wire, and a hint."""
    assert wifi_scan.main(["--port", "espemu://?baud=9600&timescale=0.05&pace=0"]) == 1
    err = capsys.readouterr().err
    assert "NSAPI_ERROR_DEVICE_ERROR" in err and "netsocket probe" in err and "Traceback" not in err
    assert wifi_scan.main(["--port", "espemu://?baud=9600&timescale=0.05&pace=0", "--baudrate", "9600"]) == 0
