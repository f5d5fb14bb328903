"""Loopback servers for the test suites: RFC 862/863/864/867 services, an HTTP server, misbehaving peers, and (in
``dns_server``/``dns_fixtures``) a DNS server with fault knobs.

Every server binds 127.0.0.1 on an ephemeral port, runs on its own threads and stops cleanly. Suites start them
once per session (see ``tests/conformance/conftest.py``): ``with LoopbackServers() as servers: ...``.
"""

from tests.servers.chargen import ChargenChecker, ChargenMismatch, chargen_bytes, chargen_line
from tests.servers.http import HttpRequest, HttpResponse, HttpServer
from tests.servers.loopback import LoopbackServers, http_big_body
from tests.servers.services import StalledTcpServer, daytime_text
from tests.servers.threaded import LOOPBACK, LOOPBACK6, TcpServer, UdpServer

__all__ = [
    "LOOPBACK",
    "LOOPBACK6",
    "ChargenChecker",
    "ChargenMismatch",
    "HttpRequest",
    "HttpResponse",
    "HttpServer",
    "LoopbackServers",
    "StalledTcpServer",
    "TcpServer",
    "UdpServer",
    "chargen_bytes",
    "chargen_line",
    "daytime_text",
    "http_big_body",
]
