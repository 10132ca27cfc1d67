import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["WNET_NO_PROMPT"] = "1"  # errors are recorded, not shown as blocking dialogs


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "data-home"))
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    from wnet_gui.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.cancel_run()
    win.runs.wait(10000)  # the current run and any cancelled one still finishing its batch
    import gc

    gc.collect()  # on this (the GUI) thread: the windows of earlier tests never die elsewhere


@pytest.fixture
def sample_copy(tmp_path, sample_tiff):
    """The sample tile in a private folder (autosave files land beside it)."""
    import shutil

    target = tmp_path / "slide" / sample_tiff.name
    target.parent.mkdir()
    shutil.copy(sample_tiff, target)
    return target
