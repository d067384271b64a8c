"""Errors that the CLI reports as one line, without a traceback."""

from __future__ import annotations


class KernelBuilderError(Exception):
    """An error caused by the user's input or environment, not by a bug."""


class ConfigError(KernelBuilderError):
    """A problem in ``build.toml``: names the file, the key and what is expected."""

    def __init__(self, file: str, key: str, message: str):
        if not key.isprintable():
            key = key.encode("unicode_escape").decode("ascii")
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")
