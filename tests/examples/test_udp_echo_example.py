"""examples.udp_echo end to end: its own echo server, a test's UDP echo server, and a server that never answers."""

from __future__ import annotations

import re

import pytest

from examples import udp_echo
from tests.examples.running import FAST_ESP, HOST
from tests.servers import UdpServer


def test_echoes_through_its_local_server(network: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert udp_echo.main([*network, "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"^#\d: 32 bytes echoed in [\d.]+ ms$", out, re.MULTILINE)) == 3
    assert "3 sent, 3 echoed, 0 lost; round trip min/avg/max" in out


def test_large_datagrams_to_a_given_server(capsys: pytest.CaptureFixture[str]) -> None:
    with UdpServer("echo", lambda data, _peer: data) as server:
        host, port = server.address
        assert udp_echo.main([*FAST_ESP, "--server", f"{host}:{port}", "--count", "2", "--size", "1400"]) == 0
        assert server.wait_received(2, timeout=5)
    assert "2 sent, 2 echoed, 0 lost" in capsys.readouterr().out


def test_a_server_that_never_answers_counts_as_lost(capsys: pytest.CaptureFixture[str]) -> None:
    with UdpServer("sink", lambda _data, _peer: None) as server:
        host, port = server.address
        args = [*HOST, "--server", f"{host}:{port}", "--count", "2", "--timeout-ms", "100"]
        assert udp_echo.main(args) == 1
        assert server.wait_received(2, timeout=5)
    out = capsys.readouterr().out
    assert "#1: no echo within 100 ms" in out
    assert "2 sent, 0 echoed, 2 lost" in out


def test_a_corrupted_echo_is_not_counted(capsys: pytest.CaptureFixture[str]) -> None:
    with UdpServer("mangler", lambda data, _peer: data[::-1]) as server:
        host, port = server.address
        assert udp_echo.main([*HOST, "--server", f"{host}:{port}", "--count", "1", "--timeout-ms", "200"]) == 1
    assert "1 sent, 0 echoed, 1 lost" in capsys.readouterr().out


def test_rejects_a_bad_server_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        udp_echo.main([*HOST, "--server", "127.0.0.1:99999"])
    assert exit_info.value.code == 2
    assert "port out of range" in capsys.readouterr().err
