"""The ESP-AT asyncio runner: emulated modules driven from one event loop with no thread at all."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import serial
import trustme
from netsocket.drivers.esp_at.aio_interface import AsyncESP32Interface, AsyncESP8266Interface

from netsocket import aio
from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import WiFiAccessPoint
from netsocket.types import NsapiConnectionStatus, NsapiSecurity

from .conftest import PASSPHRASE, SSID, loopback_listener, pty_modules

SIZE = 100 * 1024


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


class _ThreadWatch:
    """Samples the threads on the loop every few milliseconds; ``most`` is the highest number seen of threads that
    did not exist when the watch started (a test process may hold threads of its own: a session's servers)."""

    def __init__(self) -> None:
        self._before = set(threading.enumerate())
        self.most = 0
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def _new(self) -> int:
        return len(set(threading.enumerate()) - self._before)

    async def _watch(self) -> None:
        while True:
            self.most = max(self.most, self._new())
            await asyncio.sleep(0.005)

    def stop(self) -> int:
        self._task.cancel()
        return max(self.most, self._new())


async def _echo_through(iface: AsyncESP8266Interface, port: int, seed: int) -> bytes:
    payload = os.urandom(SIZE) if seed else bytes(range(256)) * (SIZE // 256)
    reader, writer = await aio.open_connection("127.0.0.1", port, stack=iface, timeout=20)
    writer.write(payload)
    got = await asyncio.wait_for(reader.readexactly(SIZE), 120)
    writer.close()
    await writer.wait_closed()
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    return got


def two_modules_program(esp8266: str, esp32: str) -> int:
    """The asyncio program of the test below: two modules on one loop, each echoing 100 KB through
    ``aio.open_connection``. Returns the most threads seen, the main one included."""

    async def main() -> int:
        watch = _ThreadWatch()
        server = await asyncio.start_server(_echo, sock=loopback_listener())
        port = server.sockets[0].getsockname()[1]
        modules = [AsyncESP8266Interface(esp8266), AsyncESP32Interface(esp32)]
        try:
            joined = await asyncio.gather(*(m.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) for m in modules))
            assert joined == [NsapiError.OK, NsapiError.OK]
            assert threading.active_count() == 1
            await asyncio.gather(*(_echo_through(m, port, seed) for seed, m in enumerate(modules)))
        finally:
            for module in modules:
                await module.aclose()
            server.close()
            await server.wait_closed()
        return 1 + watch.stop()

    assert threading.active_count() == 1
    return asyncio.run(main())


def test_two_modules_echo_100_kb_each_on_one_loop_with_one_thread() -> None:
    """Run as a program of its own (a fresh interpreter), so that ``threading.active_count() == 1`` is about the
    program alone, not the test process's other threads."""
    code = (
        "import sys; from tests.esp_asyncio.test_no_thread import two_modules_program; "
        "sys.exit(0 if two_modules_program(sys.argv[1], sys.argv[2]) == 1 else 3)"
    )
    with pty_modules("at22_8266", "at3_esp32") as (esp8266, esp32):
        done = subprocess.run(
            [sys.executable, "-c", code, esp8266, esp32],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr


def test_nothing_blocks_the_loop_and_a_cancelled_call_leaves_the_socket_usable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pty_modules("at3_esp32") as (path,):

        async def main() -> None:
            loop = asyncio.get_running_loop()
            loop.slow_callback_duration = 0.1  # asyncio logs every step of the loop that took longer
            server = await asyncio.start_server(_echo, sock=loopback_listener())
            port = server.sockets[0].getsockname()[1]
            module = AsyncESP32Interface(path)
            statuses: list[int] = []
            module.attach(lambda event, status: statuses.append(status))
            try:
                assert await module.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
                assert module.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
                assert NsapiConnectionStatus.GLOBAL_UP in statuses
                found: list[WiFiAccessPoint] = []
                assert await module.scan(found, 10) > 0
                assert SSID in [ap.ssid for ap in found]
                err, address = await module.gethostbyname("127.0.0.1")
                assert err == NsapiError.OK and address is not None

                sock = aio.AsyncTCPSocket()
                assert sock.open(module) == NsapiError.OK
                assert await sock.connect(SocketAddress("127.0.0.1", port), 20) == NsapiError.OK
                buffer = bytearray(64)
                pending = loop.create_task(sock.recv(buffer))  # nothing comes: cancel it half-way
                await asyncio.sleep(0.2)
                pending.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await pending
                assert await sock.send(b"still usable", 20) == len(b"still usable")
                got = bytearray()
                while len(got) < len(b"still usable"):
                    result = await sock.recv(buffer, 20)
                    assert result > 0, result
                    got += buffer[:result]
                assert bytes(got) == b"still usable"
                sock.close()
                assert await module.disconnect() == NsapiError.OK
                assert statuses[-1] == NsapiConnectionStatus.DISCONNECTED
            finally:
                await module.aclose()
                server.close()
                await server.wait_closed()

        with caplog.at_level(logging.WARNING, logger="asyncio"):
            asyncio.run(main(), debug=True)
        slow = [r.getMessage() for r in caplog.records if r.name == "asyncio" and "took" in r.getMessage()]
        assert slow == []


def test_a_blocking_call_on_the_loop_is_refused_not_a_hang() -> None:
    with pty_modules("at22_8266") as (path,):

        async def main() -> None:
            module = AsyncESP8266Interface(path)
            try:
                with pytest.raises(RuntimeError, match="Async interface"):
                    module.interface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2)
            finally:
                await module.aclose()

        asyncio.run(main())


def test_tls_and_udp_on_the_loop_with_one_thread() -> None:
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with pty_modules("at22_8266") as (path,):

        async def main() -> int:
            watch = _ThreadWatch()
            server = await asyncio.start_server(_echo, sock=loopback_listener(), ssl=server_context)
            port = server.sockets[0].getsockname()[1]
            udp_peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp_peer.bind(("127.0.0.1", 0))
            udp_peer.setblocking(False)
            module = AsyncESP8266Interface(path)
            try:
                assert await module.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
                reader, writer = await aio.open_connection(
                    "127.0.0.1", port, stack=module, ssl=client_context, server_hostname="localhost", timeout=20
                )
                assert writer.get_extra_info("ssl_object") is not None
                payload = os.urandom(20000)
                writer.write(payload)
                assert await asyncio.wait_for(reader.readexactly(len(payload)), 60) == payload
                writer.close()
                await writer.wait_closed()

                with pytest.raises(ssl.SSLCertVerificationError):  # the name on the certificate is checked
                    await aio.open_connection(
                        "127.0.0.1", port, stack=module, ssl=client_context, server_hostname="wrong", timeout=20
                    )

                udp = aio.AsyncUDPSocket()
                assert udp.open(module) == NsapiError.OK
                peer = SocketAddress("127.0.0.1", udp_peer.getsockname()[1])
                assert await udp.sendto(peer, b"ping", 20) == 4
                data, source = await asyncio.wait_for(asyncio.get_running_loop().sock_recvfrom(udp_peer, 64), 20)
                assert data == b"ping"
                await asyncio.get_running_loop().sock_sendto(udp_peer, b"pong", source)
                buffer = bytearray(64)
                assert await udp.recvfrom(None, buffer, 20) == 4 and bytes(buffer[:4]) == b"pong"
                udp.close()
            finally:
                await module.aclose()
                server.close()
                await server.wait_closed()
                udp_peer.close()
            return watch.stop()

        assert asyncio.run(main()) == 0  # no thread started while it ran


def test_a_vanished_port_ends_every_call_with_an_error_promptly() -> None:
    with pty_modules("at3_esp32") as modules:

        async def main() -> None:
            server = await asyncio.start_server(_echo, sock=loopback_listener())
            port = server.sockets[0].getsockname()[1]
            module = AsyncESP32Interface(modules[0])
            statuses: list[int] = []
            module.attach(lambda event, status: statuses.append(status))
            try:
                assert await module.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
                sock = aio.AsyncTCPSocket()
                assert sock.open(module) == NsapiError.OK
                assert await sock.connect(SocketAddress("127.0.0.1", port), 20) == NsapiError.OK
                pending = asyncio.get_running_loop().create_task(sock.recv(bytearray(64), 30))
                await asyncio.sleep(0.2)
                modules.processes[0].kill()  # the module's end of the line is gone, as when USB is unplugged
                started = asyncio.get_running_loop().time()
                assert await asyncio.wait_for(pending, 10) == NsapiError.DEVICE_ERROR
                assert asyncio.get_running_loop().time() - started < 5
                assert statuses[-1] == NsapiConnectionStatus.DISCONNECTED
                assert await sock.send(b"x", 5) == NsapiError.DEVICE_ERROR
                sock.close()
            finally:
                await module.aclose()
                server.close()
                await server.wait_closed()

        asyncio.run(main())


def test_a_cancelled_connect_finishes_in_the_background_and_leaves_the_interface_whole() -> None:
    with pty_modules("at22_8266") as (path,):

        async def main() -> None:
            server = await asyncio.start_server(_echo, sock=loopback_listener())
            port = server.sockets[0].getsockname()[1]
            module = AsyncESP8266Interface(path)
            up = asyncio.Event()
            module.attach(lambda event, status: up.set() if status == NsapiConnectionStatus.GLOBAL_UP else None)
            try:
                joining = asyncio.get_running_loop().create_task(module.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2))
                await asyncio.sleep(0.05)
                joining.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await joining
                await asyncio.wait_for(up.wait(), 20)
                assert await module.connect() == NsapiError.IS_CONNECTED
                reader, writer = await aio.open_connection("127.0.0.1", port, stack=module, timeout=20)
                writer.write(b"after a cancel")
                assert await asyncio.wait_for(reader.readexactly(14), 20) == b"after a cancel"
                writer.close()
                await writer.wait_closed()
            finally:
                await module.aclose()
                server.close()
                await server.wait_closed()

        asyncio.run(main())


def test_a_hard_reset_of_a_silent_module_does_not_block_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    import serial
    from netsocket.mocks.esp_at import find_emulator

    port = serial.serial_for_url("espemu://?profile=at22_8266&timescale=0.01&pace=0&name=aio-hard-reset", timeout=0)
    emulator = find_emulator(port)
    emulator.go_silent()
    resets: list[bool] = []

    def hard_reset() -> None:
        resets.append(True)
        emulator.inject_reset()

    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = 0.1
        module = AsyncESP8266Interface(port, reset=hard_reset)
        try:
            assert await module.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
            assert resets == [True]
        finally:
            await module.aclose()

    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            asyncio.run(main(), debug=True)
    finally:
        port.close()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio" and "took" in r.getMessage()] == []


def _wait_booted(path: str) -> None:
    """Until the module answers ``AT`` (a booting module answers nothing; its ``ready`` may already be gone)."""
    with serial.Serial(path, 115200, timeout=0.5) as port:
        for _attempt in range(40):
            port.write(b"AT\r\n")
            if b"OK\r\n" in port.read_until(b"OK\r\n"):
                return
    raise AssertionError(f"the emulated module on {path} did not boot")


def test_concurrent_first_calls_start_the_module_once(tmp_path: Path) -> None:
    """Three coroutines make their first calls at once on a fresh interface: the module is started once (as by a
    single call), not once per caller with the start-up commands interleaved on the wire."""

    async def first_calls(path: str, transcript: Path, callers: int) -> list[object]:
        async with AsyncESP8266Interface(path, record=transcript) as iface:
            return list(await asyncio.gather(*(iface.scan(None, 0) for _ in range(callers))))

    with pty_modules("at22_8266", "at22_8266") as (alone, crowded):
        for path in (alone, crowded):  # booted before the test starts: a boot 'ready' restarts a start-up
            _wait_booted(path)
        assert asyncio.run(first_calls(alone, tmp_path / "alone.txt", 1)) == [3]
        assert asyncio.run(first_calls(crowded, tmp_path / "crowded.txt", 3)) == [3, 3, 3]
    once = (tmp_path / "alone.txt").read_text().count("AT+GMR")
    assert once >= 1
    assert (tmp_path / "crowded.txt").read_text().count("AT+GMR") == once
