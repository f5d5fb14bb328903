"""``ESP8266Interface`` / ``ESP32Interface``: a netsocket ``WiFiInterface`` over an ESP-AT module.

Layer: the API on top. The module is started lazily (first ``connect``, ``scan``, ...) by ``ESPATStack.initialise``,
which assumes nothing about the state it was left in. Status callbacks: CONNECTING when a join starts or when the
module lost the AP and reconnects by itself, GLOBAL_UP once it has an IP, DISCONNECTED after ``disconnect``, a
module reset (``ready``) or a vanished port. A reset re-initialises the module in the background.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.parse import quote as url_quote

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import WiFiAccessPoint, WiFiInterface, check_hostname
from netsocket.stack import NetworkStack
from netsocket.types import NsapiConnectionStatus, NsapiSecurity

from . import commands as cmd
from . import enterprise
from .commands import COMMAND_TIMEOUT, JOIN_TIMEOUT, ParameterError
from .core import ATCore, Notice
from .module_services import ModuleServices
from .runner import Reply, Runner
from .softap import ESPSoftAP
from .stack import ESPATStack
from .startup import ModuleStartup
from .worker import Job, Worker

_log = logging.getLogger("netsocket.drivers.esp_at")

_CWJAP_ERRORS = {
    1: NsapiError.CONNECTION_TIMEOUT,
    2: NsapiError.AUTH_FAILURE,
    3: NsapiError.NO_SSID,
}
_ECN = {
    0: NsapiSecurity.NONE,
    1: NsapiSecurity.WEP,
    2: NsapiSecurity.WPA,
    3: NsapiSecurity.WPA2,
    4: NsapiSecurity.WPA_WPA2,
    6: NsapiSecurity.WPA3,
    7: NsapiSecurity.WPA3_WPA2,
}


class ESP8266Interface(ModuleServices, WiFiInterface):
    """An ESP8266 (or ESP32) module running Espressif AT firmware on a UART.

    ``port``: a device path (``/dev/ttyUSB0``), any pyserial URL (``espemu://...``, ``socket://host:port``) or an
    open serial-like object (then it is not closed by ``close()``). ``baudrate``: the module's current rate;
    ``target_baudrate`` switches both ends with ``AT+UART_CUR`` after start-up; ``rtscts`` turns on hardware flow
    control at both ends; ``reset`` is a callable that hard-resets the module (e.g. pulses a GPIO line), used when
    it does not answer. ``record``: a file to write a transcript of the serial session to (docs/transcripts.md;
    each opening of the port starts it afresh), with Wi-Fi passphrases and the ``record_secrets`` masked.
    """

    def __init__(
        self,
        port: Any,
        baudrate: int = 115200,
        *,
        target_baudrate: int | None = None,
        rtscts: bool = False,
        reset: Callable[[], object] | None = None,
        join_timeout: float = JOIN_TIMEOUT,
        record: str | os.PathLike[str] | None = None,
        record_secrets: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self._join_timeout = join_timeout
        self._stack: ESPATStack | None = None
        self._startup = ModuleStartup(
            lambda: self.stack,
            port,
            baudrate,
            target_baudrate=target_baudrate,
            rtscts=rtscts,
            reset=reset,
            configure=self._apply_settings,
            record=record,
            record_secrets=record_secrets,
        )
        self._joining = False
        self._leaving = False
        self._dhcp = True
        self._static: tuple[str, str, str] | None = None
        self._hostname: str | None = None
        self._bssid: str | None = None
        self._country: tuple[str, int, int] | None = None
        self._netmask: str | None = None
        self._gateway: str | None = None
        self._mac: str | None = None
        self._softap: ESPSoftAP | None = None
        self._enterprise: enterprise.EnterpriseCredentials | None = None
        self._make_stack()

    # -- construction ---------------------------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str) -> ESP8266Interface:
        """``esp:///dev/ttyUSB0?baudrate=921600&ssid=...&password=...``, ``esp://?port=socket://127.0.0.1:7000``,
        or ``esp://`` for the built-in emulator (``espemu://``, which joins its world's ``netsocket-wpa2``).

        Query: ``port``, ``baudrate``, ``target_baudrate``, ``rtscts``, ``ssid``, ``password``, ``security`` (an
        ``NsapiSecurity`` name; default WPA2 with a password, NONE without), ``record`` (a transcript file)."""
        parts = urlsplit(url)
        if parts.scheme == "espemu":  # the emulator's own URL names the port itself
            url = "esp://?port=" + url_quote(url, safe="")
            parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        port = query.pop("port", None) or unquote(parts.path) or "espemu://"
        baudrate = _url_int(query.pop("baudrate", "115200"), "baudrate")
        target = query.pop("target_baudrate", None)
        rtscts = query.pop("rtscts", "0").lower() in ("1", "true", "yes", "on")
        ssid = query.pop("ssid", None)
        password = query.pop("password", None)
        security_name = query.pop("security", None)
        record = query.pop("record", None)
        if query:
            raise ValueError(
                f"unknown esp:// parameters: {sorted(query)}; known: baudrate, password, port, record, rtscts, "
                "security, ssid, target_baudrate"
            )
        security = None
        if security_name is not None:
            security = NsapiSecurity.__members__.get(security_name.upper())
            if security is None:
                raise ValueError(
                    f"esp:// parameter security={security_name!r} is not a Wi-Fi security; use one of "
                    + ", ".join(NsapiSecurity.__members__)
                )
        iface = cls(
            port,
            baudrate,
            target_baudrate=_url_int(target, "target_baudrate") if target else None,
            rtscts=rtscts,
            record=record,
        )
        if ssid is None and port.startswith("espemu:"):
            ssid, password = "netsocket-wpa2", "netsocket123"
        if ssid is not None:
            if security is None:
                security = NsapiSecurity.WPA2 if password else NsapiSecurity.NONE
            err = iface.set_credentials(ssid, password, security)
            if err != NsapiError.OK:
                raise ValueError(f"esp:// credentials rejected: {err}")
        return iface

    def _make_stack(self) -> None:
        stack = ESPATStack(self._make_runner, self._make_worker)
        stack.on_wifi = self._on_wifi
        stack.on_reset = self._on_reset
        stack.on_port_failed = self._on_port_failed
        self._stack = stack

    def _make_runner(self, core: ATCore, on_notice: Callable[[Notice], None]) -> Runner:
        return Runner(None, core, on_notice)

    def _make_worker(self, cond: Any, next_job: Callable[[], Job | None], alive: Callable[[], bool]) -> Worker:
        return Worker(cond, next_job, alive)

    def get_stack(self) -> NetworkStack:
        assert self._stack is not None
        return self._stack

    @property
    def stack(self) -> ESPATStack:
        assert self._stack is not None
        return self._stack

    # -- start-up (startup.ModuleStartup) -------------------------------------------------------------------------
    @property
    def _initialised(self) -> bool:
        return self._startup.initialised

    def _ensure_ready(self) -> NsapiError:
        return self._startup.ensure_ready()

    def _apply_settings(self) -> None:
        """The Wi-Fi side's settings that live in the module's RAM (applied after every initialisation)."""
        if self._hostname is not None:
            command = cmd.hostname(self.stack.dialect, self._hostname)
            if command is not None:
                self.stack.run(command)
        if self._country is not None:
            self._apply_country()
        if self._softap is not None:
            self._softap.reapply()

    def softap(self) -> ESPSoftAP:
        """The module's access point (``softap.ESPSoftAP``; not in Mbed OS), sharing this interface's module and
        socket stack: the station side keeps working while it is up. The same object on every call."""
        if self._softap is None:
            self._softap = ESPSoftAP(self)
        return self._softap

    # -- Wi-Fi ----------------------------------------------------------------------------------------------------
    def set_blocking(self, blocking: bool) -> NsapiError:
        self._blocking = bool(blocking)
        return NsapiError.OK

    def set_credentials(
        self, ssid: str | None, pass_phrase: str | None = None, security: NsapiSecurity = NsapiSecurity.NONE
    ) -> NsapiError:
        err = super().set_credentials(ssid, pass_phrase, security)
        if err == NsapiError.PARAMETER and security == NsapiSecurity.WEP and pass_phrase:
            # The module takes a WEP key as the join's password and checks it itself (as Mbed's ESP8266 driver
            # does, any 8..63-character key is accepted here; the 5/13/10/26 lengths are accepted by the base).
            err = super().set_credentials(ssid, pass_phrase, NsapiSecurity.WPA2)
            if err == NsapiError.OK:
                self._security = NsapiSecurity.WEP
        if err == NsapiError.OK:
            self._enterprise = None  # a PSK join from now on
            try:
                cmd.quote(self._ssid or "", 32)
                cmd.quote(self._pass_phrase, 64)
            except ParameterError:
                self._ssid = None
                return NsapiError.PARAMETER
        return err

    def set_bssid(self, bssid: str | bytes | None) -> NsapiError:
        """Join only the access point with this BSSID (``AT+CWJAP``'s third parameter; not in Mbed OS), when several
        share the SSID: ``"aa:bb:cc:dd:ee:ff"`` or 6 bytes; None forgets it. Applies to the next ``connect()``.

        Security: ``WPA3`` joins need ESP-AT 3.x (``connect`` returns ``UNSUPPORTED`` on older firmware);
        ``WPA3_WPA2`` works everywhere (a WPA2-only firmware joins a transition-mode network as WPA2).
        """
        if bssid is None:
            self._bssid = None
            return NsapiError.OK
        if isinstance(bssid, bytes):
            if len(bssid) != 6:
                return NsapiError.PARAMETER
            bssid = ":".join(f"{b:02x}" for b in bssid)
        if not isinstance(bssid, str):
            raise TypeError(f"a BSSID is a str or bytes, not {type(bssid).__name__}")
        parts = bssid.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
            return NsapiError.PARAMETER
        self._bssid = bssid.lower()
        return NsapiError.OK

    def set_enterprise_credentials(
        self,
        ssid: str,
        method: enterprise.EapMethod | int,
        identity: str,
        username: str = "",
        password: str = "",
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
    ) -> NsapiError:
        """Join a WPA2-Enterprise network at the next ``connect()`` (``AT+CWJEAP``; not in Mbed OS, whose
        ``NsapiSecurity.WPA2_ENT`` this sets). ESP-AT on ESP32 only: ``connect`` returns UNSUPPORTED on ESP8266
        firmware (NonOS 1.7, ESP-AT 2.x). ``set_credentials`` goes back to a PSK join.

        ``method``: ``EapMethod.PEAP`` or ``TTLS`` with ``username`` and ``password``; ``TLS`` with ``cert_file``
        and ``key_file`` and no username or password. ``identity`` is the outer (phase 1) identity. Each string is
        1..32 bytes. ``ca_file`` makes the module check the RADIUS server's certificate.

        The module reads certificates from its own flash, never from the UART: the files are checked here (PEM of
        the right kind, the key matching the certificate) and tell the module which flashed ones to use; flash
        the same files into the module (docs/esp_at_driver.md says how). PARAMETER for anything the firmware
        would refuse, BUSY while a connect is under way. A failed join returns CONNECTION_TIMEOUT: the firmware's
        one failure answer (``+CWJEAP:Timeout``) does not say whether the credentials were wrong."""
        if self.get_connection_status() == NsapiConnectionStatus.CONNECTING:
            return NsapiError.BUSY
        creds = enterprise.credentials(ssid, method, identity, username, password, ca_file, cert_file, key_file)
        if isinstance(creds, NsapiError):
            return creds
        self._enterprise = creds
        self._ssid, self._pass_phrase, self._security = ssid, "", NsapiSecurity.WPA2_ENT
        return NsapiError.OK

    def _enterprise_join(self, creds: enterprise.EnterpriseCredentials) -> cmd.Command | NsapiError:
        """AT+CWJEAP for the credentials of ``set_enterprise_credentials``, or why it cannot be sent."""
        if self._bssid is not None or self._channel:
            return NsapiError.UNSUPPORTED  # AT+CWJEAP takes no BSSID
        try:
            join = enterprise.join_command(self.stack.dialect, creds, self._join_timeout)
        except ParameterError:
            return NsapiError.PARAMETER
        if join is None:
            return NsapiError.UNSUPPORTED
        if creds.password:
            self.stack.runner.add_secret(cmd.quote(creds.password, 64)[1:-1])
            self.stack.runner.add_secret(creds.password.encode())
        return join

    def _connect_wifi(self) -> NsapiError:
        status = self.get_connection_status()
        if self._joining:
            return NsapiError.BUSY
        if status == NsapiConnectionStatus.GLOBAL_UP:
            return NsapiError.IS_CONNECTED
        # CONNECTING without a join of ours means the module lost the AP and may or may not rejoin by itself
        # (NonOS does not): joining again is the way out.
        if not self._blocking:
            err = self._startup.start_threads_for_worker()
            if err != NsapiError.OK:
                return err
            self._joining = True
            self._set_status(NsapiConnectionStatus.CONNECTING)
            self.stack.submit_job(self._join_async, self._join_abandoned)  # on the worker: no thread per join
            return NsapiError.OK
        self._joining = True
        try:
            return self._join()
        finally:
            self._joining = False

    def _join_async(self) -> None:
        try:
            result = self._join()
            if result != NsapiError.OK:
                _log.warning("non-blocking connect to %r failed: %s", self._ssid, result)
        except Exception:  # a driver bug: the status must not stay CONNECTING
            _log.exception("non-blocking connect to %r failed", self._ssid)
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
        finally:
            self._joining = False

    def _join_abandoned(self) -> None:
        self._startup.starting = False
        self._joining = False
        self._set_status(NsapiConnectionStatus.DISCONNECTED)

    def _join(self) -> NsapiError:
        self._set_status(NsapiConnectionStatus.CONNECTING)
        err = self._ensure_ready()
        if err != NsapiError.OK:
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
            return err
        stack = self.stack
        d = stack.dialect
        ssid, pass_phrase = self._ssid or "", self._pass_phrase
        eap = self._enterprise_join(self._enterprise) if self._enterprise is not None else None
        if isinstance(eap, NsapiError):
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
            return eap
        if self._security == NsapiSecurity.WPA3 and not d.wpa3:
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
            return NsapiError.UNSUPPORTED
        try:
            join = eap or cmd.join(d, ssid, pass_phrase, self._bssid, self._join_timeout)
        except ParameterError:
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
            return NsapiError.PARAMETER
        if self._channel and self._bssid is None:
            bssid = self._find_bssid(ssid, self._channel)
            if bssid is None:
                self._set_status(NsapiConnectionStatus.DISCONNECTED)
                return NsapiError.NO_SSID
            join = cmd.join(d, ssid, pass_phrase, bssid, self._join_timeout)
        if self._static is not None:
            if not stack.run(cmd.static_address(d, *self._static)).ok:
                self._set_status(NsapiConnectionStatus.DISCONNECTED)
                return NsapiError.DEVICE_ERROR
        elif not stack.run(cmd.dhcp_on(d)).ok:
            self._set_status(NsapiConnectionStatus.DISCONNECTED)
            return NsapiError.DHCP_FAILURE
        if pass_phrase:
            stack.runner.add_secret(cmd.quote(pass_phrase, 64)[1:-1])
            stack.runner.add_secret(pass_phrase.encode())
        self._leaving = False
        reply = stack.run(join)
        if reply.ok:
            self._refresh_addresses()
            with stack.lock:
                stack.core.wifi_joined()
            self._set_status(NsapiConnectionStatus.GLOBAL_UP)
            return NsapiError.OK
        self._set_status(NsapiConnectionStatus.DISCONNECTED)
        if reply.device_error:
            return NsapiError.DEVICE_ERROR
        if reply.outcome == "TIMEOUT":
            stack.run(cmd.LEAVE)  # stop the module's own retries
            return NsapiError.CONNECTION_TIMEOUT
        eap_failure = enterprise.join_failure(reply.lines)
        if eap_failure is not None:
            return eap_failure
        code = cmd.join_error(reply.lines)
        return _CWJAP_ERRORS.get(code, NsapiError.NO_CONNECTION) if code is not None else NsapiError.NO_CONNECTION

    def _find_bssid(self, ssid: str, channel: int) -> str | None:
        for ap in self._scan_raw():
            if ap[0].ssid == ssid and ap[0].channel == channel:
                return ap[1]
        return None

    def disconnect(self) -> NsapiError:
        if self._joining:
            return NsapiError.BUSY
        if self.get_connection_status() == NsapiConnectionStatus.DISCONNECTED:
            return NsapiError.NO_CONNECTION
        self._leaving = True
        stack = self.stack
        reply = stack.run(cmd.LEAVE) if stack.runner.alive else None
        stack.mark_all_lost(NsapiError.NO_CONNECTION)
        with stack.lock:
            stack.core.wifi_left()
        stack.set_addresses({})
        self._set_status(NsapiConnectionStatus.DISCONNECTED)
        self._startup.power_down()
        if reply is not None and reply.device_error:
            return NsapiError.DEVICE_ERROR
        return NsapiError.OK

    def close(self) -> None:
        """Leave the network, stop the driver's threads and close the port if the driver opened it."""
        if self.get_connection_status() != NsapiConnectionStatus.DISCONNECTED and not self._joining:
            self.disconnect()
        self._startup.close()
        self._make_stack()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            stack = self._stack
            if stack is not None and stack.runner.port is not None and self._startup.owns_port:
                stack.stop_threads(close_port=True)
        except Exception:  # interpreter teardown
            pass

    # -- URC handlers (reader thread) -----------------------------------------------------------------------------
    def _on_wifi(self, kind: str) -> None:
        if self._joining or self._leaving:
            return
        status = self.get_connection_status()
        if kind == "DISCONNECT" and status == NsapiConnectionStatus.GLOBAL_UP:
            self.stack.set_addresses({})
            self._set_status(NsapiConnectionStatus.CONNECTING)
        elif kind == "GOT IP" and status == NsapiConnectionStatus.CONNECTING:
            self.stack.submit_job(self._reconnected)
        elif kind.startswith("GOT IPv6") and status == NsapiConnectionStatus.GLOBAL_UP:
            # an IPv6 address that came after the join's OK (a global one waits for the router's advertisement)
            self.stack.submit_job(self._refresh_addresses)

    def _reconnected(self) -> None:
        self._refresh_addresses()
        if self.get_connection_status() == NsapiConnectionStatus.CONNECTING and not self._joining:
            self._set_status(NsapiConnectionStatus.GLOBAL_UP)

    def _on_reset(self) -> None:
        if self._startup.starting:
            return  # the boot 'ready' (or a reboot) during start-up: initialise() starts over by itself
        if self._startup.sleeping:
            _log.info("the module woke from deep sleep ('ready'): re-initialising")
        else:
            _log.warning("the module reset ('ready'): sockets are lost, re-initialising")
        self.stack.mark_all_lost(NsapiError.CONNECTION_LOST)
        self.stack.set_addresses({})
        self._startup.module_was_reset()
        self._set_status(NsapiConnectionStatus.DISCONNECTED)
        if self._joining:
            return
        self.stack.submit_job(self._startup.reinitialise)  # on the worker: no thread per reset

    def _on_port_failed(self) -> None:
        self.stack.mark_all_lost(NsapiError.DEVICE_ERROR)
        self.stack.set_addresses({})
        self._set_status(NsapiConnectionStatus.DISCONNECTED)

    # -- addresses ------------------------------------------------------------------------------------------------
    def _refresh_addresses(self) -> None:
        stack = self.stack
        values = cmd.station_addresses(stack.run(cmd.station_query(stack.dialect)).lines)
        stack.set_addresses(values)
        self._netmask = values.get("netmask")
        self._gateway = values.get("gateway")

    def _require_up(self) -> bool:
        return self.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP and self.stack.runner.alive

    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        if not self._require_up():
            return NsapiError.NO_ADDRESS
        return self.stack.get_ip_address(address)

    def get_ipv6_link_local_address(self, address: SocketAddress) -> NsapiError:
        """The station's IPv6 link-local address (ESP-AT 3.x for the ESP32, IPv6 turned on at start-up): OK,
        NO_ADDRESS while not connected or before the module has one, UNSUPPORTED on IPv4-only firmware."""
        stack = self.stack
        if stack.firmware is not None and stack.firmware.dialect.ipv6_command is None:
            return NsapiError.UNSUPPORTED
        if not self._require_up():
            return NsapiError.NO_ADDRESS
        if stack.ipv6_link_local is None and stack.core.ipv6:
            self._refresh_addresses()  # its WIFI GOT IPv6 LL may not have been handled yet
        return stack.get_ipv6_link_local_address(address)

    def get_netmask(self, address: SocketAddress) -> NsapiError:
        if not self._require_up() or not self._netmask:
            return NsapiError.NO_ADDRESS
        address.set_ip_address(self._netmask)
        return NsapiError.OK

    def get_gateway(self, address: SocketAddress) -> NsapiError:
        if not self._require_up() or not self._gateway:
            return NsapiError.NO_ADDRESS
        address.set_ip_address(self._gateway)
        return NsapiError.OK

    def get_mac_address(self) -> str | None:
        if self._mac is None:
            if self._ensure_ready() != NsapiError.OK:
                return None
            self._mac = cmd.mac_address(self.stack.run(cmd.mac_query(self.stack.dialect)).lines)
        return self._mac

    def set_network(self, ip: SocketAddress, netmask: SocketAddress, gateway: SocketAddress) -> NsapiError:
        values = [a.get_ip_address() for a in (ip, netmask, gateway)]
        if any(v is None or ":" in v for v in values):
            return NsapiError.PARAMETER
        self._static = (str(values[0]), str(values[1]), str(values[2]))
        self._dhcp = False
        return NsapiError.OK

    def set_dhcp(self, dhcp: bool) -> NsapiError:
        self._dhcp = bool(dhcp)
        if dhcp:
            self._static = None
        elif self._static is None:
            return NsapiError.PARAMETER
        return NsapiError.OK

    def set_hostname(self, hostname: str) -> NsapiError:
        """The station's DHCP host name (ESP-AT ``AT+CWHOSTNAME``; applied at start-up)."""
        if check_hostname(hostname) != NsapiError.OK or len(hostname.encode()) > 32:
            return NsapiError.PARAMETER  # the firmware's limit is 32 bytes, not characters
        self._hostname = hostname
        command = cmd.hostname(self.stack.dialect, hostname)
        if self._initialised and command is not None:
            return NsapiError.OK if self.stack.run(command).ok else NsapiError.DEVICE_ERROR
        return NsapiError.OK

    # -- scan and RSSI --------------------------------------------------------------------------------------------
    def _scan_raw(self) -> list[tuple[WiFiAccessPoint, str]]:
        reply: Reply = self.stack.run(cmd.scan())
        found: list[tuple[WiFiAccessPoint, str]] = []
        for seen in cmd.access_points(reply.lines):
            ap = WiFiAccessPoint(
                ssid=seen.ssid,
                bssid=bytes(int(x, 16) for x in seen.bssid.split(":")),
                security=_ECN.get(seen.ecn, NsapiSecurity.UNKNOWN),
                rssi=seen.rssi,
                channel=seen.channel,
            )
            found.append((ap, seen.bssid))
        if not reply.ok and not found:
            raise _ScanFailed(reply.outcome)
        return found

    def scan(self, res: list[WiFiAccessPoint] | None, count: int) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return NsapiError.PARAMETER
        if self._joining:
            return NsapiError.BUSY
        err = self._ensure_ready()
        if err != NsapiError.OK:
            return err
        try:
            found = self._scan_raw()
        except _ScanFailed:
            return NsapiError.DEVICE_ERROR
        if count == 0 or res is None:
            return len(found)
        taken = [ap for ap, _mac in found[:count]]
        res.extend(taken)
        return len(taken)

    def get_rssi(self) -> int:
        if not self._require_up():
            return 0
        value = cmd.rssi(self.stack.run(cmd.rssi_query(self.stack.dialect)).lines)
        return 0 if value is None else value

    def set_channel(self, channel: int) -> NsapiError:
        return super().set_channel(channel)

    # -- misc -----------------------------------------------------------------------------------------------------
    def firmware_version(self) -> str | None:
        info = self.stack.firmware
        return info.text if info is not None else None

    def wait_initialised(self, timeout: float) -> bool:
        """Wait until a background re-initialisation (after a module reset) finished."""
        return self._startup.wait_initialised(timeout)


def _url_int(value: str, name: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"esp:// parameter {name}={value!r} is not a positive whole number of baud (e.g. 115200)")
    return int(value)


class _ScanFailed(Exception):
    pass


class ESP32Interface(ESP8266Interface):
    """An ESP32-family module with ESP-AT firmware (same driver; the dialect is read from ``AT+GMR``)."""


__all__ = ["COMMAND_TIMEOUT", "ESP32Interface", "ESP8266Interface"]
