"""ExportDialog: where File › Export all writes, at which figure size, in
which formats. The size chosen is also the right-click export's."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout)

from ..figures import DEFAULT_FIGURE, FIGURE_LABELS, FIGURE_SIZES, MAX_FIGURE, MIN_FIGURE, parse_size

LAST_DIR_KEY = "export/last_dir"      # shared with the plots' right-click export
SIZE_KEY = "export/figure_size"       # "16:9", "4:3", "square" or "WIDTHxHEIGHT"


def saved_figure_size(settings) -> tuple[int, int]:
    """The figure size last chosen (pixels), or the default's."""
    try:
        return parse_size(settings.value(SIZE_KEY, DEFAULT_FIGURE))
    except ValueError:
        return FIGURE_SIZES[DEFAULT_FIGURE]


def offscreen_copies(panels, frame, shown=None, dark: bool = False) -> list:
    """Fresh copies of ``panels`` at a fixed figure size, drawing ``frame``
    with the same choices (layer, unit, check boxes): figures do not depend
    on how the window's docks happen to be sized, tabbed or closed."""
    from ..figures import figure_panels
    panels = list(panels)
    inspection = next((p.inspection for p in panels if getattr(p, "inspection", None) is not None), None)
    return figure_panels(frame, inspection, like=panels, shown=shown, dark=dark)


class ExportDialog(QDialog):
    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export all")
        self.settings = settings
        start = str(settings.value(LAST_DIR_KEY, "") or Path(QDir.homePath()) / "bnviz-export")
        self.folder_edit = QLineEdit(start)
        self.folder_edit.setToolTip("The folder to write into (created if missing; files of the same "
                                    "name are replaced)")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the folder")
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.size_combo = QComboBox()
        for key, label in FIGURE_LABELS.items():
            self.size_combo.addItem(label, key)
        self.size_combo.addItem("Custom size", "custom")
        self.size_combo.setToolTip("Each figure's size in pixels, whatever the window's size: every "
                                   "plot is laid out alone at it, its title, axes and legend inside")
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin, what in ((self.width_spin, "Width"), (self.height_spin, "Height")):
            spin.setRange(MIN_FIGURE, MAX_FIGURE)
            spin.setSuffix(" px")
            spin.setToolTip(f"{what} of a custom figure, {MIN_FIGURE} to {MAX_FIGURE} pixels")
        saved = settings.value(SIZE_KEY, DEFAULT_FIGURE)
        width, height = saved_figure_size(settings)
        self.width_spin.setValue(width)
        self.height_spin.setValue(height)
        index = self.size_combo.findData(saved if saved in FIGURE_SIZES else "custom")
        self.size_combo.setCurrentIndex(max(index, 0))
        self.size_combo.currentIndexChanged.connect(self._on_size_chosen)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_combo, 1)
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        self.png_check = QCheckBox("PNG")
        self.png_check.setChecked(True)
        self.png_check.setToolTip("Raster figures, at the figure size above")
        self.svg_check = QCheckBox("SVG")
        self.svg_check.setChecked(True)
        self.svg_check.setToolTip("Vector figures, sharp at any size")
        self.units_check = QCheckBox("Per-unit CSV (data-units.csv; large for wide layers)")
        self.units_check.setChecked(settings.value("export/unit_csv", "false") in (True, "true"))
        self.units_check.setToolTip("Also write every unit's series (γ, β, batch and running "
                                    "statistics, percentiles) as CSV columns; data.npz always has them")
        self.dark_check = QCheckBox("Dark background, as on screen")
        self.dark_check.setToolTip("Figures in the window's dark colours; by default they are on "
                                   "white, for print and most slides")
        self.dark_check.setChecked(settings.value("export/dark", "false") in (True, "true"))
        formats = QHBoxLayout()
        formats.addWidget(self.png_check)
        formats.addWidget(self.svg_check)
        formats.addStretch(1)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Figure size", size_row)
        form.addRow("Figures", formats)
        form.addRow("", self.dark_check)
        form.addRow("Data", self.units_check)
        note = QLabel("Always written: the recorded data (data.csv with the scalar series, data.npz "
                      "with every array), the settings (TOML) and manifest.json; in compare mode, "
                      "every run's data and settings.")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.folder_edit.textChanged.connect(self._update)
        self._on_size_chosen()
        self._update()

    def figure_size(self) -> tuple[int, int]:
        return self.width_spin.value(), self.height_spin.value()

    def choice(self) -> tuple[Path, tuple[int, int], tuple[str, ...], bool]:
        """(folder, figure size in pixels, figure formats, whether to write the per-unit CSV)."""
        formats = tuple(f for f, box in (("png", self.png_check), ("svg", self.svg_check))
                        if box.isChecked())
        return (Path(self.folder_edit.text().strip()).expanduser(), self.figure_size(),
                formats, self.units_check.isChecked())

    def _on_size_chosen(self, *_args) -> None:
        key = self.size_combo.currentData()
        custom = key == "custom"
        if not custom:
            width, height = FIGURE_SIZES[key]
            self.width_spin.setValue(width)
            self.height_spin.setValue(height)
        for spin in (self.width_spin, self.height_spin):
            spin.setEnabled(custom)

    def accept(self) -> None:
        key = self.size_combo.currentData()
        width, height = self.figure_size()
        self.settings.setValue(SIZE_KEY, key if key != "custom" else f"{width}x{height}")
        self.settings.setValue("export/unit_csv", self.units_check.isChecked())
        self.settings.setValue("export/dark", self.dark_check.isChecked())
        super().accept()

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(bool(self.folder_edit.text().strip()))

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
