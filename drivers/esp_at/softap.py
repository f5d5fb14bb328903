"""``ESPSoftAP``: the ESP-AT module as a Wi-Fi access point, beside its station interface (not in Mbed OS).

Layer: the API on top, next to ``interface``. Obtained from ``ESP8266Interface.softap()``, it shares that
interface's module, runner and socket stack: starting it puts the module in station+SoftAP mode (``AT+CWMODE=3``,
NonOS ``AT+CWMODE_CUR=3``), so the station side keeps its link, its sockets and ``connect()``; ``stop()`` goes back
to station mode (``=1``) without leaving the joined network. Settings go out in one ``AT+CWSAP`` (NonOS
``AT+CWSAP_CUR``, RAM only on every firmware); ``stations()`` reads ``AT+CWLIF``.

Station news: on ESP-AT the ``+STA_CONNECTED`` / ``+DIST_STA_IP`` / ``+STA_DISCONNECTED`` messages reach the
``attach`` callbacks on the driver's reader thread, as ``sigio`` callbacks do (so they must not make blocking
calls). NonOS 1.7 prints none: there the events come from ``stations()``, which compares each list with the one
before (call it periodically, as ``netsocket softap`` does). A station leaving because the SoftAP stopped, was
reconfigured or the module reset gets its ``LEFT`` event too.

A module reset (``ready``): a started SoftAP is set up again with the same settings once the driver has
re-initialised the module (its stations have to join again); until then ``stations()`` reports what the
re-initialisation gives. The same holds after ``disconnect()``/``close()`` of the station interface, which release
the module: the next start-up brings the SoftAP back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from netsocket.callback_context import forbid_in_callback, run_callback
from netsocket.errors import NsapiError
from netsocket.types import NsapiSecurity

from . import commands as cmd
from .commands import ParameterError
from .core import Notice

if TYPE_CHECKING:
    from .interface import ESP8266Interface

_log = logging.getLogger("netsocket.drivers.esp_at")

PASSPHRASE_BYTES = (8, 64)
"""A WPA passphrase's length range in bytes (64 is a hex PSK)."""


class SoftAPEventKind(Enum):
    JOINED = "joined"
    """A station associated (it has no address yet)."""
    GOT_IP = "got_ip"
    """The SoftAP's DHCP server leased the station an address."""
    LEFT = "left"


@dataclass(frozen=True)
class SoftAPStation:
    """A station on the SoftAP: its MAC (``aa:bb:cc:dd:ee:ff``, lower case) and leased IPv4 address."""

    mac: str
    ip: str | None


@dataclass(frozen=True)
class SoftAPEvent:
    """What an ``attach`` callback receives: what happened, to which station (and its address, once known)."""

    kind: SoftAPEventKind
    mac: str
    ip: str | None = None


SoftAPCallback = Callable[[SoftAPEvent], None]


class ESPSoftAP:
    """The module's access point. Configure with the setters (checked against the limits every firmware shares),
    then ``start()``; the firmware's own limits (channel range, maximum stations, securities) are checked there,
    once the firmware is known: ``PARAMETER`` for a value out of range, ``UNSUPPORTED`` for a security the
    firmware's SoftAP does not offer (WEP and WPA3 nowhere; open, WPA, WPA2 and WPA/WPA2 everywhere)."""

    def __init__(self, iface: ESP8266Interface) -> None:
        self._iface = iface
        self._ssid: str | None = None
        self._pass_phrase = ""
        self._security = NsapiSecurity.NONE
        self._channel = 1
        self._max_stations: int | None = None
        self._hidden = False
        self._started = False
        self._lock = threading.Lock()
        self._stations: dict[str, str | None] = {}
        """Stations known to be joined (MAC to leased address), from the messages or the last ``stations()``."""
        self._callbacks: list[SoftAPCallback] = []

    # -- settings -------------------------------------------------------------------------------------------------
    def set_credentials(
        self, ssid: str, pass_phrase: str = "", security: NsapiSecurity = NsapiSecurity.NONE
    ) -> NsapiError:
        """The network to offer: an SSID of 1..32 bytes and, unless ``security`` is NONE, a passphrase of 8..64
        bytes (an open network takes none). Applies at the next ``start()``."""
        if not isinstance(ssid, str) or not isinstance(pass_phrase, str):
            raise TypeError("the SSID and the passphrase are str")
        if not isinstance(security, NsapiSecurity):
            raise TypeError(f"security is an NsapiSecurity, not {type(security).__name__}")
        low, high = PASSPHRASE_BYTES
        if not ssid or (security != NsapiSecurity.NONE and not low <= len(pass_phrase.encode()) <= high):
            return NsapiError.PARAMETER
        try:
            cmd.quote(ssid, 32)
            cmd.quote(pass_phrase, 64)
        except ParameterError:
            return NsapiError.PARAMETER
        self._ssid = ssid
        self._pass_phrase = pass_phrase if security != NsapiSecurity.NONE else ""
        self._security = security
        return NsapiError.OK

    def set_channel(self, channel: int) -> NsapiError:
        """The channel to offer the network on (default 1): 1..14 here, and the firmware's range (1..13 on every
        one) at ``start()``."""
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise TypeError(f"channel is an int, not {type(channel).__name__}")
        if not 1 <= channel <= 14:
            return NsapiError.PARAMETER
        self._channel = channel
        return NsapiError.OK

    def set_max_stations(self, count: int | None) -> NsapiError:
        """How many stations may join at once (None: the firmware's maximum, 4 on NonOS, 8 on ESP-AT for ESP8266,
        10 on ESP32); over the firmware's maximum, ``start()`` returns ``PARAMETER``."""
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise TypeError(f"count is an int or None, not {type(count).__name__}")
        if count is not None and count < 1:
            return NsapiError.PARAMETER
        self._max_stations = count
        return NsapiError.OK

    def set_hidden(self, hidden: bool) -> NsapiError:
        """Whether the SSID is left out of the beacons (stations must know it to join)."""
        self._hidden = bool(hidden)
        return NsapiError.OK

    def get_ssid(self) -> str | None:
        return self._ssid

    def get_security(self) -> NsapiSecurity:
        return self._security

    def get_channel(self) -> int:
        return self._channel

    def get_max_stations(self) -> int | None:
        return self._max_stations

    def is_hidden(self) -> bool:
        return self._hidden

    def is_started(self) -> bool:
        return self._started

    # -- start and stop -------------------------------------------------------------------------------------------
    def start(self) -> NsapiError:
        """Bring the access point up with the settings (again, if it is up: its stations are dropped then).

        The module is started if needed. ``PARAMETER`` without an SSID or for a value the firmware refuses,
        ``UNSUPPORTED`` for a security its SoftAP lacks, ``DEVICE_ERROR`` when the module fails."""
        forbid_in_callback("ESPSoftAP.start")
        if self._ssid is None:
            return NsapiError.PARAMETER
        err = self._iface._ensure_ready()
        if err != NsapiError.OK:
            return err
        command = self._config_command()
        if isinstance(command, NsapiError):
            return command
        err = self._apply(command)
        if err == NsapiError.OK:
            self._started = True
        return err

    def stop(self) -> NsapiError:
        """Take the access point down (station mode again; the station side stays joined). Every station gets a
        ``LEFT`` event. ``NO_CONNECTION`` when it is not up."""
        forbid_in_callback("ESPSoftAP.stop")
        if not self._started:
            return NsapiError.NO_CONNECTION
        self._started = False
        stack = self._iface.stack
        reply = stack.run(cmd.wifi_mode(stack.dialect, softap=False)) if stack.runner.alive else None
        self._all_left()
        if reply is None or reply.device_error:
            return NsapiError.DEVICE_ERROR
        return NsapiError.OK if reply.ok else NsapiError.DEVICE_ERROR

    def reapply(self) -> None:
        """After every initialisation of the module (a reset, a new start-up): a started SoftAP comes back.
        Runs where the start-up runs, so it sends its commands without ``ensure_ready``."""
        self._iface.stack.on_softap = self._on_notice
        if not self._started:
            return
        self._all_left()  # a reset dropped them; left over only when no ``ready`` was seen
        command = self._config_command()
        err = command if isinstance(command, NsapiError) else self._apply(command)
        if err != NsapiError.OK:
            _log.error("bringing the SoftAP back after the module's re-initialisation failed: %s", err)
            self._started = False

    def _config_command(self) -> cmd.Command | NsapiError:
        d = self._iface.stack.dialect
        ecn = dict(d.softap_securities).get(self._security)
        if ecn is None:
            return NsapiError.UNSUPPORTED
        low, high = d.softap_channels
        max_stations = self._max_stations or d.softap_max_stations
        if not low <= self._channel <= high or max_stations > d.softap_max_stations:
            return NsapiError.PARAMETER
        try:
            return cmd.softap_config(
                d, self._ssid or "", self._pass_phrase, self._channel, ecn, max_stations, self._hidden
            )
        except ParameterError:
            return NsapiError.PARAMETER

    def _apply(self, config: cmd.Command) -> NsapiError:
        stack = self._iface.stack
        stack.on_softap = self._on_notice
        mode = stack.run(cmd.wifi_mode(stack.dialect, softap=True))
        if not mode.ok:
            return NsapiError.DEVICE_ERROR
        if self._pass_phrase:
            stack.runner.add_secret(cmd.quote(self._pass_phrase, 64)[1:-1])
            stack.runner.add_secret(self._pass_phrase.encode())
        reply = stack.run(config)
        if reply.ok:
            return NsapiError.OK
        stack.run(cmd.wifi_mode(stack.dialect, softap=False))  # no SoftAP half set up
        return NsapiError.DEVICE_ERROR if reply.device_error or reply.outcome != "ERROR" else NsapiError.PARAMETER

    # -- stations -------------------------------------------------------------------------------------------------
    def stations(self) -> tuple[NsapiError, list[SoftAPStation]]:
        """The stations joined that hold a lease (``AT+CWLIF``): ``(OK, [...])``, ``(NO_CONNECTION, [])`` while
        the SoftAP is down. Where the firmware prints no station messages (NonOS), the difference from the last
        list is delivered to the ``attach`` callbacks from here, on the caller's thread."""
        forbid_in_callback("ESPSoftAP.stations")
        if not self._started:
            return NsapiError.NO_CONNECTION, []
        stack = self._iface.stack
        if not stack.runner.alive:
            return NsapiError.DEVICE_ERROR, []
        reply = stack.run(cmd.STATION_LIST)
        if not reply.ok:
            return (NsapiError.DEVICE_ERROR, [])
        listed = cmd.softap_stations(stack.dialect, reply.lines)
        if not stack.dialect.softap_urcs:
            self._compare(dict(listed))
        return NsapiError.OK, [SoftAPStation(mac, ip) for mac, ip in listed]

    def attach(self, callback: SoftAPCallback | None) -> None:
        """Call ``callback(SoftAPEvent)`` when a station joins, gets an address or leaves; None detaches them all.

        Runs on the driver's reader thread (a callback context: ``start``, ``stop`` and ``stations`` raise
        ``RuntimeError`` there instead of waiting for that very thread, as blocking socket calls do)."""
        with self._lock:
            if callback is None:
                self._callbacks.clear()
            else:
                self._callbacks.append(callback)

    # -- events ---------------------------------------------------------------------------------------------------
    def _on_notice(self, notice: Notice) -> None:
        """Station news from the protocol core (reader thread)."""
        if notice.reset:
            self._all_left()
        event = notice.station
        if event is None:
            return
        events: list[SoftAPEvent] = []
        with self._lock:
            if event.kind == "CONNECTED" and event.mac not in self._stations:
                self._stations[event.mac] = None
                events.append(SoftAPEvent(SoftAPEventKind.JOINED, event.mac))
            elif event.kind == "GOT IP":
                if event.mac not in self._stations:
                    events.append(SoftAPEvent(SoftAPEventKind.JOINED, event.mac))
                self._stations[event.mac] = event.ip
                events.append(SoftAPEvent(SoftAPEventKind.GOT_IP, event.mac, event.ip))
            elif event.kind == "DISCONNECTED" and event.mac in self._stations:
                ip = self._stations.pop(event.mac)
                events.append(SoftAPEvent(SoftAPEventKind.LEFT, event.mac, ip))
        self._deliver(events)

    def _compare(self, listed: dict[str, str]) -> None:
        events: list[SoftAPEvent] = []
        with self._lock:
            for mac, ip in listed.items():
                if mac not in self._stations:
                    events.append(SoftAPEvent(SoftAPEventKind.JOINED, mac))
                if self._stations.get(mac) != ip:
                    events.append(SoftAPEvent(SoftAPEventKind.GOT_IP, mac, ip))
                self._stations[mac] = ip
            for mac in [m for m in self._stations if m not in listed]:
                events.append(SoftAPEvent(SoftAPEventKind.LEFT, mac, self._stations.pop(mac)))
        self._deliver(events)

    def _all_left(self) -> None:
        with self._lock:
            events = [SoftAPEvent(SoftAPEventKind.LEFT, mac, ip) for mac, ip in self._stations.items()]
            self._stations.clear()
        self._deliver(events)

    def _deliver(self, events: list[SoftAPEvent]) -> None:
        if not events:
            return
        with self._lock:
            callbacks = list(self._callbacks)
        for event in events:
            for callback in callbacks:
                run_callback(callback, event)


__all__ = ["ESPSoftAP", "SoftAPEvent", "SoftAPEventKind", "SoftAPStation"]
