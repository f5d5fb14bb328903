"""``ModuleTLSSocket``: TLS run by the ESP module's firmware (``AT+CIPSTART=<link>,"SSL",...``), an explicit opt-in.

Layer: the API on top. This is not netsocket's ``TLSSocket``: that one runs TLS on the host, verifies the server
by default and keeps keys on the host. Here the module does the handshake with what is flashed in it, and checks
only what ``verify`` says; the default of the firmware (``ModuleTLSVerify.NONE``) checks nothing at all, so the
class has no default and the caller must name the choice.
"""

from __future__ import annotations

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.socket import TCPSocket
from netsocket.stack import NetworkStack

from .ssl_link import ModuleTLSVerify, SslSettings, sni
from .stack import ESPATStack


class ModuleTLSSocket(TCPSocket):
    """A TLS client connection whose TLS runs **on the ESP module** (its firmware's mbedTLS), not on the host.

    Not in Mbed OS (its ``TLSSocket`` is host-side, as netsocket's is). The Socket API is Mbed's: ``open(stack)``
    (an ESP-AT interface or stack; UNSUPPORTED on any other), ``connect(SocketAddress)`` (TCP connect and handshake,
    done by the module), ``send``/``recv`` in plaintext, ``close``, timeouts and ``sigio`` as on any socket.
    ``bind``, ``listen`` and ``accept`` are UNSUPPORTED (the ESP8266 has no SSL server; this class is a client).

    ``verify`` is required, and is what the module checks (``AT+CIPSSLCCONF``):

    - ``ModuleTLSVerify.NONE`` — **NOTHING IS VERIFIED.** Any certificate for any name is accepted: the link is
      encrypted, but anyone on the path can pose as the server. It is the firmware's default, kept here only
      because some servers need nothing more than encryption on a trusted network.
    - ``ModuleTLSVerify.SERVER`` — the server's chain against the CA certificate **flashed in the module**, and
      the certificate's name against ``set_hostname`` (else the IP address connected to).
    - ``ModuleTLSVerify.MUTUAL`` — SERVER, and the module presents the client certificate and key flashed in it.

    The driver does not flash certificates: they live in the module's PKI partition, written with Espressif's
    tools (the emulator: ``Emulator.set_pki``). Revocation is never checked. A failed handshake (wrong CA, wrong
    name, no CA flashed) looks on the wire exactly like a refused connection (``ERROR``, then ``<id>,CLOSED``), so
    ``connect`` returns ``NO_CONNECTION`` for both, never ``AUTH_FAILURE``.

    Limits of the firmware (the dialect table): one SSL link at a time on an ESP8266 (NonOS 1.7, ESP-AT 2.x),
    five on an ESP32 with ESP-AT 3.x; ``open`` returns ``NO_SOCKET`` beyond that. NonOS sends no server name:
    ``set_hostname`` returns ``UNSUPPORTED`` there.
    """

    def __init__(self, *, verify: ModuleTLSVerify) -> None:
        if not isinstance(verify, ModuleTLSVerify):
            raise TypeError(f"verify is a ModuleTLSVerify (NONE, SERVER or MUTUAL), not {verify!r}")
        super().__init__()
        self._settings = SslSettings(verify)

    @property
    def verify(self) -> ModuleTLSVerify:
        return self._settings.verify

    def open(self, stack: NetworkStack | NetworkInterface) -> NsapiError:
        """Open on an ESP-AT module: OK, PARAMETER if already open or no stack, UNSUPPORTED on a stack that is not
        an ESP-AT module's, NO_SOCKET when the firmware's SSL links (or its five links) are all in use."""
        target = stack.get_stack() if isinstance(stack, NetworkInterface) else stack
        if target is None:
            return NsapiError.PARAMETER
        if not isinstance(target, ESPATStack):
            return NsapiError.UNSUPPORTED
        with self._cond:
            if self._stack is not None:
                return NsapiError.PARAMETER
        err, handle = target.socket_open(self._proto, tls=self._settings)
        if err != NsapiError.OK:
            return NsapiError(err)
        self._adopt(target, handle)
        return NsapiError.OK

    def set_hostname(self, hostname: str) -> NsapiError:
        """The server's name, sent as SNI (``AT+CIPSSLCSNI``) and checked against its certificate under SERVER and
        MUTUAL, from the next ``connect``. PARAMETER for what ``TLSSocket.set_hostname`` refuses (control
        characters, spaces, empty labels, ...) and for a name over 64 bytes (the firmware's limit); UNSUPPORTED on
        NonOS firmware (no SNI; also reported by ``connect`` if the firmware was not known yet)."""
        if not isinstance(hostname, str):
            raise TypeError(f"a host name is a str, not {type(hostname).__name__}")
        name = sni(hostname)
        if name is None:
            return NsapiError.PARAMETER
        with self._cond:
            stack = self._stack
        if isinstance(stack, ESPATStack):
            if stack.firmware is not None and not stack.dialect.ssl_sni:
                return NsapiError.UNSUPPORTED
            with stack.lock:
                self._settings.hostname = name
        else:
            self._settings.hostname = name
        return NsapiError.OK

    def bind(self, address: SocketAddress | int) -> NsapiError:
        """UNSUPPORTED: the module picks the local port of an SSL link."""
        return NsapiError.UNSUPPORTED if self.is_open else NsapiError.NO_SOCKET

    def listen(self, backlog: int = 1) -> NsapiError:
        """UNSUPPORTED: module-side TLS is a client here."""
        return NsapiError.UNSUPPORTED if self.is_open else NsapiError.NO_SOCKET

    def accept(self) -> tuple[TCPSocket | None, NsapiError]:
        """UNSUPPORTED: module-side TLS is a client here."""
        return None, NsapiError.UNSUPPORTED if self.is_open else NsapiError.NO_SOCKET


__all__ = ["ModuleTLSSocket", "ModuleTLSVerify"]
