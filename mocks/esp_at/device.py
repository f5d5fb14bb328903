"""The emulated ESP-AT module: host bytes in, module bytes out, and `tick(now)` for timed events.

Layer: sans-IO device model. It owns no thread, no clock and no socket: callers pass `now` (seconds, any
monotonic origin) to every call, read output with `take_output()`, and the only way out to a network is the
injected `Network` object, which it polls without blocking. Every firmware difference is read from the
`Profile` table, every delay from `Timing`, every random choice from one `random.Random(seed)`.

Command handlers live in the `cmd_*` modules; this module holds the line discipline (echo, terminators, busy
rule, data phase), the link table and the unsolicited messages.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import (
    cmd_basic,
    cmd_ipv6,
    cmd_joinmodes,
    cmd_mdns,
    cmd_net,
    cmd_power,
    cmd_recv,
    cmd_softap,
    cmd_tcpip,
    cmd_tls,
    cmd_wifi,
    passthrough,
)
from .atline import Command, ParseError, parse_line
from .network import Listener, Network
from .profiles import Profile
from .state import (
    ERR_BUSY,
    ERR_EXEC,
    ERR_NO_AT,
    ERR_PARSE,
    ERR_UNSUPPORTED,
    FeatureState,
    InputMode,
    Link,
    SendJob,
    SoftApConfig,
    UartSettings,
    WifiState,
)
from .timing import Timing
from .world import AccessPoint, World, default_world

log = logging.getLogger(__name__)

Handler = Callable[["EspAtDevice", Command, float], None]

#: The injection points of checklist item 13 (plus "echo": between echoed bytes, item 4).
INJECTION_POINTS = frozenset(
    {
        "echo",
        "after_echo",
        "before_final",
        "before_prompt",
        "after_prompt",
        "after_recv",
        "before_recvdata",
    }
)


#: Behaviours real modules show that the documentation does not (reference §8), off unless asked for.
QUIRKS = frozenset(
    {
        "busy_then_runs",  # §8.3: busy p..., and the line runs anyway once the module is free
        "join_connected_then_fail",  # §8.7: WIFI CONNECTED before a failed join, WIFI DISCONNECT after
        "cwqap_disconnect_before_ok",  # §8.7: ESP32-C3 prints WIFI DISCONNECT before the OK of AT+CWQAP
        "ssl_encrypted_length",  # §8.8: passive +IPD on SSL announces more than can be read
        "debug_leaks",  # §8.9: `to read N bytes`, `local port:N`, `change type:2` on the AT port
        "mem_check_fail",  # §8.10: NonOS boot prints MEM CHECK FAIL!!! and ends with `invalid`, not `ready`
    }
)


@dataclass
class Faults:
    """Seedable fault switches of the device model (output chunking and noise live in the output pacer)."""

    #: Probability that an injection point delivers the unsolicited messages that are pending at that moment.
    inject: float = 0.0
    #: Restrict injection to these points (None: all of INJECTION_POINTS).
    inject_points: frozenset[str] | None = None
    #: Probability that a send ends in SEND FAIL.
    send_fail: float = 0.0
    #: Names from QUIRKS to switch on.
    quirks: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.quirks <= QUIRKS:
            raise ValueError(f"unknown quirks: {sorted(self.quirks - QUIRKS)}")


def _handlers() -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for module in (
        cmd_basic,
        cmd_net,
        cmd_wifi,
        cmd_tcpip,
        cmd_recv,
        cmd_softap,
        cmd_power,
        cmd_mdns,
        cmd_joinmodes,
        cmd_ipv6,
        cmd_tls,
    ):
        table.update(module.HANDLERS)
    return table


_HANDLERS = _handlers()


class EspAtDevice:
    """One emulated module. Not thread-safe: the adapter that drives it serialises every call."""

    def __init__(
        self,
        profile: Profile,
        network: Network,
        *,
        world: World | None = None,
        timing: Timing | None = None,
        faults: Faults | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
        now: float = 0.0,
        boot: bool = True,
        passive_window: int = 5760,
        recvlen_inactive: int | None = None,
        wall_clock: Callable[[], float] = time.time,
        softap_stations: int = 0,
    ) -> None:
        self.profile = profile
        self.network = network
        self.world = world if world is not None else default_world()
        self.timing = timing if timing is not None else Timing()
        self.faults = faults if faults is not None else Faults()
        self.rng = rng if rng is not None else random.Random(seed)
        self.passive_window = passive_window
        self.recvlen_inactive = profile.recvlen_inactive if recvlen_inactive is None else recvlen_inactive
        self.wall_clock = wall_clock
        self._out = bytearray()
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._generation = 0
        self.dropped_rx_bytes = 0
        self._pending_baud: int | None = None
        # "Flash" settings survive a reset.
        self.uart_def = UartSettings()
        self.stored_ap: tuple[str, str] | None = None
        self.autoconnect = True
        self.cwmode = 1
        self.sysmsg_stored = 0
        self.sysstore = True
        self.softap_config_stored = SoftApConfig(max_conn=profile.softap_max_conn)
        #: Emulated stations that join each time the SoftAP comes up (URL option ``softap_stations``).
        self.softap_stations_on_start = softap_stations
        self._wifi_drop_pending = False
        self._send_fail_next = 0
        self._power_on_state(now)
        if boot:
            self._start_boot(now, garbage=False)
        else:
            self.input_mode = InputMode.LINE

    # ------------------------------------------------------------------ state

    def _power_on_state(self, now: float) -> None:
        """RAM state after a boot (checklist item 2)."""
        self._generation += 1
        self._events.clear()
        self.input_mode = InputMode.LINE
        self.echo = True
        self.mux = 0
        self.cipmode = 0
        self.passive = False
        self.passive_links: dict[int, bool] = {}
        self.dinfo = False
        self.sysmsg = self.sysmsg_stored
        self.syslog = False
        self.uart = UartSettings(**vars(self.uart_def))
        self.links: dict[int, Link] = {}
        self.had_links = False
        self.listener: Listener | None = None
        self.server_port = 0
        self.server_maxconn = 5
        self.cipsto = 180
        self.wifi = WifiState.NEVER
        self.ap: AccessPoint | None = None
        self.cwlapopt = (0, 0x7FF, -100, 0xFFFF)
        self.hostname = "ESP-010203"
        self.dns_manual = False
        self.dns_servers = ["208.67.222.222", "114.114.114.114", "8.8.8.8"]
        self.sntp_enabled = False
        self.sntp_tz = 0
        self.sntp_servers = ["cn.ntp.org.cn", "ntp.sjtu.edu.cn", "us.pool.ntp.org"]
        self.sntp_synced = False
        self.ssl_size = 2048
        self.busy: str | None = None  # "p" while a command runs, "s" while NonOS waits for SEND OK
        self._line = bytearray()
        self._line_overflow = False
        self._rx_fifo = bytearray()
        self._drain_credit = 0.0
        self._last_drain = now
        self.send_job: SendJob | None = None
        self.sending_link = -1
        self._deferred_lines: list[bytes] = []
        self.passthrough: passthrough.Passthrough | None = None
        self.features = FeatureState()
        self.softap_config = SoftApConfig(**vars(self.softap_config_stored))

    # ------------------------------------------------------------------ public driving API

    def receive(self, data: bytes, now: float) -> None:
        """Bytes from the host. With flow control off, bytes beyond the UART RX buffer are lost (item 28)."""
        if self.input_mode in (InputMode.SILENT, InputMode.BOOTING):
            return
        while data:
            room = self.rx_room()
            if room == 0:
                self.dropped_rx_bytes += len(data)
                log.debug("UART RX overflow: dropped %d bytes", len(data))
                return
            self._rx_fifo += data[:room]
            data = data[room:]
            self._drain_rx(now)
            if self.input_mode in (InputMode.SILENT, InputMode.BOOTING):
                return

    def rx_room(self) -> int:
        return max(0, self.profile.uart_rx_buffer - len(self._rx_fifo))

    @property
    def hardware_flow_control(self) -> bool:
        """True when the module asserts RTS to stop the host (UART_CUR flow 1 or 3)."""
        return self.uart.flow in (1, 3)

    def tick(self, now: float, *, tx_backlog: int = 0) -> None:
        """Run timed events that are due and poll the network."""
        if self.input_mode is InputMode.SILENT:
            return
        self._drain_rx(now)
        while self._events and self._events[0][0] <= now:
            _, _, callback = heapq.heappop(self._events)
            callback(now)
        if self.input_mode is InputMode.DATA and self.send_job is not None:
            self._check_plus_escape(now)
        if self.passthrough is not None:
            passthrough.tick(self, self.passthrough, now)
        while self._deferred_lines and self.busy is None and self.input_mode is InputMode.LINE:
            self._complete_line(self._deferred_lines.pop(0), False, now)
        if self.input_mode is InputMode.BOOTING:
            return
        # With injection on, hold some events back so that they can land at an injection point.
        if self.faults.inject > 0 and self.rng.random() < 0.5:
            return
        self.deliver_pending(now, tx_backlog=tx_backlog)

    def take_output(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def take_baud_change(self) -> int | None:
        """A UART_CUR baud to switch to once the output taken so far has drained (checklist item 28)."""
        baud, self._pending_baud = self._pending_baud, None
        return baud

    def next_deadline(self) -> float | None:
        return self._events[0][0] if self._events else None

    # ------------------------------------------------------------------ faults

    def inject_reset(self, now: float) -> None:
        """A spontaneous reboot: links vanish without CLOSED, garbage, then ``ready`` (checklist item 33)."""
        self._reboot(now, garbage=True)

    def drop_wifi(self, now: float, *, reconnect: bool = True) -> None:
        """Lose the AP: ``WIFI DISCONNECT`` and ``<id>,CLOSED`` for every link (item 25)."""
        self._wifi_lost(now, reconnect=reconnect)

    def drop_wifi_at_injection_point(self) -> None:
        """Arm a Wi-Fi loss that fires at the next injection point that triggers (item 13)."""
        self._wifi_drop_pending = True

    def go_silent(self) -> None:
        """The module stops answering anything until `inject_reset` (a hung firmware)."""
        self.input_mode = InputMode.SILENT
        self._events.clear()

    def inject_noise(self, count: int) -> None:
        """Line noise: `count` random bytes on the module's TX line, right now."""
        self.emit(bytes(self.rng.randrange(256) for _ in range(count)))

    def fail_next_send(self, *, then_send_ok: bool = False) -> None:
        """The next send ends in SEND FAIL (NonOS can follow it with SEND OK, reference §1.6)."""
        self._send_fail_next = 2 if then_send_ok else 1

    def close(self) -> None:
        """Close every host socket (the emulator is switched off)."""
        for link in list(self.links.values()):
            link.conn.close()
        self.links.clear()
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.network.close_all()
        self._events.clear()

    # ------------------------------------------------------------------ helpers for command modules

    def quirk(self, name: str) -> bool:
        return name in self.faults.quirks

    def emit(self, data: bytes) -> None:
        self._out += data

    def ok(self, now: float, *, injectable: bool = True) -> None:
        if injectable:
            self.injection_point("before_final", now)
        self.emit(b"\r\nOK\r\n")

    def error(self, now: float, code: int = ERR_EXEC, text: bytes = b"") -> None:
        self.emit(text)
        self.injection_point("before_final", now)
        if self.syslog and self.profile.syslog_available:
            self.emit(b"ERR CODE:0x%08x\r\n" % code)
        self.emit(b"\r\nERROR\r\n")

    def info(self, line: str | bytes) -> None:
        self.emit((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def schedule(self, delay: float, callback: Callable[[float], None], now: float) -> None:
        """Run `callback(now)` after `delay` seconds (already scaled); dropped if the module reboots first."""
        generation = self._generation

        def guarded(at: float) -> None:
            if generation == self._generation:
                callback(at)

        heapq.heappush(self._events, (now + max(0.0, delay), next(self._seq), guarded))

    def delay(self, name: str) -> float:
        """The named `Timing` delay, scaled."""
        value = getattr(self.timing, name)
        assert isinstance(value, float)
        return self.timing.scaled(value)

    def run_busy(self, delay: float, finish: Callable[[float], None], now: float) -> None:
        """Hold the module busy for `delay`, then call `finish` and accept commands again."""
        self.busy = "p"

        def done(at: float) -> None:
            self.busy = None
            finish(at)

        self.schedule(delay, done, now)

    def injection_point(self, name: str, now: float) -> None:
        """Deliver pending unsolicited messages here, when injection is on and the dice say so (item 13)."""
        if self.faults.inject <= 0:
            return
        points = self.faults.inject_points
        if points is not None and name not in points:
            return
        if self.rng.random() >= self.faults.inject:
            return
        if self._wifi_drop_pending:
            self._wifi_drop_pending = False
            self._wifi_lost(now, reconnect=True)
        self.deliver_pending(now)

    def request_baud(self, baud: int) -> None:
        self._pending_baud = baud

    def lowest_free_id(self) -> int | None:
        for link_id in range(5):
            if link_id not in self.links or self.links[link_id].dead:
                return link_id
        return None

    def link_open(self, link_id: int) -> Link | None:
        link = self.links.get(link_id)
        if link is None or link.dead or link.peer_closed:
            return None
        return link

    def is_passive(self, link: Link) -> bool:
        passive = self.passive_links.get(link.id, self.passive)
        if not passive:
            return False
        if link.kind == "UDP":
            return self.profile.passive_udp
        if link.kind == "SSL":
            return self.profile.passive_ssl
        return True

    def connect_message(self, link: Link) -> bytes:
        if self.sysmsg & 2:
            role = 1 if link.server else 0
            return (
                f'+LINK_CONN:0,{link.id},"{link.kind}",{role},"{link.remote_ip}",'
                f"{link.remote_port},{link.local_port}\r\n".encode()
            )
        return b"%d,CONNECT\r\n" % link.id if self.mux else b"CONNECT\r\n"

    def closed_message(self, link_id: int) -> bytes:
        return b"%d,CLOSED\r\n" % link_id if self.mux else b"CLOSED\r\n"

    def add_link(self, link: Link) -> None:
        old = self.links.get(link.id)
        if old is not None:
            old.conn.close()
        self.links[link.id] = link
        self.had_links = True

    def drop_link(self, link_id: int, *, announce: bool) -> None:
        link = self.links.pop(link_id, None)
        if link is None:
            return
        link.conn.close()
        if self.passthrough is not None and self.passthrough.link is link:
            passthrough.leave(self)
        if announce and not link.dead:
            self.emit(self.closed_message(link_id))

    def wifi_connected(self) -> bool:
        return self.wifi == WifiState.GOT_IP

    # ------------------------------------------------------------------ boot and Wi-Fi

    def _reboot(self, now: float, *, garbage: bool) -> None:
        for link in list(self.links.values()):
            link.conn.close()
        if self.listener is not None:
            self.listener.close()
        self._power_on_state(now)
        self._start_boot(now, garbage=garbage)

    def reboot(self, now: float) -> None:
        """AT+RST / AT+RESTORE: the caller already printed OK."""
        self._reboot(now, garbage=False)

    def deep_sleep(self, now: float, wake_after: float | None) -> None:
        """AT+GSLP: power off now (links vanish silently, input is lost), boot after `wake_after` seconds
        (already scaled); None sleeps until `inject_reset`."""
        for link in list(self.links.values()):
            link.conn.close()
        if self.listener is not None:
            self.listener.close()
        self._power_on_state(now)
        self.input_mode = InputMode.BOOTING
        if wake_after is not None:
            self.schedule(wake_after, lambda at: self._start_boot(at, garbage=False), now)

    def _start_boot(self, now: float, *, garbage: bool) -> None:
        self.input_mode = InputMode.BOOTING
        if garbage:
            self.emit(bytes(self.rng.randrange(256) for _ in range(self.rng.randint(6, 24))))
            self.emit(self.profile.crash_text)
        if self.profile.boot_text:
            self.emit(self.profile.boot_text)
            # The last stretch before `ready` is sent at the AT task's new baud: a short garbled burst.
            self.emit(bytes(self.rng.randrange(0x80, 0x100) for _ in range(self.rng.randint(3, 8))))

        def ready(at: float) -> None:
            self.input_mode = InputMode.LINE
            if self.quirk("mem_check_fail"):
                # Some Ai-Thinker builds: no `ready`, yet the module answers commands (reference §8.10).
                self.emit(b"\r\nMEM CHECK FAIL!!!\r\n\r\ninvalid\r\n")
            else:
                self.emit(b"\r\nready\r\n")
            if self.autoconnect and self.stored_ap is not None and self.cwmode in (1, 3):
                self.schedule(self.delay("boot_to_autoconnect"), self._autoconnect, at)

        self.schedule(self.delay("reset_to_ready"), ready, now)

    def _autoconnect(self, now: float) -> None:
        if self.stored_ap is None or self.wifi == WifiState.GOT_IP:
            return
        ap = self.world.find_ap(self.stored_ap[0])
        if ap is None or not ap.accepts(self.stored_ap[1]):
            return
        self.ap = ap
        self.wifi = WifiState.NO_IP
        self.emit(b"WIFI CONNECTED\r\n")
        self.schedule(self.delay("connected_to_got_ip"), self._got_ip, now)

    def _got_ip(self, now: float) -> None:
        if self.wifi != WifiState.NO_IP:
            return
        self.wifi = WifiState.GOT_IP
        self.emit(b"WIFI GOT IP\r\n")
        self.after_got_ip(now)

    def join_accepted(self, ap: AccessPoint, now: float, remember: Callable[[], None]) -> None:
        """A join the AP accepts: busy until ``WIFI CONNECTED``, ``WIFI GOT IP`` and the command's ``OK``;
        ``remember`` stores what the join command keeps (right before ``WIFI GOT IP``)."""
        self.busy = "p"

        def associated(at: float) -> None:
            self.wifi = WifiState.NO_IP
            self.ap = ap
            self.emit(b"WIFI CONNECTED\r\n")
            self.schedule(self.delay("connected_to_got_ip"), got_ip, at)

        def got_ip(at: float) -> None:
            self.busy = None
            self.wifi = WifiState.GOT_IP
            remember()
            self.emit(b"WIFI GOT IP\r\n")
            self.ok(at)
            self.after_got_ip(at)

        self.schedule(self.delay("join_to_connected"), associated, now)

    def after_got_ip(self, now: float) -> None:
        cmd_ipv6.after_got_ip(self, now)
        if self.sntp_enabled and not self.sntp_synced:
            self.schedule(self.delay("sntp_sync"), self.sntp_sync_done, now)

    def sntp_sync_done(self, now: float) -> None:
        if not self.sntp_enabled or self.sntp_synced or not self.wifi_connected():
            return
        self.sntp_synced = True
        if self.profile.time_updated_urc:
            self.emit(b"+TIME_UPDATED\r\n")

    def _wifi_lost(self, now: float, *, reconnect: bool) -> None:
        if self.wifi not in (WifiState.GOT_IP, WifiState.NO_IP):
            return
        self.emit(b"WIFI DISCONNECT\r\n")
        self.close_links_on_wifi_loss()
        self.wifi = (
            WifiState.CONNECTING if (reconnect and self.profile.reconnects_after_loss) else WifiState.DISCONNECTED
        )
        if reconnect and self.profile.reconnects_after_loss and self.ap is not None:
            # ESP-AT keeps reconnecting on its own (reference §2.3).
            self.schedule(self.delay("reconnect_interval"), self._reconnect, now)

    def close_links_on_wifi_loss(self) -> None:
        for link_id in sorted(self.links):
            link = self.links[link_id]
            if link.kind in ("TCP", "SSL"):
                self.drop_link(link_id, announce=True)

    def _reconnect(self, now: float) -> None:
        if self.wifi != WifiState.CONNECTING or self.ap is None:
            return
        if not self.ap.available:
            self.schedule(self.delay("reconnect_interval"), self._reconnect, now)
            return
        self.wifi = WifiState.NO_IP
        self.emit(b"WIFI CONNECTED\r\n")
        self.schedule(self.delay("connected_to_got_ip"), self._got_ip, now)

    # ------------------------------------------------------------------ network polling

    def deliver_pending(self, now: float, *, tx_backlog: int = 0) -> None:
        """Accept server clients, read host sockets and print the resulting messages."""
        if self.passthrough is not None:
            passthrough.poll(self, self.passthrough, now, tx_backlog)
            return
        self._accept_clients(now)
        for link_id in sorted(self.links):
            link = self.links.get(link_id)
            if link is None or link.dead:
                continue
            if link.id == self.sending_link:
                # SEND OK means "handed to lwIP" (ESP-AT) or "ACKed" (NonOS); either way it comes before any
                # reply to that data can arrive, so the link's input waits for it.
                continue
            if self.is_passive(link):
                self._poll_passive(link, now)
            elif tx_backlog < 4096:
                self._poll_active(link, now, tx_backlog)
            self._check_idle(link, now)

    def _accept_clients(self, now: float) -> None:
        if self.listener is None:
            return
        while True:
            conn = self.listener.accept()
            if conn is None:
                return
            link_id = self.lowest_free_id()
            server_links = sum(1 for link in self.links.values() if link.server and not link.dead)
            if link_id is None or server_links >= self.server_maxconn:
                conn.close()
                continue
            link = Link(link_id, "TCP", conn, True, conn.remote_ip, conn.remote_port, conn.local_port, now)
            self.add_link(link)
            self.emit(self.connect_message(link))

    def _poll_active(self, link: Link, now: float, tx_backlog: int = 0) -> None:
        if link.kind == "UDP":
            while (datagram := link.conn.recv_datagram()) is not None:
                data, ip, port = datagram
                link.last_activity = now
                self.emit(self.ipd_header(link, len(data), ip, port) + data)
            return
        size = self.profile.ipd_max_chunk
        rtt = self.timing.network_rtt
        if rtt > 0:
            # Data still waiting for the UART counts as held: lwIP frees the window as the AT task prints it.
            size = min(size, link.window.room(now, rtt, tx_backlog, self.passive_window))
            if size <= 0:
                return
        chunk = link.conn.recv(size)
        if chunk is None:
            return
        link.window.accepted += len(chunk)
        if chunk == b"":
            self.drop_link(link.id, announce=True)
            return
        link.last_activity = now
        self.emit(self.ipd_header(link, len(chunk), link.remote_ip, link.remote_port) + chunk)

    def ipd_header(self, link: Link, length: int, ip: str, port: int) -> bytes:
        parts = ["+IPD"]
        if self.mux:
            parts.append(str(link.id))
        parts.append(str(length))
        if self.dinfo:
            parts.append(f'"{ip}"' if self.profile.ipd_ip_quoted else ip)
            parts.append(str(port))
        return b"\r\n" + ",".join(parts).encode() + b":"

    def notice(self, link: Link) -> None:
        """The passive-mode ``+IPD`` notice carrying the total buffered (item 16)."""
        if link.notice_pending or link.buffered == 0:
            return
        link.notice_pending = True
        announced = link.buffered + link.tls_overhead
        if self.mux:
            self.emit(b"\r\n+IPD,%d,%d\r\n" % (link.id, announced))
        else:
            self.emit(b"\r\n+IPD,%d\r\n" % announced)

    def _poll_passive(self, link: Link, now: float) -> None:
        if link.peer_closed:
            return
        if link.kind == "UDP":
            while (datagram := link.conn.recv_datagram()) is not None:
                link.last_activity = now
                if link.buffered + len(datagram[0]) <= self.passive_window:
                    link.datagrams.append(datagram)
                    # The firmware announces on arrival: a burst read in one poll still gets the first datagram's
                    # length, and only later notices sum what waits (esp-at #451).
                    self.notice(link)
                # else: the window is full and the datagram is dropped, like the real module.
            return
        room = link.window.room(now, self.timing.network_rtt, len(link.rx), self.passive_window)
        if room > 0:
            data = link.conn.recv(room)
            if data == b"":
                self.peer_closed_passive(link, now)
                return
            if data:
                link.window.accepted += len(data)
                link.rx += data
                link.last_activity = now
                if link.kind == "SSL" and self.quirk("ssl_encrypted_length"):
                    link.tls_overhead += 29  # a TLS record's header and MAC, counted as if readable
        self.notice(link)

    def peer_closed_passive(self, link: Link, now: float) -> None:
        link.peer_closed = True
        self.notice(link)
        if link.buffered == 0:
            self.drop_link(link.id, announce=True)
        elif not self.profile.closed_held_in_passive:
            # NonOS prints CLOSED at once and keeps the data readable (reference §2.2).
            self.emit(self.closed_message(link.id))
            link.dead = True
            link.conn.close()

    def _check_idle(self, link: Link, now: float) -> None:
        if link.server and self.cipsto > 0 and now - link.last_activity > self.cipsto:
            self.drop_link(link.id, announce=True)

    # ------------------------------------------------------------------ the UART receive path

    def _drain_rx(self, now: float) -> None:
        rate = self.timing.uart_drain_rate
        if rate is None:
            budget = len(self._rx_fifo)
        else:
            self._drain_credit = min(
                self._drain_credit + (now - self._last_drain) * rate, float(self.profile.uart_rx_buffer)
            )
            budget = int(self._drain_credit)
            self._drain_credit -= budget
        self._last_drain = now
        if budget <= 0 or not self._rx_fifo:
            return
        chunk = bytes(self._rx_fifo[:budget])
        del self._rx_fifo[:budget]
        for byte in chunk:
            if self.input_mode is InputMode.DATA and self.send_job is not None:
                self._data_byte(byte, now)
            elif self.input_mode is InputMode.LINE:
                self._line_byte(byte, now)
            elif self.passthrough is not None:
                passthrough.feed_byte(self, self.passthrough, byte, now)
            else:
                return  # rebooted or went silent in the middle of this chunk: the rest is lost

    def _line_byte(self, byte: int, now: float) -> None:
        # A busy module drops lines without echoing them (reference §8.3).
        if self.busy is None and self.echo:
            if self.profile.echo_cr_twice and byte == 0x0D:
                self.emit(b"\r\r")
            else:
                self.emit(bytes([byte]))
            self.injection_point("echo", now)
        limit = self.profile.max_command_len
        self._line.append(byte)
        if len(self._line) > limit + 2:
            self._line_overflow = True
            del self._line[:-2]
        if len(self._line) >= 2 and self._line[-2:] == b"\r\n":
            line = bytes(self._line[:-2])
            overflow = self._line_overflow
            self._line.clear()
            self._line_overflow = False
            self._complete_line(line, overflow, now)

    def _complete_line(self, line: bytes, overflow: bool, now: float) -> None:
        if self.busy is not None:
            # The line is dropped with no OK/ERROR of its own (reference §1.5).
            if self.syslog and self.profile.syslog_available:
                self.emit(b"ERR CODE:0x%08x\r\n" % ERR_BUSY)
            self.emit(b"\r\nbusy s...\r\n" if self.busy == "s" else b"\r\nbusy p...\r\n")
            if self.quirk("busy_then_runs"):
                self._deferred_lines.append(line)
            return
        self.injection_point("after_echo", now)
        if overflow or len(line) > self.profile.max_command_len:
            self.error(now, ERR_PARSE)
            return
        try:
            command = parse_line(line, lowercase_prefix_ok=self.profile.lowercase_at_accepted)
        except ParseError:
            self.error(now, ERR_NO_AT if line[:2].upper() == b"AT" and line[:2] != b"AT" else ERR_PARSE)
            return
        self._dispatch(command, now)

    def _dispatch(self, command: Command, now: float) -> None:
        name = command.name
        if name == "":
            self.ok(now)
            return
        if name in ("E0", "E1"):
            self.echo = name == "E1"
            self.ok(now)
            return
        if name not in self.profile.commands:
            self.error(now, ERR_UNSUPPORTED)
            return
        base = name
        for suffix in ("_CUR", "_DEF"):
            if name.endswith(suffix) and name != "UART" + suffix:
                base = name[: -len(suffix)]
        handler = _HANDLERS.get(base) or _HANDLERS.get(name)
        if handler is None:
            self.error(now, ERR_UNSUPPORTED)
            return
        try:
            handler(self, command, now)
        except ParseError:
            self.error(now, ERR_PARSE)
        except Exception:
            # An emulator bug must not kill the module: log it loudly and answer like firmware would.
            log.exception("emulator failed on %r", command)
            self.busy = None
            self.error(now, ERR_EXEC)

    # ------------------------------------------------------------------ the CIPSEND data phase

    def start_data_phase(self, job: SendJob, now: float) -> None:
        self.input_mode = InputMode.DATA
        self.send_job = job
        job.last_byte_at = now

    def _data_byte(self, byte: int, now: float) -> None:
        job = self.send_job
        assert job is not None
        if job.raw_count == 0:
            self.injection_point("after_prompt", now)
        job.raw_count += 1
        job.last_byte_at = now
        if job.extended:
            if self._extended_byte(job, byte):
                self._finish_data(now)
                return
        else:
            job.payload.append(byte)
        if job.raw_count >= job.length:
            self._flush_escape(job)
            self._finish_data(now)

    @staticmethod
    def _extended_byte(job: SendJob, byte: int) -> bool:
        """AT+CIPSENDEX: a literal ``\\0`` ends the data, ``\\\\0`` is a literal ``\\0``. True when ended."""
        backslash, zero = 0x5C, 0x30
        if job.escape_state == 0:
            if byte == backslash:
                job.escape_state = 1
            else:
                job.payload.append(byte)
            return False
        if job.escape_state == 1:
            if byte == zero:
                job.escape_state = 0
                return True
            if byte == backslash:
                job.escape_state = 2
                return False
            job.payload += bytes([backslash, byte])
            job.escape_state = 0
            return False
        if byte == zero:
            job.payload += b"\\0"
            job.escape_state = 0
        elif byte == backslash:
            job.payload.append(backslash)
        else:
            job.payload += bytes([backslash, backslash, byte])
            job.escape_state = 0
        return False

    @staticmethod
    def _flush_escape(job: SendJob) -> None:
        if job.escape_state == 1:
            job.payload.append(0x5C)
        elif job.escape_state == 2:
            job.payload += b"\\\\"
        job.escape_state = 0

    def _check_plus_escape(self, now: float) -> None:
        job = self.send_job
        assert job is not None
        if job.payload == b"+++" and job.raw_count == 3 and now - job.last_byte_at >= self.delay("plus_guard"):
            self.send_job = None
            self.input_mode = InputMode.LINE
            self.busy = None
            self.emit(b"\r\nSEND Canceled\r\n")

    def plus_guard_deadline(self) -> float | None:
        job = self.send_job
        if job is not None and job.payload == b"+++" and job.raw_count == 3:
            return job.last_byte_at + self.delay("plus_guard")
        return None

    def _finish_data(self, now: float) -> None:
        job = self.send_job
        assert job is not None
        self.send_job = None
        self.input_mode = InputMode.LINE
        self.injection_point("after_prompt", now)
        self.emit(b"\r\nRecv %d bytes\r\n" % len(job.payload))
        self.injection_point("after_recv", now)
        link = job.link
        self.sending_link = link.id
        failed = link.peer_closed or link.dead or link.id not in self.links
        if not failed:
            failed = not link.conn.send(bytes(job.payload), job.address)
            link.last_activity = now
        then_ok = False
        if self._send_fail_next:
            failed, then_ok = True, self._send_fail_next == 2 and self.profile.send_fail_then_ok
            self._send_fail_next = 0
        elif self.faults.send_fail > 0 and self.rng.random() < self.faults.send_fail:
            failed = True
        if self.profile.send_ok_after_ack:
            self.busy = "s"
            delay = max(self.delay("send_ok_rtt"), self.timing.network_rtt)
        else:
            self.busy = "p"
            delay = self.delay("send_ok")

        def result(at: float) -> None:
            self.busy = None
            self.sending_link = -1
            self.emit(b"\r\nSEND FAIL\r\n" if failed else b"\r\nSEND OK\r\n")
            if then_ok:
                self.emit(b"\r\nSEND OK\r\n")

        self.schedule(delay, result, now)

    # ------------------------------------------------------------------ introspection for tests

    def deadline(self) -> float | None:
        """The earliest moment `tick` has something to do (events or the ``+++`` guard)."""
        pt = passthrough.deadline(self, self.passthrough) if self.passthrough is not None else None
        # A passive link is polled at every tick, so its next refill is never left in the past (no busy loop).
        refills = [
            link.window.next_change(self.timing.network_rtt)
            for link in self.links.values()
            if self.is_passive(link) and not (link.dead or link.peer_closed or link.id == self.sending_link)
        ]
        candidates = [t for t in (self.next_deadline(), self.plus_guard_deadline(), pt, *refills) if t is not None]
        return min(candidates) if candidates else None
