"""``SocketAddress``: an IPv4 or IPv6 address and a port, with Mbed's value semantics.

Only literal addresses are parsed here; names go through ``NetworkInterface.gethostbyname``. Invalid text gives an
empty (unspecified) address, as Mbed's ``set_ip_address`` does, never an exception.
"""

from __future__ import annotations

import ipaddress

from netsocket.types import NsapiVersion

_SIZES = {NsapiVersion.IPv4: 4, NsapiVersion.IPv6: 16}


class SocketAddress:
    """An IP address (v4 or v6, or unspecified) and a port.

    ``bool(addr)`` is true when any address byte is non-zero (so ``0.0.0.0`` and ``::`` are false, as in Mbed).
    Two false addresses compare equal whatever their ports; otherwise version, bytes and port must all match.
    """

    __slots__ = ("_bytes", "_port", "_version")

    def __init__(self, addr: str | bytes | bytearray | SocketAddress | None = None, port: int = 0) -> None:
        self._version = NsapiVersion.UNSPEC
        self._bytes = b""
        self._port = 0
        if isinstance(addr, SocketAddress):
            self._version, self._bytes, self._port = addr._version, addr._bytes, addr._port
            if port:
                self.set_port(port)
            return
        if isinstance(addr, str):
            self.set_ip_address(addr)
        elif isinstance(addr, (bytes, bytearray)):
            version = {4: NsapiVersion.IPv4, 16: NsapiVersion.IPv6}.get(len(addr))
            if version is None:
                raise ValueError(f"an IP address is 4 or 16 bytes, not {len(addr)}")
            self.set_ip_bytes(bytes(addr), version)
        elif addr is not None:
            raise TypeError(f"SocketAddress takes a str, bytes or SocketAddress, not {type(addr).__name__}")
        self.set_port(port)

    def set_ip_address(self, addr: str) -> bool:
        """Parse a literal IPv4 or IPv6 address; on failure the address becomes unspecified and False returns."""
        if not isinstance(addr, str):
            raise TypeError("set_ip_address takes a str")
        try:
            parsed = ipaddress.ip_address(addr.strip("[]") if addr.startswith("[") else addr)
        except ValueError:
            self._version, self._bytes = NsapiVersion.UNSPEC, b""
            return False
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id:
            self._version, self._bytes = NsapiVersion.UNSPEC, b""
            return False
        self._version = NsapiVersion.IPv4 if parsed.version == 4 else NsapiVersion.IPv6
        self._bytes = parsed.packed
        return True

    def get_ip_address(self) -> str | None:
        """The address as text (``1.2.3.4``, ``::1``), or None when unspecified."""
        if self._version == NsapiVersion.UNSPEC:
            return None
        return str(ipaddress.ip_address(self._bytes))

    def set_ip_bytes(self, data: bytes, version: NsapiVersion) -> None:
        """Set the address from its network-order bytes (4 for IPv4, 16 for IPv6; UNSPEC clears it)."""
        version = NsapiVersion(version)
        if version == NsapiVersion.UNSPEC:
            self._version, self._bytes = version, b""
            return
        if len(data) != _SIZES[version]:
            raise ValueError(f"{version.name} needs {_SIZES[version]} bytes, got {len(data)}")
        self._version, self._bytes = version, bytes(data)

    def get_ip_bytes(self) -> bytes:
        """The address in network order: 4 or 16 bytes, or 16 zero bytes when unspecified (as Mbed)."""
        return self._bytes or bytes(16)

    def get_ip_version(self) -> NsapiVersion:
        return self._version

    def get_port(self) -> int:
        return self._port

    def set_port(self, port: int) -> None:
        """Set the port (0..65535)."""
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("a port is an int")
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"port {port} is outside 0..65535")
        self._port = port

    def __bool__(self) -> bool:
        return any(self._bytes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SocketAddress):
            return NotImplemented
        if not self and not other:
            return True
        return (self._version, self._bytes, self._port) == (other._version, other._bytes, other._port)

    def __hash__(self) -> int:
        if not self:
            return hash(None)
        return hash((self._version, self._bytes, self._port))

    def __str__(self) -> str:
        ip = self.get_ip_address()
        if ip is None:
            return f"<unspecified>:{self._port}"
        if self._version == NsapiVersion.IPv6:
            return f"[{ip}]:{self._port}"
        return f"{ip}:{self._port}"

    def __repr__(self) -> str:
        return f"SocketAddress({self.get_ip_address()!r}, {self._port})"

    def assign(self, other: SocketAddress) -> None:
        """Copy ``other`` into this object (Mbed's ``operator=``), for calls that fill an address in."""
        self._version, self._bytes, self._port = other._version, other._bytes, other._port

    def to_tuple(self) -> tuple[str, int]:
        """``(ip, port)`` for Python's socket module; ``('', port)`` when unspecified."""
        return (self.get_ip_address() or "", self._port)
