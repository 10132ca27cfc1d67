"""Export choices, named for what the user will see in QuPath."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel

POINTS = (("Detections (one per nucleus; best for whole slides)", "detections"),
          ("Points for counting (one Points annotation per class)", "annotations"))
MASKS = (("Cells, the mask as each cell's nucleus", "cells"), ("Detections (polygons)", "detections"))


class ExportChoices(QDialog):
    def __init__(self, parent=None, points_as: str = "detections", masks_as: str = "cells", split_sources: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Export for QuPath")
        self.setObjectName("exportChoices")
        form = QFormLayout(self)
        form.addRow(QLabel("How the nuclei appear in QuPath:"))
        self.points = QComboBox()
        for label, key in POINTS:
            self.points.addItem(label, key)
        self.points.setCurrentIndex(self.points.findData(points_as))
        self.split = QCheckBox("Model and manual points as separate Points annotations")
        self.masks = QComboBox()
        for label, key in MASKS:
            self.masks.addItem(label, key)
        self.masks.setCurrentIndex(self.masks.findData(masks_as))
        self.points.currentIndexChanged.connect(lambda: self.split.setEnabled(self.points.currentData() == "annotations"))
        self.split.setEnabled(points_as == "annotations")
        self.split.setChecked(bool(split_sources))
        form.addRow("Points without a mask", self.points)
        form.addRow("", self.split)
        form.addRow("Nuclei with a mask", self.masks)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choices(self) -> dict:
        return {"points_as": self.points.currentData(), "masks_as": self.masks.currentData(),
                "split_sources": self.split.isChecked() and self.points.currentData() == "annotations"}
