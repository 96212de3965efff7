"""Search over all chats for the history sidebar: the search field, its results and "No matches".

:class:`SearchPanel` shows a search field above a stack: the widget it was given (the chat list)
while the field is empty, the results of the query otherwise.

Chat text is never interpreted as HTML. The delegate paints titles and snippets with
``QPainter.drawText`` (plain text, match marks drawn in bold), and the only rich text built from chat
text, the tooltip, is escaped with :func:`html.escape` segment by segment first.
"""

from __future__ import annotations

import html
import sqlite3
from typing import Any, Callable, Sequence

from PySide6.QtCore import (
    QAbstractListModel, QEvent, QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt, QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QLabel, QLineEdit, QListView, QStackedWidget, QStyle,
    QStyledItemDelegate, QStyleOptionViewItem, QVBoxLayout, QWidget,
)

from chatbot_gui.core.store import MARK_END, MARK_START, ChatStore, SearchHit

ChatIdRole = Qt.ItemDataRole.UserRole + 1
#: The message id of a search hit, or -1 for a match in the chat title.
MessageIdRole = Qt.ItemDataRole.UserRole + 2
#: The whole :class:`SearchHit`.
HitRole = Qt.ItemDataRole.UserRole + 3

NEW_CHAT_TITLE = "New chat"
SEARCH_DELAY_MS = 150

_ModelIndex = QModelIndex | QPersistentModelIndex


def display_title(title: str) -> str:
    """A title as one line of the list: whitespace collapsed, "New chat" when empty."""
    return " ".join(title.split()) or NEW_CHAT_TITLE


def snippet_segments(snippet: str) -> list[tuple[str, bool]]:
    """Split a store snippet into ``(text, is_match)`` pieces at its MARK_START / MARK_END marks."""
    segments: list[tuple[str, bool]] = []
    rest = snippet
    while rest:
        start = rest.find(MARK_START)
        if start < 0:
            segments.append((rest, False))
            break
        if start:
            segments.append((rest[:start], False))
        end = rest.find(MARK_END, start + 1)
        if end < 0:  # an unclosed mark: the rest is the match
            end = len(rest)
        if end > start + 1:
            segments.append((rest[start + 1 : end], True))
        rest = rest[end + 1 :]
    return segments


def plain_snippet(snippet: str) -> str:
    """The snippet without its match marks."""
    return "".join(text for text, _ in snippet_segments(snippet))


def hit_tooltip(hit: SearchHit) -> str:
    """Rich-text tooltip: the title in bold, then the snippet with matches in bold, all chat text escaped."""
    body = "".join(f"<b>{html.escape(text)}</b>" if match else html.escape(text)
                   for text, match in snippet_segments(hit.snippet))
    return f"<p><b>{html.escape(display_title(hit.title))}</b><br>{body}</p>"


class SearchResultsModel(QAbstractListModel):
    """The hits of one search, in the store's order (best first)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []

    def set_hits(self, hits: Sequence[SearchHit]) -> None:
        """Replace the results."""
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def remove_chat(self, chat_id: int) -> None:
        """Drop every hit in a chat (it was deleted)."""
        for row in reversed(range(len(self._hits))):
            if self._hits[row].chat_id == chat_id:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._hits[row]
                self.endRemoveRows()

    def hit(self, row: int) -> SearchHit:
        return self._hits[row]

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{display_title(hit.title)}: {plain_snippet(hit.snippet)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return hit_tooltip(hit)
        if role == ChatIdRole:
            return hit.chat_id
        if role == MessageIdRole:
            return -1 if hit.message_id is None else hit.message_id
        if role == HitRole:
            return hit
        return None

    def flags(self, index: _ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


def fit_snippet(segments: list[tuple[str, bool]], metrics: dict[bool, QFontMetrics],
                room: int) -> list[tuple[str, bool]]:
    """The snippet's pieces as they fit on one line ``room`` pixels wide (``metrics[is_match]``).

    The first match stays in sight: when the words before it would push it out of a narrow
    sidebar, they are cut from the left ("…the end before it" + match), then the line is cut at
    its right end."""
    pieces = list(segments)
    if len(pieces) > 1 and not pieces[0][1] and pieces[1][1]:
        lead, match = metrics[False].horizontalAdvance(pieces[0][0]), metrics[True].horizontalAdvance(pieces[1][0])
        if lead + match > room:
            keep = max(0, (room - match) // 2)
            pieces[0] = (metrics[False].elidedText(pieces[0][0], Qt.TextElideMode.ElideLeft, keep), False)
    shown, x = [], 0
    for text, match in pieces:
        if room - x <= 0:
            break
        fm = metrics[match]
        width = fm.horizontalAdvance(text)
        if width > room - x:
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, room - x)
            width = fm.horizontalAdvance(text)
        shown.append((text, match))
        x += width
    return shown


class SearchHitDelegate(QStyledItemDelegate):
    """Two lines per hit: the chat title in bold, then the snippet with the matched words in bold.

    Painted as plain text: a title like ``<b>x</b>`` shows exactly those characters.
    """

    MARGIN = 6

    def sizeHint(self, option: QStyleOptionViewItem, index: _ModelIndex) -> QSize:
        line = QFontMetrics(self._bold(option.font)).height()
        return QSize(max(option.rect.width(), 100), 2 * line + self.MARGIN)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _ModelIndex) -> None:
        hit = index.data(HitRole)
        if not isinstance(hit, SearchHit):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the style draws background, selection and focus only; the text comes below
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect = opt.rect.adjusted(self.MARGIN, self.MARGIN // 2, -self.MARGIN, -(self.MARGIN // 2))
        regular, bold = QFont(opt.font), self._bold(opt.font)
        metrics = {False: QFontMetrics(regular), True: QFontMetrics(bold)}
        line = metrics[True].height()
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine

        painter.save()
        painter.setPen(opt.palette.color(role))
        painter.setFont(bold)
        title = metrics[True].elidedText(display_title(hit.title), Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), line), flags, title)
        x, y = rect.left(), rect.top() + line
        for text, match in fit_snippet(snippet_segments(hit.snippet), metrics, rect.width()):
            width = metrics[match].horizontalAdvance(text)
            painter.setFont(bold if match else regular)
            painter.drawText(QRect(x, y, width, line), flags, text)
            x += width
        painter.restore()

    @staticmethod
    def _bold(font: QFont) -> QFont:
        bold = QFont(font)
        bold.setBold(True)
        return bold


class SearchPanel(QWidget):
    """A search field over a stack: ``idle`` (the chat list) while it is empty, else the results.

    Typing searches after a ~150 ms pause; Escape clears the field and returns to ``idle``; Down moves
    into the results, Enter opens the selected (or first) one.

    Signals:
        resultActivated(int chat_id, int message_id, str query): a hit was opened (click or Enter);
            ``message_id`` is -1 for a match in the chat title.
    """

    resultActivated = Signal(int, int, str)

    def __init__(self, idle: QWidget, store: ChatStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._query = ""
        self.idle = idle
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search all chats (Ctrl+Shift+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search all chats")
        self.results_model = SearchResultsModel(self)
        self.results_view = QListView()
        self.results_view.setModel(self.results_model)
        self.results_view.setItemDelegate(SearchHitDelegate(self.results_view))
        self.results_view.setUniformItemSizes(True)
        self.results_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results_view.setAccessibleName("Search results")
        self.no_matches = QLabel("No matches")
        self.no_matches.setTextFormat(Qt.TextFormat.PlainText)
        self.no_matches.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.no_matches.setWordWrap(True)
        self.pages = QStackedWidget()
        for page in (idle, self.results_view, self.no_matches):
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.pages, 1)

        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run)
        self.search_edit.textChanged.connect(self._text_changed)
        self.search_edit.returnPressed.connect(self._activate_current)
        self.results_view.clicked.connect(self._activate)
        self.results_view.activated.connect(self._activate)
        self.search_edit.installEventFilter(self)
        self.results_view.installEventFilter(self)

    def set_store(self, store: ChatStore | None) -> None:
        """Search another store; a query showing runs again."""
        self._store = store
        if self.search_edit.text().strip():
            self.run()

    def is_searching(self) -> bool:
        """True while results (or "No matches") replace the idle widget."""
        return self.pages.currentWidget() is not self.idle

    def run(self) -> None:
        """Search for the field's text now (the debounce timer calls this)."""
        self._timer.stop()
        query = self.search_edit.text().strip()
        if not query:
            self._show_idle()
            return
        # On the GUI thread: FTS5 answers in milliseconds, and a sqlite3 connection belongs to one thread.
        try:
            hits = [] if self._store is None else self._store.search(query)
        except sqlite3.Error as exc:
            hits, message = [], f"Search failed: {exc}"
        else:
            message = "No matches"
        self._query = query
        self.results_model.set_hits(hits)
        self.no_matches.setText(message)
        self.pages.setCurrentWidget(self.results_view if hits else self.no_matches)

    def leave(self) -> None:
        """Clear the field and show the idle widget, focused."""
        self.search_edit.clear()  # textChanged shows the idle page at once
        self._show_idle()
        self.idle.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Escape (field or results), Down and Enter (field)."""
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        handler: Callable[[], None] | None = None
        if event.key() == Qt.Key.Key_Escape and (self.search_edit.text() or self.is_searching()):
            handler = self.leave
        elif watched is self.search_edit and event.key() == Qt.Key.Key_Down and self.results_model.rowCount():
            handler = self._focus_results
        if handler is None:
            return False
        # ShortcutOverride: claim the key, or a window shortcut (Esc = Stop the reply) would take it.
        if kind == QEvent.Type.KeyPress:
            handler()
        event.accept()
        return True

    def _text_changed(self, text: str) -> None:
        if text.strip():
            self._timer.start()
        else:
            self._timer.stop()
            self._show_idle()

    def _show_idle(self) -> None:
        self._query = ""
        self.results_model.set_hits([])
        self.pages.setCurrentWidget(self.idle)

    def _focus_results(self) -> None:
        self.results_view.setFocus(Qt.FocusReason.OtherFocusReason)
        if not self.results_view.currentIndex().isValid():
            self.results_view.setCurrentIndex(self.results_model.index(0))

    def _activate_current(self) -> None:
        if self._timer.isActive():
            self.run()  # Enter right after typing: search now rather than open a stale hit
        if self.results_model.rowCount():
            current = self.results_view.currentIndex()
            self._activate(current if current.isValid() else self.results_model.index(0))

    def _activate(self, index: QModelIndex) -> None:
        if index.isValid():
            self.resultActivated.emit(index.data(ChatIdRole), index.data(MessageIdRole), self._query)
