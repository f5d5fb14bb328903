"""The documentation holds together: links resolve, Python examples parse, the README's quick start is true."""

from __future__ import annotations

import ast
import functools
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_parse(page: Path) -> None:
    for block in PYTHON_BLOCK.findall(page.read_text()):
        ast.parse(block)


def test_readme_quick_start_is_two_make_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


FILE_MENTION = re.compile(r"`([\w./-]+\.(?:py|md|json|jsonl|toml|txt|pem|ya?ml|ini|cfg))(?:::[^`]*)?`")
DOC_PAGES = sorted({*PAGES, *ROOT.glob("*.md"), *ROOT.glob("*/README.md"), *ROOT.glob("tests/*/README.md")})


USER_FILES = {"netsocket.ini", "can.ini"}
"""Files the docs tell users to write themselves (and python-can's, which netsocket.ini is modelled on)."""
SKIPPED_DIRS = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "__pycache__"}


@functools.cache
def repository_files() -> list[str]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        found += [(Path(folder) / name).relative_to(ROOT).as_posix() for name in files]
    return found


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_the_docs_name_are_in_the_repository(page: Path) -> None:
    """A file named in backquotes exists in the repository (by its path, or by its name where only that is given)."""
    tracked = repository_files()
    names = {path.rsplit("/", 1)[-1] for path in tracked}
    for mention in FILE_MENTION.findall(page.read_text()):
        if mention.startswith(("/", "~", "./")) or mention in USER_FILES:
            continue  # a file on the user's machine, not one of ours
        if "/" in mention:
            assert any(path == mention or path.endswith("/" + mention) for path in tracked), f"{page.name}: {mention}"
        else:
            assert mention in names, f"{page.name} names {mention}, which is not in the repository"


def test_the_site_builds_strict_and_its_api_reference_covers_every_public_name(tmp_path: Path) -> None:
    """``make docs`` in a test: mkdocs with warnings as errors, then every name in ``netsocket.__all__`` must be an
    object of the generated API reference (mkdocstrings' inventory)."""
    import os
    import subprocess
    import sys
    import zlib

    import netsocket

    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    header_end = 4  # objects.inv: four text lines, then a zlib-compressed body
    body = zlib.decompress((site / "objects.inv").read_bytes().split(b"\n", header_end)[header_end]).decode()
    documented = {line.split()[0] for line in body.splitlines()}
    assert [name for name in netsocket.__all__ if f"netsocket.{name}" not in documented] == []
    assert "netsocket.compat.SocketPool" in documented


def test_the_readme_shows_the_cli_after_the_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    after = readme.split("## Quick start", 1)[1].split("## ", 1)[0]
    assert "netsocket probe" in after or "netsocket scan" in after
