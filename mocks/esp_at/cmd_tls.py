"""Module-side TLS settings: AT+CIPSSLCCONF (what the module verifies and presents) and AT+CIPSSLCSNI.

Layer: sans-IO command handlers and helpers of the device model. The emulated module does the TLS on the host
side with Python's ssl (`network.TlsOptions`), against the world's "PKI partition" (`World.ssl_ca_pem`,
`ssl_client_cert_pem`/`ssl_client_key_pem`). ``<auth_mode>`` bit 1 verifies the server's chain against that CA
and its name against the SNI (or the host given to AT+CIPSTART); without bit 1 nothing is verified, which is the
firmware's default. ESP-AT keeps the settings per link (``[<link>,]<auth_mode>[,<pki>][,<ca>]``); NonOS has one
global ``AT+CIPSSLCCONF=<mode>`` with the same two bits (reference §3.23) and no SNI command.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form
from .network import TlsOptions
from .state import TlsLinkConfig

if TYPE_CHECKING:
    from .device import EspAtDevice

_NONOS_KEY = 0  # NonOS's single, global setting


def _config(dev: EspAtDevice, link_id: int) -> TlsLinkConfig:
    key = link_id if dev.profile.sslcconf_per_link else _NONOS_KEY
    return dev.features.tls.setdefault(key, TlsLinkConfig())


def _link_and_rest(dev: EspAtDevice, cmd: Command) -> tuple[int, int] | None:
    """The link a per-link command names (0 with CIPMUX=0) and the index of its next parameter."""
    if not dev.mux:
        return 0, 0
    link_id = cmd.int_at(0)
    return (link_id, 1) if 0 <= link_id <= 4 else None


def _sslcconf(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY and dev.profile.sslcconf_query:
        for link_id in range(5) if dev.mux else (0,):
            conf = _config(dev, link_id)
            head = f"{link_id}," if dev.mux else ""
            dev.info(f"+CIPSSLCCONF:{head}{conf.auth_mode},{conf.pki_number},{conf.ca_number}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    if not dev.profile.sslcconf_per_link:
        if len(cmd.params) != 1 or not 0 <= cmd.int_at(0) <= 3:
            dev.error(now)
            return
        _config(dev, 0).auth_mode = cmd.int_at(0)
        dev.ok(now)
        return
    located = _link_and_rest(dev, cmd)
    if located is None or not 1 <= len(cmd.params) - located[1] <= 3:
        dev.error(now)
        return
    link_id, at = located
    auth, pki, ca = cmd.int_at(at), cmd.int_at(at + 1, 0), cmd.int_at(at + 2, 0)
    if not 0 <= auth <= 3 or pki < 0 or ca < 0:
        dev.error(now)
        return
    conf = _config(dev, link_id)
    conf.auth_mode, conf.pki_number, conf.ca_number = auth, pki, ca
    dev.ok(now)


def _sslcsni(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        for link_id in range(5) if dev.mux else (0,):
            sni = _config(dev, link_id).sni
            if sni is not None:
                dev.info(f'+CIPSSLCSNI:{link_id},"{sni}"' if dev.mux else f'+CIPSSLCSNI:"{sni}"')
        dev.ok(now)
        return
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    located = _link_and_rest(dev, cmd)
    if located is None or len(cmd.params) != located[1] + 1:
        dev.error(now)
        return
    sni = cmd.str_at(located[1])
    if not 0 < len(sni) <= 64:
        dev.error(now)
        return
    _config(dev, located[0]).sni = sni
    dev.ok(now)


def options_for(dev: EspAtDevice, link_id: int, host: str) -> TlsOptions | None:
    """The TLS the module runs for an SSL link to `host`; None when it is told to use PKI it does not have."""
    conf = _config(dev, link_id)
    world = dev.world
    verify = bool(conf.auth_mode & 2)
    present = bool(conf.auth_mode & 1)
    if (verify and world.ssl_ca_pem is None) or (
        present and (world.ssl_client_cert_pem is None or world.ssl_client_key_pem is None)
    ):
        return None
    name = conf.sni if conf.sni is not None else host
    try:
        ipaddress.ip_address(name)
        server_name: str | None = name if verify else None  # no SNI for a literal; still checked when verifying
    except ValueError:
        server_name = name
    return TlsOptions(
        verify=verify,
        ca_pem=world.ssl_ca_pem if verify else None,
        server_name=server_name,
        client_cert_pem=world.ssl_client_cert_pem if present else None,
        client_key_pem=world.ssl_client_key_pem if present else None,
    )


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "CIPSSLCCONF": _sslcconf,
    "CIPSSLCSNI": _sslcsni,
}
