"""The side panel: model and device choice, region, run controls, counts, display."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSlider, QVBoxLayout, QWidget)

from ..engine.device import available_devices
from ..models.card import ModelCard

REGIONS = (("Current view", "view"), ("Region of interest", "roi"), ("Whole slide", "slide"))


def card_summary(card: ModelCard) -> str:
    """'Fast — F1 0.78 @3 µm, 9.1 Mpx/s' from the card's measured numbers."""
    parts = []
    f1 = card.metrics.get("monuseg_test", {}).get("r=3um", {}).get("f1")
    if f1 is not None:
        parts.append(f"F1 {f1:.2f} @3 µm")
    speed = card.throughput.get("mpx40_per_s")
    if speed is not None:
        parts.append(f"{speed:g} Mpx/s CPU")
    return f"{card.title}" + (f" — {', '.join(parts)}" if parts else "")


class SidePanel(QWidget):
    detectRequested = Signal()
    cancelRequested = Signal()
    masksRequested = Signal(str)  # 'all', 'view' or 'selected'
    addModelRequested = Signal()
    styleChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)

        model_box = QGroupBox("Detection model")
        form = QFormLayout(model_box)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelCombo")
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        add_model = QPushButton("Add model file…")
        add_model.clicked.connect(self.addModelRequested)
        self.device_combo = QComboBox()
        self.device_combo.addItem("Auto", "auto")
        for dev in available_devices():
            self.device_combo.addItem(dev.upper(), dev)
        self.region_combo = QComboBox()
        for label, key in REGIONS:
            self.region_combo.addItem(label, key)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Model", self.model_combo)
        form.addRow("", add_model)
        form.addRow("Device", self.device_combo)
        form.addRow("Region", self.region_combo)
        form.addRow(self.model_info)
        layout.addWidget(model_box)

        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        self.detect_button = QPushButton("Auto-detect nuclei")
        self.detect_button.setObjectName("detectButton")
        self.detect_button.setToolTip("Find nucleus centres with the chosen model (Ctrl+D)")
        self.detect_button.clicked.connect(self.detectRequested)
        masks_row = QHBoxLayout()
        self.masks_all = QPushButton("Draw masks: all")
        self.masks_view = QPushButton("in view")
        self.masks_selected = QPushButton("selected")
        self.masks_selected.setToolTip("Masks for the points chosen with the Select tool (S)")
        for button, scope in ((self.masks_all, "all"), (self.masks_view, "view"), (self.masks_selected, "selected")):
            button.clicked.connect(lambda checked=False, scope=scope: self.masksRequested.emit(scope))
            masks_row.addWidget(button)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        run_layout.addWidget(self.detect_button)
        run_layout.addLayout(masks_row)
        run_layout.addWidget(self.progress)
        run_layout.addWidget(self.progress_label)
        run_layout.addWidget(self.cancel_button)
        layout.addWidget(run_box)

        count_box = QGroupBox("Nuclei")
        count_form = QFormLayout(count_box)
        self.total_label, self.view_label, self.manual_label, self.mask_label = QLabel("0"), QLabel("0"), QLabel("0"), QLabel("0")
        count_form.addRow("Total", self.total_label)
        count_form.addRow("In view", self.view_label)
        count_form.addRow("Manual", self.manual_label)
        count_form.addRow("With mask", self.mask_label)
        self.selected_label = QLabel("0")
        count_form.addRow("Selected", self.selected_label)
        layout.addWidget(count_box)

        display_box = QGroupBox("Display")
        display_form = QFormLayout(display_box)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(2, 20)
        self.size_slider.setValue(7)
        self.size_slider.valueChanged.connect(self.styleChanged)
        self.show_points = QCheckBox("Points")
        self.show_points.setChecked(True)
        self.show_masks = QCheckBox("Masks")
        self.show_masks.setChecked(True)
        self.show_points.toggled.connect(self.styleChanged)
        self.show_masks.toggled.connect(self.styleChanged)
        self.model_color_button = QPushButton("Model colour")
        self.manual_color_button = QPushButton("Manual colour")
        self.model_color = QColor(255, 220, 0)
        self.manual_color = QColor(0, 230, 255)
        self.model_color_button.clicked.connect(lambda: self._pick("model_color"))
        self.manual_color_button.clicked.connect(lambda: self._pick("manual_color"))
        display_form.addRow("Point size", self.size_slider)
        display_form.addRow(self.show_points, self.show_masks)
        display_form.addRow(self.model_color_button, self.manual_color_button)
        layout.addWidget(display_box)
        layout.addStretch(1)
        self._paint_color_buttons()

    def _pick(self, attr: str) -> None:
        color = QColorDialog.getColor(getattr(self, attr), self)
        if color.isValid():
            setattr(self, attr, color)
            self._paint_color_buttons()
            self.styleChanged.emit()

    def _paint_color_buttons(self) -> None:
        for button, color in ((self.model_color_button, self.model_color), (self.manual_color_button, self.manual_color)):
            text = "black" if color.lightness() > 128 else "white"
            button.setStyleSheet(f"background-color: {color.name()}; color: {text};")

    def set_cards(self, cards: list[ModelCard], current: str | None = None) -> None:
        self.model_combo.clear()
        for card in cards:
            self.model_combo.addItem(card_summary(card), card)
        if current:
            for i in range(self.model_combo.count()):
                if self.model_combo.itemData(i).name == current:
                    self.model_combo.setCurrentIndex(i)

    def current_card(self) -> ModelCard | None:
        return self.model_combo.currentData()

    def set_running(self, running: bool) -> None:
        self.detect_button.setEnabled(not running)
        self.masks_all.setEnabled(not running)
        self.masks_view.setEnabled(not running)
        self.masks_selected.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
