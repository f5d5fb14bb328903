"""``AsyncESP8266Interface`` / ``AsyncESP32Interface``: the ESP-AT Wi-Fi interface for asyncio programs, on the
asyncio runner (``aio_runner``): no thread; every call that waits for the module is awaited.

The interface is the ordinary ``ESP8266Interface`` with the asyncio runner and worker under it; its blocking calls
run in a greenlet on the loop (``loop_bridge.run_blocking``). Calling the blocking ones directly on the loop's
thread raises ``RuntimeError`` instead of blocking the loop. Status callbacks (``attach``) and socket ``sigio``
callbacks run on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import StatusCallback, WiFiAccessPoint
from netsocket.stack import NetworkStack
from netsocket.types import NsapiConnectionStatus, NsapiSecurity, NsapiVersion

from .aio_runner import AsyncRunner, AsyncWorker
from .core import ATCore, Notice
from .interface import ESP32Interface, ESP8266Interface
from .loop_bridge import GreenletRLock, run_blocking
from .runner import Runner
from .worker import Job, Worker

T = TypeVar("T")


class _OnTheLoop(ESP8266Interface):
    """The ESP-AT interface with the asyncio runner and worker under it. ``loop``: the loop it lives on (by default
    the one running when it starts); given, the interface's blocking calls may also be made from other threads (a
    synchronous program with the loop in a thread of its own)."""

    def __init__(
        self, port: Any, baudrate: int = 115200, *, loop: asyncio.AbstractEventLoop | None = None, **options: Any
    ):
        self._loop = loop
        super().__init__(port, baudrate, **options)
        self._startup.lock = GreenletRLock()  # calls run as greenlets on one thread: a thread's RLock lets all in

    def _make_runner(self, core: ATCore, on_notice: Callable[[Notice], None]) -> Runner:
        return AsyncRunner(None, core, on_notice, getattr(self, "_loop", None))

    def _make_worker(self, cond: Any, next_job: Callable[[], Job | None], alive: Callable[[], bool]) -> Worker:
        return AsyncWorker(cond, next_job, alive)


class LoopESP8266Interface(_OnTheLoop):
    pass


class LoopESP32Interface(_OnTheLoop, ESP32Interface):
    pass


async def _shielded(function: Callable[..., T], *args: Any) -> T:
    """Run a module operation on the loop to its end even if the caller is cancelled: the module goes on with a
    join or a look-up it was given anyway, and the driver's state stays whole (a second call meanwhile is BUSY)."""
    return await asyncio.shield(asyncio.ensure_future(run_blocking(function, *args)))


class AsyncESP8266Interface:
    """An ESP8266 (or ESP32) module with ESP-AT firmware, driven from one asyncio event loop with no thread.

    Arguments as ``ESP8266Interface`` (``port``: a device path, a pyserial URL with a ``fileno``, or an open port).
    Sockets: ``netsocket.aio`` with ``stack=`` this interface. A cancelled call cancels the wait, not the module's
    operation: it completes in the background (a cancelled ``connect`` may still bring the interface up)."""

    _interface_class: type[ESP8266Interface] = LoopESP8266Interface

    def __init__(self, port: Any, baudrate: int = 115200, **options: Any) -> None:
        self.interface = self._interface_class(port, baudrate, **options)

    @classmethod
    def from_url(cls, url: str) -> AsyncESP8266Interface:
        """As ``ESP8266Interface.from_url`` (``esp:///dev/ttyUSB0?ssid=...``)."""
        made = cls.__new__(cls)
        made.interface = cls._interface_class.from_url(url)
        return made

    def get_stack(self) -> NetworkStack:
        return self.interface.get_stack()

    def attach(self, status_cb: StatusCallback | None) -> None:
        """Status callbacks, called on the loop."""
        self.interface.attach(status_cb)

    def get_connection_status(self) -> NsapiConnectionStatus:
        return self.interface.get_connection_status()

    def set_credentials(
        self, ssid: str | None, pass_phrase: str | None, security: NsapiSecurity = NsapiSecurity.NONE
    ) -> NsapiError:
        return self.interface.set_credentials(ssid, pass_phrase, security)

    async def connect(
        self,
        ssid: str | None = None,
        pass_phrase: str | None = None,
        security: NsapiSecurity = NsapiSecurity.NONE,
        channel: int = 0,
    ) -> NsapiError:
        """Start the module if needed and join (``WiFiInterface.connect``)."""
        return await _shielded(self.interface.connect, ssid, pass_phrase, security, channel)

    async def disconnect(self) -> NsapiError:
        return await _shielded(self.interface.disconnect)

    async def scan(self, res: list[WiFiAccessPoint] | None, count: int) -> int:
        return await _shielded(self.interface.scan, res, count)

    async def gethostbyname(
        self, host: str, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> tuple[NsapiError, SocketAddress | None]:
        """Resolve ``host`` (on the module, or the stack's DNS servers): ``(OK, address)`` or ``(error, None)``."""
        address = SocketAddress()
        err = await _shielded(self.interface.gethostbyname, host, address, version)
        return (err, address) if err == NsapiError.OK else (NsapiError(err), None)

    async def get_ip_address(self) -> str | None:
        address = SocketAddress()
        err = await _shielded(self.interface.get_ip_address, address)
        return address.get_ip_address() if err == NsapiError.OK else None

    async def get_ipv6_link_local_address(self) -> str | None:
        """The station's ``fe80::`` address (ESP-AT 3.x for the ESP32), or None (IPv4-only firmware, not up)."""
        address = SocketAddress()
        err = await _shielded(self.interface.get_ipv6_link_local_address, address)
        return address.get_ip_address() if err == NsapiError.OK else None

    async def aclose(self) -> None:
        """Leave the network, stop the runner and close the port if the driver opened it."""
        await _shielded(self.interface.close)

    async def __aenter__(self) -> AsyncESP8266Interface:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncESP32Interface(AsyncESP8266Interface):
    """An ESP32-family module (same driver; the dialect is read from ``AT+GMR``)."""

    _interface_class = LoopESP32Interface
