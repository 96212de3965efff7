"""The history sidebar: a "New chat" button, search over all chats, the chat list and an undo bar.

The list is one ``QListView`` over :class:`ChatListModel`, which has every chat's row from the start
(``rowCount()`` is ``ChatStore.count_chats()``) and reads titles a page at a time, only for rows that
are shown, through a small page cache: 10,000 chats cost a count and a 200-row query or two up front,
and scrolling never changes the row count (no layout of every row again as pages come in).
The sidebar never writes to the store; it reports what the user asked for through signals, and the
controller does the work and tells the sidebar what changed (:meth:`Sidebar.upsert_chat`,
:meth:`Sidebar.remove_chat`, :meth:`Sidebar.show_undo`).
"""

from __future__ import annotations

import html
from bisect import bisect_right
from collections import OrderedDict
from datetime import datetime
from typing import Any, Callable, Mapping

from PySide6.QtCore import (
    QDateTime, QEvent, QItemSelectionModel, QLocale, QModelIndex, QObject, QPersistentModelIndex, QPoint, QStringListModel, Qt,
    QTimer, Signal,
)
from PySide6.QtGui import QFont, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QBoxLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QListView, QMenu,
    QPushButton, QSizePolicy, QStyledItemDelegate, QVBoxLayout, QWidget,
)

from chatbot_gui.core.dates import date_groups
from chatbot_gui.core.store import ChatStore, ChatSummary
from chatbot_gui.ui.search_panel import ChatIdRole, SearchPanel, display_title

__all__ = ["ChatIdRole", "ChatListModel", "Sidebar", "UndoBar"]

PAGE_SIZE = 200
CACHE_PAGES = 8  #: pages of rows kept (least recently used goes first), besides pages the view points into
UNDO_TIMEOUT_MS = 8000

_ModelIndex = QModelIndex | QPersistentModelIndex
_DISPLAY, _EDIT, _TOOLTIP = (int(r) for r in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole,
                                              Qt.ItemDataRole.ToolTipRole))
#: "streaming", "unread" (a reply finished while another chat was shown) or "failed" (it failed
#: meanwhile), else None.
MarkRole = int(Qt.ItemDataRole.UserRole) + 7
_DECORATION, _FONT = int(Qt.ItemDataRole.DecorationRole), int(Qt.ItemDataRole.FontRole)
_ROLES = frozenset((_DISPLAY, _EDIT, _TOOLTIP, int(ChatIdRole), MarkRole, _DECORATION, _FONT))
_MARK_COLORS = {"streaming": "#1a5fb4", "unread": "#26a269", "failed": "#c01c28"}
_MARK_WORDS = {"streaming": "A reply is coming in.", "unread": "A new reply you have not seen.",
               "failed": "The reply failed; open the chat to retry."}
_icons: dict[str, Any] = {}


def _mark_icon(mark: str) -> Any:
    """A small coloured dot (made on first use: no painting at start-up)."""
    if mark not in _icons:
        from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

        icon = QIcon()
        for scale in (1, 2, 3):  # sharp at 200 % and 300 % scaling, not a 12-pixel dot blown up
            pixmap = QPixmap(12 * scale, 12 * scale)
            pixmap.setDevicePixelRatio(scale)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(QColor(_MARK_COLORS[mark]))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(2, 2, 8, 8)
            painter.end()
            icon.addPixmap(pixmap)
        _icons[mark] = icon
    return _icons[mark]
#: The chat list's date groups ("Today", "Yesterday", ...): header rows, neither selectable nor chats.
Clock = Callable[[], datetime]
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_HEADER_ROLES = frozenset((_DISPLAY, _FONT, _FOREGROUND))


def _order(summary: ChatSummary) -> tuple[float, int]:
    """Sort key matching ``ChatStore.list_chats`` (updated_at DESC, id DESC) as an ascending key."""
    return (-summary.updated_at, -summary.id)


class ChatListModel(QStringListModel):
    """Chats newest first, as :meth:`ChatStore.list_chats` orders them, all rows from the start.

    ``rowCount()`` is the store's chat count; ``data()`` reads rows through an LRU cache of
    ``page_size``-row pages, loaded with ``list_chats(page_size, offset)`` when a row is first shown.
    Pages the view's persistent indexes (current row, selection, editor) point into are never dropped,
    so the model always knows which chat those rows are when the order changes.

    Why a ``QStringListModel`` (a ``QAbstractListModel``): for its C++ ``rowCount()``. Its string list
    holds one empty placeholder a row, only for the count (the text comes from :meth:`data`); its
    ``insertRows`` / ``removeRows`` / ``moveRows`` / ``setStringList`` emit the row signals. ``QListView``
    lays out every row again after any change (even ``dataChanged`` on one row), asking ``rowCount()``
    twice a row: a Python ``rowCount()`` made that ~25 ms at 10,000 chats, the C++ one ~2 ms.

    The controller reports each change it writes (:meth:`upsert`, :meth:`remove`) and the model emits
    the matching row signals. Another app instance's writes to the same file show after
    :meth:`reload` (until then a row may show a neighbour's title, or nothing past the end).

    Roles: DisplayRole (title, or "New chat"), EditRole (the raw title), ToolTipRole (title and last
    update, escaped rich text), :data:`ChatIdRole`.

    Given a ``clock`` (a ``datetime.now``-like callable), the chats are grouped by their last update
    ("Today", "Yesterday", "Previous 7 days", "Previous 30 days", then months, as ChatGPT does): a
    group's header is a row of its own (DisplayRole its label, bold, no ChatIdRole, not selectable),
    placed from a handful of indexed COUNT queries (``ChatStore.count_chats_since``), never by reading
    every chat. Row numbers are view rows (headers included); pages are read by chat position.

    Signals:
        titleEdited(int chat_id, str title): the user renamed a chat inline (the row already shows it).
    """

    titleEdited = Signal(int, str)

    def __init__(self, store: ChatStore | None = None, page_size: int = PAGE_SIZE,
                 parent: QObject | None = None, cache_pages: int = CACHE_PAGES,
                 clock: Clock | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._clock = clock
        self._groups: list[tuple[str, int]] = []  # (label, first chat position) of each non-empty group
        self._firsts: list[int] = []  # the groups' first chat positions
        self._header_rows: list[int] = []  # the groups' header rows
        self._today = 0.0  # the "Today" group's start when the groups were placed
        self._page_size = max(1, page_size)
        self._cache_pages = max(1, cache_pages)
        self._count = 0
        self._pages: OrderedDict[int, list[ChatSummary]] = OrderedDict()  # page number -> rows
        self._rows_by_id: dict[int, int] = {}  # chat id -> row, for the cached pages
        self._titles: dict[int, str] = {}  # inline renames the store may not have yet
        self._marks: dict[int, str] = {}  # chat id -> "streaming" / "unread" / "failed"
        self.reload()

    def set_marks(self, streaming: set[int], unseen: Mapping[int, str]) -> None:
        """Mark the chats with a reply coming in, and those whose reply ended unseen ("unread", or
        "failed" when it failed meanwhile)."""
        marks = {**unseen, **{i: "streaming" for i in streaming}}
        changed = {i for i in marks.keys() | self._marks.keys() if marks.get(i) != self._marks.get(i)}
        self._marks = marks
        for chat_id in changed:
            position = self._rows_by_id.get(chat_id)
            if position is not None:
                index = self.index(self._view_row(position), 0)
                self.dataChanged.emit(index, index)

    def mark_of(self, chat_id: int) -> str | None:
        return self._marks.get(chat_id)

    def has_store(self) -> bool:
        """Whether the list shows a history (its rows are all the chats there are)."""
        return self._store is not None

    def set_store(self, store: ChatStore | None) -> None:
        """Show another store's chats (None: an empty list)."""
        self._store = store
        self._titles.clear()
        self.reload()

    def reload(self) -> None:
        """Re-read the list from the store: its count now, rows again as they are shown."""
        self._titles.clear()
        self._drop_cache()
        self._count = 0 if self._store is None else self._store.count_chats()
        self._set_groups(self._place_groups())
        self.setStringList([""] * (self._count + len(self._groups)))  # a model reset

    # --- date groups -------------------------------------------------------------------------

    def _place_groups(self) -> list[tuple[str, int]]:
        """The non-empty date groups with their first chat positions (none without a clock)."""
        if self._clock is None or self._store is None or not self._count:
            return []
        now = self._clock()
        groups = date_groups(now)
        self._today = groups[0].start
        counts, oldest = self._store.count_chats_since([g.start for g in groups])
        if oldest is not None and oldest < groups[-1].start:
            groups = date_groups(now, oldest)
            counts, _ = self._store.count_chats_since([g.start for g in groups])
        counts[-1] = self._count  # the oldest group takes anything older still
        placed, before = [], 0
        for group, upto in zip(groups, counts):
            if upto > before:
                placed.append((group.label, before))
                before = upto
        return placed

    def _set_groups(self, groups: list[tuple[str, int]]) -> None:
        self._groups = groups
        self._firsts = [first for _, first in groups]
        self._header_rows = [first + i for i, (_, first) in enumerate(groups)]

    def _position(self, row: int) -> int | None:
        """The chat position (list_chats offset) shown at view ``row``; None for a header row."""
        if not self._header_rows:
            return row
        group = bisect_right(self._header_rows, row) - 1
        if group >= 0 and self._header_rows[group] == row:
            return None
        return row - group - 1

    def _view_row(self, position: int) -> int:
        """The view row that shows the chat at ``position``."""
        return position + bisect_right(self._firsts, position) if self._firsts else position

    def header_labels(self) -> list[str]:
        """The date groups' labels shown, top to bottom (tests, accessibility)."""
        return [label for label, _ in self._groups]

    def refresh_dates(self) -> bool:
        """Re-place the groups when the day has changed since they were placed ("Today" became
        "Yesterday"); True when the list was read again. Cheap: call it from a timer."""
        if self._clock is None or not self._groups:
            return False
        if date_groups(self._clock())[0].start == self._today:
            return False
        self.reload()
        return True

    def _regroup_keeps_rows(self) -> bool:
        """Place the groups for the store as it is now; False (the caller reloads) when the set of
        groups shown changed. With the same groups, one chat's insert, move or removal is one row's."""
        if self._clock is None:
            return True
        new = self._place_groups()
        if [label for label, _ in new] != [label for label, _ in self._groups]:
            return False
        self._set_groups(new)
        return True

    # --- the page cache ----------------------------------------------------------------------

    def _drop_cache(self) -> None:
        self._pages.clear()
        self._rows_by_id.clear()

    def _chat(self, row: int) -> ChatSummary | None:
        """The chat at view ``row`` (None past the end, or a header), loading its page if need be."""
        position = self._position(row) if row >= 0 else None
        return None if position is None else self._chat_at(position)

    def _chat_at(self, position: int) -> ChatSummary | None:
        """The chat at ``position`` in list_chats order, loading its page if it is not cached."""
        if not 0 <= position < self._count:
            return None
        number, offset = divmod(position, self._page_size)
        page = self._pages.get(number)
        if page is None:
            page = self._load(number)
        else:
            self._pages.move_to_end(number)
        return page[offset] if offset < len(page) else None

    def _load(self, number: int) -> list[ChatSummary]:
        first = number * self._page_size
        page = [] if self._store is None else self._store.list_chats(self._page_size, offset=first)
        if self._titles:
            for i, chat in enumerate(page):
                title = self._titles.get(chat.id)
                if title is not None:
                    if title == chat.title:  # the store has it now
                        del self._titles[chat.id]
                    else:
                        page[i] = ChatSummary(chat.id, title, chat.updated_at, chat.message_count)
        if len(self._pages) >= self._cache_pages:
            self._evict()
        self._pages[number] = page
        for offset, chat in enumerate(page):
            self._rows_by_id[chat.id] = first + offset
        return page

    def _evict(self) -> None:
        """Drop the least recently used page that no persistent index (selection, current) points into."""
        pinned = {position // self._page_size for index in self.persistentIndexList()
                  if (position := self._position(index.row())) is not None}
        for number in self._pages:
            if number not in pinned:
                for chat in self._pages.pop(number):
                    self._rows_by_id.pop(chat.id, None)
                return

    def _store_row(self, chat_id: int) -> int | None:
        """The chat's row in the store's order now (None: no such chat), without reading whole pages."""
        store = self._store
        if store is None:
            return None
        row_of = getattr(store, "row_of", None)  # a single COUNT query, where the store offers it
        if row_of is not None:
            return row_of(chat_id)
        # Meanwhile: binary search over list_chats order, one single-row query per probe (~14 for 10,000).
        top = store.list_chats(1)
        if top and top[0].id == chat_id:  # the usual case: a chat that just got a message
            return 0
        try:
            key = _order(store.summary(chat_id))
        except KeyError:
            return None
        low, high = 1, store.count_chats()
        while low < high:
            middle = (low + high) // 2
            probe = store.list_chats(1, offset=middle)
            if not probe:
                high = middle
            elif _order(probe[0]) < key:
                low = middle + 1
            else:
                high = middle
        found = store.list_chats(1, offset=low)
        return low if found and found[0].id == chat_id else None

    def _row_of(self, chat_id: int) -> int:
        """The chat's view row in this model (-1: not listed)."""
        position = self._rows_by_id.get(chat_id)
        if position is None:
            position = self._store_row(chat_id)
            if position is None:
                return -1
        chat = self._chat_at(position)  # also caches its page, e.g. for a selection about to point there
        return self._view_row(position) if chat is not None and chat.id == chat_id else -1

    # --- changes from the controller ---------------------------------------------------------

    def index_of(self, chat_id: int) -> QModelIndex:
        """The row of a chat, anywhere in the list; an invalid index when it is not listed."""
        row = self._row_of(chat_id)
        return self.index(row) if row >= 0 else QModelIndex()

    def summary(self, row: int) -> ChatSummary:
        """The chat at ``row``; ``IndexError`` past the end."""
        chat = self._chat(row)
        if chat is None:
            raise IndexError(row)
        return chat

    def upsert(self, summary: ChatSummary) -> None:
        """Show a new or changed chat (already written to the store) at its place by last update.

        Only the one row moves or is inserted (``rowsMoved`` / ``rowsInserted``; the selection follows
        its chat); the cached pages are read again as they are shown.
        """
        if self._store is None:
            return
        self._titles.pop(summary.id, None)
        pinned = self._pinned()
        try:
            self._upsert(summary, pinned)
        finally:
            # A QPersistentModelIndex that outlives its model (kept by a traceback's frame, say) makes
            # its destructor touch freed memory at exit: never let one live past this call.
            pinned.clear()

    def _upsert(self, summary: ChatSummary, pinned: list[tuple[QPersistentModelIndex, int | str]]) -> None:
        assert self._store is not None
        old = self._rows_by_id.get(summary.id, -1)
        new = self._store_row(summary.id)
        count = self._store.count_chats()
        if new is None:  # deleted meanwhile
            self.remove(summary.id)
            return
        old = self._view_row(old) if old >= 0 else old
        if count in (self._count, self._count + 1):
            count_before, self._count = self._count, count
            keeps = self._regroup_keeps_rows()
            self._count = count_before
            if not keeps:  # a group appeared or emptied ("Today" for the first chat of the day)
                self.reload()
                return
        new = self._view_row(new)
        # The store has the change already: a page read while the rows signals run shows it.
        if old < 0 and count == self._count + 1:
            self._drop_cache()
            self._count = count
            self.insertRows(new, 1)
        elif old >= 0 and count == self._count:
            self._drop_cache()
            if new != old:
                # destinationChild counts rows before the move: moving down lands before row new + 1.
                self.moveRows(QModelIndex(), old, 1, QModelIndex(), new if new < old else new + 1)
            self.dataChanged.emit(self.index(new), self.index(new))
        elif count == self._count:
            # Its old row is not cached, so nothing on screen or selected is there: re-place what is.
            self._relayout()
            return
        else:  # another app instance added or deleted chats too
            self.reload()
            return
        self._repin(pinned)

    def _pinned(self) -> list[tuple[QPersistentModelIndex, int | str]]:
        """The chat (id) or date header (label) each persistent index (selection, current row, the
        accessibility bridge's rows) shows now, from the cached pages."""
        pinned: list[tuple[QPersistentModelIndex, int | str]] = []
        for index in self.persistentIndexList():
            position = self._position(index.row())  # view rows count the date headers
            if position is None:
                pinned.append((QPersistentModelIndex(index), self._header_label(index.row())))
                continue
            number, offset = divmod(position, self._page_size)
            page = self._pages.get(number)  # only what is on screen now: the store may have moved on
            if page is not None and offset < len(page):
                pinned.append((QPersistentModelIndex(index), page[offset].id))
        return pinned

    def _header_label(self, row: int) -> str:
        return self._groups[bisect_right(self._header_rows, row) - 1][0]

    def _row_of_key(self, key: int | str) -> int:
        """The view row of a chat (by id) or of a date header (by label); -1: not shown."""
        if isinstance(key, str):
            labels = [label for label, _ in self._groups]
            return self._header_rows[labels.index(key)] if key in labels else -1
        return self._row_of(key)

    def _repin(self, pinned: list[tuple[QPersistentModelIndex, int | str]]) -> None:
        """Other chats may have moved in the store unannounced (a notice, a kept reply, a streaming
        save): after re-reading, put the selection back on the chats it was on, and indexes on date
        headers back on their headers."""
        moved = [(index, row) for index, key in pinned if index.isValid()
                 and (row := self._row_of_key(key)) >= 0 and row != index.row()]
        if not moved:
            return
        self.layoutAboutToBeChanged.emit()
        for index, row in moved:
            self.changePersistentIndex(QModelIndex(index), self.index(row))
        self.layoutChanged.emit()

    def _relayout(self) -> None:
        """The store's order changed with the count kept: move persistent indexes to their chats' rows."""
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys: list[int | str | None] = []
        for index in persistent:  # their pages are cached (pinned)
            if self._position(index.row()) is None:
                keys.append(self._header_label(index.row()))
            else:
                chat = self._chat(index.row())
                keys.append(None if chat is None else chat.id)
        self._drop_cache()
        for index, key in zip(persistent, keys):
            row = -1 if key is None else self._row_of_key(key)
            self.changePersistentIndex(index, self.index(row) if row >= 0 else QModelIndex())
        self.layoutChanged.emit()

    def remove(self, chat_id: int) -> None:
        """Drop a chat from the list, once it is deleted from the store (a chat still there stays)."""
        self._titles.pop(chat_id, None)
        if self._store is None:
            return
        row = self._rows_by_id.get(chat_id, -1)
        count = self._store.count_chats()
        if row >= 0 and count == self._count - 1:
            row = self._view_row(row)
            self._count = count
            keeps = self._regroup_keeps_rows()
            self._count += 1
            if not keeps:
                self.reload()
                return
        if row >= 0 and count == self._count - 1:
            self._drop_cache()
            self._count = count
            self.removeRows(row, 1)
        elif count != self._count:
            # Not a row anything shows or points at, or another instance changed the list too.
            self.reload()

    # --- Qt model interface ------------------------------------------------------------------

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES and role not in _HEADER_ROLES:
            return None
        row = index.row()
        if self._header_rows and row >= 0 and self._position(row) is None:
            if role == _DISPLAY:
                return self._header_label(row)
            if role == _FOREGROUND:
                # The theme's note colour, readable on either background (a disabled row's grey is not).
                from PySide6.QtGui import QColor

                from chatbot_gui.ui.theme import theme
                return QColor(theme().colors.note)
            return self._header_font() if role == _FONT else None
        if role == _FOREGROUND:
            return None
        chat = self._chat(row)  # an invalid index has row -1: None
        if chat is None:
            return None
        if role == _DISPLAY:
            return display_title(chat.title)
        if role == _EDIT:
            return chat.title
        if role in (MarkRole, _DECORATION, _FONT):
            mark = self._marks.get(chat.id)
            if mark is None:
                return None
            if role == MarkRole:
                return mark
            if role == _DECORATION:
                return _mark_icon(mark)
            if mark not in ("unread", "failed"):
                return None
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        if role == _TOOLTIP:
            when = QLocale().toString(QDateTime.fromMSecsSinceEpoch(int(chat.updated_at * 1000)),
                                      QLocale.FormatType.ShortFormat)
            # Tooltips guess "rich text" from the first tag they see: escape, so a title is only text.
            mark = _MARK_WORDS.get(self._marks.get(chat.id, ""), "")
            return (f"<p>{html.escape(display_title(chat.title))}<br>Last updated {html.escape(when)}"
                    + (f"<br>{mark}" if mark else "") + "</p>")
        return chat.id  # ChatIdRole

    def itemData(self, index: _ModelIndex) -> dict[int, Any]:
        """The roles :meth:`data` has (not the placeholder strings ``QStringListModel`` would give)."""
        return {role: value for role in _ROLES if (value := self.data(index, role)) is not None}

    def setData(self, index: _ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """An inline rename: show it at once and report it through ``titleEdited``."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not isinstance(value, str):
            return False
        row = index.row()
        title, chat = value.strip(), self._chat(row)
        if chat is None or not title or title == chat.title:
            return False
        self._titles[chat.id] = title  # kept over page reloads until the store has it (or reload())
        position = self._position(row) or 0
        self._pages[position // self._page_size][position % self._page_size] = ChatSummary(
            chat.id, title, chat.updated_at, chat.message_count)
        self.dataChanged.emit(index, index)
        self.titleEdited.emit(chat.id, title)
        return True

    def _header_font(self) -> QFont:
        font = QFont()
        font.setBold(True)
        return font

    def flags(self, index: _ModelIndex) -> Qt.ItemFlag:
        if not index.isValid() or (self._header_rows and self._position(index.row()) is None):
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
                | Qt.ItemFlag.ItemNeverHasChildren)


#: Extra height of a chat list row, in pixels: rows a pointer hits easily and eyes can tell apart.
ROW_PADDING = 10


class RoomyRows(QStyledItemDelegate):
    """The chat list's rows with some air above and below the title (the list's items are of one
    height, so this is asked once, not per row)."""

    def sizeHint(self, option, index):  # noqa: ANN001, ANN201, N802 - Qt override
        size = super().sizeHint(option, index)
        size.setHeight(size.height() + ROW_PADDING)
        return size

    def createEditor(self, parent, option, index):  # noqa: ANN001, ANN201, N802 - Qt override
        editor = super().createEditor(parent, option, index)
        if isinstance(editor, QLineEdit):
            # A box around the title being typed (Qt's item editor has none, and in dark mode the
            # field looked like the row itself).
            editor.setFrame(True)
        return editor


class ElidedLabel(QLabel):
    """A one-line plain-text label that takes the room there is and elides its text in the middle
    ("Deleted “Trip to…Lisbon”."), so both ends of a long chat name stay visible; the tooltip has
    all of it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # the text may quote a chat title
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""

    def set_full_text(self, text: str) -> None:
        self._full = " ".join(text.split())
        self.setToolTip(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        self.setText(self._full if width <= 0 else
                     self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, width))


class UndoBar(QFrame):
    """The "Chat deleted. [Undo]" bar at the bottom of the sidebar; it hides itself after a timeout."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = ElidedLabel()
        self.undo_button = QPushButton("Undo")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 3, 3)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignRight)
        self._layout = layout
        self._callback: Callable[[], object] | None = None
        #: Where the focus goes when the bar hides while it has it (the sidebar's chat list).
        self.focus_after: QWidget | None = None
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.dismiss)
        self.undo_button.clicked.connect(self._undo)
        self.hide()

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        """In a narrow sidebar (a 500 px window) the button leaves the label too little room to say
        which chat was deleted ("Del…n”."): then the label gets a row of its own, the button below."""
        super().resizeEvent(event)
        margins = self._layout.contentsMargins()
        beside = (event.size().width() - margins.left() - margins.right() - self._layout.spacing()
                  - self.undo_button.sizeHint().width())
        wanted = QBoxLayout.Direction.LeftToRight if beside >= self.fontMetrics().averageCharWidth() * 24 \
            else QBoxLayout.Direction.TopToBottom
        if self._layout.direction() != wanted:
            self._layout.setDirection(wanted)

    def show_for(self, text: str, callback: Callable[[], object], timeout_ms: int) -> None:
        """Offer ``callback`` as Undo for ``timeout_ms``; replaces an offer already showing."""
        self._callback = callback
        self.label.set_full_text(text)
        self._timer.start(timeout_ms)
        self.show()

    def dismiss(self) -> None:
        """Hide without undoing. The focus, if the bar had it, goes to ``focus_after``, not to
        whatever comes next in the window."""
        self._timer.stop()
        self._callback = None
        had_focus = self.isAncestorOf(QApplication.focusWidget())
        self.hide()
        if had_focus and self.focus_after is not None:
            self.focus_after.setFocus(Qt.FocusReason.OtherFocusReason)

    def _undo(self) -> None:
        callback = self._callback
        self.dismiss()  # first: the callback may offer a new undo
        if callback is not None:
            callback()


#: What the chat list says when the history holds no chat yet.
NO_CHATS_TEXT = "No chats yet.\nThey are kept here."


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
                 parent: QWidget | None = None, clock: Clock | None = None) -> None:
        super().__init__(parent)
        self._active_id: int | None = None
        self.new_button = QPushButton("New chat")
        self.new_button.setAccessibleDescription("Start a new, empty chat (Ctrl+N)")

        self.chat_model = ChatListModel(store, page_size, self, clock=clock)
        if clock is not None:
            # "Today" becomes "Yesterday" at midnight even when nothing else changes.
            self._dates_timer = QTimer(self, interval=60_000)
            self._dates_timer.timeout.connect(self.chat_model.refresh_dates)
            self._dates_timer.start()
        self.chat_list = QListView()
        self.chat_list.setModel(self.chat_model)
        self.chat_list.setUniformItemSizes(True)
        self.chat_list.setItemDelegate(RoomyRows(self.chat_list))
        # After an inline rename (done or cancelled): the rows held meanwhile, the open chat highlighted.
        self._held_rows: dict[int, ChatSummary] = {}
        self.chat_list.itemDelegate().closeEditor.connect(lambda *_args: QTimer.singleShot(0, self, self._edit_ended))
        self.chat_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.chat_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # F2 / menu only
        self.chat_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.chat_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.chat_list.setAccessibleName("Chats")
        self.chat_list.setAccessibleDescription("Your chats, newest first, grouped by date. Enter opens, "
                                                "F2 renames, Delete deletes")
        # Said in the empty list once the history is known to hold no chat (a label over the list: a
        # paintEvent override of the view crashed the process at exit now and then, PySide6 6.11).
        self._no_chats = QLabel(NO_CHATS_TEXT, self.chat_list.viewport())
        self._no_chats.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._no_chats.setWordWrap(True)
        self._no_chats.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._no_chats.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._no_chats.setContentsMargins(12, 24, 12, 0)
        no_chats_layout = QVBoxLayout(self.chat_list.viewport())
        no_chats_layout.setContentsMargins(0, 0, 0, 0)
        no_chats_layout.addWidget(self._no_chats)
        no_chats_layout.addStretch(1)
        self._no_chats.hide()
        for changed in (self.chat_model.modelReset, self.chat_model.rowsInserted, self.chat_model.rowsRemoved):
            changed.connect(self._show_no_chats)
        self.search = SearchPanel(self.chat_list, store)
        self.search_edit = self.search.search_edit
        self.undo_bar = UndoBar()
        self.undo_bar.focus_after = self.chat_list

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
        self.chat_model.modelReset.connect(self._model_reset)
        self.search.resultActivated.connect(self._result_activated)
        self.chat_list.installEventFilter(self)

    # --- public API --------------------------------------------------------------------------

    def empty_text(self) -> str:
        """What the empty chat list says now ("" when there are chats, or none are known yet)."""
        return self._no_chats.text() if self._no_chats.isVisibleTo(self.chat_list) else ""

    def set_store(self, store: ChatStore | None) -> None:
        """Show another store (None: nothing); an open search runs again against it."""
        self.undo_bar.dismiss()
        self.chat_model.set_store(store)
        self.select_chat(self._active_id)
        self.search.set_store(store)

    def select_chat(self, chat_id: int | None) -> None:
        """Highlight the open chat (None: none) without emitting ``chatActivated``; scroll to it."""
        self._active_id = chat_id
        if self._editing():
            return  # highlighted once the title being typed is done (see the closeEditor hook)
        index = QModelIndex() if chat_id is None else self.chat_model.index_of(chat_id)
        selection = self.chat_list.selectionModel()
        if index.isValid():
            selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
            self.chat_list.scrollTo(index)
        else:
            selection.clear()  # the current row too: Delete and F2 act on it

    def focus_chat(self, chat_id: int) -> None:
        """The list gets the keyboard on ``chat_id``'s row (current, not opened: Enter opens it)."""
        index = self.chat_model.index_of(chat_id)
        if index.isValid() and not self._editing():
            self.chat_list.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.chat_list.scrollTo(index)
        self.chat_list.setFocus(Qt.FocusReason.OtherFocusReason)

    def is_highlighted(self, chat_id: int) -> bool:
        """Whether ``chat_id`` is the chat the list knows as open (its row highlighted when current)."""
        return self._active_id == chat_id

    def _show_no_chats(self, *_args: object) -> None:
        self._no_chats.setVisible(self.chat_model.has_store() and self.chat_model.rowCount() == 0)

    def _edit_ended(self) -> None:
        held, self._held_rows = self._held_rows, {}
        for summary in held.values():
            self.upsert_chat(summary)
        self.select_chat(self._active_id)

    def _editing(self) -> bool:
        """Whether a chat's title is being typed in the list (F2). Moving the current row then would
        commit the title half typed and close the editor (a reply saved in another chat did, every
        second): the open chat is highlighted again once the edit ends."""
        return self.chat_list.state() == QAbstractItemView.State.EditingState

    def _model_reset(self) -> None:
        """The list was read again (the view forgot its selection): highlight the open chat again."""
        index = QModelIndex() if self._active_id is None else self.chat_model.index_of(self._active_id)
        if index.isValid():
            self.chat_list.selectionModel().setCurrentIndex(index, self.chat_list.selectionModel()
                                                            .SelectionFlag.ClearAndSelect)

    def set_marks(self, streaming: set[int], unseen: Mapping[int, str]) -> None:
        """Mark chats that are streaming (a blue dot), chats with an unread reply (green, bold) and
        chats whose reply failed meanwhile (red, bold)."""
        self.chat_model.set_marks(streaming, unseen)

    def upsert_chat(self, summary: ChatSummary) -> None:
        """A chat was created or changed: move it to its place (the top, for a new message)."""
        if self._editing():
            # A title is being typed: a row changed now would put its text back into the editor
            # (Qt's dataChanged) or move rows under it. Applied when the edit ends.
            self._held_rows[summary.id] = summary
            return
        before = self.chat_list.currentIndex()
        # Browsing the list by keyboard (the current row on another chat than the open one) is not
        # interrupted: a reply saved in the open chat moved the current row back to it every second.
        followed = not before.isValid() or before.data(ChatIdRole) == self._active_id
        self.chat_model.upsert(summary)
        if not followed:
            return
        if self._active_id is not None:  # the open chat stays highlighted, wherever the list put it
            current = self.chat_list.currentIndex()
            if current.data(ChatIdRole) != self._active_id:
                index = self.chat_model.index_of(self._active_id)
                if index.isValid():
                    self.chat_list.selectionModel().setCurrentIndex(
                        index, self.chat_list.selectionModel().SelectionFlag.ClearAndSelect)

    def remove_chat(self, chat_id: int) -> None:
        """A chat was deleted from the store: drop it from the list and from search results."""
        self._held_rows.pop(chat_id, None)
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

    def rename_open_chat(self) -> None:
        """Rename the open chat inline (F2 anywhere in the window)."""
        if self._active_id is not None:
            if self.search.is_searching():
                self.search.leave()  # the list, where the title is edited
            self._rename(self._active_id)

    def delete_open_chat(self) -> None:
        """Delete the open chat (Delete outside text fields; the undo bar offers it back)."""
        self._delete(self._active_id)

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
