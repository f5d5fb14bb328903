"""HTTP GET with a netsocket ``TCPSocket`` (the Mbed HTTP example), HTTP framing by h11.

Run: ``python -m examples.http_client`` (starts an HTTP server on 127.0.0.1 and fetches ``/`` from it), or
``python -m examples.http_client --url http://127.0.0.1:8000/ --interface host://``.
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

from netsocket import NetworkInterface, NsapiError, SocketAddress, TCPSocket, open_interface

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


def http_get(net: NetworkInterface, url: str, timeout_ms: int = 10_000) -> tuple[h11.Response, bytes]:
    """GET ``url`` over ``net``; raises ``RuntimeError`` naming the nsapi error on failure."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http:// URLs are supported here, not {url!r}")
    address = SocketAddress()
    err = net.gethostbyname(parts.hostname, address)
    if err != NsapiError.OK:
        raise RuntimeError(f"cannot resolve {parts.hostname}: {NsapiError(err)}")
    address.set_port(parts.port or 80)
    conn = h11.Connection(our_role=h11.CLIENT)
    with TCPSocket() as sock:
        for step in (sock.open(net), sock.connect(address)):
            if step != NsapiError.OK:
                raise RuntimeError(f"cannot connect to {address}: {NsapiError(step)}")
        sock.set_timeout(timeout_ms)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("Host", parts.netloc), ("User-Agent", "netsocket-example"), ("Connection", "close")],
        )
        data = conn.send(request) + conn.send(h11.EndOfMessage())
        sent = sock.send(data)
        if sent != len(data):
            raise RuntimeError(f"send failed: {NsapiError(sent) if sent < 0 else sent}")
        response: h11.Response | None = None
        body = bytearray()
        buffer = bytearray(1460)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                size = sock.recv(buffer)
                if size < 0:
                    raise RuntimeError(f"recv failed: {NsapiError(size)}")
                conn.receive_data(bytes(buffer[:size]))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        if response is None:
            raise RuntimeError("the server closed the connection without a response")
        return response, bytes(body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="URL to fetch (default: a server this program starts on 127.0.0.1)")
    parser.add_argument("--interface", default="host://", help="netsocket interface URL (default: host://)")
    args = parser.parse_args(argv)

    net = open_interface(args.interface)
    err = net.connect()
    if err != NsapiError.OK:
        print(f"connect failed: {NsapiError(err)}", file=sys.stderr)
        return 1
    try:
        with contextlib.ExitStack() as stack:
            url = args.url or stack.enter_context(local_server())
            started = time.monotonic()
            response, body = http_get(net, url)
            elapsed = time.monotonic() - started
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        net.disconnect()
    print(f"HTTP/{response.http_version.decode()} {response.status_code} {response.reason.decode()}")
    for name, value in response.headers:
        print(f"{name.decode()}: {value.decode()}")
    print()
    print(body.decode(errors="replace"), end="")
    print(f"-- {len(body)} body bytes in {elapsed * 1000:.1f} ms from {url}")
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
