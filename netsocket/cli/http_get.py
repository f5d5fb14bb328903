"""``netsocket get URL [-o FILE]``: an HTTP(S) GET through the chosen interface, streamed to a file or stdout.

Layer: application. HTTP framing is h11's; the bytes go over a netsocket ``TCPSocket`` (``TLSSocket`` for
https://, verifying the server against ``--ca-file`` or the system's CAs). On a terminal, progress is a bar with
rate and ETA (on stderr); when stderr is not a terminal it is plain lines. A binary body is never written raw to a
terminal: it needs ``-o FILE`` (or a pipe).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.socket import TCPSocket
from netsocket.tls import TLSSocket

from .device import Target, fail
from .diagnose import UserError

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form")
PLAIN_STEP = 0.1  # piped progress: a line per tenth of the body (or per 64 KiB when the size is unknown)


def register(sub: Any, add_device: Callable[[argparse.ArgumentParser], None], add_join: Callable[..., None]) -> None:
    p = sub.add_parser("get", help="HTTP(S) GET through the interface, with a progress bar")
    p.add_argument("url")
    p.add_argument("-o", "--output", metavar="FILE", help="write the body here (needed for a binary body on a tty)")
    p.add_argument("--ca-file", help="PEM CA bundle for https:// (default: the system's CAs)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds without progress before giving up")
    add_device(p)
    add_join(p)
    p.set_defaults(handler=cmd_get)


def is_text(content_type: str) -> bool:
    return content_type.lower().startswith(TEXT_TYPES)


def _open_socket(scheme: str, host: str, ca_file: str | None) -> TCPSocket:
    if scheme == "http":
        return TCPSocket()
    tls = TLSSocket()
    if ca_file is not None:
        try:
            with open(ca_file, encoding="ascii") as file:
                err = tls.set_root_ca_cert(file.read())
        except (OSError, UnicodeDecodeError) as exc:
            tls.close()
            raise UserError(f"cannot read --ca-file {ca_file}: {exc}", NsapiError.PARAMETER) from exc
    else:
        err = tls.use_system_ca_certs()
    if err != NsapiError.OK:
        tls.close()
        raise UserError("the CA file holds no PEM certificate", err)
    tls.set_hostname(host)
    return tls


def stream(
    net: NetworkInterface, target: Target, url: str, ca_file: str | None, timeout: float
) -> Iterator[tuple[Any, bytes]]:
    """Yields ``(response, b"")`` once the headers are in, then ``(response, chunk)`` for each piece of the body."""
    import h11

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{url!r} is not an http:// or https:// URL", NsapiError.PARAMETER)
    address = SocketAddress()
    err = net.gethostbyname(parts.hostname, address)
    if err != NsapiError.OK:
        raise fail(f"cannot resolve {parts.hostname!r}", err, target)
    address.set_port(parts.port or (443 if parts.scheme == "https" else 80))
    conn = h11.Connection(our_role=h11.CLIENT)
    with _open_socket(parts.scheme, parts.hostname, ca_file) as sock:
        sock.open(net)
        sock.set_timeout(int(timeout * 1000))
        err = sock.connect(address)
        if err == NsapiError.AUTH_FAILURE:
            raise UserError(
                f"the TLS handshake with {address} failed",
                err,
                f"the certificate is not signed by a trusted CA (--ca-file) or is not for {parts.hostname!r}",
            )
        if err != NsapiError.OK:
            raise fail(f"cannot connect to {address}", err, target)
        request = h11.Request(
            method="GET",
            target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            headers=[("Host", parts.netloc), ("User-Agent", "netsocket-cli"), ("Connection", "close")],
        )
        data = conn.send(request) + conn.send(h11.EndOfMessage())
        sent = sock.send(data)
        if sent != len(data):
            raise fail(
                f"sending the request to {address} failed", sent if sent < 0 else NsapiError.NO_CONNECTION, target
            )
        response: Any = None
        buffer = bytearray(4096)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise UserError(f"the reply from {address} is not valid HTTP: {exc}", NsapiError.OK) from exc
            if event is h11.NEED_DATA:
                size = sock.recv(buffer)
                if size < 0:
                    raise fail(f"receiving from {address} failed", size, target)
                conn.receive_data(bytes(buffer[:size]))
            elif isinstance(event, h11.Response):
                response = event
                yield response, b""
            elif isinstance(event, h11.Data):
                yield response, bytes(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return


def _header(response: Any, name: bytes) -> str:
    for key, value in response.headers:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


class _PlainProgress:
    """Progress as plain lines on a stream that is not a terminal."""

    def __init__(self, out: IO[str], total: int | None) -> None:
        self._out = out
        self._total = total
        self._next = 0.0

    def update(self, done: int) -> None:
        mark = done / self._total if self._total else done / 65536
        step = PLAIN_STEP if self._total else 1.0
        if mark >= self._next:
            of = f" of {self._total}" if self._total else ""
            percent = f" ({100 * done // self._total}%)" if self._total else ""
            self._out.write(f"received {done}{of} bytes{percent}\n")
            self._out.flush()
            self._next = (int(mark / step) + 1) * step


def cmd_get(args: argparse.Namespace) -> int:
    from .commands import connected

    err_console = Console(stderr=True)
    out_is_tty = sys.stdout.isatty()
    with connected(args, err_console) as (net, target):
        started = time.monotonic()
        sink: IO[bytes] | None = None
        progress: Progress | None = None
        plain: _PlainProgress | None = None
        task = None
        done = 0
        status = 0
        try:
            for response, chunk in stream(net, target, args.url, args.ca_file, args.timeout):
                if sink is None:
                    status = response.status_code
                    err_console.print(f"HTTP {status} {response.reason.decode(errors='replace')}", highlight=False)
                    ctype = _header(response, b"content-type")
                    length = _header(response, b"content-length")
                    total = int(length) if length.isdigit() else None
                    if args.output:
                        try:
                            sink = open(args.output, "wb")  # noqa: SIM115  (closed in finally)
                        except OSError as exc:
                            raise UserError(f"cannot write {args.output}: {exc}", NsapiError.PARAMETER) from exc
                    elif out_is_tty and not is_text(ctype):
                        raise UserError(
                            f"the body is binary ({ctype or 'no Content-Type'}, "
                            f"{total if total is not None else 'unknown'} bytes) and stdout is a terminal",
                            None,
                            f"save it with -o FILE, or pipe it: netsocket get {args.url} > FILE",
                        )
                    else:
                        sink = sys.stdout.buffer
                    if err_console.is_terminal:
                        progress = Progress(
                            "[progress.description]{task.description}",
                            BarColumn(),
                            DownloadColumn(),
                            TransferSpeedColumn(),
                            TimeRemainingColumn(),
                            console=err_console,
                            transient=False,
                        )
                        progress.start()
                        task = progress.add_task("get", total=total)
                    else:
                        plain = _PlainProgress(sys.stderr, total)
                if chunk:
                    if out_is_tty and sink is sys.stdout.buffer and b"\0" in chunk:
                        raise UserError(
                            "the body holds binary data and stdout is a terminal", None, "save it with -o FILE"
                        )
                    sink.write(chunk)
                    done += len(chunk)
                    if progress is not None and task is not None:
                        progress.update(task, completed=done)
                    elif plain is not None:
                        plain.update(done)
        finally:
            if progress is not None:
                progress.stop()
            if sink is not None and sink is not sys.stdout.buffer:
                sink.close()
            elif sink is not None:
                sink.flush()
        elapsed = max(time.monotonic() - started, 1e-9)
        where = f" to {args.output}" if args.output else ""
        err_console.print(
            f"{done} bytes{where} in {elapsed:.2f} s ({done / elapsed / 1024:.1f} KiB/s)", highlight=False
        )
    if not 200 <= status < 300:
        raise UserError(
            f"{args.url} answered HTTP {status}",
            None,
            "the request reached the server, which refused it: check the path (and the server's log)",
        )
    return 0
