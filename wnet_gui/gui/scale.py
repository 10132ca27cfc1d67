"""A slide's scale stated in the app, as QuPath's *Image › Set pixel size* does: for the open
slide (Image menu, or the prompt Auto-detect and masks show when the file states none) or for
the slides selected in the Project dock. What the user states is kept with the slide's
annotations (its autosave) and in the project's µm/px column, so every later action —
detection, masks, densities, *Export all*, *Detect all new slides* — uses it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
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

    shown = Signal()  # the open slide's scale changed: whatever displays it updates

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx

    def set_pixel_size_dialog(self) -> bool:
        """Image › Set pixel size…: state (or correct) the open slide's µm/px."""
        slide = self.ctx.slide
        if slide is None:
            self.ctx.status("Open a slide first", 4000)
            return False
        said = f"The file states {slide.metadata_mpp:g} µm/px." if slide.metadata_mpp else "The file does not state its scale."
        mpp = ask_mpp(self.ctx.host, "Set pixel size", f"{slide.path.name}: {said}", slide.mpp)
        if mpp is None:
            return False
        self.apply(mpp)
        return True

    def ensure_known(self) -> bool:
        """Before a run that needs the scale: asked of the user when the slide states none."""
        slide = self.ctx.slide
        if slide.mpp is not None:
            return True
        mpp = ask_mpp(self.ctx.host, "Set pixel size", f"{slide.path.name} does not state its scale.", None)
        if mpp is None:
            return False
        self.apply(mpp)
        return True

    def apply(self, mpp: float) -> None:
        """The open slide takes ``mpp``; kept with its annotations and told to the project."""
        ctx = self.ctx
        ctx.slide.mpp = mpp
        ctx.store.set_stated_mpp(mpp)  # autosaved with the slide's points
        self.shown.emit()
        ctx.view.viewport().update()  # the scale bar
        self.stated.emit(str(ctx.slide.path), float(mpp))
        ctx.status(f"{ctx.slide.path.name}: {mpp:g} µm/px", 5000)



class ProjectScales:
    """The µm/px of a project's slides: set for the selected rows, asked once before a project
    run for every slide that states none, and kept in step with what is stated for the open one."""

    def __init__(self, panel, scale: ScaleTools):
        self.panel = panel
        self.ctx = panel.ctx
        self.scale = scale

    def selected_entries(self) -> list:
        table, project = self.panel.table, self.panel.project
        rows = sorted({i.row() for i in table.selectedIndexes()})
        entries = [project.entry_for(table.item(r, 1).data(Qt.ItemDataRole.UserRole)) for r in rows if table.item(r, 1)]
        return [e for e in entries if e is not None]

    def set_for_selected(self) -> bool:
        """*Set µm/px…*: one scale for the selected slides (the open one if none is selected)."""
        if self.panel.project is None:
            return False
        entries = self.selected_entries() or [e for e in [self.panel.current_entry()] if e is not None]
        if not entries:
            self.ctx.status("Select the slides in the list first", 4000)
            return False
        mpp = ask_mpp(self.ctx.host, "Set pixel size", f"{len(entries)} slide(s): {_names(entries)}.", entries[0].mpp)
        if mpp is None:
            return False
        self.state(entries, mpp)
        return True

    def state(self, entries: list, mpp: float) -> None:
        current = self.panel.current_entry()
        for entry in entries:
            entry.mpp = mpp
            if entry is current:
                self.scale.apply(mpp)  # the open slide: also in its annotations, at once
        self.panel.save()
        self.panel.populate()

    def known(self, entries: list) -> bool:
        """Before a project run: every slide's µm/px known — read from the file where the list
        has none yet, else asked once for all that state none. False: the user cancelled."""
        from ..slides import open_slide

        unknown = []
        for entry in entries:
            if entry.mpp is None:
                try:
                    slide = open_slide(self.panel.project.absolute(entry))
                    entry.mpp = slide.metadata_mpp
                    slide.close()
                except Exception:  # unreadable: the run reports it for that slide
                    continue
                if entry.mpp is None:
                    unknown.append(entry)
        if not unknown:
            return True
        mpp = ask_mpp(self.ctx.host, "Set pixel size", f"{len(unknown)} slide(s) do not state their scale: {_names(unknown)}.", None)
        if mpp is None:
            return False
        self.state(unknown, mpp)
        return True

    def on_stated(self, path: str, mpp: float) -> None:
        """The open slide's scale was stated: its row, and its densities, follow."""
        from ..projects import refresh_entry

        project = self.panel.project
        entry = project.entry_for(path) if project is not None else None
        if entry is not None and entry.mpp != mpp:
            entry.mpp = mpp
            refresh_entry(project, entry, self.ctx.store)
            self.panel.save()
            self.panel.populate()


def _names(entries: list) -> str:
    return ", ".join(e.name for e in entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")


__all__ = ["ProjectScales", "ScaleTools", "ask_mpp"]
