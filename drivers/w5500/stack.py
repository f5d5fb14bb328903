"""``W5500Stack``: netsocket's non-blocking socket primitives over the W5500's eight hardware sockets.

Layer rule: this module turns socket calls into chip-layer register sequences (``shared/reference/w5500.md`` §4)
and the chip's interrupt bits into socket callbacks; it never blocks on the network. Every primitive does a few
bounded register accesses under the stack lock and returns; it never sleeps or spins waiting for the chip.

The service thread is the one owner of the interrupt registers: it alone reads and acknowledges SIR and Sn_IR
(OPEN and CLOSE discard a socket's stale bits, under the stack lock), keeps the bits it saw for the primitives,
and raises the callbacks. It sleeps until its next deadline:

- with an interrupt line it waits on INTn (``interrupt.wait(timeout)``), woken early by a primitive through the
  line's ``wakeup()``; it reads the chip when INTn falls, when a socket's deadline comes, and every
  ``LINK_CHECK_INTERVAL_S`` for the link;
- without one it polls ``poll_interval`` seconds apart (default 5 ms).
A socket waiting for something the chip does not signal (TX space freed by the peer's ACK, a refused CONNECT) or,
without INTn, for SEND_OK is looked at after ``busy_interval`` (0.5 ms), then at doubling intervals up to
``poll_interval``: a short wait is noticed at once and a long one costs no more than idle polling. Each round is
one SPI transaction (SIR..VERSIONR in one frame), plus one per socket with something to look at.

Locks: the stack lock (socket state and register sequences), then the chip's bus lock (one transaction). Neither
is held while waiting, and callbacks run with no lock held, so no cycle can form between a primitive, the service
thread and the bus. A command the chip does not take at once (Sn_CR still set when read back) is waited for with
the stack lock released (``_command``): the socket is marked busy meanwhile, so nothing else touches it or reuses it,
and only a second command on the same socket waits for it; other sockets and the service thread go on.

A chip that answers with values no W5500 shows (VERSIONR not 0x04, non-zero reserved registers, impossible
counters: MISO stuck at 0xFF after bring-up) is taken as gone: every call gives DEVICE_ERROR, the interface reports
DISCONNECTED, no byte read from it reaches the application, and the service thread stops using the bus until the
interface is connected again.

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
from netsocket.deadline import interruptible
from netsocket.errors import NsapiError
from netsocket.stack import NetworkStack, OptionValue
from netsocket.types import NsapiProtocol, NsapiSocketLevel, NsapiSocketOption, NsapiVersion

from . import frame
from .chip import ChipError, ChipGarbage, ChipTimeout, NetworkConfig, W5500Chip
from .registers import (
    CHIP_VERSION,
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
"""How long one wait on an interrupt line without ``wakeup()`` lasts (a user's own line object), so a primitive's
request for an earlier look is not delayed by more than this."""
CLOSE_LINGER_S = 2.0
"""How long a gracefully closed TCP socket may take to reach CLOSED before it is closed abortively."""
EPHEMERAL_PORTS = (49152, 65535)
PROBE_PORT = 9
PROBE_RETRY = bytes((0x03, 0xE8, 2))
"""RTR = 1000 (100 ms) and RCR = 2 while an address is probed: the ARP gives up after 300 ms."""
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
_COMMON_POLL_LENGTH = Common.VERSIONR - Common.SIR + 1
_PHYCFGR_AT = Common.PHYCFGR - Common.SIR
_RESERVED = slice(Common.PHYCFGR - Common.SIR + 1, Common.VERSIONR - Common.SIR)
"""0x002F..0x0038 are reserved and read 0 on a W5500; with VERSIONR (0x04) they vouch for every poll's data."""


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
    look_at: float | None = None  # when the service thread looks at this socket again (a wait the chip won't signal)
    look_step: float = 0.0
    command_ticket: int = 0  # commands on this socket are written in turn: the next turn to hand out
    command_turn: int = 0  # and the turn now being served (a command being written, or waited for unlocked)

    @property
    def command_busy(self) -> bool:
        """A command on this socket is being written or waited for, or queued behind one."""
        return self.command_ticket != self.command_turn

    @property
    def free(self) -> bool:
        """Nobody owns it, it is not finishing a close, and no command on it is still being waited for."""
        return self.owner is None and self.closing_until is None and not self.command_busy


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
        self._lock = threading.RLock()
        self._command_done = threading.Condition(self._lock)
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
        self._failure: ChipError | None = None
        self._last_round = 0.0

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the service thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._failed, self._failure = False, None
        self._thread = threading.Thread(target=self._service, name="w5500-service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the service thread and forget every socket (their handles then give NO_SOCKET)."""
        self._stop.set()
        self._kick()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        with self._lock:
            handles = {hw.owner for hw in self._hw if hw.owner is not None}
            for hw in self._hw:
                hw.owner, hw.sending, hw.want_write, hw.closing_until, hw.ir = None, False, False, None, 0
                hw.look_at = None
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
            if hw.free:
                return hw.n
        lingering = [hw for hw in self._hw if hw.owner is None and hw.closing_until is not None and not hw.command_busy]
        if lingering:
            hw = min(lingering, key=lambda h: h.closing_until or 0.0)
            self._abort_hw(hw.n)
            return hw.n
        return None

    def _abort_hw(self, n: int) -> None:
        hw = self._hw[n]
        hw.closing_until = None
        hw.look_at = None
        hw.sending = hw.want_write = False
        hw.ir = 0
        try:
            self._command(n, Command.CLOSE)
            self.chip.write_socket(n, Sn.IR, bytes((SocketInterrupt.ALL,)))
        except ChipError as exc:
            _log.warning("W5500 socket %d: CLOSE failed: %s", n, exc)
        hw.sr = Status.CLOSED

    def _command(self, n: int, command: Command) -> None:
        """``command`` on socket ``n``, with the stack lock held by the caller. Nearly always the chip takes it at
        once; otherwise the wait for Sn_CR to read 0 (bounded by the chip's ``command_timeout``, ``ChipTimeout``
        after it) happens with the stack lock released, socket ``n`` marked busy so that it is not reused
        meanwhile. Commands on one socket are written in turn (first come, first served), so a thread that
        commands a socket again and again (a sender) cannot keep another one's command (a receiver's RECV) out;
        each turn is bounded, so every wait for a turn is too."""
        hw = self._hw[n]
        ticket = hw.command_ticket
        hw.command_ticket += 1
        try:
            while hw.command_turn != ticket:
                self._command_done.wait(interruptible(None))
            if self.chip.start_command(n, command):
                return
            deadline = time.monotonic() + self.chip.command_timeout
            pause = 0.0001
            while True:
                self._command_done.wait(pause)  # releases the stack lock (every level of it) while the chip is busy
                if self.chip.command_taken(n):
                    return
                if time.monotonic() >= deadline:
                    raise ChipTimeout(f"socket {n}: Sn_CR stayed non-zero after {command.name}")
                pause = min(pause * 2, 0.005)
        finally:
            hw.command_turn += 1
            self._command_done.notify_all()

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

    def _acknowledge(self, n: int) -> tuple[int, int]:
        """Service thread only: read Sn_IR and Sn_SR in one frame, acknowledge the bits seen, keep them in the
        sticky copy for the primitives. ``ChipGarbage`` for bits a W5500 never sets."""
        data = self.chip.read_socket(n, Sn.IR, 2)
        if data[0] & ~SocketInterrupt.ALL & 0xFF:
            raise ChipGarbage(f"socket {n}: Sn_IR reads {data[0]:#04x}")
        bits, sr = data[0], data[1]
        if bits:
            self.chip.write_socket(n, Sn.IR, bytes((bits,)))
        hw = self._hw[n]
        hw.ir |= bits
        hw.sr = sr
        if hw.sending and hw.ir & SocketInterrupt.SEND_OK:
            hw.ir &= ~SocketInterrupt.SEND_OK
            hw.sending = False
        return hw.ir, sr

    def _status(self, n: int) -> int:
        """Sn_SR now (a status register, not an interrupt one: any thread may read it)."""
        sr = self.chip.read_socket(n, Sn.SR)[0]
        self._hw[n].sr = sr
        return sr

    def _unacknowledged(self, n: int) -> bool:
        """Whether socket ``n`` has Sn_IR bits the service thread has not taken yet (its SIR bit, read only)."""
        return bool(self.chip.read_common(Common.SIR)[0] & (1 << n))

    def _look_soon(self, n: int) -> None:
        """Ask the service thread to look at socket ``n`` after ``busy_interval``, then at doubling intervals."""
        hw = self._hw[n]
        soon = time.monotonic() + self.busy_interval
        if hw.look_at is None or soon < hw.look_at:
            hw.look_at, hw.look_step = soon, self.busy_interval
        self._kick()

    def _kick(self) -> None:
        self._wake.set()
        wakeup = getattr(self._interrupt, "wakeup", None)
        if wakeup is not None:
            wakeup()

    def _open_hw(self, n: int, mode: SocketMode, port: int) -> NsapiError:
        """Sn_MR, Sn_PORT, OPEN; check Sn_SR."""
        hw = self._hw[n]
        hw.ir, hw.sending, hw.want_write = 0, False, False
        hw.look_at = None
        self.chip.write_socket(n, Sn.MR, bytes((mode,)))
        self.chip.write_socket(n, Sn.IR, bytes((SocketInterrupt.ALL,)))
        self.chip.write_socket(n, Sn.PORT, frame.u16_bytes(port))
        self._command(n, Command.OPEN)
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
        self._command(n, Command.LISTEN)
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
        if isinstance(exc, ChipGarbage) and not self._failed:
            # The service thread reports it (callbacks never run under the stack lock) and leaves the bus alone.
            self._failed = True
            self._failure = exc
            self._kick()
        return NsapiError.DEVICE_ERROR

    def _previous_send(self, handle: W5500Socket, n: int) -> NsapiError | None:
        """None when the hardware socket may SEND again; WOULD_BLOCK (the service thread calls back when SEND_OK
        comes) or an error otherwise. Never waits."""
        hw = self._hw[n]
        if not hw.sending:
            return None
        bits = hw.ir
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
        if handle.proto == NsapiProtocol.TCP and hw.sr in _GONE:
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
        return NsapiError.WOULD_BLOCK

    def _write_and_send(self, n: int, data: bytes | memoryview, tx_wr: int) -> None:
        self.chip.write_tx_buffer(n, tx_wr, data)
        self.chip.write_socket(n, Sn.TX_WR, frame.u16_bytes(tx_wr + len(data)))
        self._command(n, Command.SEND)
        hw = self._hw[n]
        hw.sending, hw.send_started, hw.want_write, hw.stall_notified = True, time.monotonic(), False, 0.0
        if self._interrupt is None:
            self._look_soon(n)  # SEND_OK comes through INTn when it is wired

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
                        self._command(hw.n, Command.DISCON)
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
                free = [hw for hw in self._hw if hw.free]
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
                    sr = self._status(n)
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
        if address.get_ip_version() == NsapiVersion.IPv6:
            return NsapiError.UNSUPPORTED  # the chip's TCP/IP engine is IPv4 only
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
                    bits, sr = self._hw[n].ir, self._status(n)
                    if sr in _CONNECTED:
                        handle.state = "connected"
                        return NsapiError.IS_CONNECTED
                    if sr == Status.CLOSED:
                        if not bits & SocketInterrupt.TIMEOUT and self._unacknowledged(n):
                            self._kick()  # a TIMEOUT may be among them: the service thread takes it and calls back
                            return NsapiError.ALREADY
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
                self._command(n, Command.CONNECT)
                handle.state = "connecting"
                handle.lost, handle.peer_closed = None, False
                self._look_soon(n)  # a refused CONNECT raises no Sn_IR bit: Sn_SR is watched
            except ChipError as exc:
                return self._device_error(exc)
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
                pending = self._previous_send(handle, n)
                if pending is not None:
                    return pending
                if self._hw[n].sr in _GONE:
                    handle.lost = NsapiError.CONNECTION_LOST
                    return handle.lost
                free, tx_wr = self.chip.tx_state(n)
                if free == 0:
                    self._hw[n].want_write = True
                    self._look_soon(n)
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
                    sr = self._status(n)
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
                data = self.chip.read_rx_buffer(n, rx_rd, count)
                self.chip.write_socket(n, Sn.RX_RD, frame.u16_bytes(rx_rd + count))
                self._command(n, Command.RECV)  # Sn_CR reading back 0 also vouches for the bus
                buffer[:count] = data
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
                pending = self._previous_send(handle, n)
                if pending is not None:
                    return pending
                free, tx_wr = self.chip.tx_state(n)
                if free < len(data):
                    self._hw[n].want_write = True
                    self._look_soon(n)
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
                self.chip.write_socket(n, Sn.RX_RD, frame.u16_bytes(rx_rd + UDP_HEADER_SIZE + length))
                self._command(n, Command.RECV)  # Sn_CR reading back 0 also vouches for the bus
                buffer[:count] = raw[UDP_HEADER_SIZE : UDP_HEADER_SIZE + count]
                return count, sender
            except ChipError as exc:
                return self._device_error(exc), None

    def _resync(self, n: int, why: str) -> NsapiError:
        """Drop everything buffered (RX_RD := RX_WR) after a corrupt UDP header; the loss is logged."""
        _log.warning("W5500 socket %d: %s; dropping the receive buffer", n, why)
        rx_wr = self.chip.read_socket(n, Sn.RX_WR, 2)
        self.chip.write_socket(n, Sn.RX_RD, rx_wr)
        self._command(n, Command.RECV)
        return NsapiError.WOULD_BLOCK

    def probe_address(self, address: SocketAddress, timeout: float) -> bool | None:
        """Whether a host answers ARP for ``address``: one datagram to it (port 9, discard) with the chip's ARP
        made short for the probe (RTR 100 ms, RCR 2: about 300 ms). SEND_OK means someone answered (True);
        TIMEOUT means nobody did (False); None if the chip cannot probe now. With the chip's own address still
        0.0.0.0 (DHCP before it binds), its ARP request is an RFC 5227 probe."""
        if address.get_ip_version() != NsapiVersion.IPv4 or self._failed:
            return None
        err, handle = self.socket_open(NsapiProtocol.UDP)
        if err != NsapiError.OK or handle is None or handle.hw is None:
            return None
        answered = threading.Event()
        handle.callback = answered.set
        n = handle.hw
        try:
            with self._lock:
                saved = self.chip.read_common(Common.RTR, 3)
                self.chip.write_common(Common.RTR, PROBE_RETRY)
            try:
                if self.socket_sendto(handle, SocketAddress(address.get_ip_bytes(), PROBE_PORT), b"\0") != 1:
                    return None
                end = time.monotonic() + timeout
                while True:
                    with self._lock:
                        hw = self._hw[n]
                        if hw.ir & SocketInterrupt.TIMEOUT:
                            return False
                        if not hw.sending:
                            return True
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        return None
                    answered.wait(remaining)
                    answered.clear()
            finally:
                with self._lock:
                    self.chip.write_common(Common.RTR, saved)
        except ChipError as exc:
            self._device_error(exc)
            return None
        finally:
            self.socket_close(handle)

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
    def _next_round(self) -> float:
        """When the service thread must read the chip next, whatever INTn does: the regular poll (or, with INTn,
        the link check), a socket's look-again time, the end of a lingering close, a SEND_OK overdue."""
        regular = self.poll_interval if self._interrupt is None else LINK_CHECK_INTERVAL_S
        due = self._last_round + regular
        for hw in self._hw:
            if hw.look_at is not None:
                due = min(due, hw.look_at)
            if hw.closing_until is not None:
                due = min(due, hw.closing_until)
            if hw.sending and hw.owner is not None:
                due = min(due, hw.send_started + hw.stall_notified + SEND_OK_GRACE_S)
        return due

    def _sleep_until_due(self) -> None:
        """Sleep until INTn falls, a primitive asks for a look, or the next round is due. Never holds a lock."""
        with self._lock:
            due = self._next_round()
        timeout = due - time.monotonic()
        if self._interrupt is None:
            if timeout > 0:
                self._wake.wait(timeout)
        elif timeout > 0 and not self._wake.is_set():
            wakeable = callable(getattr(self._interrupt, "wakeup", None))
            while not self._interrupt.wait(timeout if wakeable else min(timeout, INTERRUPT_SLICE_S)):
                timeout = due - time.monotonic()
                if self._wake.is_set() or timeout <= 0 or self._stop.is_set():
                    break
        self._wake.clear()

    def _service(self) -> None:
        while not self._stop.is_set():
            self._sleep_until_due()
            if self._stop.is_set():
                return
            if self._failed:
                self._fail(self._failure or ChipGarbage("the chip answered with impossible values"))
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

    def _check_common(self, common: bytes) -> None:
        """VERSIONR and the reserved registers, read in every round, vouch for the bus (MISO stuck at 0xFF or 0x00
        fails one of them)."""
        version = common[-1]
        if version != CHIP_VERSION or any(common[_RESERVED]):
            raise ChipGarbage(
                f"the chip reads VERSIONR={version:#04x}, reserved {common[_RESERVED].hex()}: not a W5500 any more"
            )

    def _service_once(self) -> tuple[list[W5500Socket], bool]:
        """One round: SIR..VERSIONR in one frame, then each socket whose SIR bit is set (Sn_IMR is left at its
        reset value 0xFF, so every Sn_IR bit shows in SIR) or whose look-again time came. Returns whom to notify
        and the link state."""
        notify: list[W5500Socket] = []
        with self._lock:
            common = self.chip.read_common(_COMMON_POLL_START, _COMMON_POLL_LENGTH)
            self._check_common(common)
            sir = common[0]
            link = bool(common[_PHYCFGR_AT] & Phy.LNK)
            now = time.monotonic()
            self._last_round = now
            for hw in self._hw:
                owner = hw.owner
                due = hw.look_at is not None and now >= hw.look_at
                connecting = owner is not None and owner.state == "connecting"
                # SEND_OK, TIMEOUT and DISCON show in SIR; only a refused CONNECT changes Sn_SR without a bit.
                if sir & (1 << hw.n) or (due and connecting):
                    before = hw.sr
                    self._acknowledge(hw.n)
                    if owner is not None and (sir & (1 << hw.n) or hw.sr != before):
                        notify.append(owner)
                if hw.closing_until is not None:
                    hw.look_at = None
                    if hw.sr == Status.CLOSED or now >= hw.closing_until:
                        self._abort_hw(hw.n)
                        self._rearm_listeners()
                    continue
                if hw.sending and owner is not None and now - hw.send_started >= hw.stall_notified + SEND_OK_GRACE_S:
                    hw.stall_notified += SEND_OK_GRACE_S  # let the primitive look at the TX pointers
                    notify.append(owner)
                if hw.want_write and owner is not None and due:
                    # One read is enough to see whether anything is free (a torn read only delays the notice);
                    # the primitive then reads Sn_TX_FSR until stable.
                    free = frame.u16(self.chip.read_socket(hw.n, Sn.TX_FSR, 2), 0)
                    if free > 0:
                        hw.want_write = False
                        notify.append(owner)
                self._reschedule(hw, owner, now, due)
            if link != self._link:
                notify.extend(hw.owner for hw in self._hw if hw.owner is not None)
        return list(dict.fromkeys(notify)), link

    def _reschedule(self, hw: _Hw, owner: W5500Socket | None, now: float, due: bool) -> None:
        """Keep looking at a socket while it waits for something the chip does not signal (TX space, a refused
        CONNECT; SEND_OK without INTn), at doubling intervals up to ``poll_interval``; stop once it is settled."""
        waiting = owner is not None and (
            hw.want_write or owner.state == "connecting" or (hw.sending and self._interrupt is None)
        )
        if not waiting:
            hw.look_at = None
        elif hw.look_at is None:
            hw.look_at, hw.look_step = now + self.busy_interval, self.busy_interval
        elif due:
            hw.look_step = min(hw.look_step * 2, self.poll_interval)
            hw.look_at = now + hw.look_step

    def _fail(self, exc: ChipError) -> None:
        """The chip stopped answering, or answers garbage: every call now gives DEVICE_ERROR; wake every socket.
        The service thread ends, so a dead chip costs no more bus traffic until the interface connects again."""
        _log.error("W5500 service thread stopped: %s", exc)
        self._failed = True
        with self._lock:
            handles = list(dict.fromkeys(hw.owner for hw in self._hw if hw.owner is not None))
        for handle in handles:
            self._notify(handle)
        callback = self.device_error_callback
        if callback is not None:
            callback()
