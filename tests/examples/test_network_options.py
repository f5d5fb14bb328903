"""examples._network: the options every example shares, and ``python -m examples.<name> --help`` for each."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from examples import http_client
from examples._network import ENV_PORT, add_network_arguments, credentials, describe, esp_port, split_host_port
from netsocket import NsapiSecurity
from tests.examples.running import FAST_ESP, ROOT

EXAMPLES = ["http_client", "mqtt_client", "coap_client", "websocket_client", "udp_echo", "tcp_server", "wifi_scan"]


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


def test_port_option_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PORT, "/dev/ttyUSB7")
    assert esp_port(parse([])) == "/dev/ttyUSB7"
    assert esp_port(parse(["--port", "/dev/ttyACM0"])) == "/dev/ttyACM0"
    assert describe(parse([])) == "ESP8266 on /dev/ttyUSB7"


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
