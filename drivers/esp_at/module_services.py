"""What an ESP-AT module offers beyond sockets and Wi-Fi: ping, mDNS, power saving, regulatory domain, SNTP.

None of these is in Mbed OS's ``WiFiInterface``; ``ESP8266Interface`` inherits them from ``ModuleServices``. Each
call starts the module if needed, asks the dialect table for the firmware's command (``UNSUPPORTED`` where it has
none: nothing is sent) and maps the reply to an ``NsapiError``.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import check_hostname
from netsocket.types import NsapiConnectionStatus, NsapiVersion

from . import commands as cmd
from .commands import ParameterError
from .dialects import SleepMode
from .runner import Reply
from .stack import ESPATStack
from .startup import ModuleStartup

_log = logging.getLogger("netsocket.drivers.esp_at")


def _setting_result(reply: Reply) -> NsapiError:
    """A setting's reply: OK; DEVICE_ERROR when the module did not answer; else the module refused the value."""
    if reply.ok:
        return NsapiError.OK
    return NsapiError.DEVICE_ERROR if reply.device_error else NsapiError.PARAMETER


class _Interface(Protocol):
    """What the services use of the interface they are mixed into."""

    _country: tuple[str, int, int] | None
    _startup: ModuleStartup

    @property
    def stack(self) -> ESPATStack: ...

    @property
    def _initialised(self) -> bool: ...

    def _ensure_ready(self) -> NsapiError: ...

    def _require_up(self) -> bool: ...

    def _set_status(self, status: NsapiConnectionStatus) -> None: ...

    def _apply_country(self) -> NsapiError: ...

    def gethostbyname(
        self, host: str, address: SocketAddress, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> NsapiError: ...


class ModuleServices:
    """The module's own services, mixed into ``ESP8266Interface`` (see the module docstring)."""

    _country: tuple[str, int, int] | None  # set_country_code's choice, re-applied after every initialisation

    def ping(self: _Interface, host: str, timeout: int = 5000) -> int | NsapiError:
        """One ICMP echo from the module (``AT+PING``): the round trip in milliseconds, or an error.

        Not in Mbed OS. ``host`` is resolved first (``DNS_FAILURE`` if it cannot be: the module's own answer does
        not tell a name it could not resolve from a host that did not reply). The module gives up on its own after
        about a second and says so: that is ``TIMEOUT``; ``timeout`` (ms) bounds the whole call, and a module
        still silent then gives ``CONNECTION_TIMEOUT``. ``UNSUPPORTED`` where the firmware has no ``AT+PING``.
        """
        if check_hostname(host) != NsapiError.OK or isinstance(timeout, bool) or not isinstance(timeout, int):
            return NsapiError.PARAMETER
        if timeout <= 0:
            return NsapiError.PARAMETER
        err = self._ensure_ready()
        if err != NsapiError.OK:
            return err
        if self.stack.dialect.ping_reply is None:
            return NsapiError.UNSUPPORTED
        if not self._require_up():
            return NsapiError.NO_CONNECTION
        address = SocketAddress()
        err = self.gethostbyname(host, address)
        if err != NsapiError.OK:
            return err
        command = cmd.ping(self.stack.dialect, str(address.get_ip_address()), timeout / 1000)
        if command is None:
            return NsapiError.UNSUPPORTED
        reply = self.stack.run(command)
        millis = cmd.ping_time(self.stack.dialect, reply.lines) if reply.ok else None
        if millis is not None:
            return millis
        if reply.device_error:
            return NsapiError.DEVICE_ERROR
        return NsapiError.CONNECTION_TIMEOUT if reply.outcome == "TIMEOUT" else NsapiError.TIMEOUT

    def set_mdns(self: _Interface, hostname: str | None, service: str = "", port: int = 0) -> NsapiError:
        """Announce ``hostname`` and one service (e.g. ``"_http"`` on port 80) over mDNS (``AT+MDNS``; not in Mbed
        OS); ``hostname=None`` stops it. The module answers ``<hostname>.local`` itself; join first.
        ``UNSUPPORTED`` where the firmware has no AT+MDNS, ``PARAMETER`` for a value the module refuses."""
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port is an int, not {type(port).__name__}")
        if hostname is not None and check_hostname(hostname) != NsapiError.OK:
            return NsapiError.PARAMETER
        err = self._ensure_ready()
        if err != NsapiError.OK:
            return err
        try:
            command = cmd.mdns(self.stack.dialect, hostname, service, port)
        except ParameterError:
            return NsapiError.PARAMETER
        if command is None:
            return NsapiError.UNSUPPORTED
        return _setting_result(self.stack.run(command))

    # -- power saving ---------------------------------------------------------------------------------------------
    def set_sleep_mode(self: _Interface, mode: SleepMode) -> NsapiError:
        """Power saving while joined (``AT+SLEEP``; not in Mbed OS). The module still answers its UART in every mode.

        The numbers differ per firmware (NonOS 1 is light sleep, ESP-AT 1 is modem sleep): the dialect table maps
        them. ``UNSUPPORTED`` for a mode the firmware lacks; the module refuses sleep outside station mode.
        """
        if not isinstance(mode, SleepMode):
            raise TypeError(f"mode is a SleepMode, not {type(mode).__name__}")
        err = self._ensure_ready()
        if err != NsapiError.OK:
            return err
        command = cmd.sleep_mode(self.stack.dialect, mode)
        if command is None:
            return NsapiError.UNSUPPORTED
        return _setting_result(self.stack.run(command))

    def deep_sleep(self: _Interface, millis: int) -> NsapiError:
        """Power the module down for ``millis`` ms (``AT+GSLP``; not in Mbed OS).

        Every socket reports ``CONNECTION_LOST`` and the interface DISCONNECTED at once (the module drops them
        without a word). When it wakes it reboots and prints ``ready``: the driver re-initialises it as after any
        reset; join again with ``connect()``. An ESP8266 wakes only with GPIO16 wired to RST.
        """
        if isinstance(millis, bool) or not isinstance(millis, int):
            raise TypeError(f"millis is an int, not {type(millis).__name__}")
        try:
            command = cmd.deep_sleep(millis)
        except ParameterError:
            return NsapiError.PARAMETER
        err = self._ensure_ready()
        if err != NsapiError.OK:
            return err
        err = _setting_result(self.stack.run(command))
        if err != NsapiError.OK:
            return err
        _log.info("the module sleeps for %d ms; it reboots when it wakes", millis)
        self.stack.mark_all_lost(NsapiError.CONNECTION_LOST)
        self.stack.set_addresses({})
        self._startup.module_was_reset(sleeping=True)  # wait_initialised() now waits for the wake-up
        self._set_status(NsapiConnectionStatus.DISCONNECTED)
        return NsapiError.OK

    def set_country_code(self: _Interface, code: str, start_channel: int = 1, channels: int = 13) -> NsapiError:
        """Regulatory domain (``AT+CWCOUNTRY``): a two-letter code and the channel range; kept over resets."""
        if not (isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()):
            return NsapiError.PARAMETER
        if not (1 <= start_channel <= 14 and 1 <= channels <= 15 - start_channel):
            return NsapiError.PARAMETER
        self._country = (code.upper(), start_channel, channels)
        if self._initialised:
            return self._apply_country()
        return NsapiError.OK

    def _apply_country(self: _Interface) -> NsapiError:
        if self._country is None:
            return NsapiError.OK
        code, start, count = self._country
        return (
            NsapiError.OK
            if self.stack.run(cmd.country(self.stack.dialect, code, start, count)).ok
            else NsapiError.DEVICE_ERROR
        )

    def set_sntp_config(
        self: _Interface, enable: bool = True, timezone: int = 0, servers: tuple[str, ...] = ()
    ) -> NsapiError:
        """SNTP on the module (``AT+CIPSNTPCFG``): whole-hour time zone, up to three server names."""
        if not -12 <= timezone <= 14 or len(servers) > 3:
            return NsapiError.PARAMETER
        try:
            command = cmd.sntp_config(enable, timezone, servers)
        except ParameterError:
            return NsapiError.PARAMETER
        err = self._ensure_ready()
        if err != NsapiError.OK:
            return err
        return _setting_result(self.stack.run(command))

    def get_time(self: _Interface) -> tuple[NsapiError, time.struct_time | None]:
        """The module's SNTP time: ``(OK, struct_time)``, or ``(TIMEOUT, None)`` while it has not synchronised."""
        if not self._require_up():
            return NsapiError.NO_CONNECTION, None
        reply = self.stack.run(cmd.SNTP_TIME)
        value = reply.line_with(b"+CIPSNTPTIME:")
        if not reply.ok or value is None:
            return (NsapiError.DEVICE_ERROR if reply.device_error else NsapiError.TIMEOUT), None
        try:
            parsed = time.strptime(" ".join(value.decode("ascii").split()), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return NsapiError.DEVICE_ERROR, None
        if parsed.tm_year <= 1970:
            return NsapiError.TIMEOUT, None
        return NsapiError.OK, parsed
