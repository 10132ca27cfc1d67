"""Import and export: GeoJSON in on a worker thread, GeoJSON and CSV out, file dialogs that
open where the user last was (per kind of file, not inside the slide's folder)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from ..annotations import write_geojson
from ..annotations.geojson_export import REVIEWED_CLASS
from ..annotations.csv_io import write_csv
from .classes import ClassTools
from .commands import ImportCommand
from .context import FeatureContext
from .export_dialog import ExportChoices
from .region_list import RegionList
from .review import ReviewRegions
from .workers import Worker


class FileActions(QObject):
    importFinished = Signal(bool)
    exportFinished = Signal(str, str)  # path, error ('' when written)
    _exportDone = Signal(str, str, int, int)  # from the export thread: path, error, revision, count

    def __init__(self, ctx: FeatureContext, open_slide: Callable[..., bool], regions: RegionList, review: ReviewRegions, classes: ClassTools):
        super().__init__(ctx)
        self.ctx = ctx
        self.open_slide = open_slide  # the window's: leaving the current slide is its business
        self.regions, self.review, self.classes = regions, review, classes
        self.runs = ctx.runs
        self.recent_menu = QMenu("Open &recent", ctx.host)  # File › Open recent
        self.last_import_ok = False
        self.last_summary = ""
        self._exportDone.connect(self._on_export_done)

    # -- where dialogs open ---------------------------------------------------------------
    def folder(self, kind: str) -> str:
        """The folder last used for this kind of file ('slides', 'geojson', 'csv'); the
        user's home the first time. Never inside the app's own files."""
        value = self.ctx.settings.value(f"last_dir/{kind}", "")
        return value if value and Path(value).is_dir() else str(Path.home())

    def remember(self, kind: str, path: str | Path) -> None:
        self.ctx.settings.setValue(f"last_dir/{kind}", str(Path(path).parent))

    def suggested(self, kind: str, suffix: str) -> str:
        slide = self.ctx.slide
        name = slide.path.with_suffix(suffix).name if slide else f"annotations{suffix}"
        return str(Path(self.folder(kind)) / name)

    # -- import ---------------------------------------------------------------------------
    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.ctx.host, "Import GeoJSON", self.folder("geojson"), "GeoJSON (*.geojson *.json *.geojson.gz)")
        if path:
            self.remember("geojson", path)
            self.import_geojson(path)

    def import_geojson(self, path, wait: bool = False) -> bool:
        """Parse ``path`` on a worker thread (a million nuclei take seconds), then add what it
        holds in one undoable step. With ``wait`` the call returns when it is done."""
        ctx = self.ctx
        if self.runs.busy:
            ctx.status("Wait for the current run to finish (or cancel it) before importing", 5000)
            return False
        token = self.runs.new_token(kind="import", path=Path(path))
        def work(report, cancel):
            from ..annotations.geojson import read_geojson

            return read_geojson(str(path), progress=report)  # 1,000,000 nuclei take seconds; the store is touched after

        from ..annotations import GeoJSONError

        worker = Worker(token, work, plain=(GeoJSONError,))
        worker.progress.connect(lambda t, n: self.runs.current(t) and ctx.panel.say(f"Reading {Path(path).name}: {n:,} features…"))
        self.runs.start(worker, self._on_imported, self._on_failed, f"Reading {Path(path).name}…")
        if wait:
            from PySide6.QtCore import QEventLoop

            loop = QEventLoop()
            self.importFinished.connect(loop.quit)
            loop.exec()
            self.importFinished.disconnect(loop.quit)
            return self.last_import_ok
        return True

    def _on_failed(self, token, message: str) -> None:
        if not self.runs.current(token):
            return
        self.runs.end("")
        self.last_import_ok = False
        self.ctx.error("Cannot import GeoJSON", f"{message}\n\nNothing was changed.")
        self.importFinished.emit(False)

    def _on_imported(self, token, parsed) -> None:
        if not self.runs.current(token):
            return
        from ..annotations import merge_parsed

        ctx = self.ctx
        path = self.runs.state["path"]
        self.runs.end("")
        self.last_import_ok = False
        if ctx.slide is not None and len(parsed) and not self._fits_slide(parsed, path):
            ctx.status(f"Import of {path.name} cancelled", 5000)
            self.importFinished.emit(False)
            return
        merged = merge_parsed(ctx.store, parsed)
        ctx.undo.push(ImportCommand(ctx.store, merged, f"Import {len(parsed):,} nuclei from {path.name}"))
        reviewed = [r for r in parsed.regions if r.cls == REVIEWED_CLASS]  # our own export's reviewed regions
        self.regions.add([r for r in parsed.regions if r.cls != REVIEWED_CLASS], path.name)
        if reviewed:
            self.review.add_imported([ext for r in reviewed for ext, _ in r.parts])
        self.classes.sync_from_store()
        self.last_summary = f"{path.name}: {parsed.summary()}" + (f"; {len(merged.updated):,} already here were updated" if len(merged.updated) else "")
        ctx.status(f"Imported {self.last_summary}", 10000)
        self.last_import_ok = True
        self.importFinished.emit(True)

    def _fits_slide(self, parsed, path: Path) -> bool:
        """Points far outside the slide mean another slide's file: ask before importing."""
        ctx = self.ctx
        w, h = ctx.slide.dimensions
        xs, ys = np.asarray(parsed.xs), np.asarray(parsed.ys)
        outside = int(((xs < -0.05 * w) | (ys < -0.05 * h) | (xs > 1.05 * w) | (ys > 1.05 * h)).sum())
        if outside == 0:
            return True
        text = (f"{outside:,} of {len(xs):,} nuclei in {path.name} lie outside {ctx.slide.path.name} ({w}×{h} px; the file reaches "
                f"x {xs.max():,.0f}, y {ys.max():,.0f}). It may belong to another slide.\n\nImport anyway?")
        if os.environ.get("WNET_NO_PROMPT"):
            ctx.error("Import outside the slide", text + "\n(Not imported: no one to ask.)")
            return False
        answer = QMessageBox.question(ctx.host, "Import outside the slide", text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # -- export ---------------------------------------------------------------------------
    def export_choices(self) -> dict | None:
        """Ask how the nuclei should appear in QuPath (the last answer preselected and
        remembered); None when the user cancels."""
        settings = self.ctx.settings
        if os.environ.get("WNET_NO_PROMPT"):  # a scripted run: the remembered choices, no one to ask
            return {"points_as": settings.value("export/points_as", "detections"), "masks_as": settings.value("export/masks_as", "cells"),
                    "split_sources": settings.value("export/split_sources", False, type=bool)}
        dialog = ExportChoices(self.ctx.host, settings.value("export/points_as", "detections"), settings.value("export/masks_as", "cells"),
                               settings.value("export/split_sources", False, type=bool))
        if not dialog.exec():
            return None
        choices = dialog.choices()
        for key, value in choices.items():
            settings.setValue(f"export/{key}", value)
        return choices

    def export_dialog(self) -> None:
        """File › Export GeoJSON for QuPath (Ctrl+E): the shapes, then the file."""
        choices = self.export_choices()
        if choices is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.ctx.host, "Export GeoJSON for QuPath", self.suggested("geojson", ".geojson"), "GeoJSON (*.geojson)")
        if path:
            self.remember("geojson", path)
            self.export_geojson(path, background=True, **choices)

    def export_tsv_dialog(self) -> None:
        """QuPath's Counting dialog → Load points reads this (x, y, class, name, colour)."""
        from ..annotations.qupath import write_counting_tsv

        self._export_file("tsv", "Export points for QuPath's Counting tool", ".tsv", "Tab-separated (*.tsv *.txt)", write_counting_tsv)

    def _export_file(self, kind: str, title: str, suffix: str, pattern: str, writer) -> None:
        """Ask where (starting in the last folder for ``kind``), then ``writer(store, path)``."""
        path, _ = QFileDialog.getSaveFileName(self.ctx.host, title, self.suggested(kind, suffix), pattern)
        if path:
            self.remember(kind, path)
            try:
                writer(self.ctx.store, path)
            except OSError as exc:
                self.ctx.error("Export failed", f"Cannot write {path}: {exc}")

    def export_geojson(self, path, points_as: str = "detections", masks_as: str = "cells", background: bool = False,
                       split_sources: bool = False) -> bool:
        """Write a copy of the annotations as GeoJSON. With ``background`` the copy (taken
        here in milliseconds) is serialised on a thread — 100,000 nuclei take seconds — and
        ``exportFinished`` reports the outcome; otherwise it returns whether it worked."""
        snapshot = self.ctx.store.snapshot()

        def write() -> str:
            try:
                write_geojson(snapshot, path, points_as=points_as, masks_as=masks_as, split_sources=split_sources)
                return ""
            except OSError as exc:
                return f"Cannot write {path}: {exc}"

        if background:
            self.ctx.status(f"Exporting {len(snapshot):,} nuclei to {Path(path).name}…")
            threading.Thread(target=lambda: self._exportDone.emit(str(path), write(), snapshot.revision, len(snapshot)),
                             daemon=True, name="export").start()
            return True
        error = write()
        self._on_export_done(str(path), error, snapshot.revision, len(snapshot))
        return not error

    def _on_export_done(self, path: str, error: str, revision: int, count: int) -> None:
        if error:
            self.ctx.error("Export failed", error)
        else:
            self.ctx.exported_revision = revision
            self.ctx.status(f"Exported {count:,} nuclei to {Path(path).name}", 5000)
        self.exportFinished.emit(path, error)

    def export_csv_dialog(self) -> None:
        self._export_file("csv", "Export CSV", ".csv", "CSV (*.csv)", write_csv)

    # -- recent slides (File › Open recent) ------------------------------------------------
    def add_recent(self, path: Path) -> None:
        settings = self.ctx.settings
        recent = [str(path)] + [p for p in (settings.value("recent", [], type=list) or []) if p != str(path)]
        settings.setValue("recent", recent[:10])
        self.refresh_recent()

    def refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.ctx.settings.value("recent", [], type=list) or []:
            self.recent_menu.addAction(p, lambda checked=False, p=p: self.open_slide(p))
