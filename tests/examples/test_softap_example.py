"""examples.softap end to end on the emulated module, whose URL option ``softap_stations=2`` sends two stations
when the access point comes up."""

from __future__ import annotations

import pytest

from examples import softap
from tests.examples.running import HOST, ExampleProcess

STATIONS = [("02:5a:00:00:04:02", "192.168.4.2"), ("02:5a:00:00:04:03", "192.168.4.3")]


def test_run_as_a_user_does_two_stations_join_get_addresses_and_are_listed() -> None:
    with ExampleProcess("softap", ["--port", "espemu://?softap_stations=2", "--stations", "2"]) as example:
        status, out, err = example.finish(60)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Network: ESP8266 on espemu://?softap_stations=2 (the built-in emulator), joined")
    assert lines[1] == "Access point 'netsocket-ap' (WPA2) on channel 6; the station side stays joined"
    for mac, ip in STATIONS:
        assert lines.index(f"station {mac} joined") < lines.index(f"station {mac} got_ip {ip}")
    assert lines[-4:] == ["2 stations:", *(f"  {mac}  {ip}" for mac, ip in STATIONS), "Access point stopped"]


@pytest.mark.parametrize("profile", ["nonos17", "at3_esp32"])
def test_on_the_other_firmware_profiles(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = f"espemu://?timescale=0.05&profile={profile}&softap_stations=2"
    assert softap.main(["--port", port, "--stations", "2", "--ap-ssid", "other-ap", "--channel", "11"]) == 0
    out = capsys.readouterr().out
    assert "Access point 'other-ap' (WPA2) on channel 11" in out
    assert "2 stations:" in out and all(f"  {mac}  {ip}" in out for mac, ip in STATIONS)


def test_no_station_before_the_duration_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert softap.main(["--port", "espemu://?timescale=0.05", "--duration", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "0 stations:" in out and "\nstation " not in out and out.endswith("Access point stopped\n")


def test_bad_settings_and_interfaces_without_an_access_point_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert softap.main(["--port", "espemu://?timescale=0.05", "--channel", "0"]) == 1
    assert "settings are refused: NSAPI_ERROR_PARAMETER" in capsys.readouterr().err
    assert softap.main(HOST) == 1
    assert "has no access point" in capsys.readouterr().err
