"""examples.websocket_client end to end: wsproto over netsocket against a wsproto echo server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from examples import websocket_client
from tests.examples.running import FAST_ESP, HOST, free_loopback_port
from tests.servers import TcpServer
from tests.servers.websocket import WebSocketEchoServer


def test_runs_with_no_options(capsys: pytest.CaptureFixture[str]) -> None:
    """What a new user runs: the emulated ESP8266 and the example's own echo server."""
    assert websocket_client.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Network: ESP8266 on espemu:// (the built-in emulator)")
    assert "'hello' echoed in " in out
    assert "WebSocket closed by the server with code 1000" in out


@pytest.mark.parametrize("network_args", [FAST_ESP, HOST], ids=["esp", "host"])
def test_echo_round_trips_and_close(
    network_args: list[str], websocket_server: WebSocketEchoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert websocket_client.main([*network_args, "--url", websocket_server.url]) == 0
    out = capsys.readouterr().out
    assert f"WebSocket open to {websocket_server.url}" in out
    assert "'hello' echoed in " in out
    assert "WebSocket closed by the server with code 1000" in out
    assert websocket_server.paths == ["/echo"]
    assert websocket_server.messages == ["hello", "netsocket over WebSocket \N{GLOBE WITH MERIDIANS}"]


def test_a_message_larger_than_a_tcp_segment(
    websocket_server: WebSocketEchoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The echo comes back while the message is still going out: both directions through the module at once."""
    big = "".join(chr(0x41 + i % 26) for i in range(20_000))
    assert websocket_client.main([*FAST_ESP, "--url", websocket_server.url, "--message", big]) == 0
    assert websocket_server.messages == [big]
    assert "echoed in" in capsys.readouterr().out


def _plain_http_404(conn: socket.socket) -> None:
    """An HTTP server that knows nothing of WebSocket: reads the request, answers 404, closes."""
    request = b""
    while b"\r\n\r\n" not in request and (data := conn.recv(4096)):
        request += data
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def test_a_server_that_refuses_the_upgrade(capsys: pytest.CaptureFixture[str]) -> None:
    with TcpServer("plain-http", _plain_http_404) as plain_http:
        assert websocket_client.main([*HOST, "--url", f"ws://127.0.0.1:{plain_http.port}/"]) == 1
    err = capsys.readouterr().err
    assert "the server refused the WebSocket upgrade with HTTP 404" in err
    assert "Traceback" not in err


def test_a_server_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_loopback_port()
    assert websocket_client.main([*FAST_ESP, "--url", f"ws://127.0.0.1:{port}/"]) == 1
    assert f"cannot connect to 127.0.0.1:{port}" in capsys.readouterr().err


def test_rejects_other_url_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    assert websocket_client.main([*HOST, "--url", "http://127.0.0.1:1/"]) == 1
    assert "only ws:// URLs" in capsys.readouterr().err
