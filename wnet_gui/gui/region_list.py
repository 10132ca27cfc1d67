"""Regions imported from QuPath (tumour outlines, Gleason areas…): offered in the Region
picker, so Auto-detect can run inside one, and drawn when chosen."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QPolygonF

PREFIX = "region:"


class RegionList(QObject):
    picked = Signal()  # a region was chosen and is shown as the drawn one

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.regions: list = []  # ParsedRegion
        ctx.panel.region_combo.currentIndexChanged.connect(self._picked)

    def add(self, regions: list, source: str) -> None:
        combo = self.ctx.panel.region_combo
        for region in regions:
            self.regions.append(region)
            combo.addItem(f"Region: {region.label} ({source})", f"{PREFIX}{len(self.regions) - 1}")

    def clear(self) -> None:
        combo = self.ctx.panel.region_combo
        for i in range(combo.count() - 1, -1, -1):
            if str(combo.itemData(i)).startswith(PREFIX):
                combo.removeItem(i)
        self.regions.clear()

    def outline(self, key: str) -> QPolygonF | None:
        """The region's largest part as an outline (detection runs inside it)."""
        region = self.regions[int(key[len(PREFIX):])]
        from ..geometry import polygon_area

        exterior = max((ext for ext, _ in region.parts), key=polygon_area)
        return QPolygonF([QPointF(float(x), float(y)) for x, y in exterior])

    def _picked(self) -> None:
        key = str(self.ctx.panel.region_combo.currentData())
        if key.startswith(PREFIX):
            view = self.ctx.view
            view.roi = self.outline(key)  # shown, without making the picker jump to "Drawn region"
            view.viewport().update()
            self.picked.emit()
