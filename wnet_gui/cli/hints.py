"""What the command line adds to an engine's message: the option that fixes it. The engine
names only the fact (the app says how to fix it in its own words)."""

from __future__ import annotations

import re

from ..slides.scale import MPP_HINT

NO_SCALE = "does not state its microns per pixel"


_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # colour and bold codes (torch puts them in its messages)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text safe for a terminal: styling codes dropped, any other control character (an escape
    sequence hidden in a file name could retitle or rewrite the terminal) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _STYLE.sub("", text))


def with_hint(message: str) -> str:
    """``message`` for the terminal, plus the option that answers it where one does."""
    message = printable(message)
    if message.rstrip().endswith(NO_SCALE):
        return f"{message.rstrip()}; give it with --mpp ({MPP_HINT})"
    return message
