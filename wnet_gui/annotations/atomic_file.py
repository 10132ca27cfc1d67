"""Write a file whole or not at all, even with several writers at once."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path
from typing import Iterator


NAME_MAX = 255  # bytes in one file name on every common file system


def sibling_name(name: str, suffix: str, room: int = 0) -> str:
    """``name + suffix`` as one file name: a name too long for it (a 248-character slide name
    plus a temporary suffix once failed) keeps its start and a hash of the whole, so it
    stays recognisable and unique. ``room``: bytes to leave for suffixes added later."""
    limit = NAME_MAX - room
    full = name + suffix
    if len(full.encode()) <= limit:
        return full
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    keep = max(1, limit - len(suffix.encode()) - len(digest) - 1)
    head = name.encode()[:keep].decode("utf-8", errors="ignore")
    return f"{head}~{digest}{suffix}"


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block ends without error.

    The name is unique per writer (pid + random): on a cluster a slide may be redone by a
    second worker while the first, thought dead, still writes — neither may clobber the
    other's half-written file. A failed block leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(sibling_name(f".{path.name}", f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
