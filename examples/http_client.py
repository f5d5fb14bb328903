"""HTTP(S) GET with a netsocket ``TCPSocket`` or ``TLSSocket`` (the Mbed HTTP example), HTTP framing by h11.

Run: ``python -m examples.http_client`` (joins the emulated ESP8266's Wi-Fi, starts an HTTP server on 127.0.0.1 and
fetches ``/`` from it through the module), ``python -m examples.http_client --url http://127.0.0.1:8000/``, or
``python -m examples.http_client --url https://localhost:8443/ --ca-file ca.pem --interface host://``.
HTTPS verifies the server's certificate against ``--ca-file`` (default: the system's CAs) and its name against the
URL's host.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import h11

from examples._network import NetworkError, add_network_arguments, connected_network, interruptible, resolve
from netsocket import NetworkInterface, NsapiError, TCPSocket, TLSSocket

BODY = b"<html><body>Hello from netsocket's demo server</body></html>\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (an ephemeral port) for the length of the block; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-http-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _open_socket(url: str, ca_pem: str | None) -> TCPSocket:
    """A plain socket for http://, a verifying ``TLSSocket`` for https://."""
    parts = urlsplit(url)
    if parts.scheme == "http":
        return TCPSocket()
    assert parts.hostname is not None
    tls = TLSSocket()
    err = tls.set_root_ca_cert(ca_pem) if ca_pem is not None else tls.use_system_ca_certs()
    if err != NsapiError.OK:
        tls.close()
        raise NetworkError(f"the CA file does not hold a PEM certificate: {NsapiError(err)}")
    tls.set_hostname(parts.hostname)  # SNI, and the name the certificate must carry
    return tls


def http_get(
    net: NetworkInterface, url: str, ca_pem: str | None = None, timeout_ms: int = 10_000
) -> tuple[h11.Response, bytes]:
    """GET ``url`` over ``net``; raises ``NetworkError`` naming the nsapi error on failure."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NetworkError(f"only http:// and https:// URLs are supported, not {url!r}")
    address = resolve(net, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    conn = h11.Connection(our_role=h11.CLIENT)
    sock = _open_socket(url, ca_pem)
    with sock:
        err = sock.open(net)
        if err != NsapiError.OK:
            raise NetworkError(f"cannot open a socket: {NsapiError(err)}")
        sock.set_timeout(timeout_ms)
        err = sock.connect(address)
        if err == NsapiError.AUTH_FAILURE:
            raise NetworkError(
                f"TLS handshake with {address} failed: {err} (certificate not signed by the CA, or not for "
                f"{parts.hostname!r})"
            )
        if err != NsapiError.OK:
            raise NetworkError(f"cannot connect to {address}: {NsapiError(err)}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("Host", parts.netloc), ("User-Agent", "netsocket-example"), ("Connection", "close")],
        )
        data = conn.send(request) + conn.send(h11.EndOfMessage())
        sent = sock.send(data)
        if sent != len(data):
            raise NetworkError(f"send failed: {NsapiError(sent) if sent < 0 else sent}")
        response: h11.Response | None = None
        body = bytearray()
        buffer = bytearray(1460)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise NetworkError(f"the server's reply is not valid HTTP: {exc}") from exc
            if event is h11.NEED_DATA:
                size = sock.recv(buffer)
                if size < 0:
                    raise NetworkError(f"recv failed: {NsapiError(size)}")
                conn.receive_data(bytes(buffer[:size]))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        if response is None:
            raise NetworkError("the server closed the connection without a response")
        return response, bytes(body)


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="http:// or https:// URL to fetch (default: a server started on 127.0.0.1)")
    parser.add_argument("--ca-file", help="PEM file of the CA that signs the https:// server (default: system CAs)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)

    ca_pem: str | None = None
    if args.ca_file:
        try:
            with open(args.ca_file, encoding="ascii") as file:
                ca_pem = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"cannot read --ca-file: {exc}", file=sys.stderr)
            return 1
    try:
        with connected_network(args) as net, contextlib.ExitStack() as stack:
            url = args.url or stack.enter_context(local_server())
            started = time.monotonic()
            response, body = http_get(net, url, ca_pem)
            elapsed = time.monotonic() - started
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"HTTP/{response.http_version.decode()} {response.status_code} {response.reason.decode()}")
    for name, value in response.headers:
        print(f"{name.decode()}: {value.decode()}")
    print()
    print(body.decode(errors="replace"), end="")
    print(f"-- {len(body)} body bytes in {elapsed * 1000:.1f} ms from {url}")
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
