"""The W5500 chip model: common and socket register files, the 32 KB buffer RAM, the eight socket state
machines, the interrupt line and the chip's own ARP/TCP timeouts.

Layer: sans-IO. No threads, no sockets, no clock reads. Time only moves through `tick(now)`; the SPI bus
drives `select`/`exchange`/`deselect` (or `transfer` for one whole frame); the network answers through the
`on_*` event methods. Commands call out to a `NetworkPort`, which must not call back synchronously.

Rules this module keeps (reference w5500.md §7):
- registers are plain byte storage; nothing acts on a partial write of a 16-bit register, commands act on
  Sn_CR;
- Sn_TX_WR takes effect on SEND and Sn_RX_RD on RECV; read-only registers ignore writes; IR/Sn_IR clear on 1s;
- Sn_IR bits are set regardless of Sn_IMR; Sn_IMR/SIMR/IMR gate only SIR and INTn;
- reserved blocks and unmapped offsets read 0 and ignore writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import registers as r
from .faults import ChipFaults
from .network_port import NetworkPort, NullNetwork
from .phy import Phy
from .registers import Command, Protocol, SocketIrq, Status
from .socket_state import SocketState, TimerAction
from .spi_frames import FrameDecoder, FrameInfo
from .timing import arp_timeout, tcp_timeout

log = logging.getLogger(__name__)

_BROADCAST = b"\xff\xff\xff\xff"
_ZERO_IP = b"\x00\x00\x00\x00"
_PLL_HZ = 150e6
_TCP_CONNECTED = frozenset({Status.ESTABLISHED, Status.CLOSE_WAIT})
_TCP_STATES = frozenset(
    {
        Status.INIT,
        Status.LISTEN,
        Status.SYNSENT,
        Status.SYNRECV,
        Status.ESTABLISHED,
        Status.FIN_WAIT,
        Status.CLOSING,
        Status.TIME_WAIT,
        Status.CLOSE_WAIT,
        Status.LAST_ACK,
    }
)
_RSR_OR_FSR = frozenset({r.Sn_TX_FSR, r.Sn_RX_RSR})


def _ip_int(ip: bytes) -> int:
    return int.from_bytes(ip, "big")


class W5500Chip:
    def __init__(
        self,
        network: NetworkPort | None = None,
        *,
        faults: ChipFaults | None = None,
        link_up_delay: float = 0.0,
        initial_pointer: int = 0,
        timeout_scale: float = 1.0,
        now: float = 0.0,
    ) -> None:
        self.network: NetworkPort = network or NullNetwork()
        self.faults = faults or ChipFaults()
        self.initial_pointer = initial_pointer
        self.timeout_scale = timeout_scale
        self.now = now
        self.phy = Phy(link_up_delay)
        self.errors: list[str] = []
        self.common = bytearray(r.COMMON_SIZE)
        self.sockets = [SocketState() for _ in range(r.NUM_SOCKETS)]
        self.tx_mem = bytearray(r.BUFFER_RAM)
        self.rx_mem = bytearray(r.BUFFER_RAM)
        self.decoder = FrameDecoder(self)
        self.intn_high = True
        self.int_edges: list[bool] = []
        self._int_released_at = float("-inf")
        self._int_hold_until: float | None = None
        self.reset()

    # ----------------------------------------------------------------- reset and time
    def reset(self) -> None:
        """Power-on, RSTn or MR.RST: every register back to its reset value, every socket closed."""
        for n in range(r.NUM_SOCKETS):
            self.network.release(n)
        self.common = bytearray(r.COMMON_SIZE)
        for offset, value in r.COMMON_RESET.items():
            self.common[offset] = value
        self.sockets = [SocketState() for _ in range(r.NUM_SOCKETS)]
        self.phy.reset(self.now)
        self._update_int()

    def tick(self, now: float) -> None:
        self.now = max(self.now, now)
        link = self.link_up
        for n, s in enumerate(self.sockets):
            if link and s.held_tx:
                data = bytes(s.held_tx)
                s.held_tx.clear()
                s.clear_timer()
                self.network.tcp_send(n, data)
            if s.deadline is not None and self.now >= s.deadline:
                action = s.timer_action
                s.clear_timer()
                self._expire(n, action)
        self._update_int()

    def next_deadline(self) -> float | None:
        times = [s.deadline for s in self.sockets if s.deadline is not None]
        phy_change = self.phy.next_change(self.now)
        if phy_change is not None:
            times.append(phy_change)
        if self._int_hold_until is not None:
            times.append(self._int_hold_until)
        return min(times) if times else None

    @property
    def link_up(self) -> bool:
        return self.phy.link_up(self.now)

    def set_cable(self, plugged: bool) -> None:
        self.phy.set_cable(plugged, self.now)

    # ----------------------------------------------------------------- SPI
    def select(self) -> None:
        self.decoder.select()

    def exchange(self, mosi: bytes) -> bytes:
        return self.decoder.exchange(mosi)

    def deselect(self) -> None:
        self.decoder.deselect()
        self._update_int()

    def transfer(self, frame: bytes) -> bytes:
        """One whole chip-select frame: header and data; returns the MISO bytes."""
        self.select()
        miso = self.exchange(frame)
        self.deselect()
        return miso

    def read(self, block: int, offset: int, count: int) -> bytes:
        if block == r.BLOCK_COMMON:
            return bytes(self._read_common(offset + i) for i in range(count))
        n, kind = divmod(block, 4)
        if n >= r.NUM_SOCKETS or kind == 0:
            return bytes(count)
        if kind == 1:
            return bytes(self._read_socket(n, offset + i) for i in range(count))
        return self._ring_read(n, kind == 2, offset, count)

    def write(self, block: int, offset: int, data: bytes) -> None:
        if block == r.BLOCK_COMMON:
            for i, value in enumerate(data):
                self._write_common(offset + i, value)
            return
        n, kind = divmod(block, 4)
        if n >= r.NUM_SOCKETS or kind == 0:
            return
        if kind == 1:
            for i, value in enumerate(data):
                self._write_socket(n, offset + i, value)
            return
        self._ring_write(n, kind == 2, offset, data)

    def frame_done(self, frame: FrameInfo) -> None:
        n, kind = divmod(frame.block, 4)
        if not self.faults.torn_reads or frame.write or kind != 1 or n >= r.NUM_SOCKETS:
            return
        if any(reg in range(frame.start, frame.start + frame.length) for reg in _RSR_OR_FSR):
            self._publish(n)

    # ----------------------------------------------------------------- common registers
    def _read_common(self, offset: int) -> int:
        if offset >= r.COMMON_SIZE:
            return 0
        if offset == r.VERSIONR:
            return r.VERSION
        if offset == r.PHYCFGR:
            return self.phy.read(self.now)
        if offset == r.SIR:
            return self._sir()
        if offset == r.IR:
            return self.common[r.IR] & r.COMMON_IR_MASK
        if r.PHYCFGR < offset < r.VERSIONR:
            return 0
        return self.common[offset]

    def _write_common(self, offset: int, value: int) -> None:
        if offset >= r.COMMON_SIZE or offset in (r.SIR, r.VERSIONR) or r.UIPR <= offset < r.PHYCFGR:
            return
        if offset == r.MR and value & r.MR_RST:
            self.reset()
        elif offset == r.IR:
            self.common[r.IR] &= ~value & 0xFF
        elif offset == r.PHYCFGR:
            self.phy.write(value, self.now)
        elif offset < r.PHYCFGR:
            self.common[offset] = value

    def _common16(self, offset: int) -> int:
        return (self.common[offset] << 8) | self.common[offset + 1]

    def _ip(self, offset: int) -> bytes:
        return bytes(self.common[offset : offset + 4])

    def arp_timeout(self) -> float:
        return arp_timeout(self._common16(r.RTR), self.common[r.RCR]) * self.timeout_scale

    def tcp_timeout(self) -> float:
        return tcp_timeout(self._common16(r.RTR), self.common[r.RCR]) * self.timeout_scale

    # ----------------------------------------------------------------- socket registers
    def _read_socket(self, n: int, offset: int) -> int:
        s = self.sockets[n]
        if offset >= r.SOCKET_SIZE:
            return 0
        if offset == r.Sn_CR:
            if s.cr_stuck:
                return s.cr_value
            if s.cr_busy_reads > 0:
                s.cr_busy_reads -= 1
                return s.cr_value
            return 0
        if offset == r.Sn_IR:
            return s.ir
        if offset == r.Sn_SR:
            spurious = self.faults.spurious_sr.get(n)
            if spurious:
                return spurious.pop(0)
            return int(s.status)
        base = offset & ~1
        if base in (r.Sn_TX_FSR, r.Sn_TX_RD, r.Sn_RX_RSR, r.Sn_RX_WR):
            value = {
                r.Sn_TX_FSR: self.tx_free(n),
                r.Sn_TX_RD: s.tx_rd_seen,
                r.Sn_RX_RSR: self._rsr_seen(n),
                r.Sn_RX_WR: s.rx_wr_seen,
            }[base]
            return (value >> 8) & 0xFF if offset == base else value & 0xFF
        return s.regs[offset]

    def _write_socket(self, n: int, offset: int, value: int) -> None:
        s = self.sockets[n]
        if offset >= r.SOCKET_SIZE or offset in r.SOCKET_READ_ONLY:
            return
        if offset == r.Sn_CR:
            self._command(n, value)
        elif offset == r.Sn_IR:
            s.ir &= ~value & 0xFF
        else:
            s.regs[offset] = value

    # ----------------------------------------------------------------- buffers
    def buffer_size(self, n: int, tx: bool) -> int:
        kb = self.sockets[n].regs[r.Sn_TXBUF_SIZE if tx else r.Sn_RXBUF_SIZE]
        return kb * 1024 if kb in r.VALID_BUFFER_KB else 0

    def _buffer_base(self, n: int, tx: bool) -> int:
        return sum(self.buffer_size(i, tx) for i in range(n))

    def _buffers_fit(self) -> bool:
        return all(self._buffer_base(r.NUM_SOCKETS, tx) <= r.BUFFER_RAM for tx in (True, False))

    def _ring_read(self, n: int, tx: bool, offset: int, count: int) -> bytes:
        size = self.buffer_size(n, tx)
        if size == 0:
            return bytes(count)
        mem = self.tx_mem if tx else self.rx_mem
        base = self._buffer_base(n, tx)
        out = bytearray()
        while len(out) < count:
            pos = (offset + len(out)) & (size - 1)
            take = min(size - pos, count - len(out))
            start = (base + pos) % r.BUFFER_RAM
            chunk = mem[start : start + take]
            out += chunk + mem[: take - len(chunk)]
        return bytes(out)

    def _ring_write(self, n: int, tx: bool, offset: int, data: bytes) -> None:
        size = self.buffer_size(n, tx)
        if size == 0:
            return
        mem = self.tx_mem if tx else self.rx_mem
        base = self._buffer_base(n, tx)
        done = 0
        while done < len(data):
            pos = (offset + done) & (size - 1)
            take = min(size - pos, len(data) - done)
            for i in range(take):
                mem[(base + pos + i) % r.BUFFER_RAM] = data[done + i]
            done += take

    def tx_free(self, n: int) -> int:
        s = self.sockets[n]
        return max(0, self.buffer_size(n, True) - ((s.tx_wr - s.tx_rd_seen) & 0xFFFF))

    def _rsr_seen(self, n: int) -> int:
        s = self.sockets[n]
        return (s.rx_wr_seen - s.rx_rd) & 0xFFFF

    def rx_free(self, n: int) -> int:
        """Free RX ring space, counting arrivals not yet published in torn-read mode."""
        s = self.sockets[n]
        return max(0, self.buffer_size(n, False) - ((s.rx_wr - s.rx_rd) & 0xFFFF))

    def _rx_append(self, n: int, data: bytes) -> None:
        s = self.sockets[n]
        self._ring_write(n, False, s.rx_wr, data)
        s.rx_wr = (s.rx_wr + len(data)) & 0xFFFF

    def _publish(self, n: int) -> None:
        s = self.sockets[n]
        s.rx_wr_seen = s.rx_wr
        s.tx_rd_seen = s.tx_rd
        bits = s.pending_ir
        if n in self.faults.drop_send_ok:
            bits &= ~SocketIrq.SEND_OK
        s.ir |= bits
        s.pending_ir = 0

    def _raise(self, n: int, bits: int) -> None:
        """Set Sn_IR bits now; in torn-read mode RECV and SEND_OK wait for the pointers they belong to."""
        s = self.sockets[n]
        if self.faults.torn_reads:
            staged = bits & (SocketIrq.RECV | SocketIrq.SEND_OK)
            s.ir |= bits & ~staged
            s.pending_ir |= staged
        else:
            s.pending_ir |= bits
            self._publish(n)

    # ----------------------------------------------------------------- commands
    def _command(self, n: int, value: int) -> None:
        s = self.sockets[n]
        s.cr_value = value
        if n in self.faults.stuck_cr:
            s.cr_stuck = True
            return
        s.cr_busy_reads = self.faults.cr_busy_reads
        handler = self._COMMANDS.get(value)
        if handler is not None:
            handler(self, n)

    def _protocol(self, n: int) -> int:
        return self.sockets[n].regs[r.Sn_MR] & r.Sn_MR_PROTOCOL_MASK

    def _teardown(self, n: int) -> None:
        s = self.sockets[n]
        if s.status != Status.CLOSED:
            self.network.release(n)
        s.clear_timer()
        s.held_tx.clear()
        s.send_pending = False

    def _close(self, n: int, bits: int = 0) -> None:
        self._teardown(n)
        self.sockets[n].status = Status.CLOSED
        if bits:
            self._raise(n, bits)

    def _cmd_open(self, n: int) -> None:
        s = self.sockets[n]
        proto = self._protocol(n)
        if proto == Protocol.CLOSED:
            return
        self._teardown(n)
        s.status = Status.CLOSED
        if not self._buffers_fit():
            message = "Sn_TXBUF_SIZE/Sn_RXBUF_SIZE total more than 16 KB: OPEN refused"
            self.errors.append(message)
            log.error("W5500 emulator: %s (socket %d)", message, n)
            return
        s.reset_pointers(self.initial_pointer)
        s.set_reg16(r.Sn_TX_WR, s.tx_wr)
        s.set_reg16(r.Sn_RX_RD, s.rx_rd)
        s.pending_ir = 0
        if proto == Protocol.TCP:
            s.status = Status.INIT
        elif proto == Protocol.UDP:
            s.status = Status.UDP
            self.network.udp_open(n, s.reg16(r.Sn_PORT))
        elif proto == Protocol.MACRAW and n == 0:
            s.status = Status.MACRAW

    def _cmd_listen(self, n: int) -> None:
        s = self.sockets[n]
        if s.status == Status.INIT:
            s.status = Status.LISTEN
            self.network.tcp_listen(n, s.reg16(r.Sn_PORT))

    def _next_hop(self, dst: bytes) -> bytes:
        mask = _ip_int(self._ip(r.SUBR))
        if _ip_int(dst) & mask == _ip_int(self._ip(r.SIPR)) & mask:
            return dst
        return self._ip(r.GAR)

    def _is_broadcast(self, dst: bytes) -> bool:
        if dst == _BROADCAST:
            return True
        mask = _ip_int(self._ip(r.SUBR))
        return mask != 0 and _ip_int(dst) == (_ip_int(self._ip(r.SIPR)) | (~mask & 0xFFFFFFFF))

    def _resolve(self, dst: bytes) -> bytes | None:
        """The chip's ARP: the MAC of the next hop towards dst, or None when nobody answers."""
        if not self.link_up or dst == _ZERO_IP:
            return None
        next_hop = self._next_hop(dst)
        if next_hop == _ZERO_IP:
            return None
        return self.network.arp(next_hop, dst)

    def _cmd_connect(self, n: int) -> None:
        s = self.sockets[n]
        if s.status != Status.INIT:
            return
        dst = bytes(s.regs[r.Sn_DIPR : r.Sn_DIPR + 4])
        port = s.reg16(r.Sn_DPORT)
        s.status = Status.SYNSENT
        mac = self._resolve(dst) if port else None
        if mac is None:
            s.set_timer(self.now + self.arp_timeout(), TimerAction.CLOSE_WITH_TIMEOUT)
            return
        s.regs[r.Sn_DHAR : r.Sn_DHAR + 6] = mac
        s.set_timer(self.now + self.tcp_timeout(), TimerAction.CLOSE_WITH_TIMEOUT)
        self.network.tcp_connect(n, dst, port)

    def _cmd_discon(self, n: int) -> None:
        s = self.sockets[n]
        if s.status == Status.ESTABLISHED:
            s.status = Status.FIN_WAIT
        elif s.status == Status.CLOSE_WAIT:
            s.status = Status.LAST_ACK
        elif s.status in (Status.INIT, Status.LISTEN, Status.SYNSENT, Status.SYNRECV):
            self._close(n)
            return
        else:
            return
        s.set_timer(self.now + self.tcp_timeout(), TimerAction.CLOSE_WITH_TIMEOUT)
        self.network.tcp_shutdown(n)

    def _cmd_close(self, n: int) -> None:
        self._close(n)

    def _cmd_send(self, n: int) -> None:
        s = self.sockets[n]
        new_wr = s.reg16(r.Sn_TX_WR)
        if s.status in _TCP_CONNECTED:
            self._send_tcp(n, new_wr)
        elif s.status == Status.UDP and s.timer_action is None:
            self._send_udp(n, new_wr, use_dhar=s.cr_value == Command.SEND_MAC)
        elif s.status == Status.MACRAW:
            # MACRAW frames are accepted and dropped: the emulated LAN carries no raw Ethernet.
            s.tx_wr = s.tx_rd = new_wr
            self._raise(n, SocketIrq.SEND_OK)

    def _send_tcp(self, n: int, new_wr: int) -> None:
        s = self.sockets[n]
        length = (new_wr - s.tx_wr) & 0xFFFF
        if length == 0:
            if not s.send_pending:
                self._raise(n, SocketIrq.SEND_OK)
            return
        data = self._ring_read(n, True, s.tx_wr, length)
        s.tx_wr = new_wr
        s.send_pending = True
        if self.link_up:
            self.network.tcp_send(n, data)
        else:
            s.held_tx += data
            if s.deadline is None:
                s.set_timer(self.now + self.tcp_timeout(), TimerAction.CLOSE_WITH_TIMEOUT)

    def _send_udp(self, n: int, new_wr: int, use_dhar: bool) -> None:
        s = self.sockets[n]
        dst = bytes(s.regs[r.Sn_DIPR : r.Sn_DIPR + 4])
        port = s.reg16(r.Sn_DPORT)
        s.tx_wr = new_wr
        if new_wr == s.tx_rd:
            self._raise(n, SocketIrq.SEND_OK)
            return
        if self._is_broadcast(dst):
            reachable = True
        elif use_dhar:
            reachable = self.link_up
        else:
            reachable = port != 0 and self._resolve(dst) is not None
        if not reachable:
            s.set_timer(self.now + self.arp_timeout(), TimerAction.UDP_ARP_TIMEOUT)
            return
        length = (new_wr - s.tx_rd) & 0xFFFF
        data = self._ring_read(n, True, s.tx_rd, length)
        mss = s.reg16(r.Sn_MSSR) or r.UDP_MSS
        if self.link_up:
            for start in range(0, len(data), mss):
                self.network.udp_send(n, s.reg16(r.Sn_PORT), dst, port, data[start : start + mss])
        s.tx_rd = new_wr
        self._raise(n, SocketIrq.SEND_OK)

    def _cmd_send_keep(self, n: int) -> None:
        s = self.sockets[n]
        if s.status in _TCP_CONNECTED and s.regs[r.Sn_KPALVTR] == 0 and not self.link_up and s.deadline is None:
            s.set_timer(self.now + self.tcp_timeout(), TimerAction.CLOSE_WITH_TIMEOUT)

    def _cmd_recv(self, n: int) -> None:
        s = self.sockets[n]
        if s.status in (Status.CLOSED, Status.INIT, Status.LISTEN, Status.SYNSENT):
            return
        new_rd = s.reg16(r.Sn_RX_RD)
        if (new_rd - s.rx_rd) & 0xFFFF > self._rsr_seen(n):
            message = f"RECV moved Sn_RX_RD past Sn_RX_WR on socket {n}"
            self.errors.append(message)
            log.error("W5500 emulator: %s", message)
            new_rd = s.rx_wr_seen
        s.rx_rd = new_rd
        if self._rsr_seen(n):
            s.ir |= SocketIrq.RECV

    _COMMANDS: dict[int, Callable[[W5500Chip, int], None]] = {
        Command.OPEN: _cmd_open,
        Command.LISTEN: _cmd_listen,
        Command.CONNECT: _cmd_connect,
        Command.DISCON: _cmd_discon,
        Command.CLOSE: _cmd_close,
        Command.SEND: _cmd_send,
        Command.SEND_MAC: _cmd_send,
        Command.SEND_KEEP: _cmd_send_keep,
        Command.RECV: _cmd_recv,
    }

    def _expire(self, n: int, action: TimerAction | None) -> None:
        s = self.sockets[n]
        if action is TimerAction.CLOSE_WITH_TIMEOUT:
            self._close(n, SocketIrq.TIMEOUT)
        elif action is TimerAction.UDP_ARP_TIMEOUT:
            s.tx_rd = s.tx_wr
            s.tx_rd_seen = s.tx_wr
            s.ir |= SocketIrq.TIMEOUT

    # ----------------------------------------------------------------- network events
    def on_tcp_connected(self, n: int) -> None:
        s = self.sockets[n]
        if s.status != Status.SYNSENT:
            return
        s.clear_timer()
        s.status = Status.ESTABLISHED
        if s.reg16(r.Sn_MSSR) == 0:
            s.set_reg16(r.Sn_MSSR, r.TCP_MSS)
        self._raise(n, SocketIrq.CON)

    def on_tcp_refused(self, n: int) -> None:
        if self.sockets[n].status == Status.SYNSENT:
            self._close(n)

    def on_tcp_accepted(self, n: int, peer_ip: bytes, peer_port: int, peer_mac: bytes) -> None:
        s = self.sockets[n]
        if s.status != Status.LISTEN:
            return
        s.status = Status.ESTABLISHED
        s.regs[r.Sn_DIPR : r.Sn_DIPR + 4] = peer_ip
        s.set_reg16(r.Sn_DPORT, peer_port)
        s.regs[r.Sn_DHAR : r.Sn_DHAR + 6] = peer_mac
        if s.reg16(r.Sn_MSSR) == 0:
            s.set_reg16(r.Sn_MSSR, r.TCP_MSS)
        self._raise(n, SocketIrq.CON)

    def accepts_tcp_data(self, n: int) -> bool:
        return self.link_up and self.sockets[n].status in (Status.ESTABLISHED, Status.FIN_WAIT)

    def on_tcp_data(self, n: int, data: bytes) -> None:
        """Data from the peer; the caller never passes more than rx_free(n) bytes (the receive window)."""
        if not data or self.sockets[n].status not in (Status.ESTABLISHED, Status.FIN_WAIT):
            return
        self._rx_append(n, data[: self.rx_free(n)])
        self._raise(n, SocketIrq.RECV)

    def on_tcp_sent(self, n: int, count: int) -> None:
        """The peer accepted `count` more bytes of what tcp_send was given (TX_RD advances, TX_FSR grows)."""
        s = self.sockets[n]
        if s.status not in _TCP_STATES:
            return
        s.tx_rd = (s.tx_rd + count) & 0xFFFF
        if s.send_pending and s.tx_rd == s.tx_wr:
            s.send_pending = False
            self._raise(n, SocketIrq.SEND_OK)
        elif not self.faults.torn_reads:
            self._publish(n)

    def on_tcp_peer_fin(self, n: int) -> None:
        s = self.sockets[n]
        if s.status == Status.ESTABLISHED:
            s.status = Status.CLOSE_WAIT
            self._raise(n, SocketIrq.DISCON)
        elif s.status == Status.FIN_WAIT:
            self._close(n, SocketIrq.DISCON)

    def on_tcp_reset(self, n: int) -> None:
        if self.sockets[n].status in _TCP_STATES - {Status.INIT, Status.LISTEN}:
            self._close(n, SocketIrq.DISCON)

    def on_tcp_closed(self, n: int) -> None:
        """Our FIN was acknowledged after the peer's (LAST_ACK done)."""
        if self.sockets[n].status == Status.LAST_ACK:
            self._close(n)

    def on_udp_datagram(self, n: int, src_ip: bytes, src_port: int, data: bytes) -> bool:
        """A datagram for socket n; dropped (False) if it does not fit the free RX space or is oversized."""
        s = self.sockets[n]
        if s.status != Status.UDP or not self.link_up or len(data) > r.UDP_MSS:
            return False
        if r.UDP_HEADER_SIZE + len(data) > self.rx_free(n):
            return False
        length = len(data)
        if self.faults.corrupt_rx_headers > 0:
            self.faults.corrupt_rx_headers -= 1
            length = 0xFFFF
        header = src_ip + src_port.to_bytes(2, "big") + length.to_bytes(2, "big")
        self._rx_append(n, header + data)
        self._raise(n, SocketIrq.RECV)
        return True

    def deliver_udp(self, dst_ip: bytes, dst_port: int, src_ip: bytes, src_port: int, data: bytes) -> bool:
        """A datagram from the LAN (DHCP server, DNS relay) to whichever UDP sockets it is addressed to.

        While SIPR is 0.0.0.0 the chip takes unicast to any address (DHCP replies to yiaddr)."""
        sipr = self._ip(r.SIPR)
        broadcast = self._is_broadcast(dst_ip)
        if not (broadcast or dst_ip == sipr or sipr == _ZERO_IP):
            return False
        delivered = False
        for n, s in enumerate(self.sockets):
            if s.status != Status.UDP or s.reg16(r.Sn_PORT) != dst_port:
                continue
            if broadcast and s.regs[r.Sn_MR] & 0x40:
                continue
            delivered = self.on_udp_datagram(n, src_ip, src_port, data) or delivered
            if not broadcast:
                break
        return delivered

    # ----------------------------------------------------------------- interrupts
    def _sir(self) -> int:
        return sum(1 << n for n, s in enumerate(self.sockets) if s.ir & s.regs[r.Sn_IMR])

    def update_intn(self) -> None:
        """Re-evaluate INTn after network events changed Sn_IR (SPI frames and tick do this themselves)."""
        self._update_int()

    def _update_int(self) -> None:
        asserted = bool(
            (self.common[r.IR] & self.common[r.IMR] & r.COMMON_IR_MASK) or (self._sir() & self.common[r.SIMR])
        )
        self._int_hold_until = None
        if asserted and self.intn_high:
            intlevel = self._common16(r.INTLEVEL)
            if intlevel:
                hold_until = self._int_released_at + (intlevel + 1) * 4 / _PLL_HZ
                if self.now < hold_until:
                    self._int_hold_until = hold_until
                    return
            self.intn_high = False
            self.int_edges.append(False)
        elif not asserted and not self.intn_high:
            self.intn_high = True
            self._int_released_at = self.now
            self.int_edges.append(True)
