"""nsapi codes as Python exceptions: one errno table for every Python-shaped face (``compat``, ``socketpool``).

An nsapi error becomes an ``OSError`` subclass that also mixes in the built-in a Python program expects
(``TimeoutError`` for ``CONNECTION_TIMEOUT``, ``ConnectionRefusedError``, ``BlockingIOError`` for ``WOULD_BLOCK``,
``socket.gaierror`` for ``DNS_FAILURE``), with the matching errno and the code in ``nsapi_error``.
"""

from __future__ import annotations

import errno
import socket as _socket

from netsocket.errors import NsapiError

__all__ = ["NsapiOSError", "error_for"]


class NsapiOSError(OSError):
    """An ``OSError`` raised for an nsapi error; ``nsapi_error`` holds the code."""

    nsapi_error: NsapiError


_ERRORS: dict[NsapiError, tuple[type[OSError], int]] = {
    NsapiError.WOULD_BLOCK: (BlockingIOError, errno.EAGAIN),
    NsapiError.CONNECTION_TIMEOUT: (TimeoutError, errno.ETIMEDOUT),
    NsapiError.TIMEOUT: (TimeoutError, errno.ETIMEDOUT),
    NsapiError.NO_CONNECTION: (ConnectionRefusedError, errno.ECONNREFUSED),
    NsapiError.CONNECTION_LOST: (ConnectionResetError, errno.ECONNRESET),
    NsapiError.IS_CONNECTED: (OSError, errno.EISCONN),
    NsapiError.NO_SOCKET: (OSError, errno.EBADF),
    NsapiError.NO_ADDRESS: (OSError, errno.EDESTADDRREQ),
    NsapiError.PARAMETER: (OSError, errno.EINVAL),
    NsapiError.NO_MEMORY: (OSError, errno.ENOBUFS),
    NsapiError.UNSUPPORTED: (OSError, errno.EOPNOTSUPP),
    NsapiError.DEVICE_ERROR: (OSError, errno.EIO),
    NsapiError.IN_PROGRESS: (BlockingIOError, errno.EINPROGRESS),
    NsapiError.ALREADY: (BlockingIOError, errno.EALREADY),
}
_CLASSES: dict[type[OSError], type[NsapiOSError]] = {}


def error_for(code: int, what: str) -> OSError:
    """The exception for an nsapi code: an ``OSError`` subclass with an errno, message ``what ... [NAME code]``."""
    nsapi = NsapiError(code)
    message = f"{what} [NSAPI_ERROR_{nsapi.name} {int(nsapi)}]"
    if nsapi == NsapiError.DNS_FAILURE:
        exc: OSError = _socket.gaierror(_socket.EAI_NONAME, message)
        exc.nsapi_error = nsapi  # type: ignore[attr-defined]
        return exc
    base, number = _ERRORS.get(nsapi, (OSError, errno.EIO))
    cls = _CLASSES.get(base)
    if cls is None:
        cls = type(f"Nsapi{base.__name__}", (NsapiOSError, base), {})
        _CLASSES[base] = cls
    exc = cls(number, message)
    exc.nsapi_error = nsapi
    return exc
