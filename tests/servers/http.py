"""A loopback HTTP/1.1 server for end-to-end tests: fixed routes, threaded, stoppable.

``HttpServer({"/hello": HttpResponse(b"hi")})`` serves ``GET``/``HEAD`` on those paths (404 elsewhere), echoes
``POST`` bodies back, and records every request's method, path and headers in ``requests``. With ``tls`` (a server
``SSLContext``) it serves HTTPS.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from dataclasses import dataclass, field
from types import TracebackType

from tests.servers.threaded import JOIN_TIMEOUT_S, LOOPBACK


@dataclass(frozen=True)
class HttpResponse:
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests read .requests instead
        pass

    def _record(self, body: bytes = b"") -> None:
        with self.server.lock:
            self.server.requests.append(HttpRequest(self.command, self.path, dict(self.headers.items()), body))

    def _answer(self, response: HttpResponse, send_body: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def _route(self) -> HttpResponse:
        return self.server.routes.get(self.path.split("?", 1)[0], HttpResponse(b"not found\n", status=404))

    def do_GET(self) -> None:
        self._record()
        self._answer(self._route(), send_body=True)

    def do_HEAD(self) -> None:
        self._record()
        self._answer(self._route(), send_body=False)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._record(body)
        self._answer(HttpResponse(body, self.headers.get("Content-Type", "application/octet-stream")), True)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, HttpResponse]
    requests: list[HttpRequest]
    lock: threading.Lock


class HttpServer:
    """An HTTP server on 127.0.0.1 and an ephemeral port, serving ``routes`` until ``stop()``."""

    def __init__(self, routes: dict[str, HttpResponse] | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server((LOOPBACK, 0), _Handler)
        if tls is not None:  # HTTPS: the handshake runs when a connection is accepted
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self._server.routes = dict(routes or {})
        self._server.requests = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="http-server", daemon=True
        )
        self.name = "http"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self.address[0]}:{self.port}"

    @property
    def requests(self) -> list[HttpRequest]:
        with self._server.lock:
            return list(self._server.requests)

    def add_route(self, path: str, response: HttpResponse) -> None:
        self._server.routes[path] = response

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(JOIN_TIMEOUT_S)
        self._server.server_close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
