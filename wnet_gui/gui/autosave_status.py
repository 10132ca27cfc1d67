"""The window's side of autosave: the timer, a status-bar label that stays while saving
fails (or while another instance owns the slide), and the words the close prompt uses —
which never claim a save that did not happen."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QStatusBar

from ..annotations import NucleusStore
from ..annotations.autosave import Autosaver, RestoreReport

AUTOSAVE_SECONDS = float(os.environ.get("WNET_AUTOSAVE_SECONDS", "5"))


class AutosaveStatus(QObject):
    """Owns the current slide's ``Autosaver`` and shows its state until it changes."""

    def __init__(self, status_bar: QStatusBar, parent=None):
        super().__init__(parent)
        self.saver: Autosaver | None = None
        self.label = QLabel()
        self.label.setObjectName("autosaveWarning")
        self.label.setStyleSheet("QLabel { color: white; background: #b00020; padding: 1px 6px; border-radius: 3px; }")
        self.label.setWordWrap(False)
        self.label.hide()
        status_bar.addPermanentWidget(self.label)
        self.timer = QTimer(self, interval=int(AUTOSAVE_SECONDS * 1000))
        self.timer.timeout.connect(lambda: self.save(wait=False))
        self.timer.start()
        self._shown_notice = False

    def attach(self, slide_path: Path, store: NucleusStore, beside: bool) -> RestoreReport:
        """Take over ``slide_path``'s autosave (after the previous one was detached) and
        restore its newest readable snapshot into ``store``."""
        self.saver = Autosaver(slide_path, store, beside=beside)
        report = self.saver.restore(store)
        self.saver.saved_revision = store.revision
        self.refresh()
        return report

    def detach(self) -> None:
        """Save what is unsaved and let go of the slide (its lock too)."""
        if self.saver is not None:
            self.save(wait=True)
            self.saver.close()
            self.saver = None
        self.refresh()

    def save(self, wait: bool = True) -> None:
        if self.saver is None:
            return
        if wait:
            self.saver.save()
        else:
            self.saver.save_in_background()
        self.refresh()

    def refresh(self) -> None:
        """Show the warning while there is one (checked again after every save)."""
        text = self.problem()
        self.label.setVisible(bool(text))
        if text:
            self.label.setText(f"⚠ {'Read-only' if self.saver and self.saver.read_only else 'Not autosaved'}")
            self.label.setToolTip(text + "\n\nExport your annotations (File › Export) to keep them.")

    def problem(self) -> str:
        """Why edits are not being autosaved right now, or ''."""
        if self.saver is None:
            return ""
        if self.saver.busy:  # a background save is running: its outcome is not known yet
            return self.saver.error if self.saver.read_only else ""
        return self.saver.error or ""

    def safe(self) -> bool:
        """True when every edit so far is in a durable snapshot."""
        return self.saver is not None and not self.saver.read_only and not self.saver.dirty and not self.saver.error

    def leave_prompt(self, slide_name: str) -> str:
        """What the question on leaving a slide whose edits are not autosaved says (asked
        only then: autosaved edits are restored when the slide is reopened)."""
        why = self.problem() or "the last autosave has not finished"
        return (f"The edits on {slide_name} are NOT autosaved:\n{why}.\n\n"
                "Save exports them to a GeoJSON file; Discard loses them.")
        why = self.problem() or "the last autosave has not finished"
        return (f"{slide_name} has edits that were not exported, and they are NOT autosaved:\n{why}.\n\n"
                "If you discard now they are lost. Export them now?")
