"""The chip model's view of the network: the calls it makes when the host issues a socket command.

Layer: interface only. The sans-IO chip calls these synchronously while it decodes an SPI frame;
implementations must not block and must not call back into the chip from inside them (answers come later, as
chip events delivered from `poll`). Addresses are 4-byte IPv4 values as the chip stores them.
"""

from __future__ import annotations

from typing import Protocol


class NetworkPort(Protocol):
    def arp(self, next_hop: bytes, destination: bytes) -> bytes | None:
        """The MAC answering for `next_hop` when the chip sends to `destination`, or None (ARP timeout)."""
        ...

    def tcp_connect(self, sock: int, dst_ip: bytes, dst_port: int) -> None: ...

    def tcp_listen(self, sock: int, port: int) -> None: ...

    def tcp_send(self, sock: int, data: bytes) -> None: ...

    def tcp_shutdown(self, sock: int) -> None:
        """Send FIN once everything already passed to tcp_send has left."""
        ...

    def udp_open(self, sock: int, port: int) -> None: ...

    def udp_send(self, sock: int, src_port: int, dst_ip: bytes, dst_port: int, data: bytes) -> None: ...

    def release(self, sock: int) -> None:
        """Drop whatever the socket holds (connection: abortively, with RST; listener; UDP binding)."""
        ...


class NullNetwork:
    """A network with nothing on it: every ARP request goes unanswered."""

    def arp(self, next_hop: bytes, destination: bytes) -> bytes | None:
        return None

    def tcp_connect(self, sock: int, dst_ip: bytes, dst_port: int) -> None:
        pass

    def tcp_listen(self, sock: int, port: int) -> None:
        pass

    def tcp_send(self, sock: int, data: bytes) -> None:
        pass

    def tcp_shutdown(self, sock: int) -> None:
        pass

    def udp_open(self, sock: int, port: int) -> None:
        pass

    def udp_send(self, sock: int, src_port: int, dst_ip: bytes, dst_port: int, data: bytes) -> None:
        pass

    def release(self, sock: int) -> None:
        pass
