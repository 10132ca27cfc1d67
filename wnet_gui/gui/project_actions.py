"""Whole-project actions, each in the window's worker slot with progress and cancel: detect
every new slide, draw masks for every slide, export every slide (the Qt-free work is in
``projects/work.py``, shared with the CLI)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ..projects import Project, detect_pending, draw_masks, export_all
from .workers import Worker


class ProjectActions(QObject):
    def __init__(self, panel):
        super().__init__(panel)
        self.panel = panel
        self.ctx = panel.ctx

    @property
    def project(self) -> Project | None:
        return self.panel.project

    def _run(self, label: str, work, done) -> None:
        ctx = self.ctx
        if self.project is None or ctx.runs.busy:
            return
        token = ctx.runs.new_token(kind="project", label=label, done=done)
        worker = Worker(token, lambda report, cancel: work(lambda k, n, name: report((k, n, name)), cancel))
        worker.progress.connect(self._on_progress)
        # bound methods of this (GUI-thread) object: the results are queued to the GUI thread;
        # a plain function would run in the worker's thread and touch widgets from there
        ctx.runs.start(worker, self._on_worker_finished, self._on_worker_failed, label)

    def _on_worker_finished(self, token, result) -> None:
        ctx = self.ctx
        if not ctx.runs.current(token):
            return
        done = ctx.runs.state["done"]
        ctx.runs.end()
        self.panel.project = Project.open(self.project.file if self.project.file.exists() else self.project.folder)
        self.panel.populate()
        done(result)

    def _on_worker_failed(self, token, message: str) -> None:
        ctx = self.ctx
        if ctx.runs.current(token):
            label = ctx.runs.state["label"]
            ctx.runs.end()
            ctx.error(label, message)

    def report_failures(self, failures: list[tuple[str, str]]) -> None:
        """Slides a project action could not do, in the app's words (never a command-line flag)."""
        hint = ""
        if any("does not state its microns per pixel" in e for _, e in failures):
            hint = "\n\nState a slide's scale with Image › Set pixel size, or select slides in the Project list and press Set µm/px…"
        self.ctx.error("Some slides failed", "\n".join(f"{p}: {e}" for p, e in failures[:10])
                          + (f"\n… and {len(failures) - 10} more" if len(failures) > 10 else "") + hint)

    def _on_progress(self, token, progress: tuple[int, int, str]) -> None:
        k, n, name = progress
        if not self.ctx.runs.current(token):
            return
        panel = self.ctx.panel
        panel.show_progress(k, n)
        panel.say(f"{k}/{n} slides" + (f": {name}" if name else ""))

    def detect_all(self) -> None:
        """Detect every new slide with the current model; the open slide is detected in the
        app itself (its annotations are live here), the others in the worker."""
        ctx = self.ctx
        card = ctx.panel.current_card()
        if card is None or self.project is None:
            return
        self.panel.remember_view()
        project = self.project
        current = ctx.slide.path if ctx.slide is not None else None
        if not self.panel.scales.known([e for e in project.slides if e.state == "new" and not project.missing(e)]):
            return
        from ..engine.detect import DetectOptions

        options = DetectOptions(device=ctx.panel.device(), sensitivity=ctx.panel.sensitivity_for(card), tta=ctx.panel.flip_averaging())

        def work(progress, cancel):
            return detect_pending(project, card, options, progress, cancel, skip={current} if current else None)

        def done(failures):
            text = f"Detected the new slides with {card.title}"
            if failures:
                self.report_failures(failures)
                text += f"; {len(failures)} failed"
            ctx.panel.say(text)
            entry = project.entry_for(current) if current else None
            if entry is not None and entry.state == "new":
                self.panel.detection.start(whole_slide=True)  # like the others: the whole slide (the Region choice stays the user's)

        self._run("Detecting the project's new slides…", work, done)

    def masks_all(self) -> None:
        """NuClick masks for every slide's points; the open slide's in the app itself afterwards
        (its annotations are live here), the others in the worker."""
        ctx = self.ctx
        if self.project is None:
            return
        self.panel.remember_view()
        project = self.project
        current = ctx.slide.path if ctx.slide is not None else None
        device = ctx.panel.device()

        def work(progress, cancel):
            return draw_masks(project, device=device, progress=progress, cancel=cancel, skip={current} if current else None)

        def done(failures):
            if failures:
                self.report_failures(failures)
            ctx.panel.say("Masks drawn for the project's slides")
            if current is not None and len(ctx.store):
                self.panel.masks.start("all")

        self._run("Drawing masks for every slide…", work, done)

    def export_dialog(self) -> None:
        """*Export all…*: the same choices as a single slide's export, then the folder."""
        choices = self.panel.files.export_choices()
        if choices is None:
            return
        folder = QFileDialog.getExistingDirectory(self.ctx.host, "Export all slides to a folder", self.panel.files.folder("exports"))
        if folder:
            self.panel.files.remember("exports", Path(folder) / "x")
            self.export_all(folder, **choices)

    def export_all(self, folder: str | Path, points_as: str = "detections", masks_as: str = "cells", split_sources: bool = False) -> None:
        self.panel.autosave(wait=True)  # the open slide's latest edits are in its autosave
        project = self.project

        def work(progress, cancel):
            return export_all(project, folder, points_as, masks_as, progress, cancel, split_sources=split_sources)

        def done(result):
            self.ctx.panel.say(f"Exported {result.written} slides; summary {result.summary.name}")
            self.ctx.status(f"Exported the project to {folder}", 8000)
            if result.failures:
                self.report_failures(result.failures)

        self._run("Exporting every slide…", work, done)

