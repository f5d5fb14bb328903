"""Mbed's sockets: ``Socket``, ``InternetSocket``, ``TCPSocket``, ``UDPSocket``.

This is the one place that turns a stack's non-blocking primitives into blocking calls with timeouts, for every
stack alike: try the primitive; on ``WOULD_BLOCK`` wait (never poll) for the stack's attach callback or the
deadline; try again. Where netsocket differs from Mbed OS:

- A blocking call whose timeout passes returns ``CONNECTION_TIMEOUT``, not ``WOULD_BLOCK``: a deadline that passed
  is never confused with "try again". Non-blocking calls (``set_timeout(0)``) still return ``WOULD_BLOCK``.
- A socket may be used from several threads; sends are serialised so one blocking ``send`` is never interleaved
  with another, and ``close()`` from another thread wakes blocked calls at once (they return ``NO_SOCKET``).
- Calling a socket from a ``sigio`` callback raises ``RuntimeError`` (Mbed leaves it undefined).
"""

from __future__ import annotations

import abc
import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from netsocket import nonblocking
from netsocket.address import SocketAddress
from netsocket.callback_context import forbid_in_callback, run_callback
from netsocket.deadline import Deadline, interruptible
from netsocket.deadline import timeout_ms as _timeout_ms
from netsocket.errors import NsapiError
from netsocket.stack import NetworkStack, OptionValue, SocketHandle
from netsocket.types import NsapiProtocol

if TYPE_CHECKING:
    from netsocket.interface import NetworkInterface

WritableBuffer = bytearray | memoryview
ReadableBuffer = bytes | bytearray | memoryview

_SocketT = TypeVar("_SocketT", bound="Socket")

_WAITING = frozenset({NsapiError.WOULD_BLOCK})
_CONNECTING = frozenset({NsapiError.IN_PROGRESS, NsapiError.ALREADY, NsapiError.WOULD_BLOCK})


def _as_stack(stack: NetworkStack | NetworkInterface) -> NetworkStack | None:
    if isinstance(stack, NetworkStack):
        return stack
    get_stack = getattr(stack, "get_stack", None)
    if callable(get_stack):
        result = get_stack()
        if isinstance(result, NetworkStack):
            return result
    return None


def _writable_view(buffer: WritableBuffer) -> memoryview:
    if isinstance(buffer, (bytes, str)) or not isinstance(buffer, (bytearray, memoryview)):
        raise TypeError(f"recv needs a writable buffer (bytearray or memoryview), not {type(buffer).__name__}")
    view = memoryview(buffer)
    if view.readonly:
        raise TypeError("recv needs a writable buffer; this memoryview is read-only")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _readable_bytes(data: ReadableBuffer) -> memoryview:
    if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"send needs bytes, bytearray or memoryview, not {type(data).__name__}")
    view = memoryview(data)
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _check_address(address: object) -> SocketAddress:
    if not isinstance(address, SocketAddress):
        raise TypeError(f"expected a SocketAddress, not {type(address).__name__}")
    return address


def _weak_callback(method: Callable[[], None]) -> Callable[[], None]:
    ref = weakref.WeakMethod(method)

    def thunk() -> None:
        target = ref()
        if target is not None:
            target()

    return thunk


class Socket(abc.ABC):
    """The abstract socket API of Mbed OS (``Socket.h``); see ``InternetSocket`` for the behaviour."""

    @abc.abstractmethod
    def close(self) -> NsapiError: ...

    @abc.abstractmethod
    def connect(self, address: SocketAddress) -> NsapiError: ...

    @abc.abstractmethod
    def send(self, data: ReadableBuffer) -> int: ...

    @abc.abstractmethod
    def recv(self, buffer: WritableBuffer) -> int: ...

    @abc.abstractmethod
    def sendto(self, address: SocketAddress, data: ReadableBuffer) -> int: ...

    @abc.abstractmethod
    def recvfrom(self, address: SocketAddress | None, buffer: WritableBuffer) -> int: ...

    @abc.abstractmethod
    def bind(self, address: SocketAddress | int) -> NsapiError: ...

    @abc.abstractmethod
    def listen(self, backlog: int = 1) -> NsapiError: ...

    @abc.abstractmethod
    def accept(self) -> tuple[TCPSocket | None, NsapiError]: ...

    @abc.abstractmethod
    def getpeername(self, address: SocketAddress) -> NsapiError: ...

    @abc.abstractmethod
    def set_blocking(self, blocking: bool) -> None: ...

    @abc.abstractmethod
    def set_timeout(self, timeout_ms: int) -> None: ...

    @abc.abstractmethod
    def setsockopt(self, level: int, optname: int, value: OptionValue) -> NsapiError: ...

    @abc.abstractmethod
    def getsockopt(self, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]: ...

    @abc.abstractmethod
    def sigio(self, callback: Callable[[], object] | None) -> None: ...

    def attach(self, callback: Callable[[], object] | None) -> None:
        """Mbed's deprecated alias of ``sigio``."""
        self.sigio(callback)

    def __enter__(self: _SocketT) -> _SocketT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InternetSocket(Socket):
    """The shared implementation over a ``NetworkStack``: open/close, the blocking loop, sigio.

    ``sigio`` is called on the driver's thread whenever the socket's state may have changed, at most once between
    two calls of the application to the socket (as in Mbed: call the socket again to re-arm it). It may be spurious.
    """

    _proto: NsapiProtocol

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._send_lock = threading.Lock()
        self._stack: NetworkStack | None = None
        self._handle: SocketHandle = None
        self._events = 0
        self._inflight = 0
        self._timeout_ms = -1
        self._callback: Callable[[], object] | None = None
        self._pending = False
        self._remote = SocketAddress()
        self._per_thread = threading.local()

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def open(self, stack: NetworkStack | NetworkInterface) -> NsapiError:
        """Open the socket on a stack (or an interface's stack): OK, PARAMETER if already open or no stack, or the
        stack's error (NO_SOCKET when it has no free socket)."""
        target = _as_stack(stack) if stack is not None else None
        if target is None:
            return NsapiError.PARAMETER
        with self._cond:
            if self._stack is not None:
                return NsapiError.PARAMETER
        err, handle = target.socket_open(self._proto)
        if err != NsapiError.OK:
            return NsapiError(err)
        self._adopt(target, handle)
        return NsapiError.OK

    def _adopt(self, stack: NetworkStack, handle: SocketHandle) -> None:
        with self._cond:
            self._stack, self._handle = stack, handle
            self._pending = False
            self._remote = SocketAddress()
        # The stack holds only a weak reference: a socket the application drops is collected, and __del__ closes
        # it (Mbed's delete), instead of the stack's callback keeping it, and its handle, alive for ever.
        stack.socket_attach(handle, _weak_callback(self._event))

    def close(self) -> NsapiError:
        """Close the socket: OK, or NO_SOCKET if it is not open. Wakes calls blocked in other threads; the object
        can be opened again."""
        with self._cond:
            stack, handle = self._stack, self._handle
            if stack is None:
                return NsapiError.NO_SOCKET
            self._stack, self._handle = None, None
            self._events += 1
            self._cond.notify_all()
            # Let primitives already inside the stack return before the handle is freed under them.
            while self._inflight:
                self._cond.wait(0.05)
        stack.socket_attach(handle, None)
        return NsapiError(stack.socket_close(handle))

    def __del__(self) -> None:
        try:
            if self._stack is not None:
                self.close()
        except Exception:  # nothing useful to do at interpreter teardown
            pass

    # -- the stack's callback -------------------------------------------------------------------------------------
    def _event(self) -> None:
        with self._cond:
            self._events += 1
            self._cond.notify_all()
            callback = None if self._pending else self._callback
            if callback is not None:
                self._pending = True
        if callback is not None:
            run_callback(callback)

    # -- the blocking loop ----------------------------------------------------------------------------------------
    def _call(
        self,
        what: str,
        primitive: Callable[[NetworkStack, SocketHandle], Any],
        retry_on: frozenset[int],
        deadline: Deadline | None = None,
    ) -> Any:
        """Run ``primitive(stack, handle)`` under the socket's blocking policy.

        Returns the primitive's result, whose first element (or itself, if an int) is the status; a timed-out
        blocking call gives ``CONNECTION_TIMEOUT`` in that place.
        """
        forbid_in_callback(what)
        if deadline is None:
            deadline = self._call_deadline() or Deadline(self._timeout_ms)
        seen = 0

        def attempt() -> Any:
            nonlocal seen
            with self._cond:
                if self._stack is None:
                    return NsapiError.NO_SOCKET
                stack, handle, seen = self._stack, self._handle, self._events
                self._pending = False
                self._inflight += 1
            try:
                return primitive(stack, handle)
            finally:
                with self._cond:
                    self._inflight -= 1
                    if not self._inflight:
                        self._cond.notify_all()

        def wait(_remaining: float | None) -> None:
            with self._cond:
                while self._events == seen and self._stack is not None:  # a spurious wake-up is no news
                    remaining = deadline.remaining()
                    if remaining == 0.0:
                        return
                    self._cond.wait(interruptible(remaining))

        retry = retry_on if self._timeout_ms != 0 else frozenset()
        return nonblocking.run_blocking(nonblocking.attempts(attempt, retry, deadline), wait)

    def _call_deadline(self) -> Deadline | None:
        deadline: Deadline | None = getattr(self._per_thread, "deadline", None)
        return deadline

    @contextlib.contextmanager
    def _shared_deadline(self) -> Iterator[None]:
        """Within this block, every blocking wait of this thread on the socket shares one deadline (set from the
        timeout on entry): a call built of several waits, such as a TLS record arriving in pieces, ends when the
        timeout passes, however the bytes trickle in."""
        if self._call_deadline() is not None:
            yield
            return
        self._per_thread.deadline = Deadline(self._timeout_ms)
        try:
            yield
        finally:
            self._per_thread.deadline = None

    @staticmethod
    def _status(result: Any) -> int:
        value = result[0] if isinstance(result, tuple) else result
        return int(value)

    # -- common calls ---------------------------------------------------------------------------------------------
    def bind(self, address: SocketAddress | int) -> NsapiError:
        """Bind to a local address or port: OK, NO_SOCKET if not open, PARAMETER (port in use, foreign address)."""
        if isinstance(address, int) and not isinstance(address, bool):
            if not 0 <= address <= 0xFFFF:
                return NsapiError.PARAMETER
            address = SocketAddress(None, address)
        address = _check_address(address)
        with self._cond:
            stack, handle = self._stack, self._handle
        if stack is None:
            return NsapiError.NO_SOCKET
        return NsapiError(stack.socket_bind(handle, address))

    def set_blocking(self, blocking: bool) -> None:
        """``False`` is ``set_timeout(0)``; ``True`` is ``set_timeout(-1)``."""
        self.set_timeout(-1 if blocking else 0)

    def set_timeout(self, timeout_ms: int) -> None:
        """Timeout of blocking calls in ms: negative waits forever, 0 makes the socket non-blocking.

        Where netsocket goes beyond Mbed's ``int``: ``FOREVER_MS`` (0xFFFFFFFF, Mbed's ``osWaitForever``) or more,
        and ``inf``, wait forever; a fraction rounds up to a whole millisecond; NaN raises ``ValueError`` (and
        leaves the timeout as it was)."""
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)):
            raise TypeError("set_timeout takes milliseconds as an int")
        self._timeout_ms = _timeout_ms(timeout_ms)

    def get_timeout(self) -> int:
        return self._timeout_ms

    def sigio(self, callback: Callable[[], object] | None) -> None:
        """Register the state-change callback (None removes it). It runs on the driver's thread: keep it short and
        make no socket calls from it."""
        if callback is not None and not callable(callback):
            raise TypeError("sigio takes a callable or None")
        with self._cond:
            self._callback = callback

    def setsockopt(self, level: int, optname: int, value: OptionValue) -> NsapiError:
        """Set a stack option: OK, NO_SOCKET if not open, UNSUPPORTED for an option the stack lacks."""
        with self._cond:
            stack, handle = self._stack, self._handle
        if stack is None:
            return NsapiError.NO_SOCKET
        return NsapiError(stack.setsockopt(handle, level, optname, value))

    def getsockopt(self, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        with self._cond:
            stack, handle = self._stack, self._handle
        if stack is None:
            return NsapiError.NO_SOCKET, None
        err, value = stack.getsockopt(handle, level, optname)
        return NsapiError(err), value

    def getpeername(self, address: SocketAddress) -> NsapiError:
        """Fill ``address`` with the peer: OK, NO_SOCKET if not open, NO_CONNECTION if there is no peer."""
        _check_address(address)
        with self._cond:
            if self._stack is None:
                return NsapiError.NO_SOCKET
            if not self._remote:
                return NsapiError.NO_CONNECTION
            address.assign(self._remote)
        return NsapiError.OK

    @property
    def is_open(self) -> bool:
        return self._stack is not None


class TCPSocket(InternetSocket):
    """A TCP stream socket; also the listening and accepting socket (Mbed >= 5.10)."""

    _proto = NsapiProtocol.TCP

    def __init__(self) -> None:
        super().__init__()
        self._connected = False
        self._listening = False

    def _adopt(self, stack: NetworkStack, handle: SocketHandle) -> None:
        super()._adopt(stack, handle)
        self._connected = False
        self._listening = False

    def connect(self, address: SocketAddress) -> NsapiError:
        """Connect to ``address``.

        Blocking: OK, or an error (CONNECTION_TIMEOUT when the socket's timeout passes, NO_CONNECTION when refused,
        IS_CONNECTED if it already was). Non-blocking: IN_PROGRESS, then ALREADY while pending, then IS_CONNECTED.
        """
        address = _check_address(address)
        if not address or address.get_port() == 0:
            return NsapiError.PARAMETER if self.is_open else NsapiError.NO_SOCKET
        first = True

        def attempt(stack: NetworkStack, handle: SocketHandle) -> NsapiError:
            nonlocal first
            result: NsapiError = NsapiError(stack.socket_connect(handle, address))
            if result == NsapiError.IS_CONNECTED and not first:
                result = NsapiError.OK
            first = False
            return result

        blocking = self._timeout_ms != 0
        result = NsapiError(self._call("connect", attempt, _CONNECTING))
        if blocking and result == NsapiError.CONNECTION_TIMEOUT:
            return result
        if result in (NsapiError.OK, NsapiError.IS_CONNECTED, NsapiError.IN_PROGRESS, NsapiError.ALREADY):
            with self._cond:
                self._remote = SocketAddress(address)
                self._connected = result in (NsapiError.OK, NsapiError.IS_CONNECTED)
        return NsapiError(result)

    def send(self, data: ReadableBuffer) -> int:
        """Send bytes. Blocking: returns when all are sent (the full size), or an error; on timeout the count sent so
        far, or CONNECTION_TIMEOUT if none. Non-blocking: the count taken, or WOULD_BLOCK.

        Errors: NO_SOCKET (not open), NO_CONNECTION (never connected), CONNECTION_LOST (the link dropped).
        """
        view = _readable_bytes(data)
        forbid_in_callback("send")
        if not self.is_open:
            return NsapiError.NO_SOCKET
        if not self._connected:
            return NsapiError.NO_CONNECTION
        if len(view) == 0:
            return 0
        sent = 0

        def attempt(stack: NetworkStack, handle: SocketHandle) -> int:
            return int(stack.socket_send(handle, view[sent:]))

        with self._send_lock:
            deadline = self._call_deadline() or Deadline(self._timeout_ms)
            while sent < len(view):
                result = self._status(self._call("send", attempt, _WAITING, deadline))
                if result < 0:
                    if sent and result in (NsapiError.WOULD_BLOCK, NsapiError.CONNECTION_TIMEOUT):
                        return sent
                    return NsapiError(result)
                if result == 0:
                    return sent if sent else NsapiError.CONNECTION_LOST
                sent += result
                if self._timeout_ms == 0:
                    break
            return sent

    def recv(self, buffer: WritableBuffer) -> int:
        """Receive into ``buffer``: the count (> 0), 0 when the peer closed in order and no data is left, or an
        error (WOULD_BLOCK non-blocking, CONNECTION_TIMEOUT on timeout, NO_SOCKET, NO_CONNECTION, CONNECTION_LOST)."""
        view = _writable_view(buffer)
        forbid_in_callback("recv")
        if not self.is_open:
            return NsapiError.NO_SOCKET
        if not self._connected:
            return NsapiError.NO_CONNECTION
        if len(view) == 0:
            return 0
        result = self._status(self._call("recv", lambda stack, handle: stack.socket_recv(handle, view), _WAITING))
        return result if result >= 0 else NsapiError(result)

    def sendto(self, address: SocketAddress, data: ReadableBuffer) -> int:
        """As ``send``; the address is ignored (the socket is connected)."""
        _check_address(address)
        return self.send(data)

    def recvfrom(self, address: SocketAddress | None, buffer: WritableBuffer) -> int:
        """As ``recv``; ``address`` (if given) is filled with the peer."""
        result = self.recv(buffer)
        if address is not None and result >= 0:
            with self._cond:
                address.assign(self._remote)
        return result

    def listen(self, backlog: int = 1) -> NsapiError:
        """Start listening: OK, NO_SOCKET if not open, or the stack's error. A stack whose server starts in the
        background (an AT module) answers IN_PROGRESS, then ALREADY: blocking, this waits for its outcome;
        non-blocking, it returns them (call again for the outcome)."""
        if isinstance(backlog, bool) or not isinstance(backlog, int):
            raise TypeError("backlog is an int")
        with self._cond:
            stack = self._stack
        if stack is None:
            return NsapiError.NO_SOCKET

        def attempt(stack: NetworkStack, handle: SocketHandle) -> NsapiError:
            return NsapiError(stack.socket_listen(handle, max(0, backlog)))

        result = NsapiError(self._call("listen", attempt, _CONNECTING))
        if result == NsapiError.OK:
            self._listening = True
        return result

    def accept(self) -> tuple[TCPSocket | None, NsapiError]:
        """Accept a connection: ``(socket, OK)``, or ``(None, error)`` (WOULD_BLOCK non-blocking,
        CONNECTION_TIMEOUT on timeout, NO_SOCKET if not open). The new socket is blocking, with no sigio."""
        result = self._call("accept", lambda stack, handle: stack.socket_accept(handle), _WAITING)
        if not isinstance(result, tuple):
            return None, NsapiError(result)
        err, new_handle, peer = result
        if err != NsapiError.OK:
            return None, NsapiError(err)
        with self._cond:
            stack = self._stack
        if stack is None:
            return None, NsapiError.NO_SOCKET
        accepted = TCPSocket()
        accepted._adopt(stack, new_handle)
        with accepted._cond:
            accepted._remote = SocketAddress(peer) if peer is not None else SocketAddress()
        accepted._connected = True
        return accepted, NsapiError.OK


class UDPSocket(InternetSocket):
    """A UDP datagram socket. ``connect`` only records the peer (no network I/O) and filters what ``recv`` takes."""

    _proto = NsapiProtocol.UDP

    def connect(self, address: SocketAddress) -> NsapiError:
        """Set (or with an empty address, clear) the default peer: always OK, as in Mbed."""
        address = _check_address(address)
        with self._cond:
            self._remote = SocketAddress(address) if address else SocketAddress()
        return NsapiError.OK

    def send(self, data: ReadableBuffer) -> int:
        """Send one datagram to the connected peer: its size, NO_ADDRESS if there is no peer, or an error."""
        with self._cond:
            remote = SocketAddress(self._remote)
        if not self.is_open:
            return NsapiError.NO_SOCKET
        if not remote:
            return NsapiError.NO_ADDRESS
        return self.sendto(remote, data)

    def sendto(self, address: SocketAddress, data: ReadableBuffer) -> int:
        """Send one datagram: its size, or an error (PARAMETER for an unspecified address or port 0, WOULD_BLOCK
        non-blocking, CONNECTION_TIMEOUT on timeout, NO_SOCKET if not open). Never split, never merged."""
        address = _check_address(address)
        view = _readable_bytes(data)
        forbid_in_callback("sendto")
        if not self.is_open:
            return NsapiError.NO_SOCKET
        if not address or address.get_port() == 0:
            return NsapiError.PARAMETER
        with self._send_lock:
            result = self._status(
                self._call("sendto", lambda stack, handle: stack.socket_sendto(handle, address, view), _WAITING)
            )
        return result if result >= 0 else NsapiError(result)

    def recvfrom(self, address: SocketAddress | None, buffer: WritableBuffer) -> int:
        """Receive one datagram (truncated to the buffer): its size, or an error. ``address`` gets the sender.
        When connected, datagrams from other senders are dropped."""
        view = _writable_view(buffer)
        forbid_in_callback("recvfrom")
        if address is not None:
            _check_address(address)
        if not self.is_open:
            return NsapiError.NO_SOCKET
        deadline = Deadline(self._timeout_ms)  # one for the call: a dropped datagram does not start the wait again
        while True:
            result = self._call(
                "recvfrom", lambda stack, handle: stack.socket_recvfrom(handle, view), _WAITING, deadline
            )
            if not isinstance(result, tuple):
                return NsapiError(result)
            size, sender = result
            if size < 0:
                return NsapiError(size)
            with self._cond:
                remote = SocketAddress(self._remote)
            if remote and sender is not None and sender != remote:
                continue
            if address is not None:
                address.assign(sender if sender is not None else SocketAddress())
            return int(size)

    def recv(self, buffer: WritableBuffer) -> int:
        """``recvfrom`` without the sender."""
        return self.recvfrom(None, buffer)

    def listen(self, backlog: int = 1) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def accept(self) -> tuple[TCPSocket | None, NsapiError]:
        return None, NsapiError.UNSUPPORTED
