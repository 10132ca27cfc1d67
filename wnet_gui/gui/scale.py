"""A slide's scale stated in the app, as QuPath's *Image › Set pixel size* does: for the open
slide (Image menu, or the prompt Auto-detect and masks show when the file states none) or for
the slides selected in the Project dock. What the user states is kept with the slide's
annotations (its autosave) and in the project's µm/px column, so every later action —
detection, masks, densities, *Export all*, *Detect all new slides* — uses it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog

from ..slides.scale import MPP_HINT, MPP_RANGE, valid_mpp

DEFAULT_MPP = 0.25


def ask_mpp(parent, title: str, text: str, current: float | None) -> float | None:
    """The µm/px the user types (None: cancelled); the range is the one every front end accepts."""
    value, ok = QInputDialog.getDouble(parent, title, f"{text}\nMicrons per pixel ({MPP_HINT}):", current or DEFAULT_MPP,
                                       MPP_RANGE[0], MPP_RANGE[1], 4)
    return valid_mpp(value) if ok else None


class ScaleTools(QObject):
    """Stating the open slide's scale; ``stated`` tells the project (slide path, µm/px)."""

    stated = Signal(str, float)

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def set_pixel_size_dialog(self) -> bool:
        """Image › Set pixel size…: state (or correct) the open slide's µm/px."""
        slide = self.window.slide
        if slide is None:
            self.window.statusBar().showMessage("Open a slide first", 4000)
            return False
        said = f"The file states {slide.metadata_mpp:g} µm/px." if slide.metadata_mpp else "The file does not state its scale."
        mpp = ask_mpp(self.window, "Set pixel size", f"{slide.path.name}: {said}", slide.mpp)
        if mpp is None:
            return False
        self.apply(mpp)
        return True

    def ensure_known(self) -> bool:
        """Before a run that needs the scale: asked of the user when the slide states none."""
        slide = self.window.slide
        if slide.mpp is not None:
            return True
        mpp = ask_mpp(self.window, "Set pixel size", f"{slide.path.name} does not state its scale.", None)
        if mpp is None:
            return False
        self.apply(mpp)
        return True

    def apply(self, mpp: float) -> None:
        """The open slide takes ``mpp``; kept with its annotations and told to the project."""
        window = self.window
        window.slide.mpp = mpp
        window.store.set_stated_mpp(mpp)  # autosaved with the slide's points
        window.show_scale()
        window.view.viewport().update()  # the scale bar
        self.stated.emit(str(window.slide.path), float(mpp))
        window.statusBar().showMessage(f"{window.slide.path.name}: {mpp:g} µm/px", 5000)


__all__ = ["ScaleTools", "ask_mpp"]
