"""Which system libraries Qt's X11 (xcb) platform plugin lacks, and the one command that
installs them.

Qt's own message names only ``libxcb-cursor0`` whatever is missing; on a fresh Debian
desktop the real culprits were ``libxcb-icccm4`` and ``libxcb-keysyms1``. ``ldd`` on the
plugin says exactly which shared objects do not resolve. This module imports no Qt module,
so it runs before Qt could fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# shared object → (Debian/Ubuntu package, Fedora package), for everything the PySide6
# xcb plugin and the Qt libraries it loads need from the system (a test keeps it complete)
SYSTEM_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-present.so.0": ("libxcb-present0", "libxcb"),
    "libxcb-dri3.so.0": ("libxcb-dri3-0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libexpat.so.1": ("libexpat1", "expat"),
    "libuuid.so.1": ("libuuid1", "libuuid"),
    "libbsd.so.0": ("libbsd0", "libbsd"),
    "libmd.so.0": ("libmd0", "libmd"),
    "libbrotlidec.so.1": ("libbrotli1", "brotli"),
    "libbrotlicommon.so.1": ("libbrotli1", "brotli"),
    "libbz2.so.1.0": ("libbz2-1.0", "bzip2-libs"),
    "libpcre2-8.so.0": ("libpcre2-8-0", "pcre2"),
    "libsystemd.so.0": ("libsystemd0", "systemd-libs"),
    "libcap.so.2": ("libcap2", "libcap"),
    "libffi.so.8": ("libffi8", "libffi"),
}

# the C runtime and friends: on every Linux, never worth naming
BASE = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so", "libstdc++.so",
        "libgcc_s.so", "libz.so", "libresolv.so", "libgssapi", "libcrypt", "liblzma", "libzstd", "liblz4", "libgcrypt",
        "libgpg-error", "libselinux", "libmount", "libblkid")


def qt_dir() -> Path | None:
    """PySide6's bundled Qt, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "Qt"


def xcb_plugin_files() -> list[Path]:
    qt = qt_dir()
    if qt is None:
        return []
    return [p for p in (qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6") if p.exists()]


def ldd(path: Path) -> dict[str, str | None]:
    """soname → where it resolves (None: not found), as ldd reports."""
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30).stdout
    found: dict[str, str | None] = {}
    for line in out.splitlines():
        line = line.strip()
        if "=>" not in line:
            continue
        name, target = (part.strip() for part in line.split("=>", 1))
        found[name] = None if target.startswith("not found") else target.split(" (")[0]
    return found


def system_dependencies() -> dict[str, str | None]:
    """What the xcb plugin needs from outside PySide6 (soname → path or None)."""
    qt = qt_dir()
    deps: dict[str, str | None] = {}
    for f in xcb_plugin_files():
        for name, target in ldd(f).items():
            if target is not None and qt is not None and str(qt) in target:
                continue  # ships with PySide6
            if name.startswith(BASE):
                continue
            deps[name] = target
    return deps


def missing_libraries() -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    try:
        return sorted(name for name, target in system_dependencies().items() if target is None)
    except (OSError, subprocess.SubprocessError):
        return []  # no ldd: nothing to say; Qt will speak for itself


def install_commands(missing: list[str]) -> tuple[str, str]:
    """(Debian/Ubuntu command, Fedora command) that install ``missing``."""
    debian = sorted({SYSTEM_LIBRARIES.get(m, (m, m))[0] for m in missing})
    fedora = sorted({SYSTEM_LIBRARIES.get(m, (m, m))[1] for m in missing})
    return f"sudo apt-get install {' '.join(debian)}", f"sudo dnf install {' '.join(fedora)}"


def explain(missing: list[str]) -> str:
    debian, fedora = install_commands(missing)
    return (f"wnet-gui: Qt's X11 platform plugin cannot load: the system lacks {', '.join(missing)}.\n"
            f"Install them with\n  {debian}          (Debian, Ubuntu)\n  {fedora}          (Fedora)\n"
            "then start wnet-gui again.")


def will_use_xcb() -> bool:
    """Qt picks xcb on Linux when a DISPLAY is set and no other platform was asked for."""
    wanted = os.environ.get("QT_QPA_PLATFORM", "")
    if wanted:
        return wanted.split(":")[0] == "xcb"
    return sys.platform.startswith("linux") and bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")
