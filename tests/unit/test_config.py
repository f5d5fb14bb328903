"""netsocket.config: one configuration scheme, environment over an INI file, passwords never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netsocket.config import ConfigError, Settings, config_files, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_file_then_the_environment_over_it(tmp_path: Path) -> None:
    ini = write(
        tmp_path / "n.ini", "[default]\ninterface = esp:///dev/ttyUSB0\nwifi_ssid = home\nwifi_password = pw-1\n"
    )
    env = {"NETSOCKET_CONFIG": str(ini)}
    assert load_settings(env) == Settings("esp:///dev/ttyUSB0", "home", "pw-1", None, ini)
    env |= {"NETSOCKET_INTERFACE": "w5500emu://", "NETSOCKET_WIFI_PASSWORD": "pw-2", "NETSOCKET_WIFI_SECURITY": "WPA3"}
    assert load_settings(env) == Settings("w5500emu://", "home", "pw-2", "WPA3", ini)


def test_nothing_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}) == Settings()
    assert load_settings({"NETSOCKET_CONFIG": os.devnull}) == Settings()


def test_the_usual_places_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    places = config_files({"XDG_CONFIG_HOME": "/xdg"})
    assert places == [Path("netsocket.ini"), Path("/xdg/netsocket/netsocket.ini"), tmp_path / ".netsocket.ini"]
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".netsocket.ini", "[default]\nwifi_ssid = from-home\n")
    assert load_settings({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).wifi_ssid == "from-home"
    write(tmp_path / "netsocket.ini", "[default]\nwifi_ssid = from-here\n")
    assert load_settings({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).wifi_ssid == "from-here"


def test_the_password_never_appears_in_a_repr() -> None:
    settings = Settings(wifi_ssid="home", wifi_password="hunter2-secret")
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[default]\nwifi_pasword = x\n", ["unknown keys wifi_pasword", "wifi_password"]),
        ("no section header\n", ["cannot read the netsocket configuration file"]),
    ],
)
def test_a_broken_file_is_a_sentence(tmp_path: Path, text: str, words: list[str]) -> None:
    ini = write(tmp_path / "n.ini", text)
    with pytest.raises(ConfigError) as info:
        load_settings({"NETSOCKET_CONFIG": str(ini)})
    for word in words:
        assert word in str(info.value)


def test_a_named_file_that_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        load_settings({"NETSOCKET_CONFIG": str(tmp_path / "nope.ini")})
