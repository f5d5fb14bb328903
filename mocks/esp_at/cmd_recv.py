"""Passive receive: AT+CIPRECVMODE, AT+CIPRECVTYPE (ESP-AT 3.x), AT+CIPRECVDATA and AT+CIPRECVLEN?.

Layer: sans-IO command handlers of the device model. Formats and rules are checklist items 16-19: one
outstanding ``+IPD`` notice per link, a new notice after a read that leaves data behind, UDP datagrams summed
and a partial read losing the rest of its datagram, and ESP-AT holding a peer's CLOSED until the buffer is
drained.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form
from .state import Link

if TYPE_CHECKING:
    from .device import EspAtDevice


def _ciprecvmode(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPRECVMODE:{int(dev.passive)}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1 or cmd.int_at(0) not in (0, 1) or dev.cipmode:
        dev.error(now)
        return
    dev.passive = bool(cmd.int_at(0))
    dev.passive_links.clear()
    dev.ok(now)


def _ciprecvtype(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        # One line per link id; the reference gives the line shape only, not how many lines.
        for link_id in range(5):
            dev.info(f"+CIPRECVTYPE:{link_id},{int(dev.passive_links.get(link_id, dev.passive))}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 1 <= len(cmd.params) <= 3 or dev.cipmode:
        dev.error(now)
        return
    if dev.mux and len(cmd.params) >= 2:
        link_id, mode = cmd.int_at(0), cmd.int_at(1)
    elif not dev.mux and len(cmd.params) == 1:
        link_id, mode = 5, cmd.int_at(0)
    else:
        dev.error(now)
        return
    if not 0 <= link_id <= 5 or mode not in (0, 1):
        dev.error(now)
        return
    if link_id == 5:
        dev.passive = bool(mode)
        dev.passive_links.clear()
    else:
        dev.passive_links[link_id] = bool(mode)
    dev.ok(now)


def _take(link: Link, wanted: int) -> bytes:
    if link.kind != "UDP":
        data = bytes(link.rx[:wanted])
        del link.rx[:wanted]
        return data
    taken = bytearray()
    while link.datagrams and len(taken) < wanted:
        datagram = link.datagrams.popleft()[0]
        # A partial read of a datagram loses the rest of it (esp-at #323, #452).
        taken += datagram[: wanted - len(taken)]
    return bytes(taken)


def _ciprecvdata(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    if dev.mux:
        if len(cmd.params) != 2:
            dev.error(now)
            return
        link_id, wanted = cmd.int_at(0), cmd.int_at(1)
    else:
        if len(cmd.params) != 1:
            dev.error(now)
            return
        link_id, wanted = 0, cmd.int_at(0)
    link = dev.links.get(link_id) if 0 <= link_id <= 4 else None
    if link is None or not dev.is_passive(link) or not 0 < wanted <= 0x7FFFFFFF or link.buffered == 0:
        dev.error(now)
        return
    ip, port = link.remote_ip, link.remote_port
    if link.kind == "UDP" and link.datagrams:
        ip, port = link.datagrams[0][1], link.datagrams[0][2]
    data = _take(link, wanted)
    link.notice_pending = False
    if not link.buffered:
        link.tls_overhead = 0
    dev.injection_point("before_recvdata", now)
    if dev.quirk("debug_leaks"):
        dev.info(f"to read {len(data)} bytes")
    header = dev.profile.recvdata_header % len(data)
    if dev.dinfo and dev.profile.recvdata_has_dinfo:
        header += f'"{ip}",{port},'
    dev.emit(header.encode() + data)
    # The reference places injected messages before the header, not between the data and its OK.
    dev.ok(now, injectable=False)
    if link.buffered:
        dev.notice(link)
    elif link.peer_closed or link.dead:
        # ESP-AT prints the held CLOSED once the buffer is drained; NonOS printed it already.
        dev.drop_link(link.id, announce=not link.dead)


def _ciprecvlen(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.QUERY:
        dev.error(now)
        return
    values = []
    for link_id in range(5):
        link = dev.links.get(link_id)
        values.append(str(link.buffered) if link is not None else str(dev.recvlen_inactive))
    dev.info("+CIPRECVLEN:" + ",".join(values))
    dev.ok(now)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "CIPRECVMODE": _ciprecvmode,
    "CIPRECVTYPE": _ciprecvtype,
    "CIPRECVDATA": _ciprecvdata,
    "CIPRECVLEN": _ciprecvlen,
}
