"""Network interfaces: ``NetworkInterface``, ``WiFiInterface``, ``EthernetInterface`` and ``WiFiAccessPoint``.

An interface is a link (connect/disconnect/status) plus the ``NetworkStack`` that sockets open on. The argument
checks Mbed's test plans expect (``set_credentials``, ``set_channel``, host names) are written here once.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from dataclasses import dataclass

from netsocket.address import SocketAddress
from netsocket.callback_context import run_callback
from netsocket.errors import NsapiError
from netsocket.stack import HostbynameCallback, NetworkStack
from netsocket.types import NsapiConnectionStatus, NsapiEvent, NsapiSecurity, NsapiVersion

StatusCallback = Callable[[NsapiEvent, int], object]

MAX_HOSTNAME_LENGTH = 255


def check_hostname(host: object) -> NsapiError:
    """OK for a plausible host name or literal; PARAMETER for an empty, over-long or control-character name."""
    if not isinstance(host, str):
        raise TypeError(f"a host name is a str, not {type(host).__name__}")
    if not host or len(host) > MAX_HOSTNAME_LENGTH:
        return NsapiError.PARAMETER
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c in '",\\' for c in host):
        return NsapiError.PARAMETER
    return NsapiError.OK


class NetworkInterface(abc.ABC):
    """A network link and its stack (Mbed's ``NetworkInterface``).

    ``connect()`` blocks until the link is up unless ``set_blocking(False)`` was called (then OK means "started"
    and the status callback reports progress). Status callbacks run on the driver's thread.
    """

    def __init__(self) -> None:
        self._status_lock = threading.Lock()
        self._status = NsapiConnectionStatus.DISCONNECTED
        self._status_callback: StatusCallback | None = None
        self._blocking = True

    # -- what a driver provides -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def get_stack(self) -> NetworkStack:
        """The stack sockets are opened on (``Socket.open(interface)`` uses it)."""

    @abc.abstractmethod
    def connect(self) -> NsapiError:
        """Bring the link up: OK, IS_CONNECTED if it already is, BUSY if a connect is under way, or an error."""

    @abc.abstractmethod
    def disconnect(self) -> NsapiError:
        """Take the link down: OK, or NO_CONNECTION if it was not up."""

    # -- status ---------------------------------------------------------------------------------------------------
    def get_connection_status(self) -> NsapiConnectionStatus:
        return self._status

    def attach(self, status_cb: StatusCallback | None) -> None:
        """Register the status callback ``cb(NsapiEvent.CONNECTION_STATUS_CHANGE, new_status)``; None removes it."""
        if status_cb is not None and not callable(status_cb):
            raise TypeError("attach takes a callable or None")
        self._status_callback = status_cb

    def _set_status(self, status: NsapiConnectionStatus) -> None:
        """For drivers: record a status and tell the application (only when it changes)."""
        with self._status_lock:
            changed = status != self._status
            self._status = status
            callback = self._status_callback
        if changed and callback is not None:
            run_callback(callback, NsapiEvent.CONNECTION_STATUS_CHANGE, int(status))

    def set_blocking(self, blocking: bool) -> NsapiError:
        """Make ``connect``/``disconnect`` asynchronous (False) or blocking (True). UNSUPPORTED if the driver can't."""
        return NsapiError.UNSUPPORTED if not blocking else NsapiError.OK

    # -- addresses ------------------------------------------------------------------------------------------------
    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        return self.get_stack().get_ip_address(address)

    def get_ipv6_link_local_address(self, address: SocketAddress) -> NsapiError:
        """The interface's IPv6 link-local address: OK, NO_ADDRESS, or UNSUPPORTED (an IPv4-only driver)."""
        return self.get_stack().get_ipv6_link_local_address(address)

    def get_netmask(self, address: SocketAddress) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def get_gateway(self, address: SocketAddress) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def get_mac_address(self) -> str | None:
        return None

    def set_network(self, ip: SocketAddress, netmask: SocketAddress, gateway: SocketAddress) -> NsapiError:
        """Use a static address (turns DHCP off). UNSUPPORTED unless the driver has it."""
        return NsapiError.UNSUPPORTED

    def set_dhcp(self, dhcp: bool) -> NsapiError:
        return NsapiError.OK if dhcp else NsapiError.UNSUPPORTED

    # -- DNS (forwarded to the stack) -----------------------------------------------------------------------------
    def gethostbyname(
        self, host: str, address: SocketAddress, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> NsapiError:
        """Resolve a name or literal (blocking): OK, PARAMETER, DNS_FAILURE, NO_CONNECTION, TIMEOUT, ..."""
        err = check_hostname(host)
        if err != NsapiError.OK:
            return err
        return self.get_stack().gethostbyname(host, address, version)

    def gethostbyname_async(
        self, host: str, callback: HostbynameCallback, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> int:
        """Resolve in the background: 0 when done at once (callback already called), an id > 0, or an error."""
        err = check_hostname(host)
        if err != NsapiError.OK:
            return err
        return self.get_stack().gethostbyname_async(host, callback, version)

    def gethostbyname_async_cancel(self, query_id: int) -> NsapiError:
        return self.get_stack().gethostbyname_async_cancel(query_id)

    def add_dns_server(self, address: SocketAddress) -> NsapiError:
        return self.get_stack().add_dns_server(address)

    def get_dns_server(self, index: int, address: SocketAddress) -> NsapiError:
        return self.get_stack().get_dns_server(index, address)

    # -- defaults ---------------------------------------------------------------------------------------------------
    @classmethod
    def get_default_instance(cls) -> NetworkInterface:
        """The interface named by ``$NETSOCKET_INTERFACE`` (a URL for ``open_interface``), else the host's own."""
        from netsocket.registry import default_interface

        return default_interface()

    def __enter__(self) -> NetworkInterface:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.get_connection_status() != NsapiConnectionStatus.DISCONNECTED:
            self.disconnect()


@dataclass(frozen=True)
class WiFiAccessPoint:
    """A scan result (Mbed's ``WiFiAccessPoint``)."""

    ssid: str
    bssid: bytes
    security: NsapiSecurity
    rssi: int
    channel: int

    def get_ssid(self) -> str:
        return self.ssid

    def get_bssid(self) -> bytes:
        return self.bssid

    def get_security(self) -> NsapiSecurity:
        return self.security

    def get_rssi(self) -> int:
        return self.rssi

    def get_channel(self) -> int:
        return self.channel


_NEEDS_PASSPHRASE = {
    NsapiSecurity.WEP,
    NsapiSecurity.WPA,
    NsapiSecurity.WPA2,
    NsapiSecurity.WPA_WPA2,
    NsapiSecurity.WPA3,
    NsapiSecurity.WPA3_WPA2,
}


def check_credentials(ssid: str | None, pass_phrase: str | None, security: NsapiSecurity) -> NsapiError:
    """The Mbed Wi-Fi test plan's ``set_credentials`` table: OK or PARAMETER (UNSUPPORTED for enterprise modes)."""
    if not ssid or not isinstance(ssid, str) or len(ssid.encode()) > 32:
        return NsapiError.PARAMETER
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in ssid):
        return NsapiError.PARAMETER
    security = NsapiSecurity(security)
    if security in (
        NsapiSecurity.PAP,
        NsapiSecurity.CHAP,
        NsapiSecurity.EAP_TLS,
        NsapiSecurity.PEAP,
        NsapiSecurity.WPA2_ENT,
    ):
        return NsapiError.UNSUPPORTED
    if pass_phrase is not None:
        if not isinstance(pass_phrase, str):
            raise TypeError("a pass phrase is a str")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in pass_phrase):
            return NsapiError.PARAMETER
    if security == NsapiSecurity.NONE or security == NsapiSecurity.UNKNOWN:
        return NsapiError.OK
    if pass_phrase is None:
        return NsapiError.PARAMETER
    if security == NsapiSecurity.WEP:
        return NsapiError.OK if len(pass_phrase) in (5, 13, 10, 26) else NsapiError.PARAMETER
    if not 8 <= len(pass_phrase) <= 63:
        return NsapiError.PARAMETER
    return NsapiError.OK


class WiFiInterface(NetworkInterface):
    """A Wi-Fi station (Mbed's ``WiFiInterface``). Credentials are copied; checks follow the Mbed Wi-Fi test plan."""

    def __init__(self) -> None:
        super().__init__()
        self._ssid: str | None = None
        self._pass_phrase = ""
        self._security = NsapiSecurity.NONE
        self._channel = 0

    def set_credentials(
        self, ssid: str | None, pass_phrase: str | None = None, security: NsapiSecurity = NsapiSecurity.NONE
    ) -> NsapiError:
        """Store the network to join: OK, PARAMETER (empty/over-long SSID, missing or malformed pass phrase for the
        security), or BUSY while a connect is under way."""
        if self.get_connection_status() == NsapiConnectionStatus.CONNECTING:
            return NsapiError.BUSY
        err = check_credentials(ssid, pass_phrase, security)
        if err != NsapiError.OK:
            return err
        self._ssid = str(ssid)
        self._pass_phrase = pass_phrase or ""
        self._security = NsapiSecurity(security)
        return NsapiError.OK

    def set_channel(self, channel: int) -> NsapiError:
        """Restrict joins to a 2.4 GHz channel (0: any). PARAMETER outside 0..13."""
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise TypeError("a channel is an int")
        if not 0 <= channel <= 13:
            return NsapiError.PARAMETER
        self._channel = channel
        return NsapiError.OK

    def connect(
        self,
        ssid: str | None = None,
        pass_phrase: str | None = None,
        security: NsapiSecurity = NsapiSecurity.NONE,
        channel: int = 0,
    ) -> NsapiError:
        """Join a network: with arguments, as ``set_credentials`` + ``set_channel`` first; without, the stored
        ones. PARAMETER / NO_SSID without credentials; AUTH_FAILURE, NO_SSID, CONNECTION_TIMEOUT, ... on failure."""
        if ssid is not None or pass_phrase is not None:
            err = self.set_credentials(ssid, pass_phrase, security)
            if err != NsapiError.OK:
                return err
            err = self.set_channel(channel)
            if err != NsapiError.OK:
                return err
        elif self._ssid is None:
            return NsapiError.NO_SSID
        return self._connect_wifi()

    @abc.abstractmethod
    def _connect_wifi(self) -> NsapiError:
        """Join ``self._ssid`` with the stored pass phrase, security and channel."""

    @abc.abstractmethod
    def get_rssi(self) -> int:
        """RSSI of the joined AP in dBm, or 0 when not connected."""

    @abc.abstractmethod
    def scan(self, res: list[WiFiAccessPoint] | None, count: int) -> int:
        """Scan (blocking): with ``count == 0`` return how many networks are visible; otherwise append up to
        ``count`` results to ``res`` and return how many were appended; negative on error."""


class EthernetInterface(NetworkInterface):
    """A wired interface (Mbed's ``EthernetInterface``)."""
