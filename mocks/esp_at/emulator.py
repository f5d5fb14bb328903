"""A running emulator: the device model, its output pacer and its host-socket bridge, driven by one daemon
thread.

Layer: I/O adapter. The thread owns the device; every call from outside (fault injection, inspection) goes
through `Emulator.call`, which takes the lock and wakes the thread. Closing stops the thread, closes the
transport and every bridged host socket, and removes the emulator from the registry.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import IO, TypeVar

from . import cmd_softap, registry
from .device import EspAtDevice, Faults
from .network import HostNetwork, Network
from .options import EmulatorOptions
from .pacer import InputPacer, OutputPacer, garble
from .profiles import get_profile
from .transport import Transport
from .world import WORLDS, World

T = TypeVar("T")

log = logging.getLogger(__name__)
#: The byte log of both directions (DEBUG, ``%r``), for diagnosing a failing driver test.
wire_log = logging.getLogger("netsocket.mocks.esp_at.wire")

_names = itertools.count(1)
_READ_SIZE = 4096
_LOG_LINE_MAX = 4096
_SECRET = re.compile(rb'((?:AT)?\+CW(?:JAP|SAP)(?:_CUR|_DEF)?[=:]\s*"(?:[^"\\]|\\.)*"\s*,\s*")((?:[^"\\]|\\.)*)(")')


def mask_secrets(data: bytes) -> bytes:
    """``data`` with the passphrase of every Wi-Fi join or soft-AP command or reply replaced by ``********``."""
    return _SECRET.sub(lambda m: m.group(1) + b"********" + m.group(3), data)


class Emulator:
    """One emulated module serving one transport. Use `start()`, then `close()` (or a ``with`` block)."""

    def __init__(
        self,
        options: EmulatorOptions,
        transport: Transport,
        *,
        world: World | None = None,
        network: Network | None = None,
        aliases: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        host_baud: Callable[[], int | None] | None = None,
    ) -> None:
        self.options = options
        self.name = options.name or f"espemu-{next(_names)}"
        self._transport = transport
        self._clock = clock
        self.host_network = HostNetwork(allow_non_loopback=options.allow_non_loopback)
        if world is None:
            world = WORLDS[options.world]()
        if options.allow_non_loopback:
            world.allow_non_loopback = True
        rng = random.Random(options.seed)
        self.device = EspAtDevice(
            get_profile(options.profile),
            network if network is not None else self.host_network,
            world=world,
            timing=options.timing,
            faults=Faults(options.inject, options.inject_points, options.send_fail, options.quirks),
            rng=rng,
            now=clock(),
            boot=options.boot,
            passive_window=options.passive_window,
            recvlen_inactive=options.recvlen_inactive,
            softap_stations=options.softap_stations,
        )
        if options.allow_non_loopback:
            self.device.world.allow_non_loopback = True
        self.device.uart_def.baud = self.device.uart.baud = options.baud
        self._pacer = OutputPacer(
            rng,
            baud=options.baud if options.pace else None,
            line_baud=options.baud,
            chunking=options.chunking,
            noise=options.noise,
            gap_max=options.timing.scaled(options.timing.chunk_gap_max),
        )
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._unsent = b""
        self._log_pending = {"host->esp": bytearray(), "esp->host": bytearray()}
        self._host_rts = True
        # Paced, host bytes also reach the device no sooner than the line carries them (baud/10 B/s).
        self._in_line = InputPacer(options.baud) if options.pace else None
        self._garble_rng = random.Random(options.seed)
        #: The host port's baud rate (None: unknown, taken to match): set by the adapter, or read through
        #: `host_baud` on every transfer (a pty's termios).
        self._host_baud: int | None = None
        self._host_baud_probe = host_baud
        self._log_file: IO[str] | None = open(options.log_file, "a") if options.log_file else None  # noqa: SIM115
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"espemu:{self.name}", daemon=True)
        try:
            registry.register(self, *aliases)
        except ValueError:
            self._wake_r.close()
            self._wake_w.close()
            if self._log_file is not None:
                self._log_file.close()
            raise

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and close the transport and every host socket. Idempotent."""
        self._stop.set()
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.device.close()
            self.host_network.close_all()
            self._transport.close()
            self._wake_r.close()
            self._wake_w.close()
            if self._log_file is not None:
                self._log_file.close()
        registry.unregister(self)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ reaching the device from tests

    def call(self, fn: Callable[[EspAtDevice, float], T]) -> T:
        """Run `fn(device, now)` on the device under the emulator's lock, then let the thread act on it."""
        with self._lock:
            result = fn(self.device, self._clock())
        self._wake()
        return result

    def inject_reset(self) -> None:
        """Spontaneous reboot: garbage, then ``ready``; links vanish with no CLOSED."""
        self.call(lambda dev, now: dev.inject_reset(now))

    def drop_wifi(self, *, reconnect: bool = True) -> None:
        """``WIFI DISCONNECT`` and ``<id>,CLOSED`` for every TCP link; ESP-AT reconnects by itself later."""
        self.call(lambda dev, now: dev.drop_wifi(now, reconnect=reconnect))

    def drop_wifi_at_injection_point(self) -> None:
        self.call(lambda dev, now: dev.drop_wifi_at_injection_point())

    def go_silent(self) -> None:
        """The module stops answering anything until `inject_reset`."""
        self.call(lambda dev, now: dev.go_silent())

    def inject_noise(self, count: int = 8) -> None:
        self.call(lambda dev, now: dev.inject_noise(count))

    def fail_next_send(self, *, then_send_ok: bool = False) -> None:
        self.call(lambda dev, now: dev.fail_next_send(then_send_ok=then_send_ok))

    def set_ap_available(self, ssid: str, available: bool) -> None:
        def change(dev: EspAtDevice, now: float) -> None:
            for ap in dev.world.access_points:
                if ap.ssid == ssid:
                    ap.available = available

        self.call(change)

    def station_join(self, mac: str | None = None) -> str | None:
        """An emulated station joins the module's SoftAP (``+STA_CONNECTED``, then ``+DIST_STA_IP`` on ESP-AT).

        Returns its MAC, or None when the SoftAP is down (AT+CWMODE not 2/3) or full (AT+CWSAP ``<max conn>``)."""
        return self.call(lambda dev, now: cmd_softap.station_join(dev, now, mac))

    def station_leave(self, mac: str) -> bool:
        """The station leaves the SoftAP (``+STA_DISCONNECTED`` on ESP-AT); False when it was not joined."""
        return self.call(lambda dev, now: cmd_softap.station_leave(dev, mac))

    def set_pki(
        self, ca_pem: str | None = None, client_cert_pem: str | None = None, client_key_pem: str | None = None
    ) -> None:
        """Flash the module's PKI partition: the CA that AT+CIPSSLCCONF auth mode 2/3 verifies servers against,
        and the client certificate and key that mode 1/3 presents."""

        def flash(dev: EspAtDevice, now: float) -> None:
            dev.world.ssl_ca_pem = ca_pem
            dev.world.ssl_client_cert_pem = client_cert_pem
            dev.world.ssl_client_key_pem = client_key_pem

        self.call(flash)

    def set_host_rts(self, asserted: bool) -> None:
        """The host's RTS line, wired to the module's CTS: with UART_CUR flow 2 or 3 the module stops sending
        while it is deasserted (checklist item 28)."""
        with self._lock:
            self._host_rts = asserted
        self._wake()

    def set_host_baud(self, baud: int | None) -> None:
        """The rate the host's end of the line is set to; a mismatch with the module's garbles both directions."""
        with self._lock:
            self._host_baud = baud
        self._wake()

    def host_baud(self) -> int | None:
        if self._host_baud_probe is not None:
            try:
                return self._host_baud_probe()
            except OSError:
                return None
        return self._host_baud

    @property
    def dropped_rx_bytes(self) -> int:
        return self.call(lambda dev, now: dev.dropped_rx_bytes)

    @property
    def open_host_sockets(self) -> int:
        return self.host_network.open_socket_count

    # ------------------------------------------------------------------ the thread

    def _wake(self) -> None:
        # Closed, or the wake-up pipe is already full: either way the thread will look.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _log(self, direction: str, data: bytes) -> None:
        # Whole lines only (both ways: the module echoes commands), so that a passphrase split across two reads
        # is still masked before it is written anywhere.
        pending = self._log_pending[direction]
        pending += data
        if pending.endswith(b"> ") or len(pending) >= _LOG_LINE_MAX:
            cut = len(pending)  # the CIPSEND prompt, or binary data with no line end in sight
        else:
            cut = pending.rfind(b"\n") + 1
            if not cut:
                return
        data = bytes(pending[:cut])
        del pending[:cut]
        data = mask_secrets(data)
        wire_log.debug("%s %s %r", self.name, direction, data)
        if self._log_file is not None:
            self._log_file.write(f"{self._clock():.6f} {direction} {data!r}\n")
            self._log_file.flush()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("emulator %s stopped on an internal error", self.name)
        finally:
            self._stop.set()

    def _read_room(self) -> int:
        """How many host bytes to read now: what the line may carry ahead (paced) and, with hardware flow control,
        what the module's receive buffer still takes once the bytes already on the line are in."""
        size = _READ_SIZE
        held = 0
        if self._in_line is not None:
            size = min(size, self._in_line.room())
            held = self._in_line.held
        if self.device.hardware_flow_control:
            size = min(size, self.device.rx_room() - held)
        return max(0, size)

    def _deliver(self, data: bytes, now: float) -> None:
        if data:
            self._log("host->esp", data)
            self.device.receive(data, now)

    def _loop(self) -> None:
        poll = self.options.timing.poll_interval
        fd = self._transport.fileno()
        while not self._stop.is_set():
            with self._lock:
                now = self._clock()
                deadlines = [now + poll]
                in_line = self._in_line.next_time() if self._in_line is not None else None
                for candidate in (self.device.deadline(), self._pacer.next_time(), in_line):
                    if candidate is not None:
                        deadlines.append(candidate)
                want_read = self._read_room() > 0
                timeout = max(0.0, min(deadlines) - now)
            readers = [self._wake_r.fileno()] + ([fd] if want_read else [])
            writers = [fd] if self._unsent else []
            try:
                readable, _, _ = select.select(readers, writers, [], timeout)
            except (OSError, ValueError):
                return
            if self._stop.is_set():
                return
            if self._wake_r.fileno() in readable:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            with self._lock:
                now = self._clock()
                if fd in readable:
                    size = self._read_room()
                    data = self._transport.read(size) if size > 0 else None
                    if data == b"":
                        return  # the host closed its end
                    if data:
                        data = garble(
                            data, self.host_baud() or self._pacer.line_baud, self._pacer.line_baud, self._garble_rng
                        )
                        if self._in_line is not None:
                            self._in_line.push(data, now)
                        else:
                            self._deliver(data, now)
                if self._in_line is not None:
                    self._deliver(self._in_line.pop(now), now)
                self.device.tick(now, tx_backlog=self._pacer.pending)
                out = self.device.take_output()
                if out:
                    self._pacer.push(out, now)
                baud = self.device.take_baud_change()
                if baud is not None:
                    self._pacer.push_baud_change(baud)
                    if self._in_line is not None:
                        self._in_line.set_baud(baud)
                cts_blocks = self.device.uart.flow in (2, 3) and not self._host_rts
                if not self._unsent and not cts_blocks:
                    chunk = self._pacer.pop(now, self.host_baud())
                    if chunk:
                        self._log("esp->host", chunk)
                        self._unsent = chunk
            if self._unsent:
                try:
                    sent = self._transport.write(self._unsent)
                except OSError:
                    return
                self._unsent = self._unsent[sent:]
