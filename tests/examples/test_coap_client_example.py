"""examples.coap_client end to end: aiocoap's message codec over a netsocket UDPSocket, against an aiocoap server."""

from __future__ import annotations

import socket
import threading

import pytest

from examples import coap_client
from tests.examples.running import FAST_ESP, HOST
from tests.servers import UdpServer
from tests.servers.coap import BIG_BODY, HELLO_BODY, CoapServer


def test_runs_with_no_options(capsys: pytest.CaptureFixture[str]) -> None:
    """What a new user runs: the emulated ESP8266 and the example's own aiocoap server."""
    assert coap_client.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Network: ESP8266 on espemu:// (the built-in emulator)")
    assert "/hello: 2.05 Content\n" in out
    assert "Hello from netsocket's demo CoAP server" in out


@pytest.mark.parametrize("network_args", [FAST_ESP, HOST], ids=["esp", "host"])
def test_get_a_resource(network_args: list[str], coap_server: CoapServer, capsys: pytest.CaptureFixture[str]) -> None:
    uri = coap_server.url("/hello")
    assert coap_client.main([*network_args, "--uri", uri]) == 0
    out = capsys.readouterr().out
    assert f"CoAP GET {uri}: 2.05 Content\n" in out
    assert f"\n{HELLO_BODY.decode()}\n" in out
    assert "-- 18 body bytes in" in out and "0 retransmissions" in out


def test_a_resource_larger_than_a_block(coap_server: CoapServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert coap_client.main([*FAST_ESP, "--uri", coap_server.url("/big")]) == 0
    out = capsys.readouterr().out
    assert BIG_BODY.decode() in out
    assert f"-- {len(BIG_BODY)} body bytes" in out


def test_a_separate_response(coap_server: CoapServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert coap_client.main([*HOST, "--uri", coap_server.url("/slow")]) == 0
    assert "worth the wait" in capsys.readouterr().out


def test_not_found_is_a_failure(coap_server: CoapServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert coap_client.main([*HOST, "--uri", coap_server.url("/nothing")]) == 1
    assert "4.04 Not Found" in capsys.readouterr().out


def test_a_lost_request_is_retransmitted(coap_server: CoapServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A relay that drops the first datagram: the example must send the request again and still succeed."""
    seen = 0
    lock = threading.Lock()

    def relay(data: bytes, _peer: tuple[str, int]) -> bytes | None:
        nonlocal seen
        with lock:
            seen += 1
            if seen == 1:
                return None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(5)
            upstream.sendto(data, ("127.0.0.1", coap_server.port))
            return upstream.recv(2048)

    with UdpServer("lossy-coap-relay", relay) as lossy:
        assert coap_client.main([*HOST, "--uri", f"coap://127.0.0.1:{lossy.port}/hello"]) == 0
    out = capsys.readouterr().out
    assert HELLO_BODY.decode() in out
    assert "1 retransmissions" in out


def test_no_server_gives_up_at_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with UdpServer("silent", lambda _data, _peer: None) as silent:
        assert coap_client.main([*HOST, "--uri", f"coap://127.0.0.1:{silent.port}/x", "--timeout", "1"]) == 1
        assert silent.received >= 1
    err = capsys.readouterr().err
    assert "no response from 127.0.0.1:" in err
    assert "Traceback" not in err


def test_rejects_other_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    assert coap_client.main([*HOST, "--uri", "http://127.0.0.1/"]) == 1
    assert "only coap:// URIs" in capsys.readouterr().err
