"""A third-party driver against the emulator: Adafruit's adafruit_espatcontrol joins an emulated AP and
fetches a page from a loopback http.server through the module (issue 3, "proof it is faithful").

The driver runs unchanged on CPython: its `uart` is the pyserial port of an ``espemu://`` URL (it needs
`baudrate`, `in_waiting`, `read`, `write` and `reset_input_buffer`, which pyserial has) and no reset pin (it
then recovers with AT+RST). It uses CIPMUX=0 and active-mode ``+IPD``, so this also exercises the single-link
formats.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

import netsocket.mocks.esp_at  # noqa: F401  (registers espemu://)
import pytest
import serial

adafruit = pytest.importorskip("adafruit_espatcontrol.adafruit_espatcontrol")

PAGE = b"<html><body>" + b"netsocket emulator page " * 200 + b"</body></html>"


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        # A LAN round trip plus server time: on loopback the reply would otherwise race the module's SEND OK,
        # which no real network does (the driver reads SEND OK and the reply with separate polls).
        threading.Event().wait(0.03)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def http_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def _fetch(esp: object, port: int) -> bytes:
    request = b"GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    assert esp.socket_connect("TCP", "127.0.0.1", port)  # type: ignore[attr-defined]
    esp.socket_send(request)  # type: ignore[attr-defined]
    response = bytearray()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response += esp.socket_receive(timeout=1)  # type: ignore[attr-defined]
        _, sep, body = bytes(response).partition(b"\r\n\r\n")
        if sep and len(body) >= len(PAGE):
            break
    return bytes(response)


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_adafruit_joins_and_fetches_a_page(profile: str) -> None:
    # A real UART rate, because this driver polls byte by byte and relies on how bytes trickle in.
    url = f"espemu://?profile={profile}&timescale=0.01&seed=3&baud=115200"
    with serial.serial_for_url(url, baudrate=115200, timeout=0.1) as uart, http_server() as port:
        esp = adafruit.ESP_ATcontrol(uart, 115200)
        esp.connect({"ssid": "netsocket-wpa2", "password": "netsocket123"}, timeout=5, retries=1)
        assert esp.is_connected
        assert esp.local_ip == "192.168.42.23"
        assert esp.nslookup("localhost") == "127.0.0.1"
        response = _fetch(esp, port)
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK\r\n")
        assert body == PAGE
        esp.socket_disconnect()
