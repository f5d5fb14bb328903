"""netsocket: Arm Mbed OS's network-socket API in Python, over any stack (host OS, ESP-AT modules, W5500 chips).

Calls return ``0`` (``NSAPI_ERROR_OK``), a non-negative size, or a negative ``NsapiError``; they raise only for
programming errors. See ``docs/`` for where netsocket differs from Mbed OS.
"""

from netsocket.address import SocketAddress
from netsocket.errors import (
    NSAPI_ERROR_ADDRESS_IN_USE,
    NSAPI_ERROR_ALREADY,
    NSAPI_ERROR_AUTH_FAILURE,
    NSAPI_ERROR_BUSY,
    NSAPI_ERROR_CONNECTION_LOST,
    NSAPI_ERROR_CONNECTION_TIMEOUT,
    NSAPI_ERROR_DEVICE_ERROR,
    NSAPI_ERROR_DHCP_FAILURE,
    NSAPI_ERROR_DNS_FAILURE,
    NSAPI_ERROR_IN_PROGRESS,
    NSAPI_ERROR_IS_CONNECTED,
    NSAPI_ERROR_NO_ADDRESS,
    NSAPI_ERROR_NO_CONNECTION,
    NSAPI_ERROR_NO_MEMORY,
    NSAPI_ERROR_NO_SOCKET,
    NSAPI_ERROR_NO_SSID,
    NSAPI_ERROR_OK,
    NSAPI_ERROR_PARAMETER,
    NSAPI_ERROR_TIMEOUT,
    NSAPI_ERROR_UNSUPPORTED,
    NSAPI_ERROR_WOULD_BLOCK,
    NsapiError,
)
from netsocket.interface import (
    EthernetInterface,
    NetworkInterface,
    WiFiAccessPoint,
    WiFiInterface,
)
from netsocket.registry import available_drivers, open_interface
from netsocket.socket import InternetSocket, Socket, TCPSocket, UDPSocket
from netsocket.stack import NetworkStack
from netsocket.tls import ControlTransport, TLSSocket, TLSSocketWrapper
from netsocket.types import (
    NsapiConnectionStatus,
    NsapiEvent,
    NsapiProtocol,
    NsapiSecurity,
    NsapiSocketLevel,
    NsapiSocketOption,
    NsapiVersion,
)

__version__ = "0.2.0"
"""The version of the netsocket distribution."""

__all__ = [
    "NSAPI_ERROR_ADDRESS_IN_USE",
    "NSAPI_ERROR_ALREADY",
    "NSAPI_ERROR_AUTH_FAILURE",
    "NSAPI_ERROR_BUSY",
    "NSAPI_ERROR_CONNECTION_LOST",
    "NSAPI_ERROR_CONNECTION_TIMEOUT",
    "NSAPI_ERROR_DEVICE_ERROR",
    "NSAPI_ERROR_DHCP_FAILURE",
    "NSAPI_ERROR_DNS_FAILURE",
    "NSAPI_ERROR_IN_PROGRESS",
    "NSAPI_ERROR_IS_CONNECTED",
    "NSAPI_ERROR_NO_ADDRESS",
    "NSAPI_ERROR_NO_CONNECTION",
    "NSAPI_ERROR_NO_MEMORY",
    "NSAPI_ERROR_NO_SOCKET",
    "NSAPI_ERROR_NO_SSID",
    "NSAPI_ERROR_OK",
    "NSAPI_ERROR_PARAMETER",
    "NSAPI_ERROR_TIMEOUT",
    "NSAPI_ERROR_UNSUPPORTED",
    "NSAPI_ERROR_WOULD_BLOCK",
    "ControlTransport",
    "EthernetInterface",
    "InternetSocket",
    "NetworkInterface",
    "NetworkStack",
    "NsapiConnectionStatus",
    "NsapiError",
    "NsapiEvent",
    "NsapiProtocol",
    "NsapiSecurity",
    "NsapiSocketLevel",
    "NsapiSocketOption",
    "NsapiVersion",
    "Socket",
    "SocketAddress",
    "TCPSocket",
    "TLSSocket",
    "TLSSocketWrapper",
    "UDPSocket",
    "WiFiAccessPoint",
    "WiFiInterface",
    "__version__",
    "available_drivers",
    "open_interface",
]
