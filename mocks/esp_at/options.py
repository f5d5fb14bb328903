"""Everything a caller can choose about one emulator, and its spelling as URL query parameters.

Layer: pure data (no I/O).
``espemu://?profile=at22_8266&seed=1&chunking=1&inject=1&baud=115200&timescale=0.01`` and the command line
both end up here; no parameter means the default world of DESIGN.md §5 at real-life speed: delays as the firmware
has them and the UART paced at 115200 baud (``pace=0`` and ``timescale=0.01`` are how fast tests opt out).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .device import INJECTION_POINTS, QUIRKS
from .profiles import DEFAULT_PROFILE, PROFILES
from .timing import Timing, timing_field_names
from .world import WORLDS


@dataclass(frozen=True)
class EmulatorOptions:
    profile: str = DEFAULT_PROFILE
    seed: int | None = None
    #: Random output chunk sizes and gaps (checklist item 14).
    chunking: bool = False
    #: Probability that each URC injection point delivers pending messages (item 13); 1 in a URL means 0.5.
    inject: float = 0.0
    inject_points: frozenset[str] | None = None
    #: The module's UART rate. Output (and input) is paced at baud/10 bytes per second unless `pace` is off, and a
    #: host port set to another rate sees garbage (`pacer.garble`).
    baud: int = 115200
    #: Pace the line at `baud` (real-life speed). Fast tests switch it off explicitly (``pace=0``).
    pace: bool = True
    timing: Timing = field(default_factory=Timing)
    #: Probability per output chunk that one bit is flipped (line noise).
    noise: float = 0.0
    send_fail: float = 0.0
    #: Reference §8 behaviours to switch on (see `netsocket.mocks.esp_at.device.QUIRKS`).
    quirks: frozenset[str] = frozenset()
    allow_non_loopback: bool = False
    #: Start with the boot sequence (``ready`` after `reset_to_ready`); False starts an already booted module.
    boot: bool = True
    passive_window: int = 5760
    recvlen_inactive: int | None = None
    log_file: str | None = None
    #: Play the module's side of this transcript instead of emulating one (see `netsocket.mocks.esp_at.replay`);
    #: ``timescale`` scales its recorded delays.
    replay: str | None = None
    #: Replay matching that tolerates link ids, port numbers and the order of independent commands.
    lenient: bool = False
    #: Registry name; default is generated.
    name: str | None = None
    #: The emulated world: "default" (DESIGN.md §5) or "features" (adds WPA3, WPA2/WPA3, enterprise and a
    #: same-SSID AP; see `netsocket.mocks.esp_at.world.features_world`).
    world: str = "default"
    #: Emulated stations that join the module's SoftAP each time it comes up (AT+CWMODE=2/3).
    softap_stations: int = 0

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: {', '.join(sorted(PROFILES))}")
        for value, label in ((self.inject, "inject"), (self.noise, "noise"), (self.send_fail, "send_fail")):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be within 0..1")
        if self.inject_points is not None and not self.inject_points <= INJECTION_POINTS:
            raise ValueError(f"unknown injection points: {sorted(self.inject_points - INJECTION_POINTS)}")
        if not self.quirks <= QUIRKS:
            raise ValueError(f"unknown quirks: {sorted(self.quirks - QUIRKS)}")
        if self.baud <= 0:
            raise ValueError("baud must be positive")
        if self.world not in WORLDS:
            raise ValueError(f"unknown world {self.world!r}; known: {', '.join(sorted(WORLDS))}")
        if not 0 <= self.softap_stations <= 10:
            raise ValueError("softap_stations must be within 0..10")
        if self.replay is None and self.lenient:
            raise ValueError("lenient applies to a replay only")
        if self.replay is not None:
            emulation_only = [
                f.name
                for f in fields(self)
                if f.name not in _REPLAY_FIELDS and getattr(self, f.name) != getattr(_DEFAULTS, f.name)
            ]
            if replace(self.timing, timescale=1.0) != Timing():
                emulation_only.append("timing fields")
            if emulation_only:
                raise ValueError(f"options that do not apply to a replay (it plays the transcript): {emulation_only}")

    @classmethod
    def from_url(cls, url: str) -> EmulatorOptions:
        """Parse an ``espemu://`` URL; unknown parameters raise ValueError (a typo must not pass silently)."""
        parts = urlsplit(url)
        if parts.scheme != "espemu":
            raise ValueError(f"not an espemu:// URL: {url!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        options = cls()
        timing = Timing()
        changes: dict[str, object] = {}
        for key, value in query.items():
            if key == "profile":
                changes["profile"] = value
            elif key == "seed":
                changes["seed"] = _number(int, key, value)
            elif key == "pace":
                changes["pace"] = _flag(value)
            elif key == "chunking":
                changes["chunking"] = _flag(value)
            elif key == "inject":
                number = _number(float, key, value)
                changes["inject"] = 0.5 if number == 1.0 and value.strip() == "1" else number
            elif key == "inject_points":
                changes["inject_points"] = frozenset(p for p in value.split(",") if p)
            elif key == "quirks":
                changes["quirks"] = frozenset(q for q in value.split(",") if q)
            elif key == "baud":
                changes["baud"] = _number(int, key, value)
            elif key == "timescale":
                timing = timing.with_timescale(_number(float, key, value))
            elif key in ("noise", "send_fail"):
                changes[key] = _number(float, key, value)
            elif key == "allow_non_loopback":
                changes["allow_non_loopback"] = _flag(value)
            elif key == "boot":
                changes["boot"] = _flag(value)
            elif key == "passive_window":
                changes["passive_window"] = _number(int, key, value)
            elif key == "recvlen_inactive":
                changes["recvlen_inactive"] = _number(int, key, value)
            elif key in ("log_file", "logfile"):
                changes["log_file"] = value
            elif key == "name":
                changes["name"] = value
            elif key == "replay":
                changes["replay"] = value
            elif key == "lenient":
                changes["lenient"] = _flag(value)
            elif key == "world":
                changes["world"] = value
            elif key == "softap_stations":
                changes["softap_stations"] = _number(int, key, value)
            elif key in timing_field_names():
                timing = replace(timing, **{key: _number(float, key, value)})
            else:
                raise ValueError(f"unknown espemu:// parameter {key!r}")
        changes["timing"] = timing
        return replace(options, **changes)  # type: ignore[arg-type]


_DEFAULTS = EmulatorOptions()
_REPLAY_FIELDS = {"replay", "lenient", "name", "timing"}


def _number(kind: type[int] | type[float], key: str, value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"espemu:// parameter {key}={value!r} must be {what}") from None


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on", ""):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean (1/0, true/false, yes/no, on/off): {value!r}")
