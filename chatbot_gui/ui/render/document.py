"""Display documents for rendered Markdown blocks: Qt's rich text, with every resource refused."""

from __future__ import annotations

from chatbot_gui.ui.render.softbreak import has_long_run, soft_breaks

from typing import Any

from PySide6.QtGui import (
    QFont, QImage, QTextBlock, QTextBlockFormat, QTextCursor, QTextDocument, QTextListFormat, QTextOption,
)

from chatbot_gui.ui.render.markdown_html import HtmlBlock


class SafeDocument(QTextDocument):
    """A QTextDocument that never loads a resource: no image, no style sheet, nothing remote.

    Rendering emits no ``<img>`` at all; this is the second wall, should one ever get through. An
    empty answer is not enough: Qt's image handler then loads a local file by itself
    (qtextimagehandler.cpp falls back to ``QPixmap::load(name)``), so every request gets a 1x1
    transparent image.
    """

    def loadResource(self, type_: int, name: Any) -> Any:  # noqa: N802 (Qt's name)
        if type_ == QTextDocument.ResourceType.ImageResource:
            return _blank()
        return ""


_BLANK: list[QImage] = []


def _blank() -> QImage:
    if not _BLANK:
        image = QImage(1, 1, QImage.Format.Format_ARGB32)
        image.fill(0)
        _BLANK.append(image)
    return _BLANK[0]


def code_font(font: QFont) -> QFont:
    """The fixed-pitch font code is shown in, a little smaller than ``font``."""
    mono = QFont(font)
    mono.setFamilies(["DejaVu Sans Mono", "Menlo", "Consolas", "Liberation Mono", "monospace"])
    mono.setStyleHint(QFont.StyleHint.Monospace)
    mono.setFixedPitch(True)
    mono.setPointSizeF(max(4.0, font.pointSizeF() * 0.92))
    return mono


def block_document(block: HtmlBlock, font: QFont) -> SafeDocument:
    """A document showing one rendered block in ``font`` (code in fixed pitch)."""
    doc = SafeDocument()
    doc.setUndoRedoEnabled(False)
    doc.setDocumentMargin(0)
    doc.setDefaultFont(code_font(font) if block.kind == "code" else font)
    if block.kind == "code":
        # A code line longer than the panel wraps inside it (its HTML is ``white-space:pre-wrap``):
        # at a space where there is one, else anywhere. A long run without spaces (a base64 blob,
        # minified code) wraps anywhere at once: looking for word boundaries in it takes Qt time
        # that grows with the square of its length (100 KB: ~300 ms instead of ~30 ms). The
        # breaks are display-only: the document's text, Copy and selections keep the lines as sent.
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAnywhere if has_long_run(block.code)
                           else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        doc.setDefaultTextOption(option)
    doc.setHtml(block.html)
    return doc


def plain_document(text: str, font: QFont) -> SafeDocument:
    """A document showing ``text`` exactly as typed (user messages, reasoning)."""
    doc = SafeDocument()
    doc.setUndoRedoEnabled(False)
    doc.setDocumentMargin(0)
    doc.setDefaultFont(font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    doc.setDefaultTextOption(option)
    doc.setPlainText(soft_breaks(text))
    return doc


_BULLETS = frozenset((QTextListFormat.Style.ListDisc, QTextListFormat.Style.ListCircle,
                      QTextListFormat.Style.ListSquare))
_RULE = QTextBlockFormat.Property.BlockTrailingHorizontalRulerWidth


def document_text(doc: QTextDocument) -> str:
    """A rendered block as plain text that keeps what the eye reads from it (Copy): list markers
    and nesting ("1.", "  •"), a link's address after its words ("a link (https://…)"), a table's
    rows with their cells between tabs, a rule as a line. Without display-only zero-width spaces."""
    lines: list[str] = []
    tables: set[int] = set()
    block = doc.begin()
    while block.isValid():
        table = QTextCursor(block).currentTable()
        if table is not None:
            if table.firstPosition() not in tables:
                tables.add(table.firstPosition())
                lines += ["\t".join(_cell_text(table, r, c) for c in range(table.columns()))
                          for r in range(table.rows())]
        elif block.blockFormat().hasProperty(_RULE):
            lines.append("———")
        else:
            text, items = _linked_text(block), block.textList()
            if items is not None:
                fmt = items.format()
                style = fmt.style()
                marker = ("•" if style in _BULLETS else "" if style == QTextListFormat.Style.ListStyleUndefined
                          else items.itemText(block))
                if text.startswith(("☐", "☑")):
                    marker = ""  # a task's box is its marker
                text = "  " * max(0, fmt.indent() - 1) + (f"{marker} " if marker else "") + text
            lines.append(text)
        block = block.next()
    return "\n".join(lines).strip("\n").replace("\u200b", "")


def _linked_text(block: QTextBlock) -> str:
    parts = []
    it = block.begin()
    while not it.atEnd():
        fragment = it.fragment()
        text, href = fragment.text(), fragment.charFormat().anchorHref()
        parts.append(f"{text} ({href})" if href and href not in (text, f"mailto:{text}") else text)
        it += 1
    return "".join(parts).replace("\u2028", "\n")


def _cell_text(table: Any, row: int, column: int) -> str:
    cell = table.cellAt(row, column)
    cursor = cell.firstCursorPosition()
    cursor.setPosition(cell.lastCursorPosition().position(), QTextCursor.MoveMode.KeepAnchor)
    return " ".join(cursor.selectedText().replace("\u2029", " ").split())
