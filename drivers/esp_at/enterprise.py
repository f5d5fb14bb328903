"""WPA2-Enterprise joins (``AT+CWJEAP``, ESP-AT on ESP32 only): the credentials, their checks and the command.

Sans-IO apart from reading the certificate files once, to check them. The firmware takes no certificate over the
UART: EAP-TLS's client certificate and key, and the CA that checks the RADIUS server, are read from the module's
flash. ``AT+CWJEAP``'s ``<security>`` only says which of them to use (bit 0 the client certificate, bit 1 the
server check). So the files given here are checked (they exist, hold PEM of the right kind, the key matches the
certificate) and decide those bits; the user flashes the same files into the module with Espressif's tools.
"""

from __future__ import annotations

import enum
import os
import ssl
from dataclasses import dataclass
from typing import Final

from netsocket.errors import NsapiError

from .commands import Command, ParameterError, quote
from .dialects import Dialect

FIELD_LIMIT: Final = 32
"""AT+CWJEAP takes identity, username and password of 1..32 bytes each."""
TIMEOUT_RANGE: Final = (3, 600)
"""AT+CWJEAP's ``<timeout>`` in seconds."""
FAILURE_LINE: Final = b"+CWJEAP:Timeout"

StrPath = str | os.PathLike[str]


class EapMethod(enum.IntEnum):
    """AT+CWJEAP's ``<method>`` (the firmware's values)."""

    TLS = 0
    """EAP-TLS: the client certificate and key flashed in the module authenticate it (no username or password)."""
    PEAP = 1
    """EAP-PEAP (MSCHAPv2 inside): username and password."""
    TTLS = 2
    """EAP-TTLS: username and password."""


@dataclass(frozen=True)
class EnterpriseCredentials:
    ssid: str
    method: EapMethod
    identity: str
    username: str
    password: str
    security: int
    """AT+CWJEAP's ``<security>``: bit 0 present the flashed client certificate, bit 1 check the server against
    the flashed CA."""


def _pem_file(path: StrPath | None, markers: tuple[bytes, ...]) -> bool:
    """Whether ``path`` (if given) is a readable file holding a PEM block that begins with one of ``markers``."""
    if path is None:
        return True
    try:
        with open(path, "rb") as handle:
            text = handle.read(1 << 20)
    except (OSError, TypeError):
        return False
    return any(b"-----BEGIN " + marker + b"-----" in text for marker in markers)


def _key_matches(cert_file: StrPath, key_file: StrPath) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        # A password-protected key is refused here (the callable answers no password) instead of prompting.
        context.load_cert_chain(cert_file, key_file, password=lambda: b"")
    except (ssl.SSLError, OSError, ValueError):
        return False
    return True


def credentials(
    ssid: str,
    method: EapMethod | int,
    identity: str,
    username: str = "",
    password: str = "",
    ca_file: StrPath | None = None,
    cert_file: StrPath | None = None,
    key_file: StrPath | None = None,
) -> EnterpriseCredentials | NsapiError:
    """Check what ``set_enterprise_credentials`` was given: the credentials, or PARAMETER.

    PARAMETER for: an SSID of 0 or over 32 bytes; an unknown method; an identity, username or password that is
    empty where the method needs it, over 32 bytes or holds control characters; a username or password given to
    EAP-TLS; EAP-TLS without ``cert_file`` and ``key_file``; one of the two without the other; a file that cannot
    be read or holds no PEM of its kind (CERTIFICATE for ``ca_file``/``cert_file``, a PRIVATE KEY for
    ``key_file``); a key that does not match the certificate or needs a password."""
    try:
        method = EapMethod(method)
    except ValueError:
        return NsapiError.PARAMETER
    strings = (ssid, identity, username, password)
    if not all(isinstance(value, str) for value in strings):
        raise TypeError("ssid, identity, username and password are str")
    try:
        quote(ssid, 32)
        for value in (identity, username, password):
            quote(value, FIELD_LIMIT)
    except ParameterError:
        return NsapiError.PARAMETER
    needs_password = method is not EapMethod.TLS
    if not ssid or not identity or bool(username) != needs_password or bool(password) != needs_password:
        return NsapiError.PARAMETER
    if (cert_file is None) != (key_file is None) or (method is EapMethod.TLS and cert_file is None):
        return NsapiError.PARAMETER
    if not (
        _pem_file(ca_file, (b"CERTIFICATE",))
        and _pem_file(cert_file, (b"CERTIFICATE",))
        and _pem_file(key_file, (b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY"))
    ):
        return NsapiError.PARAMETER
    if cert_file is not None and key_file is not None and not _key_matches(cert_file, key_file):
        return NsapiError.PARAMETER
    security = (1 if cert_file is not None else 0) | (2 if ca_file is not None else 0)
    return EnterpriseCredentials(ssid, method, identity, username, password, security)


def join_command(dialect: Dialect, creds: EnterpriseCredentials, timeout: float) -> Command | None:
    """``AT+CWJEAP="<ssid>",<method>,"<identity>","<username>","<password>",<security>,<timeout>``; None where the
    firmware has no AT+CWJEAP. EAP-TLS leaves username and password empty (``,,``), as Espressif's example does.

    The module's own ``<timeout>`` is 5 s under ``timeout`` (the driver's deadline), within 3..600 s, so that the
    module's answer, not the driver's deadline, ends a failed join."""
    if not dialect.eap_join:
        return None
    if creds.method is EapMethod.TLS:
        inner = b","  # empty username and password
    else:
        inner = quote(creds.username, FIELD_LIMIT) + b"," + quote(creds.password, FIELD_LIMIT)
    low, high = TIMEOUT_RANGE
    seconds = max(low, min(high, int(timeout) - 5))
    line = (
        b"AT+CWJEAP="
        + quote(creds.ssid, 32)
        + b",%d," % creds.method
        + quote(creds.identity, FIELD_LIMIT)
        + b","
        + inner
        + b",%d,%d" % (creds.security, seconds)
    )
    if len(line) > dialect.command_limit:
        raise ParameterError("the enterprise join is longer than the firmware's command line once escaped")
    return Command(line, timeout)


def join_failure(lines: list[bytes]) -> NsapiError | None:
    """The error a failed AT+CWJEAP means, or None if its answer was not the enterprise join's.

    ``+CWJEAP:Timeout`` is the one failure Espressif documents: the EAP exchange did not finish within
    ``<timeout>``, whatever the reason (unknown SSID, wrong credentials, a method the server refuses, an
    unreachable RADIUS server). As a deadline that passed it is CONNECTION_TIMEOUT, like ``+CWJAP:1``."""
    return NsapiError.CONNECTION_TIMEOUT if FAILURE_LINE in lines else None
