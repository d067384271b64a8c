"""The status marks check reports print (emoji where the terminal can show them)."""

from __future__ import annotations

from typing import TextIO

_EMOJI = {"check": "🐍", "ok": "✅", "bad": "❌"}
_PLAIN = {"check": "*", "ok": "OK:", "bad": "FAIL:"}


def status_marks(stream: TextIO) -> dict[str, str]:
    """``check``/``ok``/``bad`` marks for ``stream``: emoji, or ASCII where its encoding lacks them."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "".join(_EMOJI.values()).encode(encoding)
        return dict(_EMOJI)
    except (UnicodeEncodeError, LookupError):
        return dict(_PLAIN)
