"""Guards against known defects of the Qt binding that would crash the app.

PySide6 6.12.0 returns ``None`` from void methods without taking a reference. On Python
3.12+ None is immortal and nothing happens; on 3.11 every paint call lowers None's
reference count until the interpreter aborts ("deallocating None") — within minutes of
panning. pyproject excludes that release; if it is installed anyway we detect the leak
and give None a reference count no session can exhaust, which is what 3.12 does.
"""

from __future__ import annotations

import ctypes
import sys


def void_calls_leak_none(calls: int = 200) -> bool:
    """True when calling a void Qt method lowers None's reference count."""
    from PySide6.QtGui import QPolygonF

    polygon = QPolygonF()
    before = sys.getrefcount(None)
    for _ in range(calls):
        polygon.resize(1)
    return sys.getrefcount(None) < before - calls // 2


def guard_none_refcount() -> bool:
    """Make None effectively immortal when the binding leaks it; returns whether it did."""
    if sys.version_info >= (3, 12) or not void_calls_leak_none():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
    print("wnet-gui: this PySide6 build leaks references to None; guarded (install PySide6 != 6.12.0)", file=sys.stderr)
    return True
