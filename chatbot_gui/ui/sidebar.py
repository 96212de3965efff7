"""The history sidebar: a "New chat" button, search over all chats, the chat list and an undo bar.

The list is one ``QListView`` over :class:`ChatListModel`, which reads the store a page at a time
(``canFetchMore`` / ``fetchMore``): 10,000 chats cost one 200-row query up front, not 10,000 widgets.
The sidebar never writes to the store; it reports what the user asked for through signals, and the
controller does the work and tells the sidebar what changed (:meth:`Sidebar.upsert_chat`,
:meth:`Sidebar.remove_chat`, :meth:`Sidebar.show_undo`).
"""

from __future__ import annotations

import bisect
import html
from typing import Any, Callable

from PySide6.QtCore import (
    QAbstractListModel, QDateTime, QEvent, QLocale, QModelIndex, QObject, QPersistentModelIndex, QPoint,
    Qt, QTimer, Signal,
)
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView, QFrame, QHBoxLayout, QLabel, QListView, QMenu, QPushButton, QVBoxLayout, QWidget,
)

from chatbot_gui.core.store import ChatStore, ChatSummary
from chatbot_gui.ui.search_panel import ChatIdRole, SearchPanel, display_title

__all__ = ["ChatIdRole", "ChatListModel", "Sidebar", "UndoBar"]

PAGE_SIZE = 200
UNDO_TIMEOUT_MS = 8000

_ModelIndex = QModelIndex | QPersistentModelIndex


def _order(summary: ChatSummary) -> tuple[float, int]:
    """Sort key matching ``ChatStore.list_chats`` (updated_at DESC, id DESC) as an ascending key."""
    return (-summary.updated_at, -summary.id)


class ChatListModel(QAbstractListModel):
    """Chats newest first, read from a :class:`ChatStore` in pages of ``page_size`` rows.

    Roles: DisplayRole (title, or "New chat"), EditRole (the raw title), ToolTipRole (title and last
    update, escaped rich text), :data:`ChatIdRole`.

    Signals:
        titleEdited(int chat_id, str title): the user renamed a chat inline (the row already shows it).
    """

    titleEdited = Signal(int, str)

    def __init__(self, store: ChatStore | None = None, page_size: int = PAGE_SIZE,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._page_size = page_size
        self._rows: list[ChatSummary] = []
        self._ids: set[int] = set()
        self._exhausted = True
        self.reload()

    def set_store(self, store: ChatStore | None) -> None:
        """Show another store's chats (None: an empty list)."""
        self._store = store
        self._rows, self._ids = [], set()
        self.reload()

    def reload(self) -> None:
        """Re-read the list from the store (as many rows as were loaded, at least one page)."""
        count = max(self._page_size, len(self._rows))
        rows = [] if self._store is None else self._store.list_chats(count)
        self.beginResetModel()
        self._rows, self._ids = rows, {s.id for s in rows}
        self._exhausted = len(rows) < count
        self.endResetModel()

    # --- lazy loading ------------------------------------------------------------------------

    def canFetchMore(self, parent: _ModelIndex = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _ModelIndex = QModelIndex()) -> None:  # noqa: B008 - Qt's signature
        if parent.isValid() or self._exhausted or self._store is None:
            return
        page = self._store.list_chats(self._page_size, offset=len(self._rows))
        self._exhausted = len(page) < self._page_size
        # Another app instance may have added chats meanwhile, shifting the offset: skip repeats.
        fresh = [s for s in page if s.id not in self._ids]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            self._ids.update(s.id for s in fresh)
            self.endInsertRows()

    # --- changes from the controller ---------------------------------------------------------

    def index_of(self, chat_id: int) -> QModelIndex:
        """The row of a loaded chat; an invalid index when it is not (yet) loaded."""
        if chat_id in self._ids:
            for row, summary in enumerate(self._rows):
                if summary.id == chat_id:
                    return self.index(row)
        return QModelIndex()

    def summary(self, row: int) -> ChatSummary:
        return self._rows[row]

    def upsert(self, summary: ChatSummary) -> None:
        """Show a new or changed chat at its place by last update (a chat that just changed: the top).

        Only the one row moves or is inserted; nothing is re-read. A chat that now sorts after every
        loaded row while more remain to fetch is left to :meth:`fetchMore`.
        """
        old = self.index_of(summary.id).row() if summary.id in self._ids else -1
        others = self._rows[:old] + self._rows[old + 1 :] if old >= 0 else self._rows
        new = bisect.bisect_left(others, _order(summary), key=_order)
        if new == len(others) and not self._exhausted:
            if old >= 0:
                self.remove(summary.id)
            return
        if old < 0:
            self.beginInsertRows(QModelIndex(), new, new)
            self._rows.insert(new, summary)
            self._ids.add(summary.id)
            self.endInsertRows()
            return
        if new != old:
            # destinationChild counts rows before the move: moving down lands before row new + 1.
            self.beginMoveRows(QModelIndex(), old, old, QModelIndex(), new if new < old else new + 1)
            del self._rows[old]
            self._rows.insert(new, summary)
            self.endMoveRows()
        self._rows[new] = summary
        self.dataChanged.emit(self.index(new), self.index(new))

    def remove(self, chat_id: int) -> None:
        """Drop a chat from the list (it was deleted)."""
        row = self.index_of(chat_id).row()
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self._ids.discard(chat_id)
            self.endRemoveRows()

    # --- Qt model interface ------------------------------------------------------------------

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        chat = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display_title(chat.title)
        if role == Qt.ItemDataRole.EditRole:
            return chat.title
        if role == Qt.ItemDataRole.ToolTipRole:
            when = QLocale().toString(QDateTime.fromMSecsSinceEpoch(int(chat.updated_at * 1000)),
                                      QLocale.FormatType.ShortFormat)
            # Tooltips guess "rich text" from the first tag they see: escape, so a title is only text.
            return f"<p>{html.escape(display_title(chat.title))}<br>Last updated {html.escape(when)}</p>"
        if role == ChatIdRole:
            return chat.id
        return None

    def setData(self, index: _ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """An inline rename: show it at once and report it through ``titleEdited``."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not isinstance(value, str):
            return False
        title, chat = value.strip(), self._rows[index.row()]
        if not title or title == chat.title:
            return False
        self._rows[index.row()] = ChatSummary(chat.id, title, chat.updated_at, chat.message_count)
        self.dataChanged.emit(index, index)
        self.titleEdited.emit(chat.id, title)
        return True

    def flags(self, index: _ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
                | Qt.ItemFlag.ItemNeverHasChildren)


class UndoBar(QFrame):
    """The "Chat deleted. [Undo]" bar at the bottom of the sidebar; it hides itself after a timeout."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # the text may quote a chat title
        self.undo_button = QPushButton("Undo")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 3, 3)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.undo_button)
        self._callback: Callable[[], object] | None = None
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.dismiss)
        self.undo_button.clicked.connect(self._undo)
        self.hide()

    def show_for(self, text: str, callback: Callable[[], object], timeout_ms: int) -> None:
        """Offer ``callback`` as Undo for ``timeout_ms``; replaces an offer already showing."""
        self._callback = callback
        self.label.setText(text)
        self._timer.start(timeout_ms)
        self.show()

    def dismiss(self) -> None:
        """Hide without undoing."""
        self._timer.stop()
        self._callback = None
        self.hide()

    def _undo(self) -> None:
        callback = self._callback
        self.dismiss()  # first: the callback may offer a new undo
        if callback is not None:
            callback()


class Sidebar(QWidget):
    """The history sidebar.

    Signals:
        chatActivated(int chat_id): the user opened a chat (click, Enter, double-click). Not emitted
            for the chat already open, nor by :meth:`select_chat`.
        newChatRequested(): the "New chat" button.
        renameRequested(int chat_id, str new_title): an inline rename (F2 or context menu "Rename").
        deleteRequested(int chat_id): the Delete key or context menu "Delete".
        searchResultActivated(int chat_id, int message_id, str query): a search hit was opened;
            ``message_id`` is -1 for a match in the chat title.
    """

    chatActivated = Signal(int)
    newChatRequested = Signal()
    renameRequested = Signal(int, str)
    deleteRequested = Signal(int)
    searchResultActivated = Signal(int, int, str)

    def __init__(self, store: ChatStore | None = None, page_size: int = PAGE_SIZE,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._active_id: int | None = None
        self.new_button = QPushButton("New chat")

        self.chat_model = ChatListModel(store, page_size, self)
        self.chat_list = QListView()
        self.chat_list.setModel(self.chat_model)
        self.chat_list.setUniformItemSizes(True)
        self.chat_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.chat_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # F2 / menu only
        self.chat_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.chat_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.chat_list.setAccessibleName("Chats")
        self.search = SearchPanel(self.chat_list, store)
        self.search_edit = self.search.search_edit
        self.undo_bar = UndoBar()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search, 1)
        layout.addWidget(self.undo_bar)

        self.new_button.clicked.connect(self._new_chat)
        self.chat_list.clicked.connect(self._chat_clicked)
        self.chat_list.activated.connect(self._chat_clicked)
        self.chat_list.customContextMenuRequested.connect(self._show_context_menu)
        self.chat_model.titleEdited.connect(self._title_edited)
        self.search.resultActivated.connect(self._result_activated)
        self.chat_list.installEventFilter(self)

    # --- public API --------------------------------------------------------------------------

    def set_store(self, store: ChatStore | None) -> None:
        """Show another store (None: nothing); an open search runs again against it."""
        self.undo_bar.dismiss()
        self.chat_model.set_store(store)
        self.select_chat(self._active_id)
        self.search.set_store(store)

    def select_chat(self, chat_id: int | None) -> None:
        """Highlight the open chat (None: none) without emitting ``chatActivated``.

        Loads further pages when the chat is not among the loaded rows yet.
        """
        self._active_id = chat_id
        index = QModelIndex() if chat_id is None else self.chat_model.index_of(chat_id)
        while chat_id is not None and not index.isValid() and self.chat_model.canFetchMore():
            self.chat_model.fetchMore()
            index = self.chat_model.index_of(chat_id)
        selection = self.chat_list.selectionModel()
        if index.isValid():
            selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
            self.chat_list.scrollTo(index)
        else:
            selection.clear()  # the current row too: Delete and F2 act on it

    def upsert_chat(self, summary: ChatSummary) -> None:
        """A chat was created or changed: move it to its place (the top, for a new message)."""
        self.chat_model.upsert(summary)

    def remove_chat(self, chat_id: int) -> None:
        """A chat was deleted: drop it from the list and from search results."""
        self.chat_model.remove(chat_id)
        self.search.results_model.remove_chat(chat_id)
        if chat_id == self._active_id:
            self._active_id = None

    def focus_search(self) -> None:
        """Put the cursor in the search field, its text selected (for Ctrl+Shift+F)."""
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def show_undo(self, text: str, callback: Callable[[], object], timeout_ms: int = UNDO_TIMEOUT_MS) -> None:
        """Show "text [Undo]" at the bottom; Undo calls ``callback``. Gone after ``timeout_ms``."""
        self.undo_bar.show_for(text, callback, timeout_ms)

    def hide_undo(self) -> None:
        """Withdraw the undo offer (the controller calls this when the user does something else)."""
        self.undo_bar.dismiss()

    def context_menu(self, index: QModelIndex) -> QMenu:
        """The Rename / Delete menu for a chat row (the caller shows it)."""
        menu = QMenu(self)
        chat_id = index.data(ChatIdRole)
        rename = menu.addAction("Rename", lambda: self._rename(chat_id))
        rename.setShortcut(QKeySequence(Qt.Key.Key_F2))
        delete = menu.addAction("Delete", lambda: self._delete(chat_id))
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        return menu

    # --- user actions ------------------------------------------------------------------------

    def _new_chat(self) -> None:
        self.hide_undo()
        self.newChatRequested.emit()

    def _chat_clicked(self, index: QModelIndex) -> None:
        chat_id = index.data(ChatIdRole)
        if chat_id is None or chat_id == self._active_id:
            return  # a double-click is a click, then an activation: open once
        self._active_id = chat_id
        self.hide_undo()
        self.chatActivated.emit(chat_id)

    def _title_edited(self, chat_id: int, title: str) -> None:
        self.hide_undo()
        self.renameRequested.emit(chat_id, title)

    def _rename(self, chat_id: int) -> None:
        index = self.chat_model.index_of(chat_id)
        if index.isValid():
            self.chat_list.setCurrentIndex(index)
            self.chat_list.edit(index)

    def _delete(self, chat_id: int | None) -> None:
        if chat_id is not None:
            self.hide_undo()
            self.deleteRequested.emit(chat_id)

    def _show_context_menu(self, pos: QPoint) -> None:
        index = self.chat_list.indexAt(pos)
        if index.isValid():
            menu = self.context_menu(index)
            menu.exec(self.chat_list.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The list's keys: Delete deletes, F2 renames inline (not while an editor is open)."""
        kind = event.type()
        if (watched is not self.chat_list or not isinstance(event, QKeyEvent)
                or kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)):
            return super().eventFilter(watched, event)
        current = self.chat_list.currentIndex()
        if not current.isValid() or self.chat_list.state() == QAbstractItemView.State.EditingState:
            return False
        if event.matches(QKeySequence.StandardKey.Delete):
            handler: Callable[[], None] = lambda: self._delete(current.data(ChatIdRole))  # noqa: E731
        elif event.key() == Qt.Key.Key_F2:
            handler = lambda: self.chat_list.edit(current)  # noqa: E731
        else:
            return False
        # ShortcutOverride: claim the key, so a window shortcut with the same key does not take it.
        if kind == QEvent.Type.KeyPress:
            handler()
        event.accept()
        return True

    def _result_activated(self, chat_id: int, message_id: int, query: str) -> None:
        self.hide_undo()
        self.select_chat(chat_id)  # highlighted in the list once the search is left
        self.searchResultActivated.emit(chat_id, message_id, query)
