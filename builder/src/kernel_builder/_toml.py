"""TOML loading on every supported Python, with one-line errors for hostile input.

``tomllib`` raises ``RecursionError`` on deeply nested arrays and ``ValueError``
on integers longer than Python's digit limit; both become a
:class:`~kernel_builder.errors.ConfigError` naming the file and, where it can
be found, the dotted key.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Optional

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

__all__ = ["MAX_NESTING", "load_toml", "tomllib"]

#: Arrays and inline tables nested deeper than this are refused before parsing.
MAX_NESTING = 64

_HEADER = re.compile(r"\s*\[\[?\s*([^\]]*?)\s*\]\]?\s*(#.*)?$")
_ASSIGNMENT = re.compile(r"\s*([A-Za-z0-9_.\"' -]+?)\s*=")
_LONG_INTEGER = re.compile(r"[0-9][0-9_]{4299,}")


def load_toml(text: str, file: str) -> dict[str, Any]:
    """Parse ``text`` (the contents of ``file``); every failure is one :class:`ConfigError` line."""
    too_deep = _nesting_error_offset(text)
    if too_deep is not None:
        raise ConfigError(file, _key_at(text, too_deep) or "",
                          f"invalid TOML: arrays or inline tables nested more than {MAX_NESTING} deep")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "", f"invalid TOML: {e}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(file, "", "invalid TOML: the document is nested too deeply or too large") from None
    except ValueError:  # an integer beyond sys.get_int_max_str_digits()
        match = _LONG_INTEGER.search(text)
        where = _key_at(text, match.start()) if match else None
        digits = len(match.group().replace("_", "")) if match else "too many"
        raise ConfigError(file, where or "",
                          f"invalid TOML: integer with {digits} digits is too large (at most {sys.get_int_max_str_digits()})") from None


def _nesting_error_offset(text: str) -> Optional[int]:
    """Where ``[``/``{`` nesting inside values first exceeds :data:`MAX_NESTING` (strings and comments skipped)."""
    depth = 0
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote or c == "\n":
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif c in "[{" and (depth or _after_equals(text, i)):
            depth += 1
            if depth > MAX_NESTING:
                return i
        elif c in "]}" and depth:
            depth -= 1
        i += 1
    return None


def _after_equals(text: str, i: int) -> bool:
    """Whether the bracket at ``i`` opens a value (``key = [``) rather than a table header."""
    line = text[text.rfind("\n", 0, i) + 1: i]
    return "=" in line


def _key_at(text: str, offset: int) -> Optional[str]:
    """The dotted key whose value contains ``offset``: the last table header plus the last assignment."""
    table: list[str] = []
    key = None
    for line in text[:offset].split("\n"):
        header = _HEADER.match(line)
        if header:
            table, key = [header.group(1).replace('"', "")], None
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            key = assignment.group(1).replace('"', "").replace("'", "").strip()
    if key is None:
        return None
    return ".".join([*filter(None, table), key])
