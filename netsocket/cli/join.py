"""Joining the network for a subcommand: the join options (``--ssid``, ``--security``, ``--bssid``, ``--eap`` ...)
and ``bring_up``, which connects the interface with them.

Layer: application glue. Joining by BSSID (``set_bssid``) and WPA2-Enterprise (``set_enterprise_credentials``) are
not in Mbed's ``WiFiInterface``; they are found by duck typing (the ESP-AT driver has both), so this module imports
no driver, and an interface without them gets a sentence saying so. No password is ever taken from the command
line: a PSK passphrase and an Enterprise password both come from ``NETSOCKET_WIFI_PASSWORD`` (or ``netsocket.ini``),
else from a prompt on a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import dataclass, fields

from netsocket.config import Settings
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface, WiFiInterface
from netsocket.types import NsapiSecurity

from .device import Target, credentials, parse_security
from .diagnose import UserError, hint_for

#: ``--eap`` choices and AT+CWJEAP's ``<method>`` numbers (``netsocket.drivers.esp_at.EapMethod``'s values).
EAP_METHODS = {"tls": 0, "peap": 1, "ttls": 2}
ENTERPRISE = (NsapiSecurity.WPA2_ENT, NsapiSecurity.PEAP, NsapiSecurity.EAP_TLS)
WIFI_ONLY_HINT = "--security, --bssid and --eap are for Wi-Fi modules: an ESP on a serial port, espemu:// or esp://"
BSSID_HINT = "write a BSSID as six hex pairs, aa:bb:cc:dd:ee:ff (`netsocket scan` lists them)"
EAP_HINT = (
    "PEAP and TTLS take --identity, --username and the password from NETSOCKET_WIFI_PASSWORD, each 1 to 32 bytes; "
    "TLS takes --identity, --eap-cert-file and --eap-key-file (PEM, the key matching the certificate) and no "
    "--username; --eap-ca-file is a PEM certificate"
)
WPA3_HINT = (
    "WPA3 needs ESP-AT 3.x on an ESP32; on older firmware --security WPA3_WPA2 joins a WPA2/WPA3 network as WPA2"
)
EAP_UNSUPPORTED_HINT = (
    "WPA2-Enterprise (AT+CWJEAP) needs ESP-AT on an ESP32; ESP8266 firmware (NonOS 1.7, ESP-AT 2.x) has none"
)
EAP_TIMEOUT_HINT = (
    "the module's one failure answer (+CWJEAP:Timeout) covers an unknown SSID, wrong credentials and an unreachable "
    "RADIUS server: check --ssid, --identity, --username, NETSOCKET_WIFI_PASSWORD and the certificates flashed in "
    "the module"
)


def add_join_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Wi-Fi join (the password: NETSOCKET_WIFI_PASSWORD, never an option)")
    group.add_argument("--ssid", help="Wi-Fi network (default: NETSOCKET_WIFI_SSID)")
    group.add_argument(
        "--security",
        help="an NsapiSecurity name: NONE, WEP, WPA, WPA2, WPA_WPA2, WPA3, WPA3_WPA2 (default: "
        "NETSOCKET_WIFI_SECURITY, else WPA2 with a passphrase, NONE without)",
    )
    group.add_argument("--bssid", help="join only the access point with this BSSID (aa:bb:cc:dd:ee:ff)")
    group.add_argument("--eap", choices=sorted(EAP_METHODS), help="join a WPA2-Enterprise network (ESP32 only)")
    group.add_argument("--identity", help="Enterprise outer identity (default: --username)")
    group.add_argument("--username", help="Enterprise user name, for peap and ttls")
    # "eap-" because `get` has its own --ca-file, for the HTTPS server.
    group.add_argument("--eap-ca-file", help="Enterprise: PEM CA the module checks the RADIUS server against")
    group.add_argument("--eap-cert-file", help="Enterprise: PEM client certificate, for tls")
    group.add_argument("--eap-key-file", help="Enterprise: PEM private key of --eap-cert-file, for tls")


@dataclass(frozen=True)
class JoinOptions:
    """The join options of one command line (``None``: not given)."""

    ssid: str | None = None
    security: str | None = None
    bssid: str | None = None
    eap: str | None = None
    identity: str | None = None
    username: str | None = None
    eap_ca_file: str | None = None
    eap_cert_file: str | None = None
    eap_key_file: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> JoinOptions:
        """The options in ``args``; a subcommand without join options gives all ``None``."""
        return cls(**{f.name: getattr(args, f.name, None) for f in fields(cls)})

    @property
    def wifi_only(self) -> bool:
        """Options that mean nothing to a wired interface."""
        return any(value is not None for value in (self.security, self.bssid, self.eap))


def bring_up(net: NetworkInterface, target: Target, options: JoinOptions, settings: Settings) -> str:
    """Connect ``net`` (joining Wi-Fi on a Wi-Fi interface); returns what was joined, in words."""
    if not isinstance(net, WiFiInterface):
        if options.wifi_only:
            raise UserError(f"{target.shown} is not a Wi-Fi interface", NsapiError.UNSUPPORTED, WIFI_ONLY_HINT)
        return _finish(net.connect(), f"cannot bring up {target.shown}", "connected", target)
    if options.bssid is not None:
        _set_bssid(net, target, options.bssid)
    if options.eap is not None:
        return _join_enterprise(net, target, options, settings)
    if options.ssid or options.security or target.is_serial or settings.wifi_ssid:
        cred = credentials(target, options.ssid, settings, security=options.security)
        if cred.security in ENTERPRISE:
            raise UserError(
                f"--security {cred.security.name} is a WPA2-Enterprise join",
                NsapiError.PARAMETER,
                "give --eap peap, ttls or tls (with --identity ...) instead",
            )
        err = net.connect(cred.ssid, cred.password, cred.security)
        what = f"cannot join the Wi-Fi network {cred.ssid!r} ({cred.security.name}) with {target.shown}"
        hint = WPA3_HINT if err == NsapiError.UNSUPPORTED and cred.security == NsapiSecurity.WPA3 else None
        return _finish(err, what, _joined(cred.ssid, cred.security, options.bssid), target, hint)
    return _finish(net.connect(), f"cannot bring up {target.shown}", "connected", target)


def _joined(ssid: str, security: NsapiSecurity, bssid: str | None) -> str:
    return f"joined {ssid!r} ({security.name}" + (f", BSSID {bssid.lower()})" if bssid else ")")


def _finish(err: int, what: str, joined: str, target: Target, hint: str | None = None) -> str:
    if err not in (NsapiError.OK, NsapiError.IS_CONNECTED):
        code = NsapiError(err)
        raise UserError(what, code, hint or hint_for(code, target.shown))
    return joined


def _set_bssid(net: WiFiInterface, target: Target, bssid: str) -> None:
    set_bssid = getattr(net, "set_bssid", None)
    if not callable(set_bssid):
        raise UserError(f"{target.shown} cannot join by BSSID", NsapiError.UNSUPPORTED, WIFI_ONLY_HINT)
    if set_bssid(bssid) != NsapiError.OK:
        raise UserError(f"--bssid {bssid!r} is not a BSSID", NsapiError.PARAMETER, BSSID_HINT)


def _join_enterprise(net: WiFiInterface, target: Target, options: JoinOptions, settings: Settings) -> str:
    set_enterprise = getattr(net, "set_enterprise_credentials", None)
    if not callable(set_enterprise):
        raise UserError(f"{target.shown} cannot join a WPA2-Enterprise network", NsapiError.UNSUPPORTED, WIFI_ONLY_HINT)
    if options.bssid is not None:
        raise UserError("--bssid cannot be combined with --eap", NsapiError.UNSUPPORTED, "AT+CWJEAP joins by SSID only")
    if options.security is not None and parse_security(options.security) not in ENTERPRISE:
        raise UserError(
            f"--eap joins a WPA2-Enterprise network, not {options.security.upper()}",
            NsapiError.PARAMETER,
            "leave out --security",
        )
    ssid = options.ssid or settings.wifi_ssid
    if ssid is None:
        raise UserError("an Enterprise join needs the network's name", NsapiError.PARAMETER, "give --ssid")
    eap = options.eap or ""
    method = EAP_METHODS[eap]
    password = ""
    if eap != "tls":
        password = _enterprise_password(ssid, settings)
    identity = options.identity or options.username or ""
    err = set_enterprise(
        ssid,
        method,
        identity,
        options.username or "",
        password,
        options.eap_ca_file,
        options.eap_cert_file,
        options.eap_key_file,
    )
    if err != NsapiError.OK:
        raise UserError(f"the {eap} credentials for {ssid!r} cannot be used", NsapiError(err), EAP_HINT)
    err = net.connect()
    hint = {NsapiError.UNSUPPORTED: EAP_UNSUPPORTED_HINT, NsapiError.CONNECTION_TIMEOUT: EAP_TIMEOUT_HINT}.get(err)
    what = f"cannot join the WPA2-Enterprise network {ssid!r} ({eap.upper()}) with {target.shown}"
    return _finish(err, what, f"joined {ssid!r} (WPA2_ENT, {eap.upper()})", target, hint)


def _enterprise_password(ssid: str, settings: Settings) -> str:
    password = settings.wifi_password if settings.wifi_ssid in (None, ssid) else None
    if password is None and sys.stdin.isatty():
        password = getpass.getpass(f"Enterprise password for {ssid!r}: ")
    if not password:
        raise UserError(
            f"no password for the Enterprise network {ssid!r}",
            NsapiError.PARAMETER,
            "set NETSOCKET_WIFI_PASSWORD (or wifi_password in netsocket.ini); it is never an option",
        )
    return password
