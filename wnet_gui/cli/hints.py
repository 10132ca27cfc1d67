"""What the command line adds to an engine's message: the option that fixes it. The engine
names only the fact (the app says how to fix it in its own words)."""

from __future__ import annotations

from ..slides.scale import MPP_HINT

NO_SCALE = "does not state its microns per pixel"


def with_hint(message: str) -> str:
    """``message`` plus the option that answers it, where one does."""
    if message.rstrip().endswith(NO_SCALE):
        return f"{message.rstrip()}; give it with --mpp ({MPP_HINT})"
    return message
