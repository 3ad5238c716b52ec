"""ExportDialog: where File › Export all writes, at which scale, in which formats."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout)

LAST_DIR_KEY = "export/last_dir"      # shared with the plots' right-click export
SCALE_KEY = "export/scale"
SCALES = (1.0, 2.0, 3.0, 4.0)


def offscreen_copies(panels, frame, shown=None) -> list:
    """Fresh copies of ``panels`` at a fixed figure size, drawing ``frame``
    with the same choices (layer, unit, check boxes): figures do not depend
    on how the window's docks happen to be sized, tabbed or closed."""
    from ..headless import build_panels
    panels = list(panels)
    inspection = next((p.inspection for p in panels if getattr(p, "inspection", None) is not None), None)
    return build_panels(frame, inspection, like=panels, shown=shown)


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
        self.scale_combo = QComboBox()
        for s in SCALES:
            self.scale_combo.addItem(f"{s:g}× ({int(900 * s)} × {int(600 * s)} pixels)", s)
        saved = float(settings.value(SCALE_KEY, 2.0))
        self.scale_combo.setCurrentIndex(SCALES.index(saved) if saved in SCALES else 1)
        self.scale_combo.setToolTip("Resolution of the PNG figures (2× suits slides and print)")
        self.png_check = QCheckBox("PNG")
        self.png_check.setChecked(True)
        self.png_check.setToolTip("Raster figures, at the scale above")
        self.svg_check = QCheckBox("SVG")
        self.svg_check.setChecked(True)
        self.svg_check.setToolTip("Vector figures, sharp at any size")
        self.units_check = QCheckBox("Per-unit CSV (data-units.csv; large for wide layers)")
        self.units_check.setChecked(settings.value("export/unit_csv", "false") in (True, "true"))
        self.units_check.setToolTip("Also write every unit's series (γ, β, batch and running "
                                    "statistics, percentiles) as CSV columns; data.npz always has them")
        formats = QHBoxLayout()
        formats.addWidget(self.png_check)
        formats.addWidget(self.svg_check)
        formats.addStretch(1)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Figure scale", self.scale_combo)
        form.addRow("Figures", formats)
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
        self._update()

    def choice(self) -> tuple[Path, float, tuple[str, ...], bool]:
        """(folder, scale, figure formats, whether to write the per-unit CSV)."""
        formats = tuple(f for f, box in (("png", self.png_check), ("svg", self.svg_check))
                        if box.isChecked())
        return (Path(self.folder_edit.text().strip()).expanduser(), self.scale_combo.currentData(),
                formats, self.units_check.isChecked())

    def accept(self) -> None:
        self.settings.setValue(SCALE_KEY, self.scale_combo.currentData())
        self.settings.setValue("export/unit_csv", self.units_check.isChecked())
        super().accept()

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(bool(self.folder_edit.text().strip()))

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
