"""Which strings can be a TLS server name (the SNI sent, and the name the certificate is checked against).

A name is an IP address literal, or a DNS name whose IDNA form (what ``ssl`` sends) is at most 253 characters of
labels of 1 to 63 letters, digits, hyphens or underscores, no label starting or ending with a hyphen. One trailing
dot (a fully qualified name) is dropped. Anything else (control characters, CR/LF, spaces, a leading dot, an empty
or 64-character label, text IDNA cannot encode) is not a name: ``TLSSocket.set_hostname`` answers PARAMETER.
"""

from __future__ import annotations

import ipaddress
import re

MAX_NAME = 253
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def server_name(name: object) -> str | None:
    """``name`` as it will be used (without a trailing dot), or None if it cannot be a server name."""
    if not isinstance(name, str):
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return name
    if name.endswith("."):
        name = name[:-1]
    if not name or not name.isprintable():
        return None
    try:
        wire = name.encode("idna").decode("ascii")  # the codec ssl applies to server_hostname
    except UnicodeError:
        return None
    if len(wire) > MAX_NAME or not all(_LABEL.fullmatch(label) for label in wire.split(".")):
        return None
    return name
