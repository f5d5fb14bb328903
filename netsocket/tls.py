"""TLS on the host over any netsocket transport: ``TLSSocket`` (a ``TCPSocket``) and ``TLSSocketWrapper``.

The TLS engine is Python's ``ssl`` on memory BIOs (``ssl.MemoryBIO`` + ``SSLObject``): the network processor only
carries ciphertext, so certificates are verified on the host, against the CA given with ``set_root_ca_cert`` (or
the system's, with ``use_system_ca_certs``). Verification is on by default and cannot be forgotten: with no CA the
handshake fails with ``AUTH_FAILURE``, as Mbed's NO_CERT case expects.

Results follow Mbed's ``TLSSocketWrapper``: ``connect`` gives OK (blocking) or IN_PROGRESS/ALREADY/IS_CONNECTED
(non-blocking); handshake and certificate failures give ``AUTH_FAILURE``; ``send``/``recv`` before the handshake
give ``NO_CONNECTION``; a peer's close_notify makes ``recv`` return 0; other TLS errors give ``DEVICE_ERROR``.
Timeouts follow the socket layer: a blocking call whose timeout passes returns ``CONNECTION_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import ssl
import tempfile
import threading
from collections.abc import Callable

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.server_name import server_name
from netsocket.socket import (
    InternetSocket,
    ReadableBuffer,
    Socket,
    TCPSocket,
    WritableBuffer,
    _readable_bytes,
    _writable_view,
)
from netsocket.stack import OptionValue

_RECORD = 16 * 1024 + 512
_log = logging.getLogger(__name__)


class ControlTransport(enum.Enum):
    """Whether the wrapper connects and/or closes its transport (Mbed's ``control_transport``)."""

    TRANSPORT_KEEP = 0
    TRANSPORT_CONNECT_AND_CLOSE = 1
    TRANSPORT_CONNECT = 2
    TRANSPORT_CLOSE = 3


class _TlsSession:
    """The TLS state of one connection, moving ciphertext through two callables (raw send and raw receive)."""

    def __init__(self) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.hostname: str | None = None
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls: ssl.SSLObject | None = None
        self.handshake_done = False
        self.unsent = bytearray()
        self.lock = threading.RLock()

    # -- configuration --------------------------------------------------------------------------------------------
    def set_root_ca_cert(self, pem: str | bytes) -> NsapiError:
        text = pem.decode() if isinstance(pem, bytes) else pem
        try:
            self.context.load_verify_locations(cadata=text)
        except (ssl.SSLError, ValueError):
            return NsapiError.PARAMETER
        return NsapiError.OK

    def set_client_cert_key(self, cert_pem: str | bytes, key_pem: str | bytes) -> NsapiError:
        cert = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
        key = key_pem.decode() if isinstance(key_pem, bytes) else key_pem
        # ssl loads client certificates from files only; the files live just long enough to be read.
        with (
            tempfile.NamedTemporaryFile("w", suffix=".pem") as cert_file,
            tempfile.NamedTemporaryFile("w", suffix=".pem") as key_file,
        ):
            cert_file.write(cert)
            key_file.write(key)
            cert_file.flush()
            key_file.flush()
            try:
                self.context.load_cert_chain(cert_file.name, key_file.name)
            except (ssl.SSLError, ValueError):
                return NsapiError.PARAMETER
        return NsapiError.OK

    def set_hostname(self, hostname: str) -> NsapiError:
        name = server_name(hostname)
        if name is None:
            return NsapiError.PARAMETER
        self.hostname = name
        self.context.check_hostname = True
        return NsapiError.OK

    # -- data movement --------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.tls is None:
            self.tls = self.context.wrap_bio(self.incoming, self.outgoing, server_hostname=self.hostname)

    def flush(self, raw_send: Callable[[bytes], int]) -> int:
        """Send pending ciphertext: OK when all of it went, WOULD_BLOCK (the rest is kept for the next call), or
        the transport's error."""
        self.unsent += self.outgoing.read()
        while self.unsent:
            sent = raw_send(bytes(self.unsent))
            if sent < 0:
                return sent
            del self.unsent[:sent]
            if sent == 0:
                return NsapiError.WOULD_BLOCK
        return NsapiError.OK

    def pull(self, raw_recv: Callable[[bytearray], int]) -> int:
        """Receive ciphertext into the TLS engine: bytes received, 0 at end of stream, or an error."""
        buffer = bytearray(_RECORD)
        size = raw_recv(buffer)
        if size > 0:
            self.incoming.write(bytes(buffer[:size]))
        elif size == 0:
            self.incoming.write_eof()
        return size

    def handshake(self, raw_send: Callable[[bytes], int], raw_recv: Callable[[bytearray], int]) -> int:
        """Drive the handshake until done (OK), the transport would block (its code), or it fails."""
        try:
            self.start()
        except (ValueError, UnicodeError) as exc:  # set_hostname checks names; this is the engine's last word
            _log.warning("TLS: the engine refused the server name %r: %s", self.hostname, exc)
            return NsapiError.PARAMETER
        assert self.tls is not None
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                err = self.flush(raw_send)
                if err < 0:
                    return err
                size = self.pull(raw_recv)
                if size == 0:
                    return NsapiError.AUTH_FAILURE
                if size < 0:
                    return size
                continue
            except (ssl.SSLError, ssl.CertificateError):
                self.flush(raw_send)
                return NsapiError.AUTH_FAILURE
            err = self.flush(raw_send)
            if err < 0:
                return err
            self.handshake_done = True
            return NsapiError.OK

    def send(self, data: memoryview, raw_send: Callable[[bytes], int]) -> int:
        assert self.tls is not None
        try:
            self.tls.write(data)
        except ssl.SSLError:
            return NsapiError.DEVICE_ERROR
        err = self.flush(raw_send)
        # Ciphertext a non-blocking transport could not take yet stays queued; the data itself was accepted.
        return err if err < 0 and err != NsapiError.WOULD_BLOCK else len(data)

    def recv(self, view: memoryview, raw_recv: Callable[[bytearray], int], raw_send: Callable[[bytes], int]) -> int:
        assert self.tls is not None
        while True:
            try:
                data = self.tls.read(len(view))
            except ssl.SSLWantReadError:
                # Ciphertext a non-blocking send left queued goes first: the reply awaited may depend on it.
                err = self.flush(raw_send)
                if err < 0 and err != NsapiError.WOULD_BLOCK:
                    return err
                size = self.pull(raw_recv)
                if size < 0:
                    return size
                continue
            except ssl.SSLZeroReturnError:
                return 0
            except ssl.SSLEOFError:
                return 0
            except ssl.SSLError:
                return NsapiError.DEVICE_ERROR
            view[: len(data)] = data
            return len(data)

    def close_notify(self, raw_send: Callable[[bytes], int]) -> None:
        if self.tls is None or not self.handshake_done:
            return
        with contextlib.suppress(ssl.SSLError):
            self.tls.unwrap()
        self.flush(raw_send)


class _TlsFront:
    """What ``TLSSocket`` and ``TLSSocketWrapper`` share: configuration and the TLS side of each call.

    Subclasses give ``_raw_send``/``_raw_recv`` (ciphertext over their transport) and ``_has_transport``.
    """

    _session: _TlsSession

    def _raw_send(self, data: bytes) -> int:
        raise NotImplementedError

    def _raw_recv(self, buffer: bytearray) -> int:
        raise NotImplementedError

    def _has_transport(self) -> bool:
        raise NotImplementedError

    def set_root_ca_cert(self, pem: str | bytes) -> NsapiError:
        """Trust this PEM CA (or bundle): OK, or PARAMETER if it does not parse."""
        return self._session.set_root_ca_cert(pem)

    def use_system_ca_certs(self) -> NsapiError:
        """Trust the host's CA store."""
        self._session.context.load_default_certs()
        return NsapiError.OK

    def set_client_cert_key(self, cert_pem: str | bytes, key_pem: str | bytes) -> NsapiError:
        """Present this client certificate: OK, or PARAMETER if the pair does not parse or match."""
        return self._session.set_client_cert_key(cert_pem, key_pem)

    def set_hostname(self, hostname: str) -> NsapiError:
        """The server name to send (SNI) and to check the certificate against: OK, or PARAMETER for a string that
        cannot be a server name (control characters, CR/LF, a leading dot, an empty or 64-character label, over 253
        characters, text IDNA cannot encode; see ``netsocket.server_name``). An IP literal is checked against the
        certificate's IP addresses."""
        return self._session.set_hostname(hostname)

    def _one_deadline(self) -> contextlib.AbstractContextManager[None]:
        """Makes every wait on the transport inside a TLS call share one deadline (a call may take many records)."""
        return contextlib.nullcontext()

    def _handshake(self) -> NsapiError:
        """Run the handshake as far as the transport allows: OK, ALREADY (would block), or the error."""
        with self._session.lock, self._one_deadline():
            result = self._session.handshake(self._raw_send, self._raw_recv)
        return NsapiError.ALREADY if result == NsapiError.WOULD_BLOCK else NsapiError(result)

    def _tls_send(self, data: ReadableBuffer) -> int:
        view = _readable_bytes(data)
        if not self._has_transport():
            return NsapiError.NO_SOCKET
        if not self._session.handshake_done:
            return NsapiError.NO_CONNECTION
        with self._session.lock, self._one_deadline():
            return self._session.send(view, self._raw_send)

    def _tls_recv(self, buffer: WritableBuffer) -> int:
        view = _writable_view(buffer)
        if not self._has_transport():
            return NsapiError.NO_SOCKET
        if not self._session.handshake_done:
            return NsapiError.NO_CONNECTION
        with self._session.lock, self._one_deadline():
            return self._session.recv(view, self._raw_recv, self._raw_send)

    def _close_notify(self) -> None:
        if self._has_transport():
            with self._session.lock:
                self._session.close_notify(self._raw_send)


class TLSSocket(_TlsFront, TCPSocket):
    """A TCP socket with TLS on top (Mbed's ``TLSSocket``); configure it before ``connect``."""

    def __init__(self) -> None:
        super().__init__()
        self._session = _TlsSession()
        self._handshake_started = False

    def _raw_send(self, data: bytes) -> int:
        return TCPSocket.send(self, data)

    def _raw_recv(self, buffer: bytearray) -> int:
        return TCPSocket.recv(self, buffer)

    def _has_transport(self) -> bool:
        return self.is_open

    def _one_deadline(self) -> contextlib.AbstractContextManager[None]:
        return self._shared_deadline()

    def connect(self, address: SocketAddress) -> NsapiError:
        """Connect TCP, then do the handshake. Blocking: OK, AUTH_FAILURE, CONNECTION_TIMEOUT, ... Non-blocking:
        IN_PROGRESS, then ALREADY while the handshake runs, then IS_CONNECTED."""
        if self._session.handshake_done:
            return NsapiError.IS_CONNECTED
        if not self._handshake_started:
            err = super().connect(address)
            if err not in (NsapiError.OK, NsapiError.IS_CONNECTED):
                return err
            self._handshake_started = True
        result = self._handshake()
        if result == NsapiError.OK and self.get_timeout() == 0:
            return NsapiError.IS_CONNECTED
        return result

    def send(self, data: ReadableBuffer) -> int:
        return self._tls_send(data)

    def recv(self, buffer: WritableBuffer) -> int:
        return self._tls_recv(buffer)

    def getpeername(self, address: SocketAddress) -> NsapiError:
        if self.is_open and not self._session.handshake_done:
            return NsapiError.NO_CONNECTION
        return super().getpeername(address)

    def close(self) -> NsapiError:
        """Send close_notify (if the handshake finished) and close. A TLSSocket cannot be opened again."""
        self._close_notify()
        return super().close()

    def listen(self, backlog: int = 1) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def accept(self) -> tuple[TCPSocket | None, NsapiError]:
        return None, NsapiError.UNSUPPORTED


class TLSSocketWrapper(_TlsFront, Socket):
    """TLS over an existing connected-stream ``Socket`` (Mbed's ``TLSSocketWrapper``)."""

    def __init__(
        self,
        transport: Socket,
        hostname: str | None = None,
        control: ControlTransport = ControlTransport.TRANSPORT_CONNECT_AND_CLOSE,
    ) -> None:
        self._transport: Socket | None = transport
        self._control = control
        self._session = _TlsSession()
        if hostname is not None:
            self._session.set_hostname(hostname)

    def _raw_send(self, data: bytes) -> int:
        return self._transport.send(data) if self._transport is not None else NsapiError.NO_SOCKET

    def _raw_recv(self, buffer: bytearray) -> int:
        return self._transport.recv(buffer) if self._transport is not None else NsapiError.NO_SOCKET

    def _has_transport(self) -> bool:
        return self._transport is not None

    def _one_deadline(self) -> contextlib.AbstractContextManager[None]:
        transport = self._transport
        return transport._shared_deadline() if isinstance(transport, InternetSocket) else contextlib.nullcontext()

    def connect(self, address: SocketAddress | None = None) -> NsapiError:
        if self._transport is None:
            return NsapiError.NO_SOCKET
        if self._session.handshake_done:
            return NsapiError.IS_CONNECTED
        if self._session.tls is None and self._control in (
            ControlTransport.TRANSPORT_CONNECT,
            ControlTransport.TRANSPORT_CONNECT_AND_CLOSE,
        ):
            err = self._transport.connect(address if address is not None else SocketAddress())
            if err not in (NsapiError.OK, NsapiError.IS_CONNECTED):
                return err
        return self._handshake()

    def send(self, data: ReadableBuffer) -> int:
        return self._tls_send(data)

    def recv(self, buffer: WritableBuffer) -> int:
        return self._tls_recv(buffer)

    def sendto(self, address: SocketAddress, data: ReadableBuffer) -> int:
        return self.send(data)

    def recvfrom(self, address: SocketAddress | None, buffer: WritableBuffer) -> int:
        result = self.recv(buffer)
        if address is not None and result >= 0 and self._transport is not None:
            self._transport.getpeername(address)
        return result

    def close(self) -> NsapiError:
        if self._transport is None:
            return NsapiError.NO_SOCKET
        self._close_notify()
        transport, self._transport = self._transport, None
        if self._control in (ControlTransport.TRANSPORT_CLOSE, ControlTransport.TRANSPORT_CONNECT_AND_CLOSE):
            return transport.close()
        return NsapiError.OK

    def bind(self, address: SocketAddress | int) -> NsapiError:
        return self._transport.bind(address) if self._transport is not None else NsapiError.NO_SOCKET

    def listen(self, backlog: int = 1) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def accept(self) -> tuple[TCPSocket | None, NsapiError]:
        return None, NsapiError.UNSUPPORTED

    def getpeername(self, address: SocketAddress) -> NsapiError:
        if self._transport is None:
            return NsapiError.NO_SOCKET
        if not self._session.handshake_done:
            return NsapiError.NO_CONNECTION
        return self._transport.getpeername(address)

    def set_blocking(self, blocking: bool) -> None:
        if self._transport is not None:
            self._transport.set_blocking(blocking)

    def set_timeout(self, timeout_ms: int) -> None:
        if self._transport is not None:
            self._transport.set_timeout(timeout_ms)

    def setsockopt(self, level: int, optname: int, value: OptionValue) -> NsapiError:
        return self._transport.setsockopt(level, optname, value) if self._transport else NsapiError.NO_SOCKET

    def getsockopt(self, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        return self._transport.getsockopt(level, optname) if self._transport else (NsapiError.NO_SOCKET, None)

    def sigio(self, callback: Callable[[], object] | None) -> None:
        if self._transport is not None:
            self._transport.sigio(callback)
