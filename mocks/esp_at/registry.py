"""Running emulators by name, so that a test holding a serial object, a URL or a pty path can reach the
device.

Layer: process-wide bookkeeping for the I/O adapters (modelled on python-can's virtual-bus channel table).
Tests can assert `running_emulators()` is empty after closing everything, which catches leaked threads and
sockets.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from .emulator import Emulator

_lock = threading.Lock()
_by_key: dict[str, Emulator] = {}


def register(emulator: Emulator, *keys: str) -> None:
    with _lock:
        for key in (emulator.name, *keys):
            if key in _by_key and _by_key[key] is not emulator:
                raise ValueError(f"an emulator named {key!r} is already running")
        for key in (emulator.name, *keys):
            _by_key[key] = emulator


def unregister(emulator: Emulator) -> None:
    with _lock:
        for key in [k for k, v in _by_key.items() if v is emulator]:
            del _by_key[key]


def running_emulators() -> list[Emulator]:
    with _lock:
        unique: dict[int, Emulator] = {id(e): e for e in _by_key.values()}
    return list(unique.values())


def find_emulator(target: object) -> Emulator:
    """The running emulator behind `target`: an espemu serial object, its URL, a name or a pty path."""
    attached = getattr(target, "emulator", None)
    if attached is not None:
        return attached  # type: ignore[no-any-return]
    key = target if isinstance(target, str) else getattr(target, "port", None)
    if not isinstance(key, str):
        raise LookupError(f"no emulator behind {target!r}")
    with _lock:
        if key in _by_key:
            return _by_key[key]
    if key.startswith("espemu://"):
        names = parse_qs(urlsplit(key).query).get("name")
        if names:
            with _lock:
                if names[-1] in _by_key:
                    return _by_key[names[-1]]
    raise LookupError(f"no running emulator for {key!r}")
