"""Open a file a user named only if it is a regular file. A FIFO, a device or a folder given
where a file is expected would block a reader forever (a pipe nobody writes to) or never end
(``/dev/zero``); the check is made on the opened descriptor, without waiting, so nothing can
swap the file in between."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path names a pipe, a device or a folder, not a file."""


def open_regular(path: str | Path) -> BinaryIO:
    """The file opened for binary reading; ``NotRegularFile`` at once for anything else."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "is not a regular file (a pipe, device or folder)", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def require_regular(path: str | Path) -> Path:
    """``path`` if it names a regular file (links followed); ``NotRegularFile`` otherwise. For
    readers that open the file themselves (a CSV, a .mat, an XML)."""
    path = Path(path)
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotRegularFile(errno.EINVAL, "is not a regular file (a pipe, device or folder)", str(path))
    return path
