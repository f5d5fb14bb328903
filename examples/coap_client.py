"""CoAP GET over a netsocket ``UDPSocket``; aiocoap only builds and parses the messages (``encode``/``decode``).

The example does RFC 7252's message layer itself, as a small device would: a confirmable request retransmitted with
exponential back-off, a piggybacked or separate response (acknowledged when it is confirmable), and Block2 for
resources larger than one block (RFC 7959).

Run: ``python -m examples.coap_client`` (starts an aiocoap server on 127.0.0.1 and GETs its ``/hello`` through the
emulated ESP8266), or ``python -m examples.coap_client --uri coap://127.0.0.1/.well-known/core`` for any CoAP
server. Exit status 0 for a 2.xx response, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiocoap import Message  # type: ignore[import-untyped]
from aiocoap.error import Error as CoapError  # type: ignore[import-untyped]
from aiocoap.numbers.codes import Code  # type: ignore[import-untyped]
from aiocoap.numbers.types import Type  # type: ignore[import-untyped]
from aiocoap.optiontypes import BlockOption  # type: ignore[import-untyped]

from examples._demo_servers import coap_server
from examples._network import NetworkError, add_network_arguments, connected_network, interruptible, resolve
from netsocket import NetworkInterface, NsapiError, SocketAddress, UDPSocket

ACK_TIMEOUT_S = 2.0
ACK_RANDOM_FACTOR = 1.5
MAX_RETRANSMIT = 4
MAX_DATAGRAM = 1280


class CoapClient:
    """Confirmable requests to one server over one UDP socket."""

    def __init__(self, sock: UDPSocket, server: SocketAddress, deadline: float) -> None:
        self.sock = sock
        self.server = server
        self.deadline = deadline
        self.retransmissions = 0
        self._mid = random.randrange(0x10000)
        self._buffer = bytearray(MAX_DATAGRAM)

    def _send(self, message: Message) -> None:
        data = message.encode()
        sent = self.sock.sendto(self.server, data)
        if sent != len(data):
            raise NetworkError(f"sendto {self.server} failed: {NsapiError(sent) if sent < 0 else sent}")

    def _receive(self, until: float) -> Message | None:
        """The next CoAP message from the server before ``until``, or None. Other datagrams are ignored."""
        sender = SocketAddress()
        while (left := min(until, self.deadline) - time.monotonic()) > 0:
            self.sock.set_timeout(max(1, int(left * 1000)))
            size = self.sock.recvfrom(sender, self._buffer)
            if size in (NsapiError.CONNECTION_TIMEOUT, NsapiError.WOULD_BLOCK):
                return None
            if size < 0:
                raise NetworkError(f"recvfrom failed: {NsapiError(size)}")
            if sender != self.server:
                continue
            try:
                return Message.decode(bytes(self._buffer[:size]))
            except CoapError:
                continue  # not CoAP: drop it, as RFC 7252 says
        return None

    def _acknowledge(self, response: Message) -> None:
        ack = Message(code=Code.EMPTY)
        ack.mtype, ack.mid = Type.ACK, response.mid
        self._send(ack)

    def request(self, message: Message) -> Message:
        """Send ``message`` as a confirmable request and return its response (``NetworkError`` if none comes)."""
        self._mid = (self._mid + 1) % 0x10000
        message.mtype, message.mid, message.token = Type.CON, self._mid, random.randbytes(4)
        timeout = ACK_TIMEOUT_S * random.uniform(1.0, ACK_RANDOM_FACTOR)
        acknowledged = False
        for attempt in range(MAX_RETRANSMIT + 1):
            if not acknowledged:
                if attempt:
                    self.retransmissions += 1
                self._send(message)
            until = time.monotonic() + timeout
            while (response := self._receive(until)) is not None:
                if response.mtype == Type.RST and response.mid == message.mid:
                    raise NetworkError("the server rejected the request (RST)")
                if response.mtype == Type.ACK and response.mid == message.mid and response.code == Code.EMPTY:
                    acknowledged = True  # a separate response follows; stop retransmitting
                    continue
                if response.token != message.token:
                    continue
                if response.mtype == Type.CON:
                    self._acknowledge(response)
                if response.mtype == Type.ACK and response.mid != message.mid:
                    continue
                return response
            if time.monotonic() >= self.deadline:
                break
            timeout *= 2
        raise NetworkError(f"no response from {self.server} ({self.retransmissions} retransmissions)")

    def get(self, uri: str) -> tuple[Message, bytes]:
        """GET ``uri``, following Block2 to the end: (the last response, the whole body)."""
        body = bytearray()
        block: BlockOption.BlockwiseTuple | None = None
        while True:
            message = Message(code=Code.GET, uri=uri)
            if block is not None:
                message.opt.block2 = block
            response = self.request(message)
            body += response.payload
            more = response.opt.block2
            if not response.code.is_successful() or more is None or not more.more:
                return response, bytes(body)
            block = BlockOption.BlockwiseTuple(more.block_number + 1, False, more.size_exponent)


def run(net: NetworkInterface, uri: str, timeout: float) -> int:
    parts = urlsplit(uri)
    if parts.scheme != "coap" or not parts.hostname:
        raise NetworkError(f"only coap:// URIs are supported here, not {uri!r}")
    server = resolve(net, parts.hostname, parts.port or 5683)
    with UDPSocket() as sock:
        err = sock.open(net)
        if err != NsapiError.OK:
            raise NetworkError(f"cannot open a UDP socket: {NsapiError(err)}")
        client = CoapClient(sock, server, time.monotonic() + timeout)
        started = time.monotonic()
        response, body = client.get(uri)
        elapsed = (time.monotonic() - started) * 1000
    content_format = response.opt.content_format
    print(f"CoAP GET {uri}: {response.code.dotted} {response.code.name_printable}")
    print(f"Content-Format: {content_format if content_format is not None else '(none)'}")
    print()
    text = body.decode(errors="replace")
    print(text, end="" if text.endswith("\n") else "\n")
    print(f"-- {len(body)} body bytes in {elapsed:.1f} ms, {client.retransmissions} retransmissions")
    return 0 if response.code.is_successful() else 1


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uri", help="coap:// resource to GET (default: /hello of a server started on 127.0.0.1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds (default: 30)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    try:
        with connected_network(args) as net, contextlib.ExitStack() as stack:
            uri = args.uri or stack.enter_context(coap_server())
            return run(net, uri, args.timeout)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1
    except CoapError as exc:  # a URI aiocoap cannot turn into options
        print(f"bad --uri: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
