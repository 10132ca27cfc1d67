"""Driving the app as a person does: menu items found by their text and fired as Qt fires
them (``QAction.trigger()``, so the ``checked`` argument arrives), keys, the mouse on the
view, and the real modal dialogs answered when they appear.

``Dialogs`` answers each modal dialog that opens with the next queued answer; a dialog
nobody expected (an error message, a question that should not have been asked) is
recorded, closed, and fails the test at ``check()``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QInputDialog, QMessageBox


def plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def launch(qtbot, size: tuple[int, int] = (1400, 900)):
    """The main window as the app starts it, shown and exposed."""
    from wnet_gui.gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def menu_action(window, menu: str, item: str) -> QAction:
    """The action ``item`` of the menu ``menu``, by the text a person reads."""
    for top in window.menuBar().actions():
        if top.menu() is not None and plain(top.text()) == menu:
            for action in top.menu().actions():
                if plain(action.text()) == item:
                    return action
            raise LookupError(f"no {item!r} in {menu}: {[plain(a.text()) for a in top.menu().actions()]}")
    raise LookupError(f"no menu {menu!r}")


def on_view(window, x: float, y: float) -> QPoint:
    """The viewport position of slide pixel (x, y)."""
    return window.view.mapFromScene(QPointF(x, y))


class Dialogs:
    def __init__(self, qtbot):
        self.qtbot = qtbot
        self.answers: list[tuple[str, Callable]] = []
        self.seen: list[str] = []
        self.unexpected: list[str] = []
        self._handled: set[int] = set()
        self.timer = QTimer()
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._look)
        self.timer.start()

    def expect(self, what: str, answer: Callable) -> "Dialogs":
        """The next modal dialog is ``what`` (a word of its title or text) and gets ``answer(dialog)``."""
        self.answers.append((what, answer))
        return self

    def _look(self) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or id(dialog) in self._handled or not dialog.isVisible():
            return
        self._handled.add(id(dialog))
        words = f"{dialog.windowTitle()} | {getattr(dialog, 'text', lambda: '')() if isinstance(dialog, QMessageBox) else ''}"
        if isinstance(dialog, QInputDialog):
            words += f" | {dialog.labelText()}"
        self.seen.append(words)
        if not self.answers or self.answers[0][0].lower() not in words.lower():
            self.unexpected.append(words)
            dialog.reject() if isinstance(dialog, QDialog) else dialog.close()
            return
        _, answer = self.answers.pop(0)
        answer(dialog)

    def wait_answered(self, timeout: int = 30000) -> None:
        self.qtbot.waitUntil(lambda: not self.answers or bool(self.unexpected), timeout=timeout)
        self.check()

    def check(self) -> None:
        assert not self.unexpected, f"dialogs nobody should have seen: {self.unexpected}"
        assert not self.answers, f"dialogs that never came: {[w for w, _ in self.answers]} (seen: {self.seen})"

    def close(self) -> None:
        self.timer.stop()


# -- answers ------------------------------------------------------------------------------
def type_number(value: float) -> Callable:
    def answer(dialog: QInputDialog) -> None:
        dialog.setDoubleValue(value)
        dialog.accept()
    return answer


def press(button: QMessageBox.StandardButton) -> Callable:
    def answer(dialog: QMessageBox) -> None:
        dialog.button(button).click()
    return answer


def press_any(*buttons: QMessageBox.StandardButton, record: list | None = None) -> Callable:
    """The first of ``buttons`` the message offers (its answer recorded)."""
    def answer(dialog: QMessageBox) -> None:
        for b in buttons:
            if dialog.button(b) is not None:
                if record is not None:
                    record.append(b)
                dialog.button(b).click()
                return
        raise AssertionError(f"none of {buttons} in {dialog.text()}")
    return answer


def choose_file(path: Path) -> Callable:
    """A file (save or open) or a folder, typed into Qt's file dialog."""
    def answer(dialog: QFileDialog) -> None:
        from PySide6.QtWidgets import QLineEdit

        dialog.setDirectory(str(Path(path).parent))
        dialog.selectFile(str(path))
        name = dialog.findChild(QLineEdit, "fileNameEdit")  # what a person types in the name box
        if name is not None:
            name.setText(Path(path).name)
        dialog.accept()
    return answer


def export_shapes(points_as: str, masks_as: str, split_sources: bool = False) -> Callable:
    def answer(dialog) -> None:
        dialog.points.setCurrentIndex(dialog.points.findData(points_as))
        dialog.masks.setCurrentIndex(dialog.masks.findData(masks_as))
        dialog.split.setChecked(split_sources)
        dialog.accept()
    return answer


def key(qtbot, window, sequence: str) -> None:
    """A key sequence as the keyboard sends it ('Ctrl+D', 'Ctrl+Shift+R', 'PgDown', '1')."""
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(sequence)[0]
    if QApplication.activeWindow() is not window:  # after a dialog: shortcuts go to the active window only
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.view.setFocus()
    qtbot.keyClick(window, combo.key(), combo.keyboardModifiers())


def click(qtbot, widget, pos: QPoint | None = None, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(widget, button, modifier, pos if pos is not None else widget.rect().center())


def drag(qtbot, window, a: tuple[float, float], b: tuple[float, float]) -> None:
    viewport = window.view.viewport()
    start, end = on_view(window, *a), on_view(window, *b)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, pos=(start + end) / 2)
    qtbot.mouseMove(viewport, pos=end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def open_slide(qtbot, window, dialogs, path: Path) -> None:
    """Ctrl+O and the file typed into the real dialog."""
    dialogs.expect("Open slide", choose_file(path))
    key(qtbot, window, "Ctrl+O")
    dialogs.wait_answered()


def detect_with(qtbot, window, model: str) -> None:
    """Pick ``model`` in the panel, Ctrl+D, and wait for the run to end."""
    panel = window.panel
    panel.model_combo.setCurrentIndex(next(i for i in range(panel.model_combo.count()) if panel.model_combo.itemData(i).name == model))
    with qtbot.waitSignal(window.detectionFinished, timeout=60000):
        key(qtbot, window, "Ctrl+D")
