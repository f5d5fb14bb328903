"""The resolver's answer cache (Mbed's ``nsapi.dns-cache-size``): a few entries, TTL expiry, LRU eviction.

Layer: pure data structure with an injectable clock, safe to use from several threads. Keys are the name (case
folded, without a trailing dot) and the IP version of the address; a TTL of 0 is never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from netsocket.types import NsapiVersion

Clock = Callable[[], float]


def cache_key(host: str) -> str:
    return host.rstrip(".").lower()


class DnsCache:
    """At most ``size`` (name, version) -> address entries; the least recently used one goes first."""

    def __init__(self, size: int, clock: Clock = time.monotonic) -> None:
        if size < 0:
            raise ValueError("a cache size is >= 0")
        self._size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, NsapiVersion], tuple[bytes, float]] = OrderedDict()

    def put(self, host: str, version: NsapiVersion, address: bytes, ttl_s: int) -> None:
        if ttl_s <= 0 or self._size == 0:
            return
        key = (cache_key(host), NsapiVersion(version))
        with self._lock:
            self._entries[key] = (address, self._clock() + ttl_s)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def get(self, host: str, version: NsapiVersion) -> tuple[NsapiVersion, bytes] | None:
        """A live entry for ``host`` (UNSPEC: IPv4 first, then IPv6), marking it used; expired ones are dropped."""
        versions = [NsapiVersion.IPv4, NsapiVersion.IPv6] if version == NsapiVersion.UNSPEC else [version]
        name = cache_key(host)
        now = self._clock()
        with self._lock:
            for wanted in versions:
                key = (name, NsapiVersion(wanted))
                entry = self._entries.get(key)
                if entry is None:
                    continue
                if entry[1] <= now:
                    del self._entries[key]
                    continue
                self._entries.move_to_end(key)
                return NsapiVersion(wanted), entry[0]
        return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
