"""WebSocket client with wsproto (sans-IO) over a netsocket ``TCPSocket``: handshake, echo round trips, close.

Run: ``python -m examples.websocket_client`` (starts an echo server on 127.0.0.1 and talks to it through the emulated
ESP8266), or ``python -m examples.websocket_client --url ws://127.0.0.1:8765/echo --message hi --message again``
against any echo server.
Prints each message's round-trip time; exit status 1 if the handshake, an echo or the close fails.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from examples._demo_servers import websocket_echo_server
from examples._network import NetworkError, add_network_arguments, connected_network, interruptible, resolve
from netsocket import NetworkInterface, NsapiError, TCPSocket


class WebSocketClient:
    """One WebSocket connection: wsproto makes and parses the frames, the netsocket socket carries the bytes."""

    def __init__(self, sock: TCPSocket) -> None:
        self.sock = sock
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._buffer = bytearray(2048)

    def _send(self, event: Event) -> None:
        data = self.ws.send(event)
        sent = self.sock.send(data)
        if sent != len(data):
            raise NetworkError(f"send failed: {NsapiError(sent) if sent < 0 else f'{sent} of {len(data)} bytes'}")

    def _events(self) -> list[Event]:
        """The events wsproto has parsed, receiving first if there are none; ``NetworkError`` on failure."""
        while True:
            try:
                events = list(self.ws.events())
            except RemoteProtocolError as exc:
                raise NetworkError(f"the server broke the WebSocket protocol: {exc}") from exc
            if events:
                return events
            if self.ws.state is ConnectionState.CLOSED:
                raise NetworkError("the connection is closed")
            size = self.sock.recv(self._buffer)
            if size < 0:
                raise NetworkError(f"recv failed: {NsapiError(size)}")
            self.ws.receive_data(bytes(self._buffer[:size]) if size else None)  # None: the peer closed TCP

    def handshake(self, host: str, target: str) -> None:
        self._send(Request(host=host, target=target))
        for event in self._events():
            if isinstance(event, AcceptConnection):
                return
            if isinstance(event, RejectConnection):
                raise NetworkError(f"the server refused the WebSocket upgrade with HTTP {event.status_code}")
        raise NetworkError("no reply to the WebSocket upgrade")

    def echo(self, text: str) -> str:
        """Send one text message, return the text message that comes back (answering pings on the way)."""
        self._send(TextMessage(data=text))
        parts: list[str] = []
        while True:
            for event in self._events():
                if isinstance(event, TextMessage):
                    parts.append(event.data)
                    if event.message_finished:
                        return "".join(parts)
                elif isinstance(event, Ping):
                    self._send(event.response())
                elif isinstance(event, BytesMessage):
                    raise NetworkError("the server answered with a binary message")
                elif isinstance(event, CloseConnection):
                    raise NetworkError(f"the server closed the WebSocket: {event.code} {event.reason or ''}".strip())

    def close(self) -> int:
        """The closing handshake: send a close (1000, normal) and return the code the server answers with."""
        self._send(CloseConnection(code=1000, reason="done"))
        while True:
            for event in self._events():
                if isinstance(event, CloseConnection):
                    return int(event.code)
                if isinstance(event, Message):
                    continue  # messages still in flight before the server saw our close


def run(net: NetworkInterface, url: str, messages: list[str], timeout_ms: int) -> int:
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise NetworkError(f"only ws:// URLs are supported here, not {url!r}")
    address = resolve(net, parts.hostname, parts.port or 80)
    with TCPSocket() as sock:
        for what, err in (("open a socket", sock.open(net)), (f"connect to {address}", sock.connect(address))):
            if err != NsapiError.OK:
                raise NetworkError(f"cannot {what}: {NsapiError(err)}")
        sock.set_timeout(timeout_ms)
        client = WebSocketClient(sock)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        client.handshake(parts.netloc, target)
        print(f"WebSocket open to {url}")
        failures = 0
        for text in messages:
            started = time.monotonic()
            answer = client.echo(text)
            elapsed = (time.monotonic() - started) * 1000
            verdict = "echoed" if answer == text else f"answered {answer!r} instead"
            failures += answer != text
            print(f"{text!r} {verdict} in {elapsed:.1f} ms")
        code = client.close()
        print(f"WebSocket closed by the server with code {code}")
    return 0 if failures == 0 else 1


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="ws:// URL of an echo server (default: one started on 127.0.0.1)")
    parser.add_argument("--message", action="append", help="text to send (repeatable; default: two greetings)")
    parser.add_argument("--timeout-ms", type=int, default=10_000, help="wait per network call (default: 10000)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    messages = args.message or ["hello", "netsocket over WebSocket \N{GLOBE WITH MERIDIANS}"]
    try:
        with connected_network(args) as net, contextlib.ExitStack() as stack:
            url = args.url or stack.enter_context(websocket_echo_server())
            return run(net, url, messages, args.timeout_ms)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
