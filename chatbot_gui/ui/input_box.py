"""The input pane: multi-line plain text where Enter sends and Shift+Enter starts a new line.

Signals:
    submitted(): the user pressed Enter (not while an input method is composing).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QInputMethodEvent, QKeyEvent, QTextOption
from PySide6.QtWidgets import QPlainTextEdit, QWidget

#: Qt's word-boundary wrapping takes time quadratic in the length of a run with no break
#: opportunity (a 1 MB one-line paste took 47 s). Such pastes switch the box to wrap anywhere.
_LONG_RUN = re.compile(r"\S{2000,}")


class ChatInput(QPlainTextEdit):
    """Plain text only (a paste of HTML or rich text arrives as text), fine with a 1 MB paste."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Type a message. Enter sends, Shift+Enter adds a line.")
        self.setTabChangesFocus(True)
        self._composing = False
        self.textChanged.connect(self._restore_wrap_when_empty)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 - Qt override
        if source.hasText() and _LONG_RUN.search(source.text()):
            self.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        super().insertFromMimeData(source)

    def _restore_wrap_when_empty(self) -> None:
        if self.wordWrapMode() != QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere and self.document().isEmpty():
            self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:  # noqa: N802 - Qt override
        # While an input method (Chinese, Japanese, Korean…) shows pre-edit text, Enter belongs to it.
        self._composing = bool(event.preeditString())
        super().inputMethodEvent(event)

    @property
    def composing(self) -> bool:
        return self._composing

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers()
            if self._composing:
                event.accept()  # the input method owns this Enter (it commits the pre-edit text)
                return
            if mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier):
                self.textCursor().insertText("\n")
                self.ensureCursorVisible()
                return
            event.accept()
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def take_text(self) -> str:
        """The text to send, or "" when it is empty or only whitespace (then nothing is cleared)."""
        text = self.toPlainText()
        if not text.strip():
            return ""
        self.clear()
        return text
