"""Link commands: AT+CIPMUX, AT+CIPMODE, AT+CIPSTART(EX), AT+CIPSEND(EX), AT+CIPCLOSE, AT+CIPSTATUS,
AT+CIPSTATE, AT+CIPSERVER, AT+CIPSERVERMAXCONN, AT+CIPSTO, AT+CIPDINFO.

Layer: sans-IO command handlers of the device model. Connections go through the device's injected `Network`;
an address the world says is unreachable fails after the `unreachable` delay without touching the network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import cmd_ipv6, cmd_tls, passthrough
from .atline import Command, Form, ParseError
from .network import ConnectError
from .state import Link, SendJob, WifiState

if TYPE_CHECKING:
    from .device import EspAtDevice

_TYPES = ("TCP", "UDP", "SSL")


def _cipmux(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPMUX:{dev.mux}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1 or cmd.int_at(0) not in (0, 1):
        dev.error(now)
        return
    value = cmd.int_at(0)
    if value == dev.mux:
        dev.ok(now)
        return
    if any(not link.dead for link in dev.links.values()):
        dev.error(now, text=b"link is builded\r\n")
    elif value == 0 and dev.listener is not None:
        dev.error(now, text=b"CIPSERVER must be 0\r\n")
    elif value == 1 and dev.cipmode == 1:
        dev.error(now, text=b"IPMODE must be 0\r\n")
    else:
        dev.mux = value
        dev.ok(now)


def _cipmode(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPMODE:{dev.cipmode}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1 or cmd.int_at(0) not in (0, 1):
        dev.error(now)
        return
    value = cmd.int_at(0)
    if value == 1 and (dev.mux or dev.listener is not None):
        dev.error(now, text=dev.profile.cipmode_mux_text)
        return
    dev.cipmode = value
    dev.ok(now)


def _link_id_and_rest(dev: EspAtDevice, cmd: Command) -> tuple[int, int] | None:
    """The link id a command names (0 with CIPMUX=0) and the index of its next parameter; None on mismatch."""
    first_is_id = bool(cmd.params) and not cmd.params[0].quoted
    if dev.mux:
        if not first_is_id:
            return None
        return cmd.int_at(0), 1
    if first_is_id:
        return None
    return 0, 0


def _cipstart(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    located = _link_id_and_rest(dev, cmd)
    if located is None:
        dev.error(now)
        return
    _start(dev, cmd, located[0], located[1], now)


def _cipstartex(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET or not cmd.params or not cmd.params[0].quoted:
        dev.error(now)
        return
    link_id = dev.lowest_free_id() if dev.mux else 0
    if link_id is None:
        dev.error(now)
        return
    _start(dev, cmd, link_id, 0, now)


def _start(dev: EspAtDevice, cmd: Command, link_id: int, at: int, now: float) -> None:
    if not 0 <= link_id <= 4:
        dev.error(now, text=dev.profile.bad_id_text)
        return
    if dev.link_open(link_id) is not None:
        dev.error(now, text=b"ALREADY CONNECTED\r\n")
        return
    requested = cmd.str_at(at)
    ipv6 = requested in cmd_ipv6.IPV6_TYPES and cmd_ipv6.enabled(dev)
    kind = cmd_ipv6.IPV6_TYPES[requested] if ipv6 else requested
    if kind not in _TYPES:
        dev.error(now, text=dev.profile.bad_type_text)
        return
    host = cmd.str_at(at + 1)
    port = cmd.int_at(at + 2)
    local_port = 0
    fixed_remote = True
    if kind == "UDP":
        local_port = cmd.int_at(at + 3, 0)
        mode = cmd.int_at(at + 4, 0)
        if not 0 <= local_port <= 65535 or mode not in (0, 1, 2):
            dev.error(now)
            return
        fixed_remote = mode == 0
    else:
        keepalive = cmd.int_at(at + 3, 0)
        if not 0 <= keepalive <= 7200:
            dev.error(now)
            return
    if not 0 <= port <= 65535 or (kind != "UDP" and port == 0) or not 0 < len(host) <= 64:
        dev.error(now)
        return
    if not dev.wifi_connected():
        dev.error(now, text=b"no ip\r\n")
        return
    ssl_links = sum(1 for link in dev.links.values() if link.kind == "SSL" and not link.dead)
    if kind == "SSL" and ssl_links >= dev.profile.ssl_max_links:
        dev.error(now)
        return
    dev.busy = "p"

    def fail(at_time: float, closed: bool) -> None:
        dev.busy = None
        dev.error(at_time, text=dev.profile.dns_fail_text if not closed else b"")
        if closed:
            # A failed CIPSTART prints ERROR and then CLOSED for a link that never opened (reference §8.6).
            dev.emit(dev.closed_message(link_id))

    def connect(at_time: float, ip: str) -> None:
        if kind != "UDP" and not dev.world.reachable(ip):
            dev.schedule(dev.delay("unreachable"), lambda t: fail(t, True), at_time)
            return
        delay = dev.delay("ssl_connect" if kind == "SSL" else "tcp_connect")
        dev.schedule(delay, lambda t: finish(t, ip), at_time)

    def finish(at_time: float, ip: str) -> None:
        tls = cmd_tls.options_for(dev, link_id, host) if kind == "SSL" else None
        if kind == "SSL" and tls is None:
            fail(at_time, True)  # told to verify or present a certificate the PKI partition does not hold
            return
        result = dev.network.connect(kind, ip, port, local_port=local_port, udp_fixed_remote=fixed_remote, tls=tls)
        if isinstance(result, ConnectError):
            fail(at_time, True)
            return
        link = Link(link_id, kind, result, False, ip, port, result.local_port, at_time)
        dev.add_link(link)
        dev.busy = None
        dev.emit(dev.connect_message(link))
        dev.ok(at_time)
        if kind == "UDP" and dev.quirk("debug_leaks"):
            dev.info(f"local port:{link.local_port}")
            dev.info("change type:2")

    ip = dev.world.resolve6(host) if ipv6 else dev.world.resolve(host)
    literal = ip == host or (ipv6 and ip is not None and host.lower() == ip.lower())
    if literal and ip is not None:
        connect(now, ip)
        return

    def resolved(at_time: float) -> None:
        if ip is None:
            fail(at_time, False)
        else:
            connect(at_time, ip)

    dev.schedule(dev.delay("dns"), resolved, now)


def _cipsend(dev: EspAtDevice, cmd: Command, now: float) -> None:
    extended = cmd.name == "CIPSENDEX"
    if cmd.form is Form.EXECUTE:
        _enter_passthrough(dev, now)
        return
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    # The numeric head is <len> with CIPMUX=0 and <link>,<len> with CIPMUX=1; anything else is a mismatch.
    lead = next((i for i, p in enumerate(cmd.params) if p.quoted), len(cmd.params))
    if lead != (2 if dev.mux else 1):
        dev.error(now)
        return
    link_id, at = (cmd.int_at(0), 1) if dev.mux else (0, 0)
    length = cmd.int_at(at)
    address: tuple[str, int] | None = None
    if len(cmd.params) == at + 3:
        address = (cmd.str_at(at + 1), cmd.int_at(at + 2))
    elif len(cmd.params) != at + 1:
        dev.error(now)
        return
    if not 0 <= link_id <= 4:
        dev.error(now)
        return
    link = dev.link_open(link_id)
    if link is None:
        dev.error(now, text=b"link is not valid\r\n")
        return
    if not 0 < length <= dev.profile.max_send_len or (address is not None and link.kind != "UDP"):
        dev.error(now)
        return
    dev.busy = "p"

    def prompt(at_time: float) -> None:
        ok_part = b"\r\nOK\r\n"
        dev.emit(ok_part)
        dev.injection_point("before_prompt", at_time)
        dev.emit(dev.profile.prompt[len(ok_part) :])
        dev.start_data_phase(SendJob(link, length, extended, address), at_time)

    dev.schedule(dev.delay("prompt"), prompt, now)


def _enter_passthrough(dev: EspAtDevice, now: float) -> None:
    """The bare AT+CIPSEND: only with CIPMODE=1 (which implies CIPMUX=0) and an open link 0."""
    link = dev.link_open(0)
    if dev.cipmode != 1 or dev.mux or link is None:
        dev.error(now)
        return
    dev.busy = "p"

    def prompt(at_time: float) -> None:
        dev.busy = None
        dev.emit(dev.profile.prompt)
        passthrough.enter(dev, link, at_time)

    dev.schedule(dev.delay("prompt"), prompt, now)


def _cipclose(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if dev.mux:
        if cmd.form is not Form.SET or len(cmd.params) != 1:
            dev.error(now)
            return
        link_id = cmd.int_at(0)
    else:
        if cmd.form is not Form.EXECUTE:
            dev.error(now)
            return
        link_id = 0
    if not 0 <= link_id <= 5:
        dev.error(now, text=dev.profile.bad_id_text)
        return
    targets = sorted(dev.links) if link_id == 5 else [link_id]
    live = [i for i in targets if i in dev.links and not dev.links[i].dead]
    if link_id != 5 and not live:
        dev.drop_link(link_id, announce=False)
        dev.error(now, text=dev.profile.unlink_text)
        return

    def closed(at_time: float) -> None:
        for i in targets:
            dev.drop_link(i, announce=True)
        dev.ok(at_time)

    dev.run_busy(dev.delay("close"), closed, now)


def _link_line(prefix: str, link: Link) -> str:
    return (
        f'{prefix}:{link.id},"{link.kind}","{link.remote_ip}",{link.remote_port},{link.local_port},{int(link.server)}'
    )


def _cipstatus(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    live = [dev.links[i] for i in sorted(dev.links) if not dev.links[i].dead]
    if not dev.wifi_connected():
        status = dev.profile.cipstatus_idle if dev.wifi == WifiState.NEVER else 5
    elif live:
        status = 3
    elif dev.had_links:
        status = 4
    else:
        status = 2
    dev.info(f"STATUS:{status}")
    for link in live:
        dev.info(_link_line("+CIPSTATUS", link))
    dev.ok(now)


def _cipstate(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.QUERY:
        dev.error(now)
        return
    for link_id in sorted(dev.links):
        link = dev.links[link_id]
        if not link.dead:
            dev.info(_link_line("+CIPSTATE", link))
    dev.ok(now)


def _cipserver(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY and dev.profile.cipserver_query:
        if dev.listener is None:
            dev.info("+CIPSERVER:0")
        else:
            dev.info(f'+CIPSERVER:1,{dev.server_port},"TCP",0')
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 1 <= len(cmd.params) <= 4:
        dev.error(now)
        return
    mode = cmd.int_at(0)
    if mode == 0:
        if dev.listener is None:
            idle_text = dev.profile.cipserver_stop_idle_text
            if idle_text is None:
                dev.error(now)
            else:
                dev.emit(idle_text)
                dev.ok(now)
            return
        dev.listener.close()
        dev.listener = None
        if cmd.int_at(1, 0) == 1:
            for link_id in sorted(dev.links):
                if dev.links[link_id].server:
                    dev.drop_link(link_id, announce=True)
        dev.ok(now)
        return
    if mode != 1 or not dev.mux:
        dev.error(now)
        return
    port = cmd.int_at(1, 333)
    kind = cmd.str_at(2, "TCP")
    if kind != "TCP" or not 0 < port <= 65535:
        # SSL servers need a certificate the emulator does not model; ESP8266 firmware has none at all.
        dev.error(now)
        return
    if dev.listener is not None:
        if port == dev.server_port:
            dev.info("no change")
            dev.ok(now)
        else:
            dev.error(now)
        return
    result = dev.network.listen(port)
    if isinstance(result, ConnectError):
        dev.error(now)
        return
    dev.listener = result
    dev.server_port = port
    dev.ok(now)


def _cipservermaxconn(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPSERVERMAXCONN:{dev.server_maxconn}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 1 <= cmd.int_at(0) <= 5 or dev.listener is not None:
        dev.error(now)
        return
    dev.server_maxconn = cmd.int_at(0)
    dev.ok(now)


def _cipsto(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPSTO:{dev.cipsto}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 0 <= cmd.int_at(0) <= 7200:
        dev.error(now)
        return
    dev.cipsto = cmd.int_at(0)
    dev.ok(now)


def _cipdinfo(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY and dev.profile.cipdinfo_query:
        dev.info("+CIPDINFO:true" if dev.dinfo else "+CIPDINFO:false")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1:
        dev.error(now)
        return
    value = cmd.int_at(0)
    if value not in (0, 1):
        raise ParseError("CIPDINFO takes 0 or 1")
    dev.dinfo = bool(value)
    dev.ok(now)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "CIPMUX": _cipmux,
    "CIPMODE": _cipmode,
    "CIPSTART": _cipstart,
    "CIPSTARTEX": _cipstartex,
    "CIPSEND": _cipsend,
    "CIPSENDEX": _cipsend,
    "CIPCLOSE": _cipclose,
    "CIPSTATUS": _cipstatus,
    "CIPSTATE": _cipstate,
    "CIPSERVER": _cipserver,
    "CIPSERVERMAXCONN": _cipservermaxconn,
    "CIPSTO": _cipsto,
    "CIPDINFO": _cipdinfo,
}
