"""Settings > Appearance: light, dark or the desktop's scheme; where the text size is set."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from chatbot_gui.ui.theme import MODE_LABELS, MODES


class AppearancePage(QWidget):
    """The theme choice (applied when the dialog is accepted) and a note on zooming."""

    def __init__(self, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme_combo = QComboBox(objectName="themeCombo")
        for value in MODES:
            self.theme_combo.addItem(MODE_LABELS[value], value)
        self.theme_combo.setCurrentIndex(MODES.index(mode) if mode in MODES else 0)
        self.theme_combo.setAccessibleName("Appearance")
        self.theme_combo.setAccessibleDescription("Light, dark, or follow the desktop's light or dark scheme")
        label = QLabel("&Appearance:")
        label.setBuddy(self.theme_combo)
        zoom = QLabel("Text size: Ctrl+= (or Ctrl++) larger, Ctrl+- smaller, Ctrl+0 default "
                      "(View menu); it is remembered.", objectName="zoomNote", wordWrap=True)
        form = QFormLayout()
        form.addRow(label, self.theme_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(zoom)
        layout.addStretch(1)

    def mode(self) -> str:
        """The choice shown: "system", "light" or "dark"."""
        return str(self.theme_combo.currentData())
