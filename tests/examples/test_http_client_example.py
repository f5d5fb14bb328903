"""examples.http_client end to end: its own demo server, an HTTPS server with a test CA, and failures a user meets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples import http_client
from tests.examples.running import FAST_ESP, HOST, ROOT
from tests.examples.running import HTTPS_PAGE as PAGE
from tests.servers import HttpServer


def test_fetches_from_its_local_server(network: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main(network) == 0
    out = capsys.readouterr().out
    assert "\nHTTP/1.0 200 OK\n" in out
    assert "Hello from netsocket's demo server" in out
    assert "content-length: 61" in out.lower()
    assert "-- 61 body bytes in" in out
    if not network:  # the default a new user gets
        assert out.startswith("Network: ESP8266 on espemu:// (the built-in emulator), joined 'netsocket-wpa2'")


def test_make_demo_command_prints_http_200() -> None:
    """What ``make demo`` runs, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NETSOCKET_ESP_PORT", None)
    done = subprocess.run(
        [sys.executable, "-m", "examples.http_client"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "HTTP/1.0 200 OK" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("network_args", [FAST_ESP, HOST], ids=["esp", "host"])
def test_https_with_the_servers_ca(
    network_args: list[str], https_server: HttpServer, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"https://localhost:{https_server.port}/page"
    assert http_client.main([*network_args, "--url", url, "--ca-file", str(ca_file)]) == 0
    out = capsys.readouterr().out
    assert "\nHTTP/1.1 200 OK\n" in out
    assert PAGE.decode() in out


def test_https_rejects_a_certificate_for_another_name(
    https_server: HttpServer, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The certificate names ``localhost``; asking for 127.0.0.1 must fail verification, not fetch the page."""
    url = f"https://127.0.0.1:{https_server.port}/page"
    assert http_client.main([*HOST, "--url", url, "--ca-file", str(ca_file)]) == 1
    captured = capsys.readouterr()
    assert "TLS handshake" in captured.err and "AUTH_FAILURE" in captured.err
    assert PAGE.decode() not in captured.out


def test_https_without_the_ca_fails(https_server: HttpServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main([*FAST_ESP, "--url", f"https://localhost:{https_server.port}/page"]) == 1
    assert "AUTH_FAILURE" in capsys.readouterr().err


def test_a_ca_file_that_is_not_pem(
    tmp_path: Path, https_server: HttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    url = f"https://localhost:{https_server.port}/page"
    assert http_client.main([*HOST, "--url", url, "--ca-file", str(bogus)]) == 1
    assert "does not hold a PEM certificate" in capsys.readouterr().err


def test_reports_a_refused_connection(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main([*FAST_ESP, "--url", "http://127.0.0.1:1/"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to 127.0.0.1:1" in err
    assert "Traceback" not in err


def test_reports_a_wrong_wifi_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main([*FAST_ESP, "--password", "not-the-password"]) == 1
    err = capsys.readouterr().err
    assert "cannot join Wi-Fi network 'netsocket-wpa2'" in err and "AUTH_FAILURE" in err


def test_reports_a_missing_serial_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main(["--port", "/dev/netsocket-no-such-port"]) == 1
    assert "DEVICE_ERROR" in capsys.readouterr().err


def test_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETSOCKET_INTERFACE", "espemu://?timescale=0.05&profile=nonos17")
    assert http_client.main([]) == 0
    assert "Network: ESP8266 on espemu://?timescale=0.05&profile=nonos17" in capsys.readouterr().out
