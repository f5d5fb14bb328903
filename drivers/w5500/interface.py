"""``W5500Interface``: an ``EthernetInterface`` on a WIZnet W5500 (spidev, a USB-SPI bridge, or the emulator).

Layer: the API on top. ``connect()`` resets and configures the chip, starts the stack's service thread, waits
(bounded) for the PHY link, then runs DHCP on the host (``netsocket.dhcp``) over the stack's own UDP socket, or
applies the static configuration given with ``set_network``. Link and lease changes after that are reported as
status changes: link or lease lost -> DISCONNECTED, a new lease (or the link back with a static address) ->
GLOBAL_UP. The DNS server offered by DHCP is added to the stack's resolver.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from netsocket.address import SocketAddress
from netsocket.deadline import Deadline, interruptible
from netsocket.dhcp import MIN_LEASE_S, DhcpClient, DhcpLease
from netsocket.errors import NsapiError
from netsocket.interface import EthernetInterface
from netsocket.types import NsapiConnectionStatus, NsapiVersion

from .chip import ChipError, NetworkConfig, ResetPin, W5500Chip
from .interrupt import as_interrupt_line, as_reset_pin
from .registers import SOCKET_COUNT
from .spi import DEFAULT_SPEED_HZ, SpiBus, open_bus
from .stack import POLL_INTERVAL_S, W5500Stack

_log = logging.getLogger(__name__)

LINK_TIMEOUT_S = 5.0
DHCP_TIMEOUT_S = 30.0


def random_mac() -> bytes:
    """A locally administered unicast MAC (02:xx:xx:xx:xx:xx)."""
    return bytes((0x02,)) + os.urandom(5)


def parse_mac(mac: str | bytes) -> bytes:
    if isinstance(mac, (bytes, bytearray)):
        value = bytes(mac)
    else:
        parts = mac.replace("-", ":").split(":")
        if len(parts) != 6 or not all(len(p) == 2 for p in parts):
            raise ValueError(f"not a MAC address: {mac!r}")
        value = bytes(int(p, 16) for p in parts)
    if len(value) != 6 or value[0] & 1:
        raise ValueError("a W5500 needs a 6-byte unicast MAC address")
    return value


class W5500Interface(EthernetInterface):
    """A W5500 on SPI: ``W5500Interface("/dev/spidev0.0")``, ``W5500Interface(FakeSpiDev())``.

    ``reset`` drives RSTn: a callable (called with False to pull it low, True to release it) or a
    ``"/dev/gpiochipN:LINE"`` string (gpiod); without it the chip is reset with MR.RST only.
    ``interrupt`` is INTn: an object with ``wait(timeout)``, the emulator's ``FakeSpiDev``, a
    ``"/dev/gpiochipN:LINE"`` string (gpiod), or None to poll every ``poll_interval`` seconds (default 5 ms; each
    poll is one SPI transaction).
    """

    def __init__(
        self,
        spi: str | SpiBus = "/dev/spidev0.0",
        reset: ResetPin | str | None = None,
        interrupt: Any = None,
        mac: str | bytes | None = None,
        *,
        speed_hz: int = DEFAULT_SPEED_HZ,
        poll_interval: float = POLL_INTERVAL_S,
        link_timeout: float = LINK_TIMEOUT_S,
        dhcp_timeout: float = DHCP_TIMEOUT_S,
        tx_buffer_kb: list[int] | None = None,
        rx_buffer_kb: list[int] | None = None,
        hostname: str | None = None,
        dhcp_initial_backoff: float = 4.0,
        dhcp_min_lease: float = MIN_LEASE_S,
    ) -> None:
        super().__init__()
        self._bus = open_bus(spi, speed_hz)
        self._owns_bus = isinstance(spi, str)
        self._chip = W5500Chip(self._bus, reset_pin=as_reset_pin(reset))
        self._stack = W5500Stack(self._chip, interrupt=as_interrupt_line(interrupt), poll_interval=poll_interval)
        self._stack.link_callback = self._on_link
        self._stack.device_error_callback = self._on_device_error
        self._mac = parse_mac(mac) if mac is not None else random_mac()
        self._link_timeout = link_timeout
        self._dhcp_timeout = dhcp_timeout
        self._tx_kb = tx_buffer_kb or [2] * SOCKET_COUNT
        self._rx_kb = rx_buffer_kb or [2] * SOCKET_COUNT
        self._hostname = hostname
        self._use_dhcp = True
        self._static = NetworkConfig()
        self._dhcp: DhcpClient | None = None
        self._link_event = threading.Condition()
        self._up = False
        self._dns_added: set[bytes] = set()
        self._dhcp_backoff = dhcp_initial_backoff
        self._dhcp_min_lease = dhcp_min_lease
        self._last_lease: DhcpLease | None = None
        self._cancel = threading.Event()
        self._connector: threading.Thread | None = None

    @classmethod
    def from_url(cls, url: str) -> W5500Interface:
        """``w5500:///dev/spidev0.0?speed_hz=20000000&mac=02:00:00:00:00:01&poll_interval=0.005``,
        ``w5500://ftdi:232h/1`` (an FTDI USB-SPI bridge), or ``w5500emu://`` (the emulator, in this process) and
        ``w5500emu://127.0.0.1:PORT`` (one served by ``netsocket emulate w5500``)."""
        parts = urlsplit(url)
        if parts.scheme == "w5500emu":  # the emulator (an SPI URL handler), whose interrupt line is the bus
            bus = open_bus(url)
            emulated = cls(bus, interrupt=bus if hasattr(bus, "on_int_edge") else None)
            emulated._owns_bus = True
            return emulated
        if parts.scheme != "w5500":
            raise ValueError(f"not a w5500:// URL: {url!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        target = parts.path if not parts.netloc else f"ftdi://{parts.netloc}{parts.path}"
        kwargs: dict[str, Any] = {}
        for key, kind in (("speed_hz", int), ("poll_interval", float)):
            if key in query:
                try:
                    kwargs[key] = kind(query[key])
                except ValueError:
                    raise ValueError(f"w5500:// parameter {key}={query[key]!r} is not a number") from None
        unknown = sorted(set(query) - {"speed_hz", "poll_interval", "mac"})
        if unknown:
            raise ValueError(f"unknown w5500:// parameters {unknown}; known: mac, poll_interval, speed_hz")
        return cls(target or "/dev/spidev0.0", mac=query.get("mac"), **kwargs)

    # -- the stack and the chip -----------------------------------------------------------------------------------
    def get_stack(self) -> W5500Stack:
        return self._stack

    @property
    def chip(self) -> W5500Chip:
        return self._chip

    @property
    def dhcp(self) -> DhcpClient | None:
        """The DHCP client keeping the lease (None with a static address or before ``connect``)."""
        return self._dhcp

    # -- configuration --------------------------------------------------------------------------------------------
    def set_network(self, ip: SocketAddress, netmask: SocketAddress, gateway: SocketAddress) -> NsapiError:
        """Use a static IPv4 configuration (turns DHCP off); applied at once if connected."""
        for value in (ip, netmask, gateway):
            if not isinstance(value, SocketAddress):
                raise TypeError("set_network takes three SocketAddress values")
        if ip.get_ip_version() != NsapiVersion.IPv4 or netmask.get_ip_version() != NsapiVersion.IPv4:
            return NsapiError.PARAMETER
        if gateway and gateway.get_ip_version() != NsapiVersion.IPv4:
            return NsapiError.PARAMETER
        self._use_dhcp = False
        self._static = NetworkConfig(
            ip=ip.get_ip_bytes(),
            netmask=netmask.get_ip_bytes(),
            gateway=gateway.get_ip_bytes() if gateway else bytes(4),
        )
        if self._up:
            self._stop_dhcp()
            try:
                self._stack.set_config(self._static)
            except ChipError:
                return NsapiError.DEVICE_ERROR
        return NsapiError.OK

    def set_dhcp(self, dhcp: bool) -> NsapiError:
        """DHCP on (the default) or off (then ``set_network`` gives the address). Takes effect at ``connect``."""
        self._use_dhcp = bool(dhcp)
        return NsapiError.OK

    def get_mac_address(self) -> str | None:
        return ":".join(f"{b:02x}" for b in self._mac)

    def get_netmask(self, address: SocketAddress) -> NsapiError:
        return self._fill(address, self._stack.config.netmask)

    def get_gateway(self, address: SocketAddress) -> NsapiError:
        return self._fill(address, self._stack.config.gateway)

    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        return self._fill(address, self._stack.config.ip)

    @staticmethod
    def _fill(address: SocketAddress, value: bytes) -> NsapiError:
        if value == bytes(4):
            return NsapiError.NO_ADDRESS
        address.assign(SocketAddress(value))
        return NsapiError.OK

    # -- connect / disconnect -------------------------------------------------------------------------------------
    def connect(self) -> NsapiError:
        status = self.get_connection_status()
        if status == NsapiConnectionStatus.GLOBAL_UP:
            return NsapiError.IS_CONNECTED
        if status == NsapiConnectionStatus.CONNECTING:
            return NsapiError.BUSY
        if not self._use_dhcp and self._static.ip == bytes(4):
            return NsapiError.PARAMETER  # DHCP off and no address given with set_network (as Mbed's lwIP)
        self._set_status(NsapiConnectionStatus.CONNECTING)
        self._cancel.clear()
        if self._blocking:
            return self._bring_up()
        self._connector = threading.Thread(target=self._bring_up, name="w5500-connect", daemon=True)
        self._connector.start()
        return NsapiError.OK

    def set_blocking(self, blocking: bool) -> NsapiError:
        """Supported: with False, ``connect`` returns OK at once and the status callback reports the progress
        (CONNECTING, then GLOBAL_UP or DISCONNECTED)."""
        self._blocking = bool(blocking)
        return NsapiError.OK

    def _bring_up(self) -> NsapiError:
        """Reset and configure the chip, wait for the link, get an address (runs on a thread when non-blocking)."""
        if self._up:  # connect again after the link or the chip dropped: the reset ends every socket
            self._stop_dhcp(release=False)  # the lease is kept: the new client asks for it again (INIT-REBOOT)
            self._stack.stop()
            self._up = False
        try:
            self._init_chip()
        except ChipError as exc:
            _log.error("W5500 initialisation failed: %s", exc)
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
            return NsapiError.DEVICE_ERROR
        self._up = True
        self._stack.start()
        if not self._wait_link(Deadline.from_seconds(self._link_timeout)) or self._cancel.is_set():
            self._shutdown()
            return NsapiError.NO_CONNECTION
        if not self._use_dhcp:
            self._stack.set_config(self._static)
            self._set_status(NsapiConnectionStatus.GLOBAL_UP)
            return NsapiError.OK
        dhcp = DhcpClient(
            self._stack,
            self._mac,
            on_bound=self._on_lease,
            on_lost=self._on_lease_lost,
            hostname=self._hostname,
            initial_backoff=self._dhcp_backoff,
            min_lease=self._dhcp_min_lease,
            previous_lease=self._last_lease,  # INIT-REBOOT while it is valid
        )
        self._dhcp = dhcp
        if self._cancel.is_set():
            self._shutdown()
            return NsapiError.NO_CONNECTION
        dhcp.start()
        if not dhcp.wait_bound(self._dhcp_timeout):
            self._shutdown()
            return NsapiError.NO_CONNECTION if self._cancel.is_set() else NsapiError.DHCP_FAILURE
        return NsapiError.OK

    def _init_chip(self) -> None:
        chip = self._chip
        chip.reset()
        chip.set_mac(self._mac)
        chip.set_buffer_sizes(self._tx_kb, self._rx_kb)
        self._stack.set_config(NetworkConfig())
        chip.write_common(0x0018, bytes((0xFF,)))  # SIMR: every socket may assert INTn

    def _wait_link(self, deadline: Deadline) -> bool:
        with self._link_event:
            while not self._stack.link_up and not self._cancel.is_set():
                remaining = deadline.remaining()
                if remaining == 0.0:
                    return False
                self._link_event.wait(interruptible(remaining))
        return True

    def disconnect(self) -> NsapiError:
        if self.get_connection_status() == NsapiConnectionStatus.DISCONNECTED and not self._up:
            return NsapiError.NO_CONNECTION
        self._cancel.set()
        with self._link_event:
            self._link_event.notify_all()
        self._stop_dhcp()
        connector, self._connector = self._connector, None
        if connector is not None and connector is not threading.current_thread():
            connector.join(timeout=10.0)
        self._shutdown()
        return NsapiError.OK

    def _shutdown(self) -> None:
        self._stop_dhcp()
        self._stack.stop()
        self._up = False
        self._set_status(NsapiConnectionStatus.DISCONNECTED)

    def close(self) -> None:
        """Disconnect and release the SPI device (when this interface opened it)."""
        if self._up or self._connector is not None:
            self.disconnect()
        close: Callable[[], object] | None = getattr(self._bus, "close", None)
        if self._owns_bus and close is not None:
            close()

    def _stop_dhcp(self, release: bool = True) -> None:
        dhcp, self._dhcp = self._dhcp, None
        if dhcp is not None:
            dhcp.stop(release=release)
            if release:
                self._last_lease = None  # given back: the next connect starts from DISCOVER

    # -- events from the stack and DHCP ---------------------------------------------------------------------------
    def _on_link(self, up: bool) -> None:
        with self._link_event:
            self._link_event.notify_all()
        if not self._up or self.get_connection_status() == NsapiConnectionStatus.CONNECTING:
            return
        if not up:
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
        elif not self._use_dhcp:
            self._set_status(NsapiConnectionStatus.GLOBAL_UP)
        elif self._dhcp is not None:
            self._dhcp.restart()

    def _on_device_error(self) -> None:
        if self._up:
            self._set_status(NsapiConnectionStatus.DISCONNECTED)

    def _on_lease(self, lease: DhcpLease) -> None:
        self._last_lease = lease
        self._stack.set_config(NetworkConfig(ip=lease.ip, netmask=lease.netmask, gateway=lease.gateway))
        for server in lease.dns:
            if server not in self._dns_added:
                self._dns_added.add(server)
                self._stack.add_dns_server(SocketAddress(server, 53))
        self._set_status(NsapiConnectionStatus.GLOBAL_UP)

    def _on_lease_lost(self) -> None:
        try:
            self._stack.set_config(NetworkConfig())
        except ChipError as exc:
            _log.warning("W5500: clearing the address failed: %s", exc)
        self._set_status(NsapiConnectionStatus.DISCONNECTED)
