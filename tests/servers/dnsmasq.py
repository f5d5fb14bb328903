"""Real dnsmasq on 127.0.0.1 for tests: a hosts table served on a free port, nothing forwarded anywhere.

``DnsmasqServer(hosts)`` writes ``hosts`` (``{name: [ip, ...]}``) to a hosts file and runs
``dnsmasq --keep-in-foreground`` bound to 127.0.0.1 only, with no upstream servers (``--no-resolv``) and every
other name answered NXDOMAIN (``--local=/#/``), so no query ever leaves the machine. ``start()`` returns once
dnsmasq answers; ``stop()`` terminates it. ``dnsmasq_path()`` is None when dnsmasq is not installed (Debian:
``dnsmasq-base``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode


def dnsmasq_path() -> str | None:
    return shutil.which("dnsmasq") or next(
        (p for p in ("/usr/sbin/dnsmasq", "/sbin/dnsmasq") if os.access(p, os.X_OK)), None
    )


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DnsmasqServer:
    """dnsmasq serving ``hosts`` on 127.0.0.1:<free port> (``.address``, ``.port``)."""

    def __init__(self, hosts: Mapping[str, Sequence[str]], ttl: int = 300) -> None:
        self.hosts = {name: list(ips) for name, ips in hosts.items()}
        self.ttl = ttl
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self, timeout: float = 10.0) -> DnsmasqServer:
        binary = dnsmasq_path()
        if binary is None:
            raise FileNotFoundError("dnsmasq is not installed (Debian package dnsmasq-base)")
        self._dir = tempfile.TemporaryDirectory(prefix="netsocket-dnsmasq-")
        folder = Path(self._dir.name)
        hosts_file = folder / "hosts"
        hosts_file.write_text("".join(f"{ip} {name}\n" for name, ips in self.hosts.items() for ip in ips))
        errors = ""
        for _ in range(5):  # the free port may be taken again before dnsmasq binds it
            self.port = _free_udp_port()
            args = [
                binary,
                "--keep-in-foreground",
                f"--port={self.port}",
                "--no-resolv",
                "--no-hosts",
                f"--addn-hosts={hosts_file}",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--conf-file=/dev/null",
                f"--pid-file={folder / 'pid'}",
                f"--local-ttl={self.ttl}",
                "--local=/#/",
                "--log-facility=-",
            ]
            if os.geteuid() == 0:
                args.append("--user=root")
            self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready(timeout):
                return self
            errors = self._terminate()
        raise RuntimeError(f"dnsmasq did not start on 127.0.0.1: {errors.strip()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        probe = dns.message.make_query("netsocket-probe.invalid", "A")
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            with contextlib.suppress(OSError, dns.exception.Timeout):
                reply = dns.query.udp(probe, "127.0.0.1", port=self.port, timeout=0.2)
                return reply.rcode() in (dns.rcode.NXDOMAIN, dns.rcode.NOERROR, dns.rcode.REFUSED)
        return False

    def _terminate(self) -> str:
        """Stop dnsmasq; returns what it wrote to stderr (its log: startup lines and errors)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        proc.terminate()
        try:
            _, errors = proc.communicate(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, errors = proc.communicate(timeout=5.0)
        return errors.decode(errors="replace") if errors else ""

    def stop(self) -> None:
        self._terminate()  # its log is not needed once it ran
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> DnsmasqServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
