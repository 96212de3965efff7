"""The input pane: multi-line plain text where Enter sends and Shift+Enter starts a new line.

Signals:
    submitted(): the user pressed Enter (not while an input method is composing).
"""

from __future__ import annotations

import re

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QWidget

if TYPE_CHECKING:  # QTextOption and these load when first used, not on the start-up path
    from PySide6.QtCore import QMimeData
    from PySide6.QtGui import QColor, QInputMethodEvent, QKeyEvent

#: Qt's word-boundary wrapping takes time quadratic in the length of a run with no break
#: opportunity (a 1 MB one-line paste took 47 s). Such pastes switch the box to wrap anywhere.
_LONG_RUN = re.compile(r"\S{2000,}")

#: The empty box's hint, and what it says when that does not fit on one line (narrow, zoomed in).
HINT = "Type a message. Enter sends, Shift+Enter adds a line."
SHORT_HINT = "Type a message"


class ChatInput(QPlainTextEdit):
    """Plain text only (a paste of HTML or rich text arrives as text), fine with a 1 MB paste."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(HINT)
        self.setTabChangesFocus(True)
        self._composing = False
        self.textChanged.connect(self._restore_wrap_when_empty)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document().documentLayout().documentSizeChanged.connect(self._text_resized)

    def _lines(self) -> int:
        # A plain-text document's layout measures its height in (wrapped) lines.
        return int(self.document().documentLayout().documentSize().height())

    def _fit_hint(self) -> None:
        """The placeholder on one line: the whole hint when it fits, else a short one. (A narrow or
        zoomed-in box showed the hint's first line and the top of its second; growing the empty
        box for it would make the box jump back on the first letter typed.)"""
        from PySide6.QtGui import QFontMetrics

        room = self.contentsRect().width() - 2 * int(self.document().documentMargin()) - 4
        if room <= 0:
            return
        fm = QFontMetrics(self.font())
        hint = HINT if fm.horizontalAdvance(HINT) <= room else fm.elidedText(
            SHORT_HINT, Qt.TextElideMode.ElideRight, room)
        if hint != self.placeholderText():
            self.setPlaceholderText(hint)

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().resizeEvent(event)
        self._fit_hint()

    def changeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:  # zoom
            self._fit_hint()

    def _text_resized(self) -> None:
        """Grow or shrink with the text; past :data:`MAX_INPUT_LINES` it scrolls."""
        scroll = self._lines() > MAX_INPUT_LINES
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if scroll
                                        else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """As tall as its text (wrapped lines), from one line up to :data:`MAX_INPUT_LINES`."""
        lines = min(max(self._lines(), 1), MAX_INPUT_LINES)
        margins = self.contentsMargins()
        doc_margin = 2 * int(self.document().documentMargin())
        height = lines * self.fontMetrics().lineSpacing() + doc_margin + 2 + margins.top() + margins.bottom()
        return QSize(super().sizeHint().width(), height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(super().minimumSizeHint().width(), self.sizeHint().height())

    def focusInEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().focusInEvent(event)
        if self.parentWidget() is not None:
            self.parentWidget().update()  # the composer's border shows focus

    def focusOutEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().focusOutEvent(event)
        if self.parentWidget() is not None:
            self.parentWidget().update()

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 - Qt override
        if source.hasText() and _LONG_RUN.search(source.text()):
            from PySide6.QtGui import QTextOption

            self.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        super().insertFromMimeData(source)

    def _restore_wrap_when_empty(self) -> None:
        from PySide6.QtGui import QTextOption

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


#: The input grows with its text from one line up to this many, then scrolls.
MAX_INPUT_LINES = 12


class Composer(QWidget):
    """The message box as chat apps draw it: a rounded field in the reading column's width, below the
    messages, holding the input (which grows with its text) and, at its bottom right, Stop and Send.

    Painted by hand (a rounded rectangle in the palette's colours), so it follows the light/dark
    palette without a style sheet."""

    def __init__(self, text: ChatInput, buttons: list[QWidget], parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QFrame, QHBoxLayout, QVBoxLayout

        super().__init__(parent)
        self.input = text
        text.setFrameShape(QFrame.Shape.NoFrame)
        # The field's own background is the composer's (painted below), not a white box inside it:
        # its viewport fills with a transparent Base. (Not ``text.viewport()``: the first Python call
        # to that Qt-made widget resolves its class through QWidget's subclasses, ~8 ms at start-up.)
        palette = text.palette()
        palette.setColor(QPalette.ColorRole.Base, Qt.GlobalColor.transparent)
        text.setPalette(palette)
        text.setAutoFillBackground(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        for button in buttons:
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 10, 8)
        layout.setSpacing(4)
        layout.addWidget(text)
        layout.addLayout(row)

    def mousePressEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        """A click on the box's padding or beside Stop/Send puts the cursor in the text, as a click
        on any part of a text field does (the letters typed next would otherwise go elsewhere)."""
        if event.button() == Qt.MouseButton.LeftButton:
            self.input.setFocus(Qt.FocusReason.MouseFocusReason)
            event.accept()
            return
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        from PySide6.QtCore import QRectF
        from PySide6.QtGui import QPainter, QPalette, QPen

        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        focused = self.input.hasFocus()
        base = pal.color(QPalette.ColorRole.Base)
        if focused:  # WCAG 1.4.11: a focus indicator has 3:1 against the colours beside it
            border = _standing_out(pal.color(QPalette.ColorRole.Highlight), pal.color(QPalette.ColorRole.Text),
                                   (base, pal.color(QPalette.ColorRole.Window)))
            width = 2.0
        else:  # a quiet outline that shows on light and dark backgrounds alike
            border = pal.color(QPalette.ColorRole.Text)
            border.setAlphaF(0.28)
            width = 1.0
        painter.setPen(QPen(border, width))
        painter.setBrush(base)
        # On the pixel grid (a line centred on a pixel edge would smear into two pale pixels).
        inset = 1.0 if width == 2.0 else 1.5
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(inset, inset, -inset, -inset), 14, 14)




def _standing_out(color: QColor, toward: QColor, beside: tuple[QColor, ...], ratio: float = 3.0) -> QColor:
    """``color``, mixed toward ``toward`` (the text colour) until it has ``ratio`` against each of
    ``beside``: a dark theme's highlight is often too dim on a dark field."""
    from PySide6.QtGui import QColor

    from chatbot_gui.ui.theme import contrast_ratio

    out = QColor(color)
    for step in range(11):
        t = step / 10
        out = QColor.fromRgbF(color.redF() + (toward.redF() - color.redF()) * t,
                              color.greenF() + (toward.greenF() - color.greenF()) * t,
                              color.blueF() + (toward.blueF() - color.blueF()) * t)
        if all(contrast_ratio(out, other) >= ratio for other in beside):
            break
    return out
