"""``W5500Stack``: netsocket's non-blocking socket primitives over the W5500's eight hardware sockets.

Layer rule: this module turns socket calls into chip-layer register sequences (``shared/reference/w5500.md`` §4)
and the chip's interrupt bits into socket callbacks; it never blocks on the network. Every primitive does a few
bounded register accesses under the chip lock and returns. A service thread raises the callbacks:

- with an interrupt line it waits on INTn (``interrupt.wait(timeout)``) and then reads the chip;
- without one it polls, ``poll_interval`` seconds apart (default 5 ms), tightening to ``busy_interval`` while a
  socket waits for something the chip does not signal (TX space freed by the peer's ACK) or for SEND_OK.
  Each poll is one SPI transaction (SIR..PHYCFGR in one frame), plus one per socket whose SIR bit is set.

Hardware sockets are reserved at ``socket_open`` (the eighth ``open`` gets NO_SOCKET when the chip has none left).
A TCP listener holds several hardware sockets in LISTEN on its port (the chip has no backlog): ``accept`` hands
the established one to a new handle and re-arms a fresh listener when a hardware socket is free.
Chip failures (a stuck register, a vanished bus) give DEVICE_ERROR, never a hang.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.stack import NetworkStack, OptionValue
from netsocket.types import NsapiProtocol, NsapiSocketLevel, NsapiSocketOption, NsapiVersion

from . import frame
from .chip import ChipError, NetworkConfig, W5500Chip
from .registers import (
    KEEPALIVE_UNIT_S,
    SOCKET_COUNT,
    UDP_HEADER_SIZE,
    UDP_MAX_PAYLOAD,
    Command,
    Common,
    Phy,
    Sn,
    SocketInterrupt,
    SocketMode,
    Status,
)

_log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.005
BUSY_INTERVAL_S = 0.0005
LINK_CHECK_INTERVAL_S = 0.25
INTERRUPT_SLICE_S = 0.02
SEND_SPIN_S = 0.002
"""How long a primitive re-reads Sn_IR for the previous SEND_OK before answering WOULD_BLOCK (chip-internal, fast)."""
CLOSE_LINGER_S = 2.0
"""How long a gracefully closed TCP socket may take to reach CLOSED before it is closed abortively."""
EPHEMERAL_PORTS = (49152, 65535)
MAX_LISTENERS = 4

_CONNECTED = frozenset({Status.ESTABLISHED, Status.CLOSE_WAIT})
_GONE = frozenset({Status.CLOSED, Status.FIN_WAIT, Status.CLOSING, Status.TIME_WAIT, Status.LAST_ACK})
"""States that end a connection. Sn_SR values outside the documented set are transient (a W5100 shows 0x01 on
a failed connect), so only these are taken as "the connection is gone"."""
_KNOWN_STATUS = frozenset(int(status) for status in Status)
STATUS_SETTLE_READS = 5
SEND_OK_GRACE_S = 0.5
"""After this long without SEND_OK the driver looks at the TX pointers: if the chip sent everything, SEND_OK was
lost (reference §6.1 item 19) and the socket goes on."""
SEND_LIMIT_S = {NsapiProtocol.TCP: 35.0, NsapiProtocol.UDP: 3.0}
"""The chip gives up by itself after TCPTO (31.8 s by default) or ARPTO (1.8 s): past these a SEND that shows
neither SEND_OK nor TIMEOUT is a chip fault (DEVICE_ERROR), never an endless wait."""
_COMMON_POLL_START = Common.SIR
_COMMON_POLL_LENGTH = Common.PHYCFGR - Common.SIR + 1


class InterruptLine(Protocol):
    """The W5500's INTn line: ``wait(timeout)`` returns True once INTn is asserted (low), False on timeout."""

    def wait(self, timeout: float) -> bool: ...


@dataclass
class _Hw:
    """Driver-side state of one hardware socket."""

    n: int
    owner: W5500Socket | None = None
    ir: int = 0  # Sn_IR bits seen (the service thread clears the chip's copy) and not yet consumed
    sr: int = Status.CLOSED
    sending: bool = False
    send_started: float = 0.0
    stall_notified: float = 0.0  # seconds after send_started up to which a missing SEND_OK was reported
    want_write: bool = False
    closing_until: float | None = None  # a TCP socket finishing a graceful close after its handle was closed


@dataclass(eq=False)
class W5500Socket:
    """A netsocket handle on the W5500 stack."""

    proto: NsapiProtocol
    hw: int | None
    port: int = 0
    state: str = "idle"  # idle | connecting | connected | listening
    listeners: list[int] = field(default_factory=list)
    backlog: int = 1
    callback: Callable[[], None] | None = None
    lost: NsapiError | None = None
    peer_closed: bool = False
    udp_open: bool = False
    keepalive: bool = False
    keepidle_ms: int = 0
    closed: bool = False


class W5500Stack(NetworkStack):
    """The W5500's hardwired TCP/IP behind netsocket's primitives (IPv4 only)."""

    def __init__(
        self,
        chip: W5500Chip,
        *,
        interrupt: InterruptLine | None = None,
        poll_interval: float = POLL_INTERVAL_S,
        busy_interval: float = BUSY_INTERVAL_S,
    ) -> None:
        self.chip = chip
        self._lock = chip.lock
        self._hw = [_Hw(n) for n in range(SOCKET_COUNT)]
        self._config = NetworkConfig()
        self._interrupt = interrupt
        self.poll_interval = poll_interval
        self.busy_interval = busy_interval
        self._next_port = random.randint(*EPHEMERAL_PORTS)
        self._link: bool | None = None
        self.link_callback: Callable[[bool], None] | None = None
        self.device_error_callback: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False
        self._deferred: set[int] = set()

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the service thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._failed = False
        self._thread = threading.Thread(target=self._service, name="w5500-service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the service thread and forget every socket (their handles then give NO_SOCKET)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        with self._lock:
            handles = {hw.owner for hw in self._hw if hw.owner is not None}
            for hw in self._hw:
                hw.owner, hw.sending, hw.want_write, hw.closing_until, hw.ir = None, False, False, None, 0
        for handle in handles:
            handle.closed = True
            self._notify(handle)

    @property
    def open_sockets(self) -> int:
        """Handles open on the stack (a listener with several hardware sockets counts once)."""
        with self._lock:
            return len({hw.owner for hw in self._hw if hw.owner is not None})

    @property
    def link_up(self) -> bool:
        return bool(self._link)

    def set_config(self, config: NetworkConfig) -> None:
        """Write the IPv4 configuration to the chip and remember it."""
        with self._lock:
            self.chip.set_network(config)
            self._config = config

    @property
    def config(self) -> NetworkConfig:
        return self._config

    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        if self._config.ip == bytes(4):
            return NsapiError.NO_ADDRESS
        address.assign(SocketAddress(self._config.ip, address.get_port()))
        return NsapiError.OK

    # -- helpers --------------------------------------------------------------------------------------------------
    def _notify(self, handle: W5500Socket | None) -> None:
        callback = handle.callback if handle is not None else None
        if callback is not None:
            try:
                callback()
            except Exception:
                _log.exception("socket callback %r raised", callback)

    def _alloc_hw(self) -> int | None:
        """A free hardware socket (finishing a lingering graceful close early if none is free)."""
        for hw in self._hw:
            if hw.owner is None and hw.closing_until is None:
                return hw.n
        lingering = [hw for hw in self._hw if hw.owner is None and hw.closing_until is not None]
        if lingering:
            hw = min(lingering, key=lambda h: h.closing_until or 0.0)
            self._abort_hw(hw.n)
            return hw.n
        return None

    def _abort_hw(self, n: int) -> None:
        hw = self._hw[n]
        hw.closing_until = None
        hw.sending = hw.want_write = False
        hw.ir = 0
        try:
            self.chip.command(n, Command.CLOSE)
            self.chip.write_socket(n, Sn.IR, bytes((SocketInterrupt.ALL,)))
        except ChipError as exc:
            _log.warning("W5500 socket %d: CLOSE failed: %s", n, exc)
        hw.sr = Status.CLOSED

    def _ports_in_use(self, proto: NsapiProtocol) -> set[int]:
        return {hw.owner.port for hw in self._hw if hw.owner is not None and hw.owner.proto == proto and hw.owner.port}

    def _ephemeral_port(self, proto: NsapiProtocol) -> int:
        used = self._ports_in_use(proto)
        low, high = EPHEMERAL_PORTS
        for _ in range(high - low + 1):
            port = self._next_port
            self._next_port = low if port >= high else port + 1
            if port not in used:
                return port
        return 0

    def _poll_hw(self, n: int) -> tuple[int, int]:
        """Read Sn_IR and Sn_SR in one frame, clear the bits seen, merge them into the sticky copy."""
        data = self.chip.read_socket(n, Sn.IR, 2)
        bits, sr = data[0] & SocketInterrupt.ALL, data[1]
        if bits:
            self.chip.write_socket(n, Sn.IR, bytes((bits,)))
        hw = self._hw[n]
        hw.ir |= bits
        hw.sr = sr
        if bits and threading.current_thread() is not self._thread:
            # A primitive cleared bits the service thread will not see: it notifies the owner on its next round
            # (another thread may be waiting for exactly this RECV or SEND_OK).
            self._deferred.add(n)
            self._wake.set()
        return hw.ir, sr

    def _open_hw(self, n: int, mode: SocketMode, port: int) -> NsapiError:
        """Sn_MR, Sn_PORT, OPEN; check Sn_SR."""
        hw = self._hw[n]
        hw.ir, hw.sending, hw.want_write = 0, False, False
        self.chip.write_socket(n, Sn.MR, bytes((mode,)))
        self.chip.write_socket(n, Sn.IR, bytes((SocketInterrupt.ALL,)))
        self.chip.write_socket(n, Sn.PORT, frame.u16_bytes(port))
        self.chip.command(n, Command.OPEN)
        sr = self._settled_status(n)
        expected = Status.UDP if mode & 0x0F == SocketMode.UDP else Status.INIT
        if sr != expected:
            _log.warning("W5500 socket %d: OPEN left Sn_SR=%#04x", n, sr)
            return NsapiError.DEVICE_ERROR
        return NsapiError.OK

    def _listen_hw(self, n: int, port: int) -> NsapiError:
        err = self._open_hw(n, SocketMode.TCP | SocketMode.ND, port)
        if err != NsapiError.OK:
            return err
        self.chip.command(n, Command.LISTEN)
        sr = self._settled_status(n)
        return NsapiError.OK if sr == Status.LISTEN else NsapiError.DEVICE_ERROR

    def _settled_status(self, n: int) -> int:
        """Sn_SR, re-read (a bounded number of times) while it shows an undocumented transient value."""
        for _ in range(STATUS_SETTLE_READS):
            sr = self.chip.read_socket(n, Sn.SR)[0]
            if sr in _KNOWN_STATUS:
                break
        self._hw[n].sr = sr
        return sr

    def _guard(self, handle: W5500Socket) -> NsapiError | None:
        if not isinstance(handle, W5500Socket) or handle.closed:
            return NsapiError.NO_SOCKET
        if self._failed:
            return NsapiError.DEVICE_ERROR
        return None

    def _device_error(self, exc: ChipError) -> NsapiError:
        _log.error("W5500: %s", exc)
        return NsapiError.DEVICE_ERROR

    def _wait_previous_send(self, handle: W5500Socket, n: int) -> NsapiError | None:
        """None when the hardware socket may SEND again; WOULD_BLOCK or an error otherwise."""
        hw = self._hw[n]
        if not hw.sending:
            return None
        end = time.monotonic() + SEND_SPIN_S
        while True:
            bits, sr = self._poll_hw(n)
            if bits & SocketInterrupt.SEND_OK:
                hw.ir &= ~SocketInterrupt.SEND_OK
                hw.sending = False
                return None
            if bits & SocketInterrupt.TIMEOUT:
                hw.ir &= ~SocketInterrupt.TIMEOUT
                hw.sending = False
                if handle.proto == NsapiProtocol.UDP:
                    _log.info("W5500 socket %d: a datagram was not sent (ARP timeout)", n)
                    return None
                handle.lost = NsapiError.CONNECTION_LOST
                return NsapiError.CONNECTION_LOST
            if handle.proto == NsapiProtocol.TCP and sr in _GONE:
                hw.sending = False
                handle.lost = NsapiError.CONNECTION_LOST
                return NsapiError.CONNECTION_LOST
            elapsed = time.monotonic() - hw.send_started
            if elapsed >= SEND_OK_GRACE_S:
                pointers = self.chip.read_socket(n, Sn.TX_RD, 4)
                if frame.u16(pointers, 0) == frame.u16(pointers, 2):
                    _log.warning("W5500 socket %d: SEND completed without SEND_OK", n)
                    hw.sending = False
                    return None
                if elapsed >= SEND_LIMIT_S[handle.proto]:
                    _log.error("W5500 socket %d: SEND neither completed nor timed out in %.0f s", n, elapsed)
                    hw.sending = False
                    return NsapiError.DEVICE_ERROR
            if time.monotonic() >= end:
                self._wake.set()
                return NsapiError.WOULD_BLOCK
            time.sleep(0.0001)

    def _write_and_send(self, n: int, data: bytes | memoryview, tx_wr: int) -> None:
        self.chip.write_tx_buffer(n, tx_wr, data)
        self.chip.write_socket(n, Sn.TX_WR, frame.u16_bytes(tx_wr + len(data)))
        self.chip.command(n, Command.SEND)
        hw = self._hw[n]
        hw.sending, hw.send_started, hw.want_write, hw.stall_notified = True, time.monotonic(), False, 0.0
        self._wake.set()

    # -- primitives -----------------------------------------------------------------------------------------------
    def socket_open(self, proto: NsapiProtocol) -> tuple[NsapiError, W5500Socket | None]:
        if proto not in (NsapiProtocol.TCP, NsapiProtocol.UDP):
            return NsapiError.UNSUPPORTED, None
        if self._failed:
            return NsapiError.DEVICE_ERROR, None
        with self._lock:
            n = self._alloc_hw()
            if n is None:
                return NsapiError.NO_SOCKET, None
            handle = W5500Socket(NsapiProtocol(proto), n)
            self._hw[n].owner = handle
        return NsapiError.OK, handle

    def socket_close(self, handle: W5500Socket) -> NsapiError:
        if not isinstance(handle, W5500Socket) or handle.closed:
            return NsapiError.NO_SOCKET
        with self._lock:
            handle.closed = True
            owned = [hw for hw in self._hw if hw.owner is handle]
            for hw in owned:
                hw.owner = None
                try:
                    if handle.proto == NsapiProtocol.TCP and hw.sr in _CONNECTED and not self._failed:
                        # Orderly close (DISCON also from CLOSE_WAIT, so the peer is not left in FIN_WAIT_2);
                        # the service thread CLOSEs the socket once it reaches CLOSED or the linger time passes.
                        self.chip.command(hw.n, Command.DISCON)
                        hw.closing_until = time.monotonic() + CLOSE_LINGER_S
                        hw.sending = hw.want_write = False
                    else:
                        self._abort_hw(hw.n)
                except ChipError as exc:
                    self._device_error(exc)
                    hw.closing_until = None
            self._rearm_listeners()
        return NsapiError.OK

    def socket_bind(self, handle: W5500Socket, address: SocketAddress) -> NsapiError:
        err = self._guard(handle)
        if err is not None:
            return err
        if address.get_ip_version() == NsapiVersion.IPv6:
            return NsapiError.PARAMETER
        if address and address.get_ip_bytes() != self._config.ip:
            return NsapiError.PARAMETER
        with self._lock:
            if handle.port:
                return NsapiError.PARAMETER
            port = address.get_port()
            if port and port in self._ports_in_use(handle.proto):
                return NsapiError.PARAMETER
            if not port:
                port = self._ephemeral_port(handle.proto)
            handle.port = port
            if handle.proto == NsapiProtocol.UDP:
                return self._open_udp(handle)
        return NsapiError.OK

    def _open_udp(self, handle: W5500Socket) -> NsapiError:
        if handle.udp_open:
            return NsapiError.OK
        if not handle.port:
            handle.port = self._ephemeral_port(handle.proto)
        assert handle.hw is not None
        try:
            err = self._open_hw(handle.hw, SocketMode.UDP, handle.port)
        except ChipError as exc:
            return self._device_error(exc)
        handle.udp_open = err == NsapiError.OK
        return err

    def socket_listen(self, handle: W5500Socket, backlog: int) -> NsapiError:
        err = self._guard(handle)
        if err is not None:
            return err
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        with self._lock:
            if handle.state == "listening":
                return NsapiError.OK
            if handle.state != "idle" or handle.hw is None:
                return NsapiError.PARAMETER
            if not handle.port:
                handle.port = self._ephemeral_port(handle.proto)
            handle.backlog = max(1, min(backlog, MAX_LISTENERS))
            try:
                err = self._listen_hw(handle.hw, handle.port)
                if err != NsapiError.OK:
                    return err
                handle.listeners = [handle.hw]
                handle.state = "listening"
                self._rearm_listeners()
            except ChipError as exc:
                return self._device_error(exc)
        return NsapiError.OK

    def _rearm_listeners(self) -> None:
        """Give listeners with fewer hardware sockets than their backlog a new LISTEN socket, keeping two sockets
        free for clients of other sockets."""
        for handle in {hw.owner for hw in self._hw if hw.owner is not None}:
            if handle.state != "listening" or handle.closed:
                continue
            while len(handle.listeners) < handle.backlog:
                free = [hw for hw in self._hw if hw.owner is None and hw.closing_until is None]
                if not free or (handle.listeners and len(free) <= 2):
                    break
                n = free[0].n
                self._hw[n].owner = handle
                try:
                    err = self._listen_hw(n, handle.port)
                except ChipError as exc:
                    self._device_error(exc)
                    err = NsapiError.DEVICE_ERROR
                if err != NsapiError.OK:
                    self._hw[n].owner = None
                    break
                handle.listeners.append(n)

    def socket_accept(self, handle: W5500Socket) -> tuple[NsapiError, W5500Socket | None, SocketAddress | None]:
        err = self._guard(handle)
        if err is not None:
            return err, None, None
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED, None, None
        if handle.state != "listening":
            return NsapiError.PARAMETER, None, None
        with self._lock:
            try:
                for n in list(handle.listeners):
                    _, sr = self._poll_hw(n)
                    if sr in _CONNECTED:
                        peer_raw = self.chip.read_socket(n, Sn.DIPR, 6)
                        peer = SocketAddress(peer_raw[:4], frame.u16(peer_raw, 4))
                        handle.listeners.remove(n)
                        accepted = W5500Socket(NsapiProtocol.TCP, n, port=handle.port, state="connected")
                        hw = self._hw[n]
                        hw.owner, hw.ir = accepted, 0
                        if handle.keepalive:
                            accepted.keepalive, accepted.keepidle_ms = True, handle.keepidle_ms
                            self._write_keepalive(accepted)
                        if handle.hw == n:
                            handle.hw = None
                        self._rearm_listeners()
                        return NsapiError.OK, accepted, peer
                    # A half-open attempt that failed (RST/timeout) leaves CLOSED: listen again.
                    if sr == Status.CLOSED and self._listen_hw(n, handle.port) != NsapiError.OK:
                        handle.listeners.remove(n)
                        self._hw[n].owner = None
                if not handle.listeners:
                    self._rearm_listeners()
            except ChipError as exc:
                return self._device_error(exc), None, None
        return NsapiError.WOULD_BLOCK, None, None

    def socket_connect(self, handle: W5500Socket, address: SocketAddress) -> NsapiError:
        err = self._guard(handle)
        if err is not None:
            return err
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        if address.get_ip_version() != NsapiVersion.IPv4 or not address or not address.get_port():
            return NsapiError.PARAMETER
        with self._lock:
            n = handle.hw
            if n is None:
                return NsapiError.NO_SOCKET
            try:
                if handle.state == "connected":
                    return NsapiError.IS_CONNECTED
                if handle.state == "connecting":
                    bits, sr = self._poll_hw(n)
                    if sr in _CONNECTED:
                        handle.state = "connected"
                        return NsapiError.IS_CONNECTED
                    if sr == Status.CLOSED:
                        handle.state = "idle"
                        self._hw[n].ir = 0
                        if bits & SocketInterrupt.TIMEOUT:
                            return NsapiError.CONNECTION_TIMEOUT
                        return NsapiError.NO_CONNECTION
                    return NsapiError.ALREADY
                if handle.state != "idle":
                    return NsapiError.PARAMETER
                if self._config.ip == bytes(4) or not self._link:
                    return NsapiError.NO_CONNECTION
                port = handle.port or self._ephemeral_port(handle.proto)
                err = self._open_hw(n, SocketMode.TCP | SocketMode.ND, port)
                if err != NsapiError.OK:
                    return err
                handle.port = port
                self._write_keepalive(handle)
                self.chip.write_socket(n, Sn.DIPR, address.get_ip_bytes() + frame.u16_bytes(address.get_port()))
                self.chip.command(n, Command.CONNECT)
                handle.state = "connecting"
                handle.lost, handle.peer_closed = None, False
            except ChipError as exc:
                return self._device_error(exc)
        self._wake.set()
        return NsapiError.IN_PROGRESS

    def socket_send(self, handle: W5500Socket, data: bytes | memoryview) -> int:
        err = self._guard(handle)
        if err is not None:
            return err
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        with self._lock:
            n = handle.hw
            if handle.lost is not None:
                return handle.lost
            if handle.state != "connected" or n is None:
                return NsapiError.NO_CONNECTION
            if len(data) == 0:
                return 0
            try:
                pending = self._wait_previous_send(handle, n)
                if pending is not None:
                    return pending
                if self._hw[n].sr in _GONE:
                    handle.lost = NsapiError.CONNECTION_LOST
                    return handle.lost
                free, tx_wr = self.chip.tx_state(n)
                if free == 0:
                    self._hw[n].want_write = True
                    self._wake.set()
                    return NsapiError.WOULD_BLOCK
                chunk = memoryview(data)[: min(len(data), free)]
                self._write_and_send(n, chunk, tx_wr)
                return len(chunk)
            except ChipError as exc:
                return self._device_error(exc)

    def socket_recv(self, handle: W5500Socket, buffer: memoryview) -> int:
        err = self._guard(handle)
        if err is not None:
            return err
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        with self._lock:
            n = handle.hw
            if handle.state != "connected" or n is None:
                return handle.lost if handle.lost is not None else NsapiError.NO_CONNECTION
            try:
                size, rx_rd = self.chip.rx_state(n)
                if size == 0:
                    # Sn_SR before a second look at RSR: once the peer's FIN is in, no more data can arrive.
                    _, sr = self._poll_hw(n)
                    if sr not in _GONE and sr != Status.CLOSE_WAIT:
                        return NsapiError.WOULD_BLOCK
                    size, rx_rd = self.chip.rx_state(n)
                    if size == 0:
                        # CLOSED without an earlier CLOSE_WAIT is a reset (or a chip timeout), not an orderly end.
                        if sr == Status.CLOSE_WAIT or (sr == Status.CLOSED and handle.peer_closed):
                            handle.peer_closed = True
                            return 0
                        if sr == Status.CLOSED:
                            handle.lost = NsapiError.CONNECTION_LOST
                            return handle.lost
                        return NsapiError.WOULD_BLOCK
                count = min(size, len(buffer))
                if count == 0:
                    return 0
                buffer[:count] = self.chip.read_rx_buffer(n, rx_rd, count)
                self.chip.write_socket(n, Sn.RX_RD, frame.u16_bytes(rx_rd + count))
                self.chip.command(n, Command.RECV)
                return count
            except ChipError as exc:
                return self._device_error(exc)

    def socket_sendto(self, handle: W5500Socket, address: SocketAddress, data: bytes | memoryview) -> int:
        err = self._guard(handle)
        if err is not None:
            return err
        if handle.proto == NsapiProtocol.TCP:
            return self.socket_send(handle, data)
        if address.get_ip_version() != NsapiVersion.IPv4 or not address.get_port():
            return NsapiError.PARAMETER
        if len(data) > UDP_MAX_PAYLOAD:
            return NsapiError.PARAMETER
        with self._lock:
            n = handle.hw
            if n is None:
                return NsapiError.NO_SOCKET
            err = self._open_udp(handle)
            if err != NsapiError.OK:
                return err
            if len(data) == 0:
                return 0  # the chip's SEND with nothing to send is unverified; an empty datagram is not sent
            try:
                pending = self._wait_previous_send(handle, n)
                if pending is not None:
                    return pending
                free, tx_wr = self.chip.tx_state(n)
                if free < len(data):
                    self._hw[n].want_write = True
                    self._wake.set()
                    return NsapiError.WOULD_BLOCK
                self.chip.write_socket(n, Sn.DIPR, address.get_ip_bytes() + frame.u16_bytes(address.get_port()))
                self._write_and_send(n, data, tx_wr)
                return len(data)
            except ChipError as exc:
                return self._device_error(exc)

    def socket_recvfrom(self, handle: W5500Socket, buffer: memoryview) -> tuple[int, SocketAddress | None]:
        err = self._guard(handle)
        if err is not None:
            return err, None
        if handle.proto == NsapiProtocol.TCP:
            return self.socket_recv(handle, buffer), None
        with self._lock:
            n = handle.hw
            if n is None or not handle.udp_open:
                return NsapiError.WOULD_BLOCK, None
            try:
                size, rx_rd = self.chip.rx_state(n)
                if size == 0:
                    return NsapiError.WOULD_BLOCK, None
                # Header and payload in one burst; reading past a short datagram into the next one is harmless.
                want = min(size, UDP_HEADER_SIZE + len(buffer))
                if size < UDP_HEADER_SIZE:
                    return self._resync(n, "RSR shorter than a UDP header"), None
                raw = self.chip.read_rx_buffer(n, rx_rd, max(want, UDP_HEADER_SIZE))
                length = frame.u16(raw, 6)
                if length > size - UDP_HEADER_SIZE:
                    return self._resync(n, f"UDP header claims {length} bytes, {size - 8} buffered"), None
                sender = SocketAddress(raw[:4], frame.u16(raw, 4))
                count = min(length, len(buffer))
                buffer[:count] = raw[UDP_HEADER_SIZE : UDP_HEADER_SIZE + count]
                self.chip.write_socket(n, Sn.RX_RD, frame.u16_bytes(rx_rd + UDP_HEADER_SIZE + length))
                self.chip.command(n, Command.RECV)
                return count, sender
            except ChipError as exc:
                return self._device_error(exc), None

    def _resync(self, n: int, why: str) -> NsapiError:
        """Drop everything buffered (RX_RD := RX_WR) after a corrupt UDP header; the loss is logged."""
        _log.warning("W5500 socket %d: %s; dropping the receive buffer", n, why)
        rx_wr = self.chip.read_socket(n, Sn.RX_WR, 2)
        self.chip.write_socket(n, Sn.RX_RD, rx_wr)
        self.chip.command(n, Command.RECV)
        return NsapiError.WOULD_BLOCK

    def socket_attach(self, handle: W5500Socket, callback: Callable[[], None] | None) -> None:
        if isinstance(handle, W5500Socket):
            handle.callback = callback

    # -- options --------------------------------------------------------------------------------------------------
    def setsockopt(self, handle: W5500Socket, level: int, optname: int, value: OptionValue) -> NsapiError:
        err = self._guard(handle)
        if err is not None:
            return err
        if level != NsapiSocketLevel.SOCKET or handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        number = int.from_bytes(value, "little") if isinstance(value, bytes) else int(value)
        if optname == NsapiSocketOption.KEEPALIVE:
            handle.keepalive = bool(number)
        elif optname == NsapiSocketOption.KEEPIDLE:
            if number < 0:
                return NsapiError.PARAMETER
            handle.keepidle_ms = number
        else:
            return NsapiError.UNSUPPORTED
        with self._lock:
            try:
                self._write_keepalive(handle)
            except ChipError as exc:
                return self._device_error(exc)
        return NsapiError.OK

    def getsockopt(self, handle: W5500Socket, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        err = self._guard(handle)
        if err is not None:
            return err, None
        if level == NsapiSocketLevel.SOCKET and handle.proto == NsapiProtocol.TCP:
            if optname == NsapiSocketOption.KEEPALIVE:
                return NsapiError.OK, int(handle.keepalive)
            if optname == NsapiSocketOption.KEEPIDLE:
                return NsapiError.OK, handle.keepidle_ms
        return NsapiError.UNSUPPORTED, None

    def _write_keepalive(self, handle: W5500Socket) -> None:
        """Sn_KPALVTR in 5-second units (at least 1 when enabled; default idle 10 s)."""
        if handle.hw is None:
            return
        units = 0
        if handle.keepalive:
            idle_s = handle.keepidle_ms / 1000 if handle.keepidle_ms else 2 * KEEPALIVE_UNIT_S
            units = max(1, min(255, round(idle_s / KEEPALIVE_UNIT_S)))
        self.chip.write_socket(handle.hw, Sn.KPALVTR, bytes((units,)))

    # -- the service thread ---------------------------------------------------------------------------------------
    def _busy(self) -> bool:
        """Something the chip will not announce through Sn_IR is awaited (TX space, a refused CONNECT), or a
        notification is owed: poll at ``busy_interval``. (A closing socket's end raises DISCON or TIMEOUT.)"""
        return (
            bool(self._deferred)
            or any(hw.sending or hw.want_write for hw in self._hw)
            or any(hw.owner is not None and hw.owner.state == "connecting" for hw in self._hw)
        )

    def _service(self) -> None:
        idle_for = 0.0
        while not self._stop.is_set():
            busy = self._busy()
            if self._interrupt is not None and not busy:
                # Wait for INTn in short slices so a wake-up from a primitive (deferred notification) is not
                # delayed; a slice that ends with neither costs no SPI traffic until the link check is due.
                asserted = self._interrupt.wait(INTERRUPT_SLICE_S)
                if not asserted and not self._wake.is_set():
                    idle_for += INTERRUPT_SLICE_S
                    if idle_for < LINK_CHECK_INTERVAL_S:
                        continue
                idle_for = 0.0
                self._wake.clear()
            else:
                self._wake.wait(self.busy_interval if busy else self.poll_interval)
                self._wake.clear()
            if self._stop.is_set():
                return
            try:
                notify, link = self._service_once()
            except ChipError as exc:
                self._fail(exc)
                return
            for handle in notify:
                self._notify(handle)
            if link != self._link:
                self._link = link
                callback = self.link_callback
                if callback is not None:
                    callback(link)

    def _service_once(self) -> tuple[list[W5500Socket], bool]:
        """One round: SIR..PHYCFGR in one frame, then each socket whose SIR bit is set (Sn_IMR is left at its
        reset value 0xFF, so every Sn_IR bit shows in SIR). Returns whom to notify and the link state."""
        notify: list[W5500Socket] = []
        with self._lock:
            common = self.chip.read_common(_COMMON_POLL_START, _COMMON_POLL_LENGTH)
            sir = common[0]
            link = bool(common[-1] & Phy.LNK)
            now = time.monotonic()
            deferred, self._deferred = self._deferred, set()
            for hw in self._hw:
                owner = hw.owner
                if hw.n in deferred and owner is not None:
                    notify.append(owner)
                # A refused CONNECT closes the socket without raising any Sn_IR bit: watch Sn_SR meanwhile.
                connecting = owner is not None and owner.state == "connecting"
                if sir & (1 << hw.n) or connecting:
                    before = hw.sr
                    self._poll_hw(hw.n)
                    if owner is not None and (sir & (1 << hw.n) or hw.sr != before):
                        notify.append(owner)
                if hw.closing_until is not None:
                    if hw.sr == Status.CLOSED or now >= hw.closing_until:
                        self._abort_hw(hw.n)
                        self._rearm_listeners()
                    continue
                if hw.sending and owner is not None and now - hw.send_started >= hw.stall_notified + SEND_OK_GRACE_S:
                    hw.stall_notified += SEND_OK_GRACE_S  # let the primitive look at the TX pointers
                    notify.append(owner)
                if hw.want_write and owner is not None:
                    free, _ = self.chip.tx_state(hw.n)
                    if free > 0:
                        hw.want_write = False
                        notify.append(owner)
            if link != self._link:
                notify.extend(hw.owner for hw in self._hw if hw.owner is not None)
        return list(dict.fromkeys(notify)), link

    def _fail(self, exc: ChipError) -> None:
        """The chip stopped answering: every call now gives DEVICE_ERROR; wake every socket."""
        _log.error("W5500 service thread stopped: %s", exc)
        self._failed = True
        with self._lock:
            handles = list(dict.fromkeys(hw.owner for hw in self._hw if hw.owner is not None))
        for handle in handles:
            self._notify(handle)
        callback = self.device_error_callback
        if callback is not None:
            callback()
