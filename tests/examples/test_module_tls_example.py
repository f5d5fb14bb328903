"""examples.module_tls end to end: an HTTPS GET whose TLS the emulated module runs, checked against the CA flashed
into it, refused with the wrong CA, accepted by ``--verify none`` with a warning, and refused off an ESP module."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from examples import module_tls
from tests.examples.running import HOST, HTTPS_PAGE
from tests.servers import HttpServer

ESP32 = ["--port", "espemu://?profile=at3_esp32&timescale=0.05"]


def test_the_module_checks_the_server_against_the_flashed_ca(
    https_server: HttpServer, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = f"localhost:{https_server.address[1]}"
    assert module_tls.main([*ESP32, "--server", server, "--path", "/page", "--ca-file", str(ca_file)]) == 0
    out = capsys.readouterr().out
    assert "\nHTTP/1.0 200 " in out or "\nHTTP/1.1 200 " in out
    assert HTTPS_PAGE.decode() in out
    assert "over TLS run by the module (verify=server)" in out


def test_a_ca_that_did_not_sign_the_server_is_refused(
    https_server: HttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = tmp_path / "stranger.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    server = f"localhost:{https_server.address[1]}"
    assert module_tls.main([*ESP32, "--server", server, "--ca-file", str(stranger)]) == 1
    assert "TLS connection to localhost (127.0.0.1:" in capsys.readouterr().err


def test_verify_none_accepts_it_and_says_how_dangerous_that_is(
    https_server: HttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--port", "espemu://?timescale=0.05", "--server", f"localhost:{https_server.address[1]}"]
    assert module_tls.main([*args, "--path", "/page", "--verify", "none"]) == 0
    captured = capsys.readouterr()
    assert HTTPS_PAGE.decode() in captured.out
    assert "WARNING: --verify none: the module checks no certificate" in captured.err


def test_needs_an_esp_module(https_server: HttpServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert module_tls.main([*HOST, "--server", f"localhost:{https_server.address[1]}"]) == 1
    assert "module-side TLS needs an ESP-AT module" in capsys.readouterr().err
