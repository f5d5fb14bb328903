"""Everything installs under the one import package ``netsocket``: a user's own ``drivers/`` and ``mocks/`` folders
shadow nothing, in the development install and in a wheel built from the checkout."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tests.servers import HttpResponse, HttpServer

ROOT = Path(__file__).resolve().parents[2]
PROBE = (Path(__file__).parent / "probe.py").read_text()
INTERFACES = ["host", "esp", "esp32", "w5500-emulator"]


@pytest.fixture
def users_project(tmp_path: Path) -> Path:
    """A folder like a user's project on a Raspberry Pi: its own ``drivers`` and ``mocks`` packages, which fail
    loudly if anything of ours imports them."""
    for name in ("drivers", "mocks"):
        package = tmp_path / name
        package.mkdir()
        (package / "__init__.py").write_text(f"raise ImportError('the user\\'s own {name} package was imported')\n")
    return tmp_path


@pytest.fixture
def page_url() -> Iterator[str]:
    with HttpServer({"/page": HttpResponse(b"hello from the packaging test\n", "text/plain")}) as server:
        host, port = server.address
        yield f"http://{host}:{port}/page"


def run_probe(python: str, cwd: Path, url: str) -> str:
    """Run the probe in a fresh interpreter from ``cwd`` (``-c`` puts that folder first on sys.path)."""
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "NETSOCKET_INTERFACE"}}
    result = subprocess.run(
        [python, "-c", PROBE, url], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def check_probe_output(out: str) -> None:
    assert out.startswith("ok imports ")
    for name in ("host", "esp", "esp32", "w5500"):
        assert f"ok driver {name} netsocket.drivers." in out
    for interface in INTERFACES:
        assert f"ok get {interface} " in out, out


def test_a_users_own_drivers_and_mocks_folders_shadow_nothing(users_project: Path, page_url: str) -> None:
    check_probe_output(run_probe(sys.executable, users_project, page_url))


def test_no_top_level_drivers_or_mocks_package_is_installed() -> None:
    code = "import importlib.util as u; print(u.find_spec('drivers'), u.find_spec('mocks'))"
    result = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "None None"


@pytest.mark.slow
def test_the_built_wheel_installs_and_works_in_a_clean_venv(tmp_path: Path, users_project: Path, page_url: str) -> None:
    """``python -m build`` makes a wheel and an sdist; the wheel alone, in a fresh venv, passes the probe."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheels = list(dist.glob("netsocket-*.whl"))
    assert len(wheels) == 1 and list(dist.glob("netsocket-*.tar.gz"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheels[0])],
        check=True,
        capture_output=True,
        timeout=300,
    )
    out = run_probe(python, users_project, page_url)
    check_probe_output(out)
    assert "ok imports 0." in out


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved against ``package``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            names.add(".".join([*base, *([node.module] if node.module else [])]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("netsocket."):
            names.add(node.value)  # importlib.import_module("netsocket.mocks...") and the like
    return names


@pytest.mark.parametrize(("folder", "forbidden"), [("drivers", "netsocket.mocks"), ("mocks", "netsocket.drivers")])
def test_drivers_and_emulators_never_import_each_other(folder: str, forbidden: str) -> None:
    for path in (ROOT / folder).rglob("*.py"):
        package = ".".join(["netsocket", *path.relative_to(ROOT).parent.parts])
        bad = {name for name in imported_modules(path, package) if name.startswith(forbidden)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        old = {name for name in imported_modules(path, package) if name.split(".")[0] in {"drivers", "mocks"}}
        assert not old, f"{path.relative_to(ROOT)} imports the old top-level names {sorted(old)}"


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    """pyproject lists packages by hand (the package-dir mapping needs it): a new sub-package must be added there."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"netsocket"}
    for top in ("netsocket", "drivers", "mocks"):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            found.add(".".join(parts if top == "netsocket" else ("netsocket", *parts)))
    assert found == listed


def test_no_test_folder_hides_an_installed_package() -> None:
    """A test folder named like an installed top-level package (``tests/packaging`` once hid the ``packaging``
    that matplotlib imports, wherever ``tests/`` is on sys.path) is caught here."""
    from importlib.metadata import packages_distributions

    installed = set(packages_distributions())
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders & installed == set()
