"""Errors that the CLI reports as one line, without a traceback."""

from __future__ import annotations


class KernelBuilderError(Exception):
    """An error caused by the user's input or environment, not by a bug."""


class ConfigError(KernelBuilderError):
    """A problem in ``build.toml``: names the file, the key and what is expected."""

    def __init__(self, file: str, key: str, message: str):
        if not key.isprintable():
            key = key.encode("unicode_escape").decode("ascii")
        key = _shortened(key, 200)
        message = _shortened(" ".join(message.splitlines()), 600)  # one line, whatever a value held
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")


def _shortened(text: str, limit: int) -> str:
    """``text``, with its middle elided when it is longer than ``limit`` (hostile values can be huge)."""
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"
