"""Fixtures for the examples' end-to-end tests: which network an example runs on, and the real servers it talks to.

``network`` is parametrized: ``emulator`` runs the example exactly as a new user does (no network options: the
built-in emulated ESP8266 at real-life speed, with no configuration), ``host`` adds
``--interface host://`` (this computer's own stack). Failure cases use ``FAST_ESP`` (the emulator with its delays
shrunk) or ``HOST`` to stay quick.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from examples._network import CONFIG_ENV
from tests.examples.running import HOST, HTTPS_PAGE
from tests.servers import HttpResponse, HttpServer
from tests.servers.coap import CoapServer
from tests.servers.websocket import WebSocketEchoServer

NETWORKS = {"emulator": [], "host": HOST}


@pytest.fixture(params=list(NETWORKS), ids=list(NETWORKS))
def network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Command-line options choosing the network (``[]``: the example's default, the emulator)."""
    return list(NETWORKS[request.param])


@pytest.fixture(autouse=True)
def _no_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's ``$NETSOCKET_INTERFACE`` or ``netsocket.ini`` must not send the suite to real hardware."""
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETSOCKET_CONFIG", os.devnull)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def https_server(ca: trustme.CA) -> Iterator[HttpServer]:
    """An HTTPS server on 127.0.0.1 whose certificate (signed by ``ca``) names ``localhost`` only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    with HttpServer({"/page": HttpResponse(HTTPS_PAGE, "text/html")}, tls=context) as server:
        yield server


@pytest.fixture
def websocket_server() -> Iterator[WebSocketEchoServer]:
    with WebSocketEchoServer() as server:
        yield server


@pytest.fixture(scope="session")
def coap_server() -> Iterator[CoapServer]:
    """An aiocoap server on 127.0.0.1 (see ``tests.servers.coap`` for its resources)."""
    with CoapServer() as server:
        yield server
