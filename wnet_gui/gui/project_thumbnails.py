"""The Project list's thumbnails (and the sizes and µm/px the files state), read on a thread
as the list is shown and set on their rows in place — a study of hundreds of slides opens at once."""

from __future__ import annotations

import queue
import threading

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QIcon, QImage, QPixmap

THUMB = 32  # px: the icon beside a slide's name


def size_text(width: int | None, height: int | None) -> str:
    """'512×512', '98k×74k': a whole slide's size readable in a narrow column (it was elided to '100…000')."""
    if not width:
        return ""
    short = lambda n: f"{n / 1000:.0f}k" if n >= 10000 else str(n)  # noqa: E731
    return f"{short(width)}×{short(height)}"


class ProjectThumbnails(QObject):
    def __init__(self, panel):
        super().__init__(panel)
        self.panel = panel
        self.icons: dict[str, QIcon] = {}
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._timer = QTimer(self, interval=50)
        self._timer.timeout.connect(self._take)

    def start(self) -> None:
        project = self.panel.project
        todo = [(e.path, project.absolute(e)) for e in project.slides if e.path not in self.icons and not project.missing(e)]
        if not todo:
            return
        self._stop = threading.Event()
        stop, out = self._stop, self._queue

        def work() -> None:
            from ..slides import open_slide

            for key, path in todo:
                if stop.is_set():
                    return
                try:
                    slide = open_slide(path)
                    try:
                        out.put((key, slide.get_thumbnail(THUMB * 2), slide.dimensions, slide.mpp))
                    finally:
                        slide.close()
                except Exception:  # an unreadable slide simply has no thumbnail
                    out.put((key, None, None, None))

        self._thread = threading.Thread(target=work, daemon=True, name="project-thumbnails")
        self._thread.start()
        self._timer.start()

    def _take(self) -> None:
        """Thumbnails (and sizes) that arrived: set on their rows in place, not a refill."""
        panel, table = self.panel, self.panel.table
        arrived = []
        while True:
            try:
                arrived.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if arrived and panel.project is not None:
            project = panel.project
            rows = {table.item(r, 1).data(Qt.ItemDataRole.UserRole): r for r in range(table.rowCount()) if table.item(r, 1)}
            sorting = table.isSortingEnabled()
            table.setSortingEnabled(False)  # a sorted table would move rows under our feet
            for key, rgb, dims, mpp in arrived:
                entry = next((e for e in project.slides if e.path == key), None)
                if entry is None:
                    continue
                if dims is not None and entry.width is None:
                    entry.width, entry.height = dims
                    entry.mpp = entry.mpp or mpp
                row = rows.get(str(project.absolute(entry)))
                if rgb is not None:
                    rgb = np.ascontiguousarray(rgb)
                    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format.Format_RGB888).copy()
                    self.icons[key] = QIcon(QPixmap.fromImage(image))
                    if row is not None:
                        table.item(row, 1).setIcon(self.icons[key])
                if row is not None and entry.width:
                    table.item(row, 2).setText(size_text(entry.width, entry.height))
                    table.item(row, 2).key = entry.width * entry.height
                    table.item(row, 3).setText(f"{entry.mpp:.3f}" if entry.mpp else "")
                    table.item(row, 3).key = entry.mpp or 0.0
            table.setSortingEnabled(sorting)
        if self._thread is None or not self._thread.is_alive():
            if self._queue.empty():
                self._timer.stop()
                if arrived and panel.project is not None:
                    panel.save()

    def stop(self) -> None:
        self._stop.set()
        self._timer.stop()
