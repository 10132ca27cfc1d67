"""Keep glibc from handing large freed blocks back to the kernel between forward passes.

Every forward pass allocates and frees the same tens of megabytes of activations. glibc
serves blocks above its mmap threshold with fresh ``mmap`` calls and unmaps them on
``free``, so the next pass faults every page in again: with 512-px tiles that was two
million page faults and a third of the run in the kernel (BENCHMARKS.md, "page faults").
Raising the mmap and trim thresholds keeps those blocks in the heap for reuse — what
jemalloc or tcmalloc, which PyTorch's CPU tuning guide recommends, would do — without
preloading another allocator. Memory stays bounded by the largest working set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 1 << 30

_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc malloc once per process; False where there is no glibc (macOS, Windows, musl)."""
    global _tuned
    if _tuned is None:
        _tuned = _mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES) and _mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES)
    return _tuned


def _mallopt(param: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(param, value))
    except (OSError, AttributeError):  # no glibc: nothing to tune
        return False
