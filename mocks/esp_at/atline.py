"""Parsing one AT command line (without its CR LF) into name, form and parameters.

Layer: sans-IO, pure functions. Parameters follow the reference's §1.2: integers or double-quoted strings,
omitted middle parameters keep their comma, and inside quotes ``\\\\``, ``\\,``, ``\\"`` and ``\\<any>``
unescape. A malformed line raises `ParseError`; the device model turns that into the module's ``ERROR``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ParseError(ValueError):
    """The line is not a well-formed AT command."""


class Form(enum.Enum):
    EXECUTE = "execute"
    QUERY = "query"
    TEST = "test"
    SET = "set"


@dataclass(frozen=True)
class Param:
    """One parameter: `text` is unescaped; `quoted` tells a string from a bare token; empty means omitted."""

    text: str
    quoted: bool

    @property
    def omitted(self) -> bool:
        return not self.quoted and self.text == ""


@dataclass(frozen=True)
class Command:
    name: str  # "" for plain AT, "E0"/"E1" style for ATE, "CIPSEND" etc. for AT+ commands
    form: Form
    params: tuple[Param, ...] = ()

    def int_at(self, index: int, default: int | None = None) -> int:
        """The integer at `index`; `default` when omitted or absent; ParseError when not an integer."""
        if index >= len(self.params) or self.params[index].omitted:
            if default is None:
                raise ParseError(f"parameter {index} missing")
            return default
        param = self.params[index]
        if param.quoted:
            raise ParseError(f"parameter {index} must be an integer")
        try:
            return int(param.text, 10)
        except ValueError:
            raise ParseError(f"parameter {index} is not an integer") from None

    def str_at(self, index: int, default: str | None = None) -> str:
        if index >= len(self.params) or self.params[index].omitted:
            if default is None:
                raise ParseError(f"parameter {index} missing")
            return default
        param = self.params[index]
        if not param.quoted:
            raise ParseError(f"parameter {index} must be a quoted string")
        return param.text

    def has(self, index: int) -> bool:
        return index < len(self.params) and not self.params[index].omitted


def split_params(text: str) -> tuple[Param, ...]:
    params: list[Param] = []
    i = 0
    n = len(text)
    while True:
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise ParseError("unterminated string")
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    chars.append(text[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                chars.append(ch)
                i += 1
            params.append(Param("".join(chars), True))
            if i < n and text[i] != ",":
                raise ParseError("garbage after a quoted string")
        else:
            start = i
            while i < n and text[i] != ",":
                if text[i] == '"':
                    raise ParseError("quote inside a bare token")
                i += 1
            token = text[start:i]
            if token.strip() != token:
                raise ParseError("spaces around a bare token")
            params.append(Param(token, False))
        if i >= n:
            return tuple(params)
        i += 1  # the comma


def parse_line(line: bytes, *, lowercase_prefix_ok: bool) -> Command:
    """Parse `line` (no CR LF). Raises ParseError for anything the firmware would reject."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        # Quoted SSIDs and passwords may be UTF-8; the prefix check below still applies.
        text = line.decode("utf-8", errors="strict") if _is_utf8(line) else ""
        if not text:
            raise ParseError("not text") from None
    prefix = text[:2]
    if prefix != "AT" and not (lowercase_prefix_ok and prefix.upper() == "AT"):
        raise ParseError("no AT prefix")
    rest = text[2:]
    if rest == "":
        return Command("", Form.EXECUTE)
    if rest[0] != "+":
        # Basic commands such as ATE0/ATE1.
        if not rest.isalnum():
            raise ParseError("bad basic command")
        return Command(rest.upper() if lowercase_prefix_ok else rest, Form.EXECUTE)
    body = rest[1:]
    if lowercase_prefix_ok:
        # NonOS matches command names case-insensitively (reference §1.2, WiFiEsp #29).
        head, sep, tail = body.partition("=")
        head_q = head.upper()
        body = head_q + sep + tail
    if body.endswith("=?"):
        name = body[:-2]
        form = Form.TEST
        params: tuple[Param, ...] = ()
    elif "=" in body:
        name, _, raw = body.partition("=")
        form = Form.SET
        params = split_params(raw)
    elif body.endswith("?"):
        name = body[:-1]
        form = Form.QUERY
        params = ()
    else:
        name = body
        form = Form.EXECUTE
        params = ()
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ParseError("bad command name")
    return Command(name, form, params)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
