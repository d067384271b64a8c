"""Typed, key-tracking access to one TOML table, for one-line config errors."""

from __future__ import annotations

from typing import Any, Callable, Optional

from packaging.version import InvalidVersion, Version

from ..errors import ConfigError


class Table:
    """One TOML table of ``file`` at dotted ``key``; unknown keys are errors."""

    def __init__(self, data: Any, key: str, file: str):
        if not isinstance(data, dict):
            raise ConfigError(file, key, f"expected a table, got {type_name(data)}")
        self.data = data
        self.key = key
        self.file = file
        self.seen: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.key}.{key}" if self.key else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.path(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, expected: str, check: Callable[[Any], bool], required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, f"missing required key (expected {expected})")
            return None
        value = self.data[key]
        if not check(value):
            raise self.error(key, f"expected {expected}, got {type_name(value)} {short(value)}")
        return value

    def string(self, key: str, required: bool = False) -> Optional[str]:
        return self.get(key, "a string", lambda v: isinstance(v, str), required)

    def integer(self, key: str, required: bool = False) -> Optional[int]:
        return self.get(key, "an integer", is_integer, required)

    def strings(self, key: str, required: bool = False) -> Optional[tuple[str, ...]]:
        value = self.get(
            key,
            "a list of strings",
            lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
            required,
        )
        return None if value is None else tuple(value)

    def version(self, key: str) -> Optional[Version]:
        text = self.get(key, 'a version string such as "12.8"', lambda v: isinstance(v, str), False)
        return None if text is None else self.parse_version(key, text)

    def parse_version(self, key: str, text: str) -> Version:
        try:
            return Version(text)
        except InvalidVersion:
            raise self.error(key, f'expected a version string such as "12.8", got {text!r}') from None

    def table(self, key: str) -> Optional["Table"]:
        self.seen.add(key)
        if key not in self.data:
            return None
        return Table(self.data[key], self.path(key), self.file)

    def reject_unknown(self, allowed: Optional[set[str] | frozenset[str]] = None) -> None:
        allowed = self.seen if allowed is None else allowed
        for key in self.data:
            if key not in allowed:
                expected = ", ".join(sorted(allowed)) or "no keys"
                raise self.error(key, f"unknown key (expected one of: {expected})")


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a float",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
