"""The side panel: model and device choice, region, run controls, counts, display."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QSlider, QVBoxLayout, QWidget)

from ..models.card import ModelCard

REGIONS = (("Current view", "view"), ("Drawn region", "roi"), ("Whole slide", "slide"))


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
        self.model_combo.setMinimumContentsLength(14)  # long names elide instead of widening the panel
        add_model = QPushButton("Add model file…")
        add_model.clicked.connect(self.addModelRequested)
        self.device_combo = QComboBox()
        self.device_combo.addItem("Auto", "auto")
        self.device_combo.addItem("CPU", "cpu")  # accelerators join once torch has looked (add_devices)
        self.region_combo = QComboBox()
        for label, key in REGIONS:
            self.region_combo.addItem(label, key)
        self.sensitivity = QDoubleSpinBox()
        self.sensitivity.setObjectName("sensitivity")
        self.sensitivity.setRange(-8.0, 8.0)
        self.sensitivity.setSingleStep(0.5)
        self.sensitivity.setDecimals(1)
        self.sensitivity.setToolTip("How readily faint nuclei are called (two-stage models; the model's own setting when chosen). "
                                    "Raise it (1–2) when a new lab's or scanner's nuclei are missed; lower it when "
                                    "too much is called. Adapting the model sets it from your reviewed regions.")
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Model", self.model_combo)
        form.addRow("", add_model)
        form.addRow("Device", self.device_combo)
        form.addRow("Region", self.region_combo)
        form.addRow("Sensitivity", self.sensitivity)
        self.flips = QCheckBox("Average over flips (about 4× slower)")
        self.flips.setObjectName("flipAveraging")
        self.flips.setToolTip("Test-time augmentation: the model sees each tile in four flips and averages its maps. "
                              "About +1 point of F1 on a lab it never saw (CoNSeP), none on familiar ones (BENCHMARKS.md).")
        form.addRow("", self.flips)
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
        self.progress_label.setWordWrap(True)  # long status lines wrap instead of pushing buttons off the edge
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
        grid = QGridLayout(count_box)
        self.total_label, self.view_label, self.manual_label, self.mask_label = QLabel("0"), QLabel("0"), QLabel("0"), QLabel("0")
        self.selected_label = QLabel("0")
        for i, (name, label) in enumerate((("Total", self.total_label), ("In view", self.view_label), ("Manual", self.manual_label),
                                           ("Selected", self.selected_label), ("With mask", self.mask_label))):
            grid.addWidget(QLabel(name), i // 2, 2 * (i % 2))
            grid.addWidget(label, i // 2, 2 * (i % 2) + 1)
        self.region_label = QLabel("—")
        self.region_label.setObjectName("regionCount")
        self.region_label.setWordWrap(True)
        self.region_label.setToolTip("Nuclei inside the drawn region (R), their density per mm² and the region's area")
        grid.addWidget(QLabel("In region"), 3, 0)
        grid.addWidget(self.region_label, 3, 1, 1, 3)
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
        self.mask_opacity = self._slider(0, 100, 20, "Mask fill opacity (%): outlines stay; a clear fill shows the chromatin")
        self.brightness = self._slider(-100, 100, 0, "Brightness (display only)")
        self.contrast = self._slider(25, 300, 100, "Contrast in % (display only)")
        self.gamma = self._slider(30, 300, 100, "Gamma × 100 (display only; above 100 brightens the midtones)")
        reset = QPushButton("Reset image")
        reset.setToolTip("Brightness, contrast and gamma back to the slide as scanned")
        reset.clicked.connect(self.reset_image)
        display_form.addRow("Point size", self.size_slider)
        display_form.addRow(self.show_points, self.show_masks)
        display_form.addRow("Mask fill", self.mask_opacity)
        display_form.addRow(self.model_color_button, self.manual_color_button)
        self.image_button = QPushButton("Brightness && contrast…")
        self.image_button.setToolTip("Brightness, contrast and gamma of the display (View › Brightness & contrast, Shift+C)")
        display_form.addRow("Image", self.image_button)
        layout.addWidget(display_box)
        # the image controls live in their own small window (as in QuPath), so the panel fits
        self.image_controls = QWidget()
        image_form = QFormLayout(self.image_controls)
        image_form.addRow("Brightness", self.brightness)
        image_form.addRow("Contrast", self.contrast)
        image_form.addRow("Gamma", self.gamma)
        image_form.addRow("", reset)
        layout.addStretch(1)
        self._paint_color_buttons()

    def _slider(self, low: int, high: int, value: int, tip: str) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(low, high)
        slider.setValue(value)
        slider.setToolTip(tip)
        slider.valueChanged.connect(self.styleChanged)
        return slider

    def reset_image(self) -> None:
        for slider, value in ((self.brightness, 0), (self.contrast, 100), (self.gamma, 100)):
            slider.setValue(value)

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

    def add_devices(self, devices: list[str]) -> None:
        """The accelerators torch found (CUDA, MPS), after the window is up."""
        for dev in devices:
            if self.device_combo.findData(dev) < 0:
                self.device_combo.addItem(dev.upper(), dev)

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

    def device(self) -> str:
        """The device chosen for runs: auto, cpu, cuda or mps."""
        return str(self.device_combo.currentData())

    def say(self, text: str) -> None:
        """The progress line under the bar: what a run is doing, or how it ended."""
        self.progress_label.setText(text)

    def show_progress(self, done: int, total: int) -> None:
        """The bar at ``done`` of ``total`` (the value last: a slot on it may cancel the run)."""
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)

    def flip_averaging(self) -> bool:
        """Whether runs average the model's maps over four flips (``DetectOptions.tta``)."""
        return self.flips.isChecked()

    def sensitivity_for(self, card: ModelCard) -> float | None:
        """The Sensitivity box's value for a run of ``card`` (None: a one-stage model has none)."""
        return self.sensitivity.value() if card.architecture.two_stage else None

    def set_running(self, running: bool) -> None:
        self.detect_button.setEnabled(not running)
        self.masks_all.setEnabled(not running)
        self.masks_view.setEnabled(not running)
        self.masks_selected.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
