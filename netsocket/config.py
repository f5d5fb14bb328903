"""One configuration scheme for every netsocket program: environment variables over an optional INI file.

Layer: application support (pure: reads the environment and at most one file; imports no driver).
The examples, the ``netsocket`` command and ``hw_tests`` all read it, and so does
``NetworkInterface.get_default_instance()`` through ``netsocket.registry.default_interface``.

Environment (each wins over the file):

- ``NETSOCKET_INTERFACE``: the interface as a URL (``esp:///dev/ttyUSB0?baudrate=115200``, ``w5500:///dev/spidev0.0``,
  ``host://``, ``espemu://``, ``w5500emu://``);
- ``NETSOCKET_WIFI_SSID``, ``NETSOCKET_WIFI_PASSWORD``, ``NETSOCKET_WIFI_SECURITY`` (an ``NsapiSecurity`` name);
- ``NETSOCKET_CONFIG``: the path of the configuration file to read instead of the usual places (``/dev/null``:
  read none).

The file, in the shape of python-can's ``can.ini``: the first of ``$NETSOCKET_CONFIG``, ``./netsocket.ini``,
``$XDG_CONFIG_HOME/netsocket/netsocket.ini`` (``~/.config/...``) and ``~/.netsocket.ini`` that exists::

    [default]
    interface = esp:///dev/ttyUSB0
    wifi_ssid = home
    wifi_password = secret

So a Wi-Fi passphrase never has to be typed on a command line (where shell history keeps it). ``Settings`` keeps the
password out of its ``repr``, so logging a ``Settings`` never shows it.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_INTERFACE = "NETSOCKET_INTERFACE"
ENV_WIFI_SSID = "NETSOCKET_WIFI_SSID"
ENV_WIFI_PASSWORD = "NETSOCKET_WIFI_PASSWORD"
ENV_WIFI_SECURITY = "NETSOCKET_WIFI_SECURITY"
ENV_CONFIG = "NETSOCKET_CONFIG"
SECTION = "default"
_KEYS = {
    "interface": ENV_INTERFACE,
    "wifi_ssid": ENV_WIFI_SSID,
    "wifi_password": ENV_WIFI_PASSWORD,
    "wifi_security": ENV_WIFI_SECURITY,
}


class ConfigError(ValueError):
    """The configuration file cannot be read; ``str()`` names the file and the problem."""


@dataclass(frozen=True)
class Settings:
    """What the configuration says; ``None`` where it says nothing. ``file`` is the file read, if any."""

    interface: str | None = None
    wifi_ssid: str | None = None
    wifi_password: str | None = field(default=None, repr=False)
    wifi_security: str | None = None
    file: Path | None = None


def config_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The places searched for the configuration file, in order (only the first that exists is read)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_CONFIG) == os.devnull:
        return []
    if env.get(ENV_CONFIG):
        return [Path(env[ENV_CONFIG]).expanduser()]
    xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [Path("netsocket.ini"), xdg / "netsocket" / "netsocket.ini", Path.home() / ".netsocket.ini"]


def load_settings(environ: Mapping[str, str] | None = None, *, section: str = SECTION) -> Settings:
    """The settings from the environment over the first configuration file found; ``ConfigError`` if that file
    is unreadable or malformed, or if ``$NETSOCKET_CONFIG`` names a file that does not exist."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    found: Path | None = None
    for path in config_files(env):
        if path.is_file():
            found = path
            values = _read(path, section)
            break
    if env.get(ENV_CONFIG) not in (None, "", os.devnull) and found is None:
        raise ConfigError(f"{ENV_CONFIG} names {env[ENV_CONFIG]!r}, which is not a file")
    for key, name in _KEYS.items():
        if env.get(name):
            values[key] = env[name]
    return Settings(
        interface=values.get("interface"),
        wifi_ssid=values.get("wifi_ssid"),
        wifi_password=values.get("wifi_password"),
        wifi_security=values.get("wifi_security"),
        file=found,
    )


def _read(path: Path, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as file:
            parser.read_file(file)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"cannot read the netsocket configuration file {str(path)!r}: {exc}") from exc
    if not parser.has_section(section):
        return {}
    unknown = sorted(set(parser[section]) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{str(path)!r} [{section}] has unknown keys {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    return {key: value for key, value in parser[section].items() if value}
