"""Run by tests/install_layout in a fresh interpreter (``python -c``), from a folder holding a user's own ``drivers/``
and ``mocks/`` packages, the way a user's program would be run there. Prints one ``ok ...`` line per check; any
failure raises (a traceback and a non-zero exit). ``sys.argv[1]`` is an HTTP URL on 127.0.0.1 to fetch."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from urllib.parse import urlsplit

import netsocket.drivers.esp_at
import netsocket.drivers.host
import netsocket.drivers.w5500
import netsocket.mocks.esp_at
import netsocket.mocks.w5500
from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

import netsocket
from netsocket import NetworkInterface, NsapiError, SocketAddress, TCPSocket, open_interface


def say(*words: object) -> None:
    sys.stdout.write(" ".join(map(str, words)) + "\n")


say("ok imports", netsocket.__version__)
for ep in entry_points(group="netsocket.drivers"):
    ep.load()
    say("ok driver", ep.name, ep.value)

url = urlsplit(sys.argv[1])
assert url.hostname is not None and url.port is not None
INTERFACES: dict[str, Callable[[], NetworkInterface]] = {
    "host": functools.partial(open_interface, "host://"),
    "esp": functools.partial(open_interface, "esp://?port=espemu://%3Ftimescale%3D0.05"),
    "esp32": functools.partial(open_interface, "esp32://?port=espemu://%3Fprofile%3Dat3_esp32%26timescale%3D0.05"),
    "w5500-emulator": lambda: W5500Interface(FakeSpiDev()),
}
for interface_url, make in INTERFACES.items():
    net = make()
    try:
        assert net.connect() == NsapiError.OK, interface_url
        address = SocketAddress(url.hostname, url.port)
        with TCPSocket() as sock:
            assert sock.open(net) == NsapiError.OK
            sock.set_timeout(10_000)
            assert sock.connect(address) == NsapiError.OK
            request = f"GET {url.path or '/'} HTTP/1.0\r\nHost: {url.hostname}\r\n\r\n".encode()
            assert sock.send(request) == len(request)
            reply = bytearray()
            buffer = bytearray(4096)
            while (n := sock.recv(buffer)) > 0:
                reply += buffer[:n]
            assert n == 0, n
        status = bytes(reply).split(b"\r\n", 1)[0].decode()
        assert status.endswith(" 200 OK"), status
        say("ok get", interface_url, len(reply))
    finally:
        net.disconnect()
        close = getattr(net, "close", None)
        if close is not None:
            close()
