"""SoftAP commands: AT+CWSAP (NonOS AT+CWSAP_CUR/_DEF), AT+CWLIF, AT+CWQIF, and emulated stations that join and
leave the module's access point.

Layer: sans-IO command handlers of the device model. The SoftAP is up while AT+CWMODE is 2 or 3. A station that
joins gets ``+STA_CONNECTED:"<mac>"`` at once and ``+DIST_STA_IP:"<mac>","<ip>"`` after the `station_dhcp`
delay; leaving prints ``+STA_DISCONNECTED:"<mac>"`` (reference §2.4: no space after the colon, MAC quoted). NonOS
prints none of them (`Profile.softap_urcs`). A TCP server (AT+CIPSERVER) on the SoftAP side is the same host
listener as on the station side: 127.0.0.1 at the same port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form
from .state import SoftApConfig

if TYPE_CHECKING:
    from .device import EspAtDevice

#: MACs handed to emulated stations that join without one: locally administered, one per join.
_STATION_MAC = "02:5a:00:00:04:{:02x}"


def softap_up(dev: EspAtDevice) -> bool:
    return dev.cwmode in (2, 3)


def _cwsap(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if not softap_up(dev):
        dev.error(now)  # "This command works only when AT+CWMODE=2 or AT+CWMODE=3" (Espressif's AT+CWSAP docs)
        return
    config = dev.softap_config
    if cmd.form is Form.QUERY:
        dev.info(
            f'+{cmd.name}:"{config.ssid}","{config.password}",{config.channel},{config.ecn},'
            f"{config.max_conn},{config.hidden}"
        )
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 4 <= len(cmd.params) <= 6:
        dev.error(now)
        return
    ssid, password = cmd.str_at(0), cmd.str_at(1, "")
    channel, ecn = cmd.int_at(2), cmd.int_at(3)
    max_conn = cmd.int_at(4, dev.profile.softap_max_conn)
    hidden = cmd.int_at(5, 0)
    valid = (
        0 < len(ssid.encode()) <= 32
        and 1 <= channel <= 13
        and ecn in dev.profile.softap_securities
        and (ecn == 0 or 8 <= len(password.encode()) <= 64)
        and 1 <= max_conn <= dev.profile.softap_max_conn
        and hidden in (0, 1)
    )
    if not valid:
        dev.error(now)
        return
    new = SoftApConfig(ssid, password if ecn else "", channel, ecn, max_conn, hidden)
    # Reconfiguring restarts the access point: every station is dropped.
    dev.ok(now)
    drop_all_stations(dev)
    dev.softap_config = new
    if not cmd.name.endswith("_CUR"):
        dev.softap_config_stored = SoftApConfig(**vars(new))


def _cwlif(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    for mac, ip in dev.features.stations.items():
        if ip:  # "works only when DHCP of both the SoftAP and the station are enabled" (Espressif's docs)
            dev.info(f"{dev.profile.cwlif_prefix}{ip},{mac}")
    dev.ok(now)


def _cwqif(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.EXECUTE:
        dev.ok(now)
        drop_all_stations(dev)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1:
        dev.error(now)
        return
    mac = cmd.str_at(0).lower()
    if mac not in dev.features.stations:
        dev.error(now)
        return
    dev.ok(now)
    station_leave(dev, mac)


# ---------------------------------------------------------------------- emulated stations


def station_join(dev: EspAtDevice, now: float, mac: str | None = None) -> str | None:
    """An emulated station associates with the SoftAP; returns its MAC, or None when the AP is down or full."""
    if not softap_up(dev) or len(dev.features.stations) >= dev.softap_config.max_conn:
        return None
    if mac is None:
        mac = next(_STATION_MAC.format(i) for i in range(2, 256) if _STATION_MAC.format(i) not in dev.features.stations)
    mac = mac.lower()
    if mac in dev.features.stations:
        return mac
    dev.features.stations[mac] = ""
    if dev.profile.softap_urcs:
        dev.emit(f'+STA_CONNECTED:"{mac}"\r\n'.encode())
    features = dev.features

    def leased(at: float) -> None:
        if dev.features is not features or mac not in features.stations:
            return
        ip = _free_ip(dev)
        features.stations[mac] = ip
        if dev.profile.softap_urcs:
            dev.emit(f'+DIST_STA_IP:"{mac}","{ip}"\r\n'.encode())

    dev.schedule(dev.delay("station_dhcp"), leased, now)
    return mac


def station_leave(dev: EspAtDevice, mac: str) -> bool:
    """An emulated station leaves the SoftAP; False when it was not there."""
    if dev.features.stations.pop(mac.lower(), None) is None:
        return False
    if dev.profile.softap_urcs:
        dev.emit(f'+STA_DISCONNECTED:"{mac.lower()}"\r\n'.encode())
    return True


def drop_all_stations(dev: EspAtDevice) -> None:
    for mac in list(dev.features.stations):
        station_leave(dev, mac)


def softap_mode_changed(dev: EspAtDevice, now: float, was_up: bool) -> None:
    """Called after AT+CWMODE switched: stations leave a SoftAP that went down; the URL's stations join a new one."""
    if was_up and not softap_up(dev):
        drop_all_stations(dev)
    elif softap_up(dev) and not was_up:

        def join(at: float) -> None:
            station_join(dev, at)

        for _ in range(dev.softap_stations_on_start):
            dev.schedule(dev.delay("station_dhcp"), join, now)


def _free_ip(dev: EspAtDevice) -> str:
    network = ipaddress.IPv4Interface(f"{dev.world.softap_ip}/24").network
    taken = set(dev.features.stations.values()) | {dev.world.softap_ip}
    for host in network.hosts():
        if host.packed[-1] >= 2 and str(host) not in taken:
            return str(host)
    raise RuntimeError("SoftAP address pool exhausted")  # max_conn <= 10 makes this unreachable


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "CWSAP": _cwsap,
    "CWLIF": _cwlif,
    "CWQIF": _cwqif,
}
