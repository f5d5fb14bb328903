"""netsocket.compat.SocketPool: Adafruit's CircuitPython libraries, unchanged, through the emulated ESP module.

adafruit_requests fetches a page from an HTTP server on 127.0.0.1, and adafruit_minimqtt publishes to the MQTT
broker fixture, each over ``SocketPool(interface)`` where the interface is an ESP8266 on ``espemu://``.
"""

from __future__ import annotations

import errno
import queue
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import adafruit_minimqtt.adafruit_minimqtt as minimqtt
import adafruit_requests
import paho.mqtt.client as paho
import pytest
import trustme

from netsocket import NetworkInterface, NsapiError, open_interface
from netsocket.compat import SocketPool, SSLContext
from tests.servers import HttpResponse, HttpServer
from tests.servers.mqtt import Broker
from tests.servers.threaded import TcpServer

PAGE = b"<html><body>fetched by adafruit_requests over netsocket</body></html>\n"


@pytest.fixture
def esp() -> Iterator[NetworkInterface]:
    """The emulated ESP8266, joined to its world's ``netsocket-wpa2``, with its delays shrunk."""
    net = open_interface("espemu://?timescale=0.05&pace=0")
    try:
        assert net.connect() == NsapiError.OK
        yield net
    finally:
        net.disconnect()
        net.close()  # type: ignore[attr-defined]


def test_adafruit_requests_fetches_a_page(esp: NetworkInterface) -> None:
    with HttpServer({"/page.html": HttpResponse(PAGE, "text/html")}) as server:
        session = adafruit_requests.Session(SocketPool(esp))
        with session.get(f"{server.url}/page.html") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html"
            assert response.content == PAGE


def test_adafruit_requests_over_https_verifies_the_server(esp: NetworkInterface, tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with HttpServer({"/page.html": HttpResponse(PAGE, "text/html")}, tls=context) as server:
        session = adafruit_requests.Session(SocketPool(esp), SSLContext(cafile=str(ca_file)))
        with session.get(f"https://localhost:{server.port}/page.html") as response:
            assert response.status_code == 200
            assert response.content == PAGE
        other = adafruit_requests.Session(SocketPool(esp), SSLContext(cadata=trustme.CA().cert_pem.bytes().decode()))
        with pytest.raises(OSError) as untrusted:
            other.get(f"https://localhost:{server.port}/page.html")
        assert "AUTH_FAILURE" in str(untrusted.value)


def test_minimqtt_publishes_through_the_module(esp: NetworkInterface, mqtt_broker: Broker) -> None:
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="socketpool-listener")
    listener.on_message = lambda _client, _userdata, message: received.put((message.topic, message.payload))
    listener.connect("127.0.0.1", mqtt_broker.port)
    listener.subscribe("netsocket/socketpool", qos=1)
    listener.loop_start()
    try:
        client = minimqtt.MQTT(
            broker="127.0.0.1",
            port=mqtt_broker.port,
            socket_pool=SocketPool(esp),
            is_ssl=False,
            client_id="circuitpython-on-netsocket",
            connect_retries=1,
            socket_timeout=1,
            recv_timeout=10,
        )
        client.connect()
        client.subscribe("netsocket/echo", qos=1)
        echoed: list[bytes] = []
        client.on_message = lambda _client, _topic, message: echoed.append(message.encode())
        client.publish("netsocket/socketpool", "hello from MiniMQTT", qos=1)
        assert received.get(timeout=10) == ("netsocket/socketpool", b"hello from MiniMQTT")
        listener.publish("netsocket/echo", b"and back", qos=1).wait_for_publish(5)
        for _ in range(20):
            client.loop(timeout=1)
            if echoed:
                break
        assert echoed == [b"and back"]
        client.disconnect()
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_errors_are_oserrors_with_errno_as_on_circuitpython(esp: NetworkInterface) -> None:
    pool = SocketPool(esp)
    with pytest.raises(pool.gaierror):
        pool.getaddrinfo("nowhere.invalid", 80)
    with TcpServer("silent", lambda conn: conn.recv(1)) as server:
        port = server.port
        family, kind, proto, _, address = pool.getaddrinfo("localhost", port)[0]
        assert (family, kind, address) == (pool.AF_INET, pool.SOCK_STREAM, ("127.0.0.1", port))
        with pool.socket(family, kind, proto) as sock:
            sock.settimeout(0.3)
            sock.connect(address)
            with pytest.raises(OSError) as timed_out:
                sock.recv_into(bytearray(8))
            assert timed_out.value.errno == errno.ETIMEDOUT  # what minimqtt and requests take as "nothing yet"
            sock.setblocking(False)
            with pytest.raises(OSError) as would_block:
                sock.recv_into(bytearray(8))
            assert would_block.value.errno == errno.EAGAIN
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pool.socket() as sock, pytest.raises(OSError) as refused:
        sock.connect(("127.0.0.1", port))
    assert refused.value.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EIO)


def test_udp_datagrams(esp: NetworkInterface) -> None:
    pool = SocketPool(esp)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        with pool.socket(pool.AF_INET, pool.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            assert sock.sendto(b"ping", peer.getsockname()) == 4
            data, source = peer.recvfrom(64)
            assert data == b"ping"
            peer.sendto(b"pong", source)
            buffer = bytearray(16)
            size, (host, _port) = sock.recvfrom_into(buffer)
            assert (bytes(buffer[:size]), host) == (b"pong", "127.0.0.1")
