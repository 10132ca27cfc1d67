"""The app names the system libraries Qt's X11 plugin lacks, with the command that installs
them; the table behind it covers everything the plugin needs on this machine (ldd)."""

import shutil
from pathlib import Path

import pytest

from wnet_gui.gui import platform_check as pc

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.skipif(shutil.which("ldd") is None or not pc.xcb_plugin_files(), reason="no ldd or no xcb plugin here")
def test_every_library_the_plugin_needs_has_a_package_and_is_in_the_readme():
    needed = pc.system_dependencies()
    assert "libxcb.so.1" in needed and "libxcb-icccm.so.4" in needed  # really the plugin's closure
    unmapped = sorted(set(needed) - set(pc.SYSTEM_LIBRARIES))
    assert not unmapped, f"add these to platform_check.SYSTEM_LIBRARIES: {unmapped}"
    apt_line = next(line for line in README.read_text().splitlines() if line.startswith("sudo apt-get install libbrotli1"))
    fedora_line = next(line for line in README.read_text().splitlines() if line.startswith("sudo dnf install"))
    for soname in needed:
        debian, fedora = pc.SYSTEM_LIBRARIES[soname]
        assert debian in apt_line.split(), f"README's apt-get line lacks {debian}"
        assert fedora in fedora_line.split(), f"README's dnf line lacks {fedora}"


def test_ldd_output_is_read_exactly(monkeypatch):
    out = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
           "\tlibxcb-icccm.so.4 => not found\n"
           "\tlibxcb-keysyms.so.1 => not found\n"
           "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)\n")

    class Done:
        stdout = out

    monkeypatch.setattr(pc.subprocess, "run", lambda *a, **k: Done)
    assert pc.ldd(Path("/x.so")) == {"libxcb-icccm.so.4": None, "libxcb-keysyms.so.1": None,
                                     "libxcb.so.1": "/lib/x86_64-linux-gnu/libxcb.so.1"}


def test_the_message_names_the_real_culprits_and_one_command():
    text = pc.explain(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-keysyms xcb-util-wm" in text
    assert "libxcb-cursor0" not in text  # what Qt's own message would have blamed


def test_wnet_gui_check_exits_by_what_it_finds(capsys, monkeypatch):
    from wnet_gui.gui.app import main

    monkeypatch.setattr(pc, "missing_libraries", lambda: ["libxcb-keysyms.so.1"])
    assert main(["--check"]) == 3
    assert "sudo apt-get install libxcb-keysyms1" in capsys.readouterr().err
    monkeypatch.setattr(pc, "missing_libraries", lambda: [])
    assert main(["--check"]) == 0
