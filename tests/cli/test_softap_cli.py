"""``netsocket softap`` on the emulated ESP module of every firmware profile: the settings it prints, the stations
the emulator sends (URL option ``softap_stations``) joining and leaving, bad values and devices without a SoftAP
as sentences with the NSAPI name and a hint, and Ctrl-C stopping it."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from netsocket.cli import main
from tests.cli.conftest import FAST_ESP, ROOT, clean_env
from tests.cli.test_cli import assert_actionable

STATIONS = ("02:5a:00:00:04:02", "02:5a:00:00:04:03")


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_softap_prints_its_settings_and_the_stations_joining_and_leaving(
    profile: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_SOFTAP_PASSWORD", "apsecret1")
    device = f"{FAST_ESP}&profile={profile}&softap_stations=2"
    argv = ["softap", "--ssid", "cli-ap", "--channel", "6", "--max-stations", "3", "--duration", "1", "-d", device]
    assert main(argv) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert (
        "SSID │ cli-ap" in flat and "security │ WPA2" in flat and "channel │ 6" in flat and "max stations │ 3" in flat
    )
    for mac, ip in zip(STATIONS, ("192.168.4.2", "192.168.4.3"), strict=True):
        assert (
            out.index(f"station {mac} joined") < out.index(f"station {mac} got {ip}") < out.index(f"station {mac} left")
        )
        assert f"│ {mac} │ {ip} │" in out
    assert "2 stations" in out and out.rstrip().endswith("Access point stopped.")


def test_an_open_network_without_a_passphrase(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["softap", "--security", "open", "--duration", "0.2", "-d", FAST_ESP]) == 0
    assert "security │ NONE" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "nsapi"),
    [
        (["--channel", "14"], "NSAPI_ERROR_PARAMETER"),
        (["--max-stations", "9"], "NSAPI_ERROR_PARAMETER"),  # ESP-AT for ESP8266 takes 8
        (["--ssid", "x" * 33], "NSAPI_ERROR_PARAMETER"),
        (["--security", "WEP"], "NSAPI_ERROR_UNSUPPORTED"),
        (["-d", "w5500emu://"], "NSAPI_ERROR_UNSUPPORTED"),
        (["--duration", "0"], "NSAPI_ERROR_PARAMETER"),
    ],
)
def test_bad_values_and_devices_without_a_softap_are_explained(
    argv: list[str], nsapi: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_SOFTAP_PASSWORD", "apsecret1")
    device = [] if "-d" in argv else ["-d", FAST_ESP]
    assert main(["softap", "--duration", "0.2", *device, *argv]) == 1
    assert_actionable(capsys.readouterr().err, nsapi)


def test_a_short_passphrase_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETSOCKET_SOFTAP_PASSWORD", "short")
    assert main(["softap", "--duration", "0.2", "-d", FAST_ESP]) == 1
    assert_actionable(capsys.readouterr().err, "NSAPI_ERROR_PARAMETER")


def test_ctrl_c_stops_the_access_point_and_exits_130() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "netsocket", "softap", "-d", f"{FAST_ESP}&softap_stations=1"],
        cwd=ROOT,
        env=clean_env(NETSOCKET_SOFTAP_PASSWORD="apsecret1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:  # ends at EOF if the program dies: the assertion below then says so
            seen.append(line)
            if "got 192.168.4.2" in line:
                break
        assert "got 192.168.4.2" in "".join(seen), "".join(seen)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 130 and err == "Interrupted.\n", err
    assert f"station {STATIONS[0]} left" in out  # stopped on the way out
