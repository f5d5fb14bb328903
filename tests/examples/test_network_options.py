"""examples._network: the options every example shares, and ``python -m examples.<name> --help`` for each."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_mock import MockerFixture

from examples import http_client
from examples._network import add_network_arguments, credentials, describe, esp_port, split_host_port
from netsocket import NsapiSecurity
from tests.examples.running import FAST_ESP, ROOT


class FakePort:
    """What ``serial.tools.list_ports.comports()`` yields, for a USB bridge this machine does not have."""

    def __init__(self, device: str, description: str, vid: int | None, pid: int | None) -> None:
        self.device, self.description, self.vid, self.pid = device, description, vid, pid


EXAMPLES = [
    "http_client",
    "mqtt_client",
    "coap_client",
    "websocket_client",
    "udp_echo",
    "tcp_server",
    "wifi_scan",
    "softap",
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_network_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_are_the_emulator_and_its_wpa2_network() -> None:
    args = parse([])
    assert esp_port(args) == "espemu://"
    assert credentials(args) == ("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2)
    assert describe(args) == "ESP8266 on espemu:// (the built-in emulator)"


def test_credentials_for_another_network() -> None:
    assert credentials(parse(["--ssid", "home", "--password", "secret123"])) == (
        "home",
        "secret123",
        NsapiSecurity.WPA2,
    )
    assert credentials(parse(["--ssid", "cafe", "--security", "NONE"])) == ("cafe", "", NsapiSecurity.NONE)


def test_an_esp_url_brings_its_own_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    """``--interface esp://...?ssid=...``: the URL's network is joined, not the default one."""
    url = "esp://?port=espemu://%3Ftimescale%3D0.05&ssid=netsocket-open"
    assert http_client.main(["--interface", url]) == 0
    assert f"Network: interface {url}, joined Wi-Fi, IP address" in capsys.readouterr().out
    missing = "esp://?port=espemu://%3Ftimescale%3D0.05&ssid=not-in-range"
    assert http_client.main(["--interface", missing]) == 1
    assert "NO_SSID" in capsys.readouterr().err


def test_port_option_beats_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETSOCKET_INTERFACE", "/dev/ttyUSB7")
    assert esp_port(parse([])) == "/dev/ttyUSB7"
    assert esp_port(parse(["--port", "/dev/ttyACM0"])) == "/dev/ttyACM0"
    assert describe(parse([])) == "ESP8266 on /dev/ttyUSB7"
    monkeypatch.setenv("NETSOCKET_INTERFACE", "host://")
    assert describe(parse([])) == "interface host://"


def test_credentials_come_from_the_configuration_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The passphrase is read from netsocket.ini (or $NETSOCKET_WIFI_PASSWORD): never needed on a command line."""
    ini = tmp_path / "netsocket.ini"
    ini.write_text("[default]\nwifi_ssid = home\nwifi_password = s3cret-pass\n")
    monkeypatch.setenv("NETSOCKET_CONFIG", str(ini))
    assert credentials(parse([])) == ("home", "s3cret-pass", NsapiSecurity.WPA2)
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "from-env-1")
    assert credentials(parse([])) == ("home", "from-env-1", NsapiSecurity.WPA2)
    # Another --ssid does not get home's passphrase.
    assert credentials(parse(["--ssid", "cafe"])) == ("cafe", "", NsapiSecurity.NONE)


def test_a_missing_port_lists_the_ports_that_exist(capsys: pytest.CaptureFixture[str], mocker: MockerFixture) -> None:
    mocker.patch(
        "serial.tools.list_ports.comports",
        return_value=[FakePort("/dev/ttyUSB0", "CP2102 USB to UART", 0x10C4, 0xEA60)],
    )
    assert http_client.main(["--port", "/dev/ttyUSB9"]) == 1
    err = capsys.readouterr().err
    assert "there is no serial port /dev/ttyUSB9" in err and "DEVICE_ERROR" in err
    assert "hint: the serial ports here are: /dev/ttyUSB0 (Silicon Labs CP210x)" in err
    assert "Wi-Fi" not in err and "Traceback" not in err


def test_an_unknown_name_on_the_emulator_says_what_it_resolves(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main([*FAST_ESP, "--url", "http://example.com/"]) == 1
    err = capsys.readouterr().err
    assert "cannot resolve 'example.com'" in err
    assert "the emulated world resolves only its own table (localhost)" in err


@pytest.mark.parametrize("name", EXAMPLES)
def test_ctrl_c_prints_interrupted_and_exits_130(
    name: str, capsys: pytest.CaptureFixture[str], mocker: MockerFixture
) -> None:
    module = importlib.import_module(f"examples.{name}")
    mocker.patch.object(module, "add_network_arguments", side_effect=KeyboardInterrupt)
    assert module.main([]) == 130
    assert capsys.readouterr().err == "Interrupted.\n"


def test_port_and_interface_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--port", "espemu://", "--interface", "host://"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 7)),
        ("127.0.0.1:1883", ("127.0.0.1", 1883)),
        ("localhost:80", ("localhost", 80)),
        ("[::1]:5683", ("::1", 5683)),
        ("::1", ("::1", 7)),
    ],
)
def test_split_host_port(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text, 7) == expected


@pytest.mark.parametrize("text", [":80", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http"])
def test_split_host_port_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        split_host_port(text, 7)


@pytest.mark.parametrize("name", EXAMPLES)
def test_runs_as_a_module_and_documents_the_network_options(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"examples.{name}", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--port PORT" in done.stdout and "--interface URL" in done.stdout and "--ssid" in done.stdout


UNKNOWN_HOST_ARGS = {
    "http_client": ["--url", "http://nowhere.invalid/"],
    "mqtt_client": ["--broker", "nowhere.invalid:1883"],
    "coap_client": ["--uri", "coap://nowhere.invalid/x"],
    "websocket_client": ["--url", "ws://nowhere.invalid/"],
    "udp_echo": ["--server", "nowhere.invalid:7"],
}


@pytest.mark.parametrize("name", list(UNKNOWN_HOST_ARGS))
def test_every_client_reports_an_unknown_host(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The emulator resolves names from its own table, so no DNS query leaves this computer."""
    module = importlib.import_module(f"examples.{name}")
    assert module.main([*FAST_ESP, *UNKNOWN_HOST_ARGS[name]]) == 1
    err = capsys.readouterr().err
    assert "cannot resolve 'nowhere.invalid'" in err and "DNS_FAILURE" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("esp://?port=espemu://&security=wpa9", ["security='wpa9'", "WPA2", "WPA_WPA2"]),
        ("esp://?baudrate=fast", ["baudrate='fast'", "whole number"]),
    ],
)
def test_malformed_interface_urls_are_a_sentence(
    url: str, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert http_client.main(["--interface", url]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "KeyError" not in err and "invalid literal" not in err
    for word in words:
        assert word in err
