"""The stack factories the conformance suite runs against: one ``StackEntry`` per stack, in ``STACKS``.

The suite is written once; each entry says how to build that stack's interface, how it reaches the loopback
servers, how the host reaches a server socket opened on it, and what it can do (``Capabilities``). A stack that
lacks a feature is not skipped: the suite asserts the documented error code instead. Adding a stack is adding an
entry to ``STACKS`` (see README.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from netsocket import NetworkInterface, NetworkStack, NsapiError, NsapiProtocol, NsapiSecurity, SocketAddress
from tests.servers import LoopbackServers

BOTH = frozenset({NsapiProtocol.TCP, NsapiProtocol.UDP})


@dataclass(frozen=True)
class Capabilities:
    """What a stack supports; each ``False`` turns a case into a check of the documented error code."""

    max_sockets: int | None = None
    """Sockets ``open`` can hand out at once (then the next gives NO_SOCKET/NO_MEMORY); None: more than the suite
    probes (``OPEN_LIMIT_PROBE``)."""
    bind: frozenset[NsapiProtocol] = BOTH
    """Protocols whose sockets can ``bind``; others return UNSUPPORTED."""
    bind_address: bool = True
    """``bind`` accepts a specific local IP (not only a port); else UNSUPPORTED."""
    listen: bool = True
    """TCP ``listen``/``accept`` (a server socket on the stack); else ``listen`` returns UNSUPPORTED."""
    keepalive: bool = True
    """``setsockopt(SOCKET, KEEPALIVE, ...)``; else UNSUPPORTED."""
    ipv6: bool = False
    """The stack can carry IPv6: the IPv6 cases (``test_ipv6.py``, servers on ::1) are collected for it, and an
    IPv4-only stack is checked to answer UNSUPPORTED for an IPv6 destination instead."""
    interface_nonblocking: bool = True
    """``NetworkInterface.set_blocking(False)``; else it returns UNSUPPORTED."""
    peer_reset: frozenset[int] = frozenset({NsapiError.CONNECTION_LOST})
    """What ``recv`` returns after the peer reset the connection (DESIGN: CONNECTION_LOST; a stack that cannot
    tell a reset from an orderly close, like ESP-AT's ``<id>,CLOSED``, adds 0)."""
    max_udp_payload: int = 1472
    """The largest datagram ``sendto`` must carry."""
    udp_merges_queued_datagrams: bool = False
    """Datagrams that queue up before the application reads may come back joined, in order (ESP-AT 2.x for the
    ESP8266 in passive receive mode: esp-at #451; its passive mode is what gives TCP backpressure). The burst cases
    then check the byte stream instead of the datagram boundaries; nothing may be lost or damaged either way."""
    dns_cache: bool = True
    """Resolved names are cached (netsocket's resolver: yes), so asking again sends no query."""
    dns_async_limit: int | None = 5
    """Asynchronous lookups in flight at once (the next gets NO_MEMORY); None: no limit the suite can reach."""


@dataclass(frozen=True)
class WifiWorld:
    """The access points a Wi-Fi stack's world has (defaults: DESIGN §5's default emulated world)."""

    secure_ssid: str = "netsocket-wpa2"
    secure_pass: str = "netsocket123"
    secure_security: NsapiSecurity = NsapiSecurity.WPA2
    secure_channel: int = 6
    open_ssid: str = "netsocket-open"
    open_channel: int = 1
    set_channel_supported: bool = True
    """``set_channel`` works (else every channel > 0 gives UNSUPPORTED, as Mbed's ESP8266 driver)."""


def _loopback_route(host: str, port: int) -> SocketAddress:
    return SocketAddress(host, port)


def _loopback_reach(port: int) -> tuple[str, int]:
    return "127.0.0.1", port


def _connect(interface: NetworkInterface) -> NsapiError:
    return interface.connect()


def _use_dns_server(interface: NetworkInterface, server: SocketAddress) -> NsapiError:
    return interface.add_dns_server(server)


def _release(interface: NetworkInterface) -> None:
    """Default cleanup of an interface the suite built: disconnect it if it is up."""
    from netsocket import NsapiConnectionStatus

    if interface.get_connection_status() != NsapiConnectionStatus.DISCONNECTED:
        interface.disconnect()


@dataclass(frozen=True)
class StackEntry:
    """One stack under test."""

    name: str
    """The pytest id (``test_x[host]``)."""
    make_interface: Callable[[LoopbackServers], NetworkInterface]
    """A new, disconnected interface; it may use the servers (e.g. to point its DNS at the loopback one)."""
    connect: Callable[[NetworkInterface], NsapiError] = _connect
    """Bring the interface up (a Wi-Fi entry joins its world's secure AP here)."""
    use_dns_server: Callable[[NetworkInterface, SocketAddress], NsapiError] = _use_dns_server
    """Make a connected interface resolve names with the DNS server at this address (already routed)."""
    release: Callable[[NetworkInterface], None] = _release
    """Free an interface the suite built (disconnect; stop an emulator)."""
    route: Callable[[str, int], SocketAddress] = _loopback_route
    """How the stack reaches a loopback server at host ``(ip, port)``."""
    reach: Callable[[int], tuple[str, int]] = _loopback_reach
    """Where the host connects to reach a server socket listening on ``port`` of the stack."""
    caps: Capabilities = field(default_factory=Capabilities)
    wifi: WifiWorld | None = None
    """Set for a ``WiFiInterface`` stack: the Wi-Fi cases run on it against this world."""
    open_sockets: Callable[[NetworkStack], int] | None = None
    """Optional probe: how many sockets the stack holds open (lets the suite catch leaked sockets)."""
    aaaa_name: str | None = None
    """A name the stack's own resolver (no DNS server added) answers with ::1 for an IPv6 look-up; None: the
    AAAA case through the stack's own resolver is not collected for it (``caps.ipv6`` stacks only)."""


def _host_interface(servers: LoopbackServers) -> NetworkInterface:
    from netsocket.drivers.host import HostInterface

    return HostInterface()


def _host_open_sockets(stack: NetworkStack) -> int:
    count = getattr(stack, "open_sockets", None)
    if not isinstance(count, int):
        raise TypeError("the host stack reports open_sockets")
    return count


ESP_PROFILES = ("at22_8266", "nonos17", "at3_esp32")
ESP_URL = "espemu://?profile={profile}&timescale=0.01&pace=0&chunking=1&inject=0.3&seed=7"
"""The emulated module under test: fast timing, random output chunking and URC injection switched on."""


_esp_ids = itertools.count(1)


def _esp_interface(profile: str) -> Callable[[LoopbackServers], NetworkInterface]:
    def make(servers: LoopbackServers) -> NetworkInterface:
        from netsocket.drivers.esp_at import ESP8266Interface

        return ESP8266Interface(ESP_URL.format(profile=profile) + f"&name=conformance-{profile}-{next(_esp_ids)}")

    return make


_pty_emulators: dict[int, tuple[object, int]] = {}


def _esp_pty_interface(profile: str) -> Callable[[LoopbackServers], NetworkInterface]:
    """The same emulated module behind a pseudo-terminal: the driver opens it as it would /dev/ttyUSB0."""

    def make(servers: LoopbackServers) -> NetworkInterface:
        import os
        import tty

        from netsocket.drivers.esp_at import ESP8266Interface
        from netsocket.mocks.esp_at import Emulator, EmulatorOptions
        from netsocket.mocks.esp_at.transport import FdTransport

        master, slave = os.openpty()
        tty.setraw(slave)
        url = ESP_URL.format(profile=profile) + f"&name=conformance-pty-{profile}-{next(_esp_ids)}"
        emulator = Emulator(EmulatorOptions.from_url(url), FdTransport(master), aliases=(os.ttyname(slave),))
        emulator.start()
        interface = ESP8266Interface(os.ttyname(slave))
        _pty_emulators[id(interface)] = (emulator, slave)
        return interface

    return make


def _esp_pty_release(interface: NetworkInterface) -> None:
    import os

    _esp_release(interface)
    emulator, slave = _pty_emulators.pop(id(interface))
    emulator.close()  # type: ignore[attr-defined]
    os.close(slave)


_loop_threads: dict[int, object] = {}


def _esp_asyncio_interface(profile: str) -> Callable[[LoopbackServers], NetworkInterface]:
    """The emulated module on the asyncio runner, its loop in a thread of its own: the suite's synchronous calls
    are carried out on that loop (the thin synchronous adapter of the asyncio runner)."""

    def make(servers: LoopbackServers) -> NetworkInterface:
        from netsocket.drivers.esp_at.aio_interface import LoopESP8266Interface

        from tests.esp_asyncio.sync_adapter import LoopThread

        thread = LoopThread()
        url = ESP_URL.format(profile=profile) + f"&name=conformance-aio-{profile}-{next(_esp_ids)}"
        interface = LoopESP8266Interface(url, loop=thread.loop)
        _loop_threads[id(interface)] = thread
        return interface

    return make


def _esp_asyncio_release(interface: NetworkInterface) -> None:
    _esp_release(interface)
    thread = _loop_threads.pop(id(interface))
    thread.close()  # type: ignore[attr-defined]


def _esp_connect(interface: NetworkInterface) -> NsapiError:
    from netsocket import WiFiInterface

    assert isinstance(interface, WiFiInterface)
    world = WifiWorld()
    return interface.connect(world.secure_ssid, world.secure_pass, world.secure_security)


def _esp_release(interface: NetworkInterface) -> None:
    close = getattr(interface, "close", None)
    if callable(close):
        close()


def _esp_open_sockets(stack: NetworkStack) -> int:
    count = getattr(stack, "open_sockets", None)
    if not callable(count):
        raise TypeError("the ESP-AT stack reports open_sockets()")
    result = count()
    assert isinstance(result, int)
    return result


ESP_CAPS = Capabilities(
    max_sockets=5,
    peer_reset=frozenset({NsapiError.CONNECTION_LOST, 0}),
    max_udp_payload=1472,
)


def esp_caps(profile: str) -> Capabilities:
    """ESP-AT 2.x for the ESP8266 has passive receive for UDP too, and it joins queued datagrams (esp-at #451);
    ESP-AT 3.x for the ESP32 carries IPv6 (AT+CIPV6)."""
    return replace(ESP_CAPS, udp_merges_queued_datagrams=profile == "at22_8266", ipv6=profile == "at3_esp32")


def esp_aaaa_name(profile: str) -> str | None:
    """The emulated world's AAAA table maps localhost to ::1 (docs/esp_emulator.md); only ESP-AT 3.x asks it."""
    return "localhost" if profile == "at3_esp32" else None


def _host_aaaa_name() -> str | None:
    """The first usual name for ::1 that this machine's resolver knows (many /etc/hosts list none)."""
    import socket

    for name in ("localhost", "ip6-localhost", "localhost6"):
        try:
            infos = socket.getaddrinfo(name, None, socket.AF_INET6)
        except (OSError, UnicodeError):
            continue
        if any(info[4][0] == "::1" for info in infos):
            return name
    return None


def _w5500_interface(servers: LoopbackServers) -> NetworkInterface:
    """The W5500 emulator on its default LAN; the address comes from the emulated LAN's DHCP server."""
    from netsocket.drivers.w5500 import W5500Interface
    from netsocket.mocks.w5500 import FakeSpiDev

    return W5500Interface(FakeSpiDev())


def _w5500_release(interface: NetworkInterface) -> None:
    from netsocket.drivers.w5500 import W5500Interface

    _release(interface)
    if isinstance(interface, W5500Interface):
        interface.close()
        close = getattr(interface.chip.bus, "close", None)
        if callable(close):
            close()


STACKS: list[StackEntry] = [
    # Before "host": pytest finalises a session fixture's instance when the next param starts, so the W5500 and ESP
    # emulators are closed before the emulator suites run (their leak check counts every open emulator).
    StackEntry(
        name="w5500",
        make_interface=_w5500_interface,
        release=_w5500_release,
        caps=Capabilities(max_sockets=8, ipv6=False),
        open_sockets=_host_open_sockets,
    ),
    *(
        StackEntry(
            name=f"esp-{profile}",
            make_interface=_esp_interface(profile),
            connect=_esp_connect,
            release=_esp_release,
            caps=esp_caps(profile),
            wifi=WifiWorld(),
            open_sockets=_esp_open_sockets,
            aaaa_name=esp_aaaa_name(profile),
        )
        for profile in ESP_PROFILES
    ),
    *(
        StackEntry(
            name=f"esp-pty-{profile}",
            make_interface=_esp_pty_interface(profile),
            connect=_esp_connect,
            release=_esp_pty_release,
            caps=esp_caps(profile),
            wifi=WifiWorld(),
            open_sockets=_esp_open_sockets,
            aaaa_name=esp_aaaa_name(profile),
        )
        for profile in ESP_PROFILES
    ),
    *(
        StackEntry(
            name=f"esp-aio-{profile}",
            make_interface=_esp_asyncio_interface(profile),
            connect=_esp_connect,
            release=_esp_asyncio_release,
            caps=esp_caps(profile),
            wifi=WifiWorld(),
            open_sockets=_esp_open_sockets,
            aaaa_name=esp_aaaa_name(profile),
        )
        for profile in ESP_PROFILES
    ),
    # Last: the final parameter's session fixture lives until the session ends, and only "host" runs no emulator.
    StackEntry(
        name="host",
        make_interface=_host_interface,
        caps=Capabilities(max_sockets=None, ipv6=True, max_udp_payload=65507),
        open_sockets=_host_open_sockets,
        aaaa_name=_host_aaaa_name(),
    ),
]
"""Every stack the conformance suite runs on. Append an entry to add one."""

WIFI_STACKS: list[StackEntry] = [entry for entry in STACKS if entry.wifi is not None]
