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


@pytest.fixture
def person(qtbot, tmp_path, monkeypatch):
    """A person at the app: no WNET_NO_PROMPT, so every question and message is a real modal
    dialog, answered by what the test queued (``user.Dialogs``); open it with ``user.launch``."""
    from PySide6.QtCore import QSettings
    from user import Dialogs

    monkeypatch.delenv("WNET_NO_PROMPT", raising=False)
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "data-home"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    dialogs = Dialogs(qtbot)
    yield dialogs
    dialogs.close()
