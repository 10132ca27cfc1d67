"""`wnet --help`, argument errors and the app's window come before torch: checked in a fresh
process by what is imported (a deterministic stand-in for the clock; BENCHMARKS.md has the
seconds, scripts/bench_startup.py measures them)."""

import subprocess
import sys


def modules_after(code: str) -> set[str]:
    import tempfile

    home = tempfile.mkdtemp()  # the window reads and writes settings: never the user's own
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "", "HOME": home, "XDG_CONFIG_HOME": home, "WNET_DATA_HOME": home}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120, env=env)
    return set(out.stdout.split())


def test_help_and_argument_errors_do_not_import_torch():
    code = ("from wnet_gui.cli.main import main\n"
            "for argv in (['--help'], ['detect', 'x', '--mpp', '99'], ['adapt', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass")
    loaded = modules_after(code)
    assert "wnet_gui.cli.main" in loaded and "torch" not in loaded


def test_the_main_window_opens_without_torch():
    code = ("from PySide6.QtWidgets import QApplication\napp = QApplication([])\n"
            "from wnet_gui.gui.main_window import MainWindow\nw = MainWindow()\nw.show()\napp.processEvents()")
    loaded = modules_after(code)
    assert "wnet_gui.gui.main_window" in loaded and "torch" not in loaded and "segmentation_models_pytorch" not in loaded


def test_untyped_predictions_get_no_table_of_zero_types(tmp_path, capsys):
    from wnet_gui.annotations import NucleusStore, write_geojson
    from wnet_gui.cli.main import main

    pred, truth = NucleusStore(), NucleusStore()
    pred.add_many([10.0, 50.0], [10.0, 50.0])
    truth.add_many([11.0, 50.0], [10.0, 52.0], classes=["Epithelial", "Stromal"])
    write_geojson(pred, tmp_path / "p.geojson")
    write_geojson(truth, tmp_path / "t.geojson")
    assert main(["evaluate", "--pred", str(tmp_path / "p.geojson"), "--truth", str(tmp_path / "t.geojson")]) == 0
    out = capsys.readouterr().out
    assert "F1" in out and "type accuracy" not in out and "Epithelial" not in out
    (tmp_path / "x.txt").write_text("1 2")
    assert main(["evaluate", "--pred", str(tmp_path / "x.txt"), "--truth", str(tmp_path / "t.geojson")]) == 2
    assert "_inst.png" in capsys.readouterr().err  # the message names every format it reads


def test_type_colours_stand_apart_from_each_other_and_from_haematoxylin():
    """Untyped 'Nucleus' points once looked Epithelial (ΔE 17) and Inflammatory's purple
    vanished on haematoxylin (ΔE 22): CIEDE2000 differences a pathologist can see."""
    import numpy as np
    from skimage.color import deltaE_ciede2000, rgb2lab

    from wnet_gui.annotations.qupath import NUCLEUS_COLOR, TYPE_COLORS

    lab = lambda rgb: rgb2lab(np.array([[rgb]], float) / 255)[0, 0]  # noqa: E731
    colours = {**TYPE_COLORS, "Nucleus": NUCLEUS_COLOR}
    names = list(colours)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert deltaE_ciede2000(lab(colours[a]), lab(colours[b])) > 20, (a, b)
    haematoxylin = lab((70, 40, 110))
    assert all(deltaE_ciede2000(lab(c), haematoxylin) > 30 for c in colours.values())


def test_the_encoders_known_without_importing_timm_are_real():
    import segmentation_models_pytorch as smp
    import timm

    from wnet_gui.models.card_schema import KNOWN_ENCODERS

    for name in KNOWN_ENCODERS - {"basic"}:
        assert timm.is_model(name[3:]) if name.startswith("tu-") else name in smp.encoders.get_encoder_names(), name
