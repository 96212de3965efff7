"""Help > About: the version, the licences, and where settings, chats and logs are kept.

The third-party notices are the file build.spec generated into the bundle
(``chatbot_gui/THIRD-PARTY-NOTICES.txt``); a checkout has none, so they are generated from the
installed metadata (chatbot_gui/core/notices.py). Either way they load on the task runner and are
shown in a read-only viewer.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatbot_gui import APP_NAME


@dataclass(frozen=True)
class AboutInfo:
    """What About shows (plain values, so a test can read them back from the labels)."""

    version: str
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @classmethod
    def current(cls, paths) -> "AboutInfo":  # noqa: ANN001 - an AppPaths
        from chatbot_gui import __version__
        from chatbot_gui.core import logs

        setup = logs.installed()
        return cls(__version__, paths.config_dir, paths.data_dir,
                   setup.directory if setup is not None else logs.default_log_dir())


def load_notices() -> str:
    """The bundled notices file, else notices generated from this environment's metadata."""
    from importlib.resources import files

    from chatbot_gui.core import notices

    bundled = files("chatbot_gui") / notices.NOTICES_FILE
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    root = notices.source_checkout_root()
    return notices.generate(standard_texts=root / "resources" / "licenses" if root else None,
                            app_licence=root / "LICENSE" if root else None)


def _folder_link(folder: Path, shown: Path | None = None) -> str:
    """A link that opens ``folder`` in the file manager, showing ``shown`` (a file in it) or the folder."""
    url = QUrl.fromLocalFile(str(folder)).toString()
    return f'<a href="{html.escape(url)}">{html.escape(str(shown or folder))}</a>'


class AboutDialog(QDialog):
    def __init__(self, info: AboutInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.info = info
        import PySide6

        heading = QLabel(f"<h2>{APP_NAME} {html.escape(info.version)}</h2>"
                         "<p>A desktop chat client for OpenAI's Chat Completions API and "
                         "OpenAI-compatible servers.</p>"
                         f"<p>Python {sys.version.split()[0]}, Qt {qVersion()} (PySide6 {PySide6.__version__})</p>"
                         "<p>Free software under the MIT licence. It bundles Qt and PySide6 under the "
                         "LGPL-3.0 and other open-source software under their own licences.</p>")
        heading.setWordWrap(True)
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        self.places = QFormLayout()
        self.place_labels: dict[str, QLabel] = {}
        for key, title, value in (
            ("settings", "Settings and personas:", _folder_link(info.config_dir)),
            ("chats", "Chats:", _folder_link(info.data_dir, info.data_dir / "chats.sqlite3")),
            ("logs", "Log files:", _folder_link(info.log_dir)),
            ("key", "API key:", "only in the OS keyring (service <i>chatbot-gui</i>)"),
        ):
            label = QLabel(value)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setOpenExternalLinks(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            self.place_labels[key] = label
            self.places.addRow(title, label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.licences_button = QPushButton("Third-party licences…")
        buttons.addButton(self.licences_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.licences_button.clicked.connect(self.show_licences)
        self.notices_view: NoticesView | None = None

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(self.places)
        layout.addWidget(buttons)

    def show_licences(self) -> None:
        if self.notices_view is None:
            self.notices_view = NoticesView(self)
        _show_or_raise(self.notices_view)


class NoticesView(QDialog):
    """The third-party notices, read-only; the text loads on the task runner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{APP_NAME}: third-party licences")
        self.resize(760, 600)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText("Loading…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.loaded = False
        from chatbot_gui.ui.tasks import runner

        self.task = runner().run(load_notices, self._show_text, self._show_error, name="third-party notices")
        self.destroyed.connect(lambda: self.task.cancel())

    def _show_text(self, text: str) -> None:
        self.text.setPlainText(text)
        self.loaded = True

    def _show_error(self, exc: BaseException) -> None:
        self.text.setPlainText(f"The notices could not be read: {type(exc).__name__}: {exc}")
        self.loaded = True


def show_about(parent: QWidget, paths) -> AboutDialog:  # noqa: ANN001 - an AppPaths
    """Open About (non-modal; one at a time per window)."""
    dialog = getattr(parent, "_about_dialog", None)
    if dialog is None:
        dialog = AboutDialog(AboutInfo.current(paths), parent)
        parent._about_dialog = dialog  # type: ignore[attr-defined]
    _show_or_raise(dialog)
    return dialog


def _show_or_raise(dialog: QDialog) -> None:
    if dialog.isVisible():
        dialog.raise_()  # already open, maybe behind the main window
        dialog.activateWindow()
    else:
        dialog.show()
