"""The AT commands of a module-side TLS link (``AT+CIPSTART=<link>,"SSL",...``), as data. Sans-IO: no I/O, no clock.

The module runs the TLS itself (mbedTLS in the firmware) with the certificates flashed into it; the host sees
plaintext. What it verifies is ``AT+CIPSSLCCONF``'s auth mode (reference §3.23): bit 1 checks the server's chain
against the CA in the module's flash (and its name against the SNI, else the host given to AT+CIPSTART), bit 0
presents the client certificate in the module's flash. Mode 0, the firmware's default, checks nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netsocket.errors import NsapiError
from netsocket.server_name import server_name

from .commands import CONNECT_TIMEOUT, Command, is_ipv6, quote
from .dialects import Dialect

SNI_LIMIT = 64
"""AT+CIPSSLCSNI takes at most 64 bytes."""


class ModuleTLSVerify(enum.IntEnum):
    """What the module checks during the handshake: ``AT+CIPSSLCCONF``'s ``<auth_mode>`` (the values are the
    firmware's)."""

    NONE = 0
    """Nothing: any certificate, for any name, signed by anyone, is accepted. The firmware's default. A
    man in the middle reads and changes everything; use it only against a server you reach over a trusted path."""
    SERVER = 2
    """The server's chain against the CA flashed in the module, and its name against the SNI (``set_hostname``),
    else against the address connected to."""
    MUTUAL = 3
    """SERVER, and the module presents the client certificate and key flashed in it."""


@dataclass
class SslSettings:
    """One module-TLS socket's settings (changed by its owner, read by the worker under the stack's lock)."""

    verify: ModuleTLSVerify
    hostname: str | None = None


def sni(name: str) -> str | None:
    """``name`` as AT+CIPSSLCSNI carries it: a server name by the rules of host-side TLS (``netsocket.server_name``),
    in its IDNA (ASCII) form, at most 64 bytes; None for anything else."""
    usable = server_name(name)
    if usable is None:
        return None
    wire = usable.encode("idna").decode("ascii")
    return wire if len(wire) <= SNI_LIMIT else None


def prepare(dialect: Dialect, link: int, settings: SslSettings, ip: str) -> list[Command] | NsapiError:
    """The commands that set up link ``link`` before its AT+CIPSTART, in order; UNSUPPORTED when the firmware lacks
    what the settings need (a server name on NonOS).

    Every setting is sent each time (the firmware keeps them per link id, or globally on NonOS, so a value an
    earlier socket left must never apply). Without a host name the SNI is set to the address connected to (there
    is no command that clears it), so the certificate's name is checked against that address."""
    commands = [Command(dialect.ssl_size_command)] if dialect.ssl_size_command is not None else []
    if dialect.sslcconf_per_link:
        commands.append(Command(b"AT+CIPSSLCCONF=%d,%d" % (link, settings.verify)))
    else:
        commands.append(Command(b"AT+CIPSSLCCONF=%d" % settings.verify))
    if dialect.ssl_sni:
        commands.append(Command(b"AT+CIPSSLCSNI=%d," % link + quote(settings.hostname or ip, SNI_LIMIT)))
    elif settings.hostname is not None:
        return NsapiError.UNSUPPORTED
    return commands


def start(link: int, ip: str, port: int, keepalive: int = 0) -> Command:
    """``AT+CIPSTART=<link>,"SSL"|"SSLv6","<ip>",<port>[,<keepalive>]``: TCP connect and handshake in one command
    (SSLv6 for an IPv6 literal, as TCPv6 for plain TCP)."""
    kind = b"SSLv6" if is_ipv6(ip) else b"SSL"
    line = b'AT+CIPSTART=%d,"%s","%s",%d' % (link, kind, ip.encode(), port)
    if keepalive:
        line += b",%d" % keepalive
    return Command(line, CONNECT_TIMEOUT, link=link)
