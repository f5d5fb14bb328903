"""HTTPS GET with TLS run by the ESP module itself (``ModuleTLSSocket``), not by the host.

Run: ``python -m examples.module_tls --server localhost:8443 --ca-file ca.pem`` (the emulated ESP8266; the CA is
flashed into the emulated module first), or on a real module whose CA was flashed with Espressif's tools:
``python -m examples.module_tls --port /dev/ttyUSB0 --server example.com``.

``--verify server`` (the default) makes the module check the server's certificate against the CA in its flash and
the name in ``--server``; ``mutual`` also presents the client certificate in its flash; ``none`` checks NOTHING
(the firmware's default: anyone on the path can pose as the server). Host-side TLS, verified by default, is
``examples.http_client``. Exit status 0 when a reply came, 1 when a network call failed.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

from netsocket.drivers.esp_at import ESP8266Interface, ModuleTLSSocket, ModuleTLSVerify
from netsocket.mocks.esp_at import find_emulator

from examples._network import (
    NetworkError,
    add_network_arguments,
    connected_network,
    emulated,
    interruptible,
    resolve,
    split_host_port,
)
from netsocket import NetworkInterface, NsapiError

VERIFY = {"none": ModuleTLSVerify.NONE, "server": ModuleTLSVerify.SERVER, "mutual": ModuleTLSVerify.MUTUAL}


def flash_emulator(net: NetworkInterface, files: dict[str, str]) -> None:
    """Write the PEM files into the emulated module's PKI partition (a real module is flashed with Espressif's
    tools, never through the driver)."""
    assert isinstance(net, ESP8266Interface)
    texts = {name: Path(path).read_text(encoding="ascii") for name, path in files.items()}
    find_emulator(net.stack.runner.port).set_pki(
        ca_pem=texts.get("ca"), client_cert_pem=texts.get("cert"), client_key_pem=texts.get("key")
    )


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def https_get(net: NetworkInterface, host: str, port: int, path: str, verify: ModuleTLSVerify) -> bytes:
    """The whole reply to ``GET <path>`` over a module-side TLS connection (read until the server closes)."""
    sock = ModuleTLSSocket(verify=verify)
    err = sock.open(net)
    if err != NsapiError.OK:
        raise NetworkError(f"cannot open a module-side TLS socket: {err}")
    try:
        if not is_address(host):
            err = sock.set_hostname(host)  # the SNI, and the name the certificate must carry
            if err == NsapiError.UNSUPPORTED:
                print("note: this firmware sends no server name (NonOS AT)", file=sys.stderr)
            elif err != NsapiError.OK:
                raise NetworkError(f"set_hostname({host!r}) failed: {err}")
        address = resolve(net, host, port)
        err = sock.connect(address)
        if err != NsapiError.OK:
            raise NetworkError(
                f"TLS connection to {host} ({address}) failed: {err} (refused, or the module rejected the "
                "certificate: the firmware does not say which)"
            )
        request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: netsocket-example\r\n\r\n".encode()
        sent = sock.send(request)
        if sent != len(request):
            raise NetworkError(f"send failed: {NsapiError(sent) if sent < 0 else sent}")
        reply = bytearray()
        buffer = bytearray(1460)
        while (size := sock.recv(buffer)) > 0:
            reply += buffer[:size]
        if size < 0:
            raise NetworkError(f"recv failed: {NsapiError(size)}")
        return bytes(reply)
    finally:
        sock.close()


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", required=True, help="HOST[:PORT] of the HTTPS server (port 443 by default)")
    parser.add_argument("--path", default="/", help="the path to GET (default /)")
    parser.add_argument("--verify", choices=list(VERIFY), default="server", help="what the module checks")
    parser.add_argument("--ca-file", help="PEM CA to flash into the EMULATED module (checks the server)")
    parser.add_argument("--cert-file", help="PEM client certificate to flash into the EMULATED module (mutual)")
    parser.add_argument("--key-file", help="PEM client key to flash into the EMULATED module (mutual)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    try:
        host, port = split_host_port(args.server, 443)
    except ValueError as exc:
        parser.error(f"--server: {exc}")
    files = {name: path for name, path in (("ca", args.ca_file), ("cert", args.cert_file), ("key", args.key_file))}
    files = {name: path for name, path in files.items() if path}
    verify = VERIFY[args.verify]
    if verify is ModuleTLSVerify.NONE:
        print(
            "WARNING: --verify none: the module checks no certificate; anyone on the path can read and change "
            "this connection",
            file=sys.stderr,
        )
    try:
        with connected_network(args) as net:
            if not isinstance(net, ESP8266Interface):
                raise NetworkError("module-side TLS needs an ESP-AT module (--port), not this interface")
            if files:
                if not emulated(args):
                    raise NetworkError(
                        "certificates cannot be flashed through the driver: write them into the module with "
                        "Espressif's tools, then run without --ca-file/--cert-file/--key-file"
                    )
                try:
                    flash_emulator(net, files)
                except (OSError, UnicodeDecodeError) as exc:
                    raise NetworkError(f"cannot read a certificate file: {exc}") from exc
            reply = https_get(net, host, port, args.path, verify)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(reply.decode(errors="replace"), end="" if reply.endswith(b"\n") else "\n")
    print(f"-- {len(reply)} bytes over TLS run by the module (verify={args.verify})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
