"""A real CoAP server for end-to-end tests: aiocoap on 127.0.0.1, on its own thread with its own event loop.

Resources: ``/hello`` (a short text), ``/big`` (``BIG_BODY``, larger than one block, so aiocoap answers it with
Block2), ``/slow`` (answers after ``SLOW_DELAY_S``, so aiocoap first sends an empty ACK and then a separate
response) and ``/.well-known/core``. ``requests`` counts the GETs each resource rendered.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import sys
import threading
from collections import Counter
from concurrent.futures import Future
from types import TracebackType

import aiocoap  # type: ignore[import-untyped]
import aiocoap.resource  # type: ignore[import-untyped]

from tests.servers.threaded import JOIN_TIMEOUT_S, LOOPBACK

HELLO_BODY = b"Hello from aiocoap"
BIG_BODY = b"".join(b"line %04d of a resource too big for one CoAP block\n" % i for i in range(80))
SLOW_DELAY_S = 0.5


class _Text(aiocoap.resource.Resource):  # type: ignore[misc]
    def __init__(self, server: CoapServer, name: str, body: bytes, delay: float = 0.0) -> None:
        super().__init__()
        self._server = server
        self._name = name
        self._body = body
        self._delay = delay

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        self._server.count(self._name)
        if self._delay:
            await asyncio.sleep(self._delay)  # the resource is slow: that is what makes aiocoap answer separately
        return aiocoap.Message(payload=self._body, content_format=0)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class CoapServer:
    def __init__(self) -> None:
        self.port = _free_udp_port()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="coap-server", daemon=True)
        self._context: aiocoap.Context | None = None

    def count(self, name: str) -> None:
        with self._lock:
            self.requests[name] += 1

    def url(self, path: str) -> str:
        return f"coap://{LOOPBACK}:{self.port}{path}"

    async def _start(self) -> None:
        site = aiocoap.resource.Site()
        site.add_resource([".well-known", "core"], aiocoap.resource.WKCResource(site.get_resources_as_linkheader))
        site.add_resource(["hello"], _Text(self, "hello", HELLO_BODY))
        site.add_resource(["big"], _Text(self, "big", BIG_BODY))
        site.add_resource(["slow"], _Text(self, "slow", b"worth the wait", delay=SLOW_DELAY_S))
        # UDP only: aiocoap's default server transports also bind TCP/TLS/WebSocket listeners on the port, which
        # another process's connection may hold (the UDP port was free when probed, its TCP twin was not).
        transports = ["udp6"] if sys.platform == "linux" else ["simple6", "simplesocketserver"]
        for attempt in range(5):
            try:
                self._context = await aiocoap.Context.create_server_context(
                    site, bind=(LOOPBACK, self.port), transports=transports
                )
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 4:
                    raise
                self.port = _free_udp_port()  # taken between the probe and the bind: another free one

    async def _stop(self) -> None:
        if self._context is not None:
            await self._context.shutdown()

    def _run(self, coroutine: object) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        future.result(JOIN_TIMEOUT_S)

    def start(self) -> CoapServer:
        self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._run(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(JOIN_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> CoapServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
