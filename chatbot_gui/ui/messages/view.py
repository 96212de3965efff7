"""The message list: a chat's messages in a centred column, each rendered once and laid out when seen.

Model/view in the manner of KDE Ruqola's message list: the messages are rows addressed by id; a
delegate (``rows.MessageDelegate``) renders and draws a row from its cached documents (one per
top-level Markdown block, see ``chatbot_gui.ui.render``); text selection runs from (row, block, char)
to (row, block, char) across messages; per-message actions are drawn by the delegate and reachable
by keyboard.

Why not ``QListView``: with variable row heights, QListView lays out *every* row again whenever one
row's height changes (measured: 58 ms per change with 10,000 rows, calling the Python ``sizeHint``
10,013 times), and a streaming reply changes its height many times a second. This view keeps the row
tops in one list (bisect to find what is visible; a change re-adds tops only from the changed row
down), so a streamed delta costs the same with 2 or 10,000 messages, and rows nobody scrolled to are
never rendered: their height is estimated from their length until they are first seen.

Signals (all carry the message id):
    regenerateRequested(int), editRequested(int), deleteRequested(int)
    versionRequested(int, int): the user asked for version N (1-based) of the message
    linkActivated(str): a safe link (http, https, mailto) was clicked and handed to the system browser
    copied(str, str): text was put on the clipboard, and what it was in words for the user ("the
        code"; "" for a selection copied with Ctrl+C, which needs no telling)
    nothingCopied(str): a message was to be copied but has no text (a reply that is only its
        reasoning); the clipboard was left as it was; the payload says so, for the status line
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPalette,
    QTextCursor,
)
from PySide6.QtWidgets import QAbstractScrollArea, QMenu, QScrollBar, QStyle, QStyleOptionSlider, QWidget

from chatbot_gui.ui.messages.rows import (
    AHEAD,
    ASSISTANT,
    CACHE_ROWS,
    COLUMN_CHARS,
    EMPTY_REPLY,
    FLUSH_BUDGET_S,
    HOVER_ACTIONS,
    NOTHING_TO_COPY,
    ROLE_LABELS,
    USER,
    ZOOM_MAX,
    ZOOM_MIN,
    MessageDelegate,
    _Hit,
    _Row,
    _bar_top,
    _CODE_HEAD,
    _COALESCE_MS,
    _PAD,
    char_width,
    heading,
    no_answer,
    render_module,
)

__all__ = ["ASSISTANT", "EMPTY_REPLY", "USER", "MessagesView"]

#: While streamed rendering has a backlog (more passes to come), the view is repainted at most this
#: often; when the backlog is done it is repainted at once.
REPAINT_EVERY_S = 0.016
PASS_GAP_MS = 2
SETTLE_GAP_MS = 1


#: Rows are rendered ahead of the screen only this long after the last streamed text (see
#: _render_ahead).
STREAM_QUIET_S = 0.5

#: How long after the last scroll a full garbage collection may run again (see _hold_collector).
GC_HOLD_MS = 2000


class _ScrollBar(QScrollBar):
    """The view's scroll bar: repainted only when what it shows changes.

    A streaming reply changes the bar's range with every frame, and Qt repaints a scroll bar on any
    change (``QAbstractSlider::sliderChange``): ~0.3 ms (p90 ~0.6 ms) of the GUI thread per frame
    with the Fusion style (measured during the 20,000-chunk Markdown flood of
    benchmarks/bench_render.py), although the handle of a long reply followed at its end moves by
    less than a pixel per frame. Here a change repaints only when the handle's place, or whether
    the bar is at either end (the arrows' look), changed; the view sets range and value together
    (``batched``), so the step between them (the handle off the end for a moment) is never drawn."""

    _shown: tuple | None = None
    batched = False

    def _look(self) -> tuple:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_ScrollBar, opt,
                                             QStyle.SubControl.SC_ScrollBarSlider, self)
        lo, hi, value = self.minimum(), self.maximum(), self.value()
        return handle.y(), handle.height(), handle.x(), handle.width(), value <= lo, value >= hi, lo == hi

    def sliderChange(self, change: QScrollBar.SliderChange) -> None:  # noqa: N802 - Qt override
        if not self.batched:
            self.changed()

    def changed(self) -> None:
        """Repaint if what the bar shows changed (Qt's own sliderChange does only ``update()``)."""
        look = self._look()
        if look != self._shown:
            self._shown = look
            self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._shown = self._look()
        super().paintEvent(event)


def _release(held: list[Any]) -> None:
    while held:
        held.pop().__exit__(None, None, None)


class MessagesView(QAbstractScrollArea):
    """A chat's messages, addressed by id. Holds no chat state beyond what it is told to show."""

    regenerateRequested = Signal(int)
    editRequested = Signal(int)
    deleteRequested = Signal(int)
    versionRequested = Signal(int, int)
    linkActivated = Signal(str)
    copied = Signal(str, str)
    nothingCopied = Signal(str)
    #: A row's own link (``_Row.links``): an error's "Retry" or "Details", a stopped reply's "keep it".
    actionRequested = Signal(int, str)

    def __init__(self, parent: QWidget | None = None, theme: str = "light") -> None:
        super().__init__(parent)
        # A viewport made here: the first Python call to the one Qt makes costs ~50 ms in a process
        # (shiboken resolving its private class), which would land on the window's first paint.
        self.setViewport(QWidget())
        self._rows: list[_Row] = []
        self._index: dict[int, int] = {}
        self._tops: list[int] = [0]
        self._cache: OrderedDict[int, None] = OrderedDict()
        self._dirty: set[int] = set()
        self._theme = theme
        self._zoom = 0
        self._base_font = QFont(self.font())
        self._font_cache: tuple[int, QFont, float, int] | None = None
        self._painting = False
        self._width = 0
        self._stick = True  # follow the end while at the end
        self._sel_anchor: tuple[int, int, int] | None = None  # (message id, piece, char)
        self._sel_end: tuple[int, int, int] | None = None
        self._pressed_anchor = ""
        self._pressed_hit: tuple[int, str, int] | None = None
        self._current = -1  # keyboard: the current message id (-1: none)
        self._hover = -1  # the message under the mouse pointer (-1: none)
        self.highlight_terms: list[str] = []  # search words marked in every message
        self._current_hit = -1
        self._streamed_at = 0.0  # when streamed text last came (time.perf_counter())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_COALESCE_MS)
        self._timer.timeout.connect(self._flush)
        #: message id -> where in it (row coordinates) laid-out-but-unshown change starts (None: the
        #: whole row); shown by ``_settle`` in a pass of its own.
        self._unsettled: dict[int, int | None] = {}
        self._settled_at = 0.0
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(0)
        self._settle_timer.timeout.connect(self._settle)
        # No full garbage collection while the user scrolls (see _hold_collector).
        self._gc_hold: list[Any] = []
        self._gc_release = QTimer(self)
        self._gc_release.setSingleShot(True)
        self._gc_release.setInterval(GC_HOLD_MS)
        self._gc_release.timeout.connect(self._release_collector)
        self.destroyed.connect(lambda *_args, held=self._gc_hold: _release(held))
        self._ahead = QTimer(self)
        self._ahead.setSingleShot(True)
        self._ahead.setInterval(0)
        self._ahead.timeout.connect(self._render_ahead)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setVerticalScrollBar(_ScrollBar(Qt.Orientation.Vertical, self))
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().setMouseTracking(True)
        self.verticalScrollBar().setSingleStep(40)
        # The scroll bar changes with every streamed frame (its range grows). Opaque, it is repainted
        # alone; otherwise Qt first paints every ancestor under it, up to the main window (measured:
        # 8 widgets' paint events per frame instead of 3, the window's through its Python event()).
        # Its container too, but after the first paint (``_fill_bar_container``): the container is a
        # private Qt class, and wrapping it in Python costs ~7 ms of start-up CPU (measured); the
        # first frame is the same without it, since the scroll bar covers it.
        self.verticalScrollBar().setAutoFillBackground(True)
        self._bar_container_filled = False
        self.delegate = MessageDelegate(self)
        self.setAccessibleName("Messages")  # (ui/messages/access.py makes it a list of the messages)
        self._apply_theme()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._scheme_changed)

    def _scheme_changed(self, *_args: Any) -> None:
        if self._theme == "system":
            self.set_theme("system")

    # -- public API (addressed by message id) ---------------------------------------------------------
    def add_message(self, message_id: int, role: str, text: str, *, streaming: bool = False,
                    status: str = "", version: int = 1, versions: int = 1,
                    links: list[tuple[str, str]] | None = None, index: int | None = None, meta: str = "",
                    reasoning_seconds: float | None = None) -> None:
        """Adds a message at the end, or at row ``index`` (``streaming``: more text will come with
        ``append_text``). ``links``: the row's own (action, label) links, see ``actionRequested``;
        ``reasoning_seconds``: how long its reasoning took ("Thought for 3 s")."""
        if message_id in self._index:
            raise ValueError(f"message {message_id} is already shown")
        row = _Row(message_id, role, text, status=status, version=version, versions=versions,
                   streaming=streaming and role == ASSISTANT, links=list(links or []), meta=meta,
                   reasoning_seconds=reasoning_seconds)
        row.height = self.delegate._estimate(row)
        if index is None or index >= len(self._rows):
            self._index[message_id] = len(self._rows)
            self._rows.append(row)
            self._relayout_from(len(self._rows) - 1)
            return
        index = max(0, index)
        self._rows.insert(index, row)
        self._index = {r.id: i for i, r in enumerate(self._rows)}
        self._tops.insert(index, self._tops[index])
        self._relayout_from(index)

    def row_index(self, message_id: int) -> int:
        """Where a message is in the list (``KeyError`` if it is not shown)."""
        return self._index[message_id]

    def row_role(self, message_id: int) -> str:
        return self._row(message_id).role

    def status_of(self, message_id: int) -> str:
        return self._row(message_id).status

    def versions_of(self, message_id: int) -> tuple[int, int]:
        row = self._row(message_id)
        return row.version, row.versions

    def links_of(self, message_id: int) -> list[tuple[str, str]]:
        return list(self._row(message_id).links)

    def set_links(self, message_id: int, links: list[tuple[str, str]]) -> None:
        row = self._row(message_id)
        row.links = list(links)
        self._measure_under(row)

    def set_messages(self, messages: list[tuple]) -> None:
        """Replaces everything with ``(id, role, text)`` messages (opening a chat), each optionally
        followed by a dict of ``add_message``'s keywords (status, version, versions, links, streaming);
        nothing is rendered until it is scrolled into view, so this costs microseconds per message."""
        self._drop_all()
        self._rows = [_Row(m[0], m[1], m[2], **(m[3] if len(m) > 3 else {})) for m in messages]
        self._index = {row.id: k for k, row in enumerate(self._rows)}
        self._sel_anchor = self._sel_end = None
        self._current, self._current_hit = -1, -1
        per_line = self._per_line()
        heights = [self.delegate._estimate(row, per_line) for row in self._rows]
        for row, h in zip(self._rows, heights):
            row.height = h
        self._tops = list(itertools.accumulate(heights, initial=0))
        self._stick = True
        self._relayout_from(0)

    def append_text(self, message_id: int, delta: str) -> None:
        """Adds streamed text to a message; shown at the next coalescing tick (~16 ms)."""
        row = self._row(message_id)
        row.text += delta
        self._streamed_at = time.perf_counter()
        self._hold_collector()  # (the app's Reply holds it too; the view does not rely on that)
        self._dirty.add(message_id)
        if not self._timer.isActive():
            self._timer.start(_COALESCE_MS)

    def set_text(self, message_id: int, text: str) -> None:
        """Replaces a message's text (an edit, another version); rendered again from scratch."""
        row = self._row(message_id)
        row.text = text
        row.stream = None
        self._invalidate(row)

    def finish(self, message_id: int, status: str = "") -> None:
        """The message is complete: its last block is rendered as finished; ``status`` is shown
        under it ("Stopped", "Interrupted", ...)."""
        row = self._row(message_id)
        row.streaming = False
        if not status and row.role == ASSISTANT and no_answer(row.text):
            status = EMPTY_REPLY
        row.status = status
        if row.pieces is None:
            self._dirty.discard(message_id)
            self._invalidate(row)
            return
        # Cheap on the GUI thread whatever the reply's length (it runs in the slot that ends the
        # reply, between two frames): when the streamed rendering is already what the finished
        # text renders to, nothing is rendered again; otherwise the final rendering of the last
        # block(s) comes in the budgeted passes of _flush, as streamed text does. Only what is
        # under the blocks (the status, the actions) is laid out and painted again here.
        self.delegate._finish_stream(row)
        if self.delegate._behind(row):
            self._dirty.add(message_id)
            self._timer.start(0)
        else:
            self._dirty.discard(message_id)
        self._measure_under(row)

    def set_status(self, message_id: int, status: str, links: list[tuple[str, str]] | None = None) -> None:
        row = self._row(message_id)
        row.status = status
        if links is not None:
            row.links = list(links)
        self._measure_under(row)

    def set_versions(self, message_id: int, version: int, versions: int) -> None:
        """Shows "‹ version/versions ›" under the message."""
        row = self._row(message_id)
        row.version, row.versions = version, versions
        self._measure(row, force=True)

    def set_reasoning(self, message_id: int, text: str, seconds: float | None = None) -> None:
        """The reasoning a server streamed for this reply (``reasoning_content``), shown collapsed."""
        row = self._row(message_id)
        row.reasoning = text
        row.reasoning_seconds = seconds
        self._invalidate(row)

    def shown_meta(self, message_id: int) -> tuple[str, str]:
        """What a reply shows of its meta: the line above it ("Assistant · 14:02") and the quiet
        line beside its actions, as fitted to the column ("gpt-4o-mini · 515 tokens")."""
        row = self._row(message_id)
        self._ensure(row)
        if not row.measured:
            self._measure(row, force=True)
        footer = self.delegate._footer(row, self._column()[1], self._small_font())
        return heading(row), footer[0] if footer is not None else ""

    def _small_font(self) -> QFont:
        """The font of a reply's heading and quiet line (and code blocks' heads)."""
        small = QFont(self.content_font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        return small

    def set_reasoning_seconds(self, message_id: int, seconds: float) -> None:
        """How long a reply's reasoning took: its label reads "Thought for N s". Only the label
        changes: the row is laid out again from its blocks, none of them rendered again."""
        row = self._row(message_id)
        if row.reasoning_seconds == seconds:
            return
        row.reasoning_seconds = seconds
        if row.pieces is not None and row.measured:
            self._measure_under(row)
            self.viewport().update()

    def remove_message(self, message_id: int) -> None:
        k = self._index.pop(message_id)
        row = self._rows.pop(k)
        self._cache.pop(row.id, None)
        self._dirty.discard(row.id)
        self._index = {r.id: i for i, r in enumerate(self._rows)}
        for ref in (self._sel_anchor, self._sel_end):
            if ref and ref[0] == message_id:
                self._sel_anchor = self._sel_end = None
        if self._current == message_id:
            self._current, self._current_hit = -1, -1
        self._relayout_from(k)

    def message_ids(self) -> list[int]:
        return [row.id for row in self._rows]

    def text_of(self, message_id: int) -> str:
        return self._row(message_id).text

    def accessible_text(self, message_id: int) -> str:
        """What a screen reader says for a message: its role, its text, its state."""
        row = self._row(message_id)
        parts = [f"{ROLE_LABELS.get(row.role, row.role)}: {self.delegate._answer(row)}"]
        if row.status:
            parts.append(row.status)
        if row.versions > 1:
            parts.append(f"version {row.version} of {row.versions}")
        return ". ".join(parts)

    def plain_text(self, message_id: int) -> str:
        """The message as plain text: rendered Markdown's text, code blocks exactly."""
        row = self._row(message_id)
        self._ensure_whole(row)
        assert row.pieces is not None
        return "\n\n".join(self.delegate._piece_text(p) for p in row.pieces[row.answer_start:])

    def shown_text(self, message_id: int) -> str:
        """The text of a message's rendered documents, as laid out (display-only breaks included)."""
        row = self._row(message_id)
        self._ensure_whole(row)
        assert row.pieces is not None
        return "\n\n".join(p.doc.toPlainText() for p in row.pieces[row.answer_start:])

    def copy_message(self, message_id: int, markdown: bool = False) -> None:
        """Copies a message (its answer, without the reasoning). A reply with no text leaves the
        clipboard as it is (what the user had there stays) and says so (``nothingCopied``)."""
        row = self._row(message_id)
        if row.role == ASSISTANT and no_answer(row.text):
            self.nothingCopied.emit(NOTHING_TO_COPY)
            return
        text = self.delegate._answer(row) if markdown else self.plain_text(message_id)
        self._to_clipboard(text, "the message as Markdown" if markdown else "the message")

    def chat_markdown(self) -> str:
        """The whole chat as Markdown ("Copy chat"): each turn under its role, reasoning left out."""
        parts = []
        for row in self._rows:
            label = ROLE_LABELS.get(row.role, row.role)
            parts.append(f"**{label}:**\n\n{self.delegate._answer(row).strip()}")
        return "\n\n".join(parts) + "\n"

    def copy_chat(self) -> None:
        self._to_clipboard(self.chat_markdown(), "the chat as Markdown")

    def code_blocks(self, message_id: int) -> list[tuple[str, str]]:
        """(language, code) of each code block of the message, in order."""
        row = self._row(message_id)
        self._ensure_whole(row)
        assert row.pieces is not None
        return [(p.language, p.code) for p in row.pieces if p.kind == "code"]

    def copy_code(self, message_id: int, n: int) -> None:
        """Copies the ``n``-th code block of the message, exactly."""
        self._to_clipboard(self.code_blocks(message_id)[n][1], "the code")

    # -- selection ---------------------------------------------------------------------------------
    def select(self, start: tuple[int, int, int], end: tuple[int, int, int]) -> None:
        """Selects from (message id, block, char) to (message id, block, char)."""
        self._sel_anchor, self._sel_end = start, end
        self.viewport().update()

    def select_all(self) -> None:
        if not self._rows:
            return
        last = self._rows[-1]
        self._ensure(last)
        assert last.pieces is not None
        n = len(last.pieces) - 1
        end_char = last.pieces[n].doc.characterCount() - 1 if n >= 0 else 0
        self.select((self._rows[0].id, 0, 0), (last.id, max(n, 0), end_char))

    def selected_text(self) -> str:
        rng = self._selection_range()
        if rng is None:
            return ""
        (r0, p0, c0), (r1, p1, c1) = rng
        out: list[str] = []
        for k in range(r0, r1 + 1):
            row = self._rows[k]
            self._ensure(row)
            assert row.pieces is not None
            first = p0 if k == r0 else 0
            last = p1 if k == r1 else len(row.pieces) - 1
            parts: list[str] = []
            for j in range(first, last + 1):
                piece = row.pieces[j]
                a = c0 if (k, j) == (r0, p0) else 0
                b = c1 if (k, j) == (r1, p1) else piece.doc.characterCount() - 1
                if b <= a:
                    continue
                cursor = QTextCursor(piece.doc)
                cursor.setPosition(a)
                cursor.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
                parts.append(cursor.selection().toPlainText().replace("\u200b", ""))
            if parts:
                out.append("\n\n".join(parts))
        return "\n\n".join(out)

    def copy_selection(self) -> None:
        text = self.selected_text()
        if text:
            self._to_clipboard(text)

    # -- appearance -------------------------------------------------------------------------------
    def set_theme(self, theme: str) -> None:
        """"light", "dark" or "system" (follows the platform's colour scheme)."""
        self._theme = theme
        self._apply_theme()
        for row in self._rows:
            if row.pieces is not None:
                self._invalidate(row, relayout=False)
        self._relayout_from(0)

    def theme(self) -> str:
        return self._resolved_theme()

    def zoom(self, steps: int) -> None:
        """Font zoom by ``steps`` points from the current size (0 steps: no change)."""
        self.set_zoom(self._zoom + steps)

    def set_zoom(self, level: int) -> None:
        self._zoom = max(ZOOM_MIN, min(ZOOM_MAX, level))
        self._font_cache = None
        self._width = 0  # every height changes
        for row in self._rows:
            row.pieces = None
            row.stream = None
            row.measured = False
        self._cache.clear()
        self._relayout_from(0, reestimate=True)

    def zoom_level(self) -> int:
        return self._zoom

    def content_font(self) -> QFont:
        if self._font_cache is None or self._font_cache[0] != self._zoom:
            font = QFont(self._base_font)
            size = font.pointSizeF() if font.pointSizeF() > 0 else 10.0
            # One point above the interface's font: replies are read at length.
            font.setPointSizeF(max(4.0, size + 1 + self._zoom))
            self._font_cache = (self._zoom, font, char_width(font), QFontMetrics(font).lineSpacing())
        return self._font_cache[1]

    def _font_metrics(self) -> tuple[float, int]:
        """(average character width, line spacing) of the content font."""
        self.content_font()
        assert self._font_cache is not None
        return self._font_cache[2], self._font_cache[3]

    def colors(self) -> dict[str, str]:
        from chatbot_gui.ui.render.themes import THEMES

        return THEMES[self._resolved_theme()]

    # -- internals: rows and rendering --------------------------------------------------------------
    def _row(self, message_id: int) -> _Row:
        return self._rows[self._index[message_id]]

    def _resolved_theme(self) -> str:
        if self._theme == "system":
            scheme = QGuiApplication.styleHints().colorScheme()
            return "dark" if scheme == Qt.ColorScheme.Dark else "light"
        return self._theme

    def _apply_theme(self) -> None:
        from chatbot_gui.ui.render.themes import THEMES  # (not the renderer: that loads after first paint)

        bg = THEMES[self._resolved_theme()]["background"]
        pal = self.viewport().palette()
        pal.setColor(QPalette.ColorRole.Base, QColor(bg))
        pal.setColor(QPalette.ColorRole.Window, QColor(bg))
        self.viewport().setPalette(pal)
        self.viewport().setAutoFillBackground(True)
        self.viewport().update()

    def reading_width(self) -> int:
        """The reading column's width when there is room (the message box below uses it too)."""
        return int(self._font_metrics()[0] * COLUMN_CHARS) + 2 * _PAD

    def _column(self) -> tuple[int, int]:
        """(left x, width) of the reading column in the viewport."""
        vw = max(100, self.viewport().width())
        want = self.reading_width()
        width = min(vw - 2 * _PAD, want)
        return (vw - width) // 2, width

    def _per_line(self) -> int:
        return max(20, int(self._column()[1] / self._font_metrics()[0]))

    def _drop_all(self) -> None:
        self._cache.clear()
        self._dirty.clear()
        self._unsettled.clear()

    def _invalidate(self, row: _Row, relayout: bool = True) -> None:
        row.pieces = None
        row.stream = None
        row.pending.clear()
        row.redo.clear()
        row.open_blocks = None
        row.fed, row.fed_final = -1, False
        row.measured = False
        self._cache.pop(row.id, None)
        if relayout:
            self._measure(row, force=True)

    def _layout_row(self, row: _Row, start: int = 0) -> int:
        return self.delegate._layout_row(row, start)

    def _ensure(self, row: _Row) -> None:
        """Renders a row's documents if it has none (and keeps at most CACHE_ROWS rows rendered)."""
        if row.pieces is not None:
            self._cache.move_to_end(row.id, last=True) if row.id in self._cache else None
            return
        self.delegate._render(row)
        row.measured = False
        self._cache[row.id] = None
        while len(self._cache) > CACHE_ROWS:
            old, _ = self._cache.popitem(last=False)
            k = self._index.get(old)
            if k is not None and not self._rows[k].streaming and self._rows[k].stream is None:
                self._rows[k].pieces = None  # its height stays; documents come back when seen

    def _ensure_whole(self, row: _Row) -> None:
        """As ``_ensure``, and a finished reply whose end is still waiting for a rendering pass
        (see ``finish``) is rendered to its end now: what is copied, or acted on, is all of it."""
        self._ensure(row)
        if row.streaming or row.pieces is None or not self.delegate._behind(row):
            return
        start = len(row.pieces)
        for _ in range(4):  # the blocks found so far, then the rest of the text parsed as final
            if not self.delegate._behind(row):
                break
            start = min(start, self.delegate._update_stream(row, final=True, until=math.inf))
        self._dirty.discard(row.id)
        self._measure(row, force=True, start=start)

    def _flush(self) -> None:
        """One pass of streamed rendering, within FLUSH_BUDGET_S: parse what is new, turn finished
        blocks (then the open one) into laid-out documents. The scroll and repaint that show them
        come in a pass of their own (``_settle``), so neither this work nor the paint holds the GUI
        thread for long at a time; while a backlog remains, at most one repaint per frame."""
        until = time.perf_counter() + FLUSH_BUDGET_S
        dirty, self._dirty = self._dirty, set()
        for message_id in dirty:
            k = self._index.get(message_id)
            if k is None:
                continue
            row = self._rows[k]
            if row.pieces is None:
                # Not rendered yet (not on screen): only its estimated height moves.
                self._measure(row, force=True)
                continue
            if row.stream is None and not row.streaming:
                self._invalidate(row)
                continue
            before = len(row.pieces)
            start = self.delegate._update_stream(row, final=row.fed_final or not row.streaming, until=until)
            if start == len(row.pieces) == before and row.measured:
                # A pass that only advanced blocks on their way (parsed, highlighted, made a
                # document): nothing shown changed, so nothing is laid out, scrolled or painted.
                if self.delegate._behind(row):
                    self._dirty.add(message_id)
                continue
            row.height = self.delegate._layout_row(row, start)
            rel = row.pieces[start - 1].bottom if 0 < start <= len(row.pieces) else None
            old = self._unsettled.get(message_id, -1)
            self._unsettled[message_id] = None if rel is None or old is None else (rel if old < 0 else min(old, rel))
            if self.delegate._behind(row):
                self._dirty.add(message_id)
        if self._dirty:
            self._timer.start(PASS_GAP_MS)  # the rest in the next pass, after input and timers had their turn
        if self._unsettled and not self._settle_timer.isActive() and (
                not self._dirty or time.perf_counter() - self._settled_at >= REPAINT_EVERY_S):
            self._settle_timer.start(SETTLE_GAP_MS)

    def _settle(self) -> None:
        """Row tops, the scroll bar and the repaint for rows ``_flush`` laid out (see there)."""
        self._settled_at = time.perf_counter()
        unsettled, self._unsettled = self._unsettled, {}
        for message_id, rel in unsettled.items():
            k = self._index.get(message_id)
            if k is not None:
                self._relayout_from(k, dirty_y=None if rel is None or rel < 0 else self._tops[k] + rel)

    def rendering_pending(self) -> bool:
        """Whether streamed text is still waiting to be shown (benchmarks wait for this)."""
        return bool(self._dirty) or self._timer.isActive() or bool(self._unsettled)

    # -- layout -------------------------------------------------------------------------------------
    def _measure(self, row: _Row, force: bool = False, start: int = 0) -> None:
        """Brings a row's height up to date (rendered: exact; not rendered: estimated)."""
        k = self._index[row.id]
        dirty_y = None
        if row.pieces is not None:
            height = self.delegate._layout_row(row, start)
            if 0 < start <= len(row.pieces):
                dirty_y = self._tops[k] + row.pieces[start - 1].bottom
        else:
            height = self.delegate._estimate(row)
        if height != row.height or force:
            row.height = height
            self._relayout_from(k, dirty_y=dirty_y)

    def _measure_under(self, row: _Row) -> None:
        """A row's height after what is under its blocks changed (status, links, actions): its
        blocks keep their places, so only that part is laid out and painted again (a long reply's
        hundreds of blocks are not walked, as a full ``_layout_row`` would)."""
        pieces = row.pieces
        self._measure(row, force=True, start=len(pieces) if pieces and row.measured else 0)

    def _repaint_bar(self, message_id: int) -> None:
        """Repaints a row's action bar (and the quiet meta line beside it), not the whole screen."""
        k = self._index.get(message_id)
        if k is None:
            return
        row = self._rows[k]
        vp = self.viewport()
        y = self._tops[k] + (_bar_top(row) if row.hits else 0) - self.verticalScrollBar().value()
        bottom = min(vp.height(), self._tops[k + 1] - self.verticalScrollBar().value())
        if bottom > 0 and y < vp.height():
            vp.update(QRect(0, max(0, y), vp.width(), bottom - max(0, y)))

    def _repaint_meta(self, message_id: int) -> None:
        """Repaints what a reply shows of its meta: the heading line above it ("Assistant · 14:02")
        and the quiet line beside its actions."""
        self._repaint_bar(message_id)
        k = self._index.get(message_id)
        if k is None:
            return
        vp = self.viewport()
        y = self._tops[k] - self.verticalScrollBar().value()
        height = _PAD + self._font_metrics()[1] + 2  # the heading's line, under the row's top padding
        if y + height > 0 and y < vp.height():
            vp.update(QRect(0, max(0, y), vp.width(), y + height - max(0, y)))

    def _relayout_from(self, k: int, reestimate: bool = False, dirty_y: int | None = None,
                       quiet: bool = False) -> None:
        """Row tops from row ``k`` down; keeps the view at the end while following it.

        Only what changed is painted again: content from ``dirty_y`` (content coordinates; default:
        row ``k``'s top) down. When following the end, the pixels above move up by a scroll (a copy)
        instead of being drawn again, so a streamed delta costs a strip of painting, not a screen.
        """
        if reestimate:
            per_line = self._per_line()
            for row in self._rows:
                row.height = self.delegate._estimate(row, per_line)
            k = 0
        heights = [row.height for row in self._rows[k:]]
        start = self._tops[k] if k < len(self._tops) else 0
        del self._tops[k:]
        self._tops.extend(itertools.accumulate(heights, initial=start))
        bar = self.verticalScrollBar()
        before = bar.value()
        self._update_scrollbar()
        if quiet:
            return
        vp = self.viewport()
        dy = bar.value() - before
        if self._painting or reestimate or abs(dy) >= vp.height():
            vp.update()
            return
        if dy:
            vp.scroll(0, -dy)
        y = (self._tops[k] if dirty_y is None else dirty_y) - bar.value()
        if y < vp.height():
            y = max(0, y)
            vp.update(QRect(0, y, vp.width(), vp.height() - y))

    def _update_scrollbar(self) -> None:
        bar = self.verticalScrollBar()
        total = self._tops[-1]
        page = self.viewport().height()
        bar.blockSignals(True)
        batch = isinstance(bar, _ScrollBar)
        if batch:
            bar.batched = True
        bar.setRange(0, max(0, total - page))
        bar.setPageStep(page)
        if self._stick:
            bar.setValue(bar.maximum())
        if batch:
            bar.batched = False
            bar.changed()
        bar.blockSignals(False)

    def _visible_rows(self) -> range:
        top = self.verticalScrollBar().value()
        bottom = top + self.viewport().height()
        first = max(0, bisect.bisect_right(self._tops, top) - 1)
        last = min(len(self._rows), bisect.bisect_left(self._tops, bottom))
        return range(first, last)

    def _prepare_visible(self) -> None:
        """Renders and measures what is on screen; rows above that change height keep the view
        steady (the scroll position moves with them)."""
        x0, width = self._column()
        if width != self._width:
            self._width = width
            for row in self._rows:
                row.measured = False
        for _ in range(4):
            if not self._measure_rows(self._visible_rows()):
                break

    def _measure_rows(self, rows: Any) -> bool:
        """Renders and lays out the given row indexes; one relayout for all. True if any moved."""
        bar = self.verticalScrollBar()
        top = bar.value()
        first_changed = -1
        shift_above = 0
        unseen = True  # every row that changed height is wholly above the screen
        for k in rows:
            row = self._rows[k]
            if row.pieces is not None and row.measured:
                continue
            self._ensure(row)
            old = row.height
            row.height = self.delegate._layout_row(row)
            if row.height != old:
                first_changed = k if first_changed < 0 else min(first_changed, k)
                if self._tops[k] < top:
                    shift_above += row.height - old
                unseen = unseen and self._tops[k] + old <= top
        if first_changed < 0:
            return False
        # Rows rendered ahead above the screen: the scroll position moves with them, so nothing on
        # screen changes and nothing is repainted (a full repaint per row rendered ahead made the
        # idle rendering fall behind PageUp, and the steps then rendered rows themselves).
        self._relayout_from(first_changed, quiet=unseen and (bool(shift_above) or self._stick))
        if shift_above and not self._stick:
            bar.blockSignals(True)
            bar.setValue(top + shift_above)
            bar.blockSignals(False)
        return True

    def _render_ahead(self) -> None:
        """While idle, renders a few rows above and below the screen, one per event-loop pass, so
        scrolling finds them ready (each pass costs one message: a few milliseconds). Not while
        a reply streams into the view (until STREAM_QUIET_S after its last text): that is not
        idle, and a streamed frame's passes would wait behind a row rendered ahead."""
        quiet = STREAM_QUIET_S - (time.perf_counter() - self._streamed_at)
        if quiet > 0:
            self._ahead.start(max(1, int(quiet * 1000)))
            return
        self._ahead.setInterval(0)
        visible = self._visible_rows()
        above = range(visible.start - 1, max(-1, visible.start - 1 - AHEAD), -1)
        below = range(visible.stop, min(len(self._rows), visible.stop + AHEAD))
        for k in (x for pair in itertools.zip_longest(above, below) for x in pair if x is not None):
            row = self._rows[k]
            if row.pieces is None or not row.measured:
                self._measure_rows([k])
                self._ahead.start()
                return

    # -- painting -----------------------------------------------------------------------------------
    def paintEvent(self, event: Any) -> None:  # noqa: N802
        self._painting = True
        try:
            self._prepare_visible()
            self._paint(event.rect())
        finally:
            self._painting = False
        if self._timer.isActive() and self._timer.interval() == PASS_GAP_MS:
            # The next pass of a backlog falls due now, not while this paint ran: timers (and
            # input) that fell due during the paint come first, then more rendering. Measured in
            # the Markdown flood: the 5 ms timer's p99 gap 7.9 -> 7.6 ms, fewer gaps over 8 ms.
            self._timer.start(0)
        if not self._ahead.isActive():
            self._ahead.start()
        if not self._bar_container_filled:
            self._bar_container_filled = True
            QTimer.singleShot(0, self._fill_bar_container)

    def _fill_bar_container(self) -> None:
        """The scroll bar's container opaque too (see ``__init__``), once the first frame is shown."""
        container = self.verticalScrollBar().parentWidget()
        if container is not None:
            container.setAutoFillBackground(True)

    def _paint(self, area: QRect) -> None:
        painter = QPainter(self.viewport())
        colors = self.colors()
        x0, width = self._column()
        top = self.verticalScrollBar().value()
        rng = self._selection_range()
        font = self.content_font()
        small = self._small_font()
        fm = QFontMetrics(font)
        if not self._rows and self._empty_hint:
            self._paint_empty_hint(painter, colors, font)
        for k in self._visible_rows():
            row = self._rows[k]
            oy = self._tops[k] - top
            if row.pieces is None or oy > area.bottom() or oy + row.height < area.top():
                continue
            painter.save()
            painter.translate(x0, oy)
            self.delegate._paint_row(painter, row, k, colors, rng, font, small, fm,
                            (area.top() - oy, area.bottom() + 1 - oy))
            painter.restore()
        painter.end()

    #: What an empty chat shows in the middle of the list ("": nothing, as before a chat is shown).
    _empty_hint = ""

    def set_empty_hint(self, text: str) -> None:
        """The line an empty chat shows (a new chat: "What can I help with?"); "" shows nothing."""
        if text != self._empty_hint:
            self._empty_hint = text
            if not self._rows:
                self.viewport().update()

    def empty_hint(self) -> str:
        """The hint drawn now: the empty chat's line, or "" when messages are shown."""
        return "" if self._rows else self._empty_hint

    def _paint_empty_hint(self, painter: QPainter, colors: dict[str, str], font: QFont) -> None:
        big = QFont(font)
        big.setPointSizeF(font.pointSizeF() * 1.5)
        painter.setFont(big)
        painter.setPen(QColor(colors["muted"]))
        x0, width = self._column()
        box = QRect(x0, 0, width, int(self.viewport().height() * 0.8))  # a little above the middle
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._empty_hint)

    # -- selection internals ------------------------------------------------------------------------
    def _selection_range(self) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
        if self._sel_anchor is None or self._sel_end is None:
            return None
        a, b = self._sel_anchor, self._sel_end
        if a[0] not in self._index or b[0] not in self._index:
            return None
        ka = (self._index[a[0]], a[1], a[2])
        kb = (self._index[b[0]], b[1], b[2])
        if ka == kb:
            return None
        return (ka, kb) if ka < kb else (kb, ka)

    def _locate(self, pos: QPoint) -> tuple[int, int, int, QPointF] | None:
        """(row index, piece, char, point in the piece) under a viewport point, nearest if between."""
        if not self._rows:
            return None
        x0, width = self._column()
        y = pos.y() + self.verticalScrollBar().value()
        k = max(0, min(len(self._rows) - 1, bisect.bisect_right(self._tops, y) - 1))
        row = self._rows[k]
        self._ensure(row)
        if not row.measured:
            self.delegate._layout_row(row)
        assert row.pieces is not None
        if not row.pieces:
            return None
        ry = y - self._tops[k]
        j = 0
        for n, piece in enumerate(row.pieces):
            if ry >= piece.y - _CODE_HEAD:
                j = n
        piece = row.pieces[j]
        local = QPointF(pos.x() - x0 - piece.x, ry - piece.y)
        if local.y() < 0:
            return k, j, 0, local
        if local.y() > piece.height:
            return k, j, piece.doc.characterCount() - 1, local
        char = piece.doc.documentLayout().hitTest(local, Qt.HitTestAccuracy.FuzzyHit)
        return k, j, max(0, char), local

    def actions_shown(self, row: _Row) -> bool:
        """Whether ``row``'s actions (Copy, Edit, Regenerate, Delete, Pin) are drawn: under the
        latest reply always, under another message while it is pointed at or current; under a reply
        still streaming never (Regenerate, Delete and Copy would act on half a reply; their room is
        kept, so the finished reply does not jump)."""
        if row.streaming:
            return False
        if row.id in (self._hover, self._current):
            return True
        for other in reversed(self._rows):  # the latest reply: few rows after it, if any
            if other.role == ASSISTANT:
                return other is row
        return False

    #: Where the pointer rests over the viewport (None: elsewhere), to re-point after a scroll.
    _hover_pos: QPoint | None = None

    def _set_hover(self, pos: QPoint | None) -> None:
        self._hover_pos = pos
        hover = -1
        if pos is not None and self._rows:
            y = pos.y() + self.verticalScrollBar().value()
            hover = self._rows[max(0, min(len(self._rows) - 1, bisect.bisect_right(self._tops, y) - 1))].id
        if hover != self._hover:
            before, self._hover = self._hover, hover
            top = self.verticalScrollBar().value()
            for row_id in (before, hover):  # only these two rows' actions show or hide
                k = self._index.get(row_id)
                if k is not None:
                    self.viewport().update(0, self._tops[k] - top, self.viewport().width(), self._rows[k].height)

    def leaveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._set_hover(None)
        super().leaveEvent(event)

    def _hit_at(self, pos: QPoint) -> tuple[int, _Hit] | None:
        if not self._rows:
            return None
        x0, _ = self._column()
        y = pos.y() + self.verticalScrollBar().value()
        k = max(0, min(len(self._rows) - 1, bisect.bisect_right(self._tops, y) - 1))
        row = self._rows[k]
        point = QPoint(pos.x() - x0, y - self._tops[k])
        for hit in row.hits:
            if hit.rect.contains(point):
                return (k, hit) if self._offered(row, hit) else None
        return None

    @staticmethod
    def _offered(row: _Row, hit: _Hit) -> bool:
        """Whether ``hit`` can be used: a reply still streaming offers none of its message actions
        (they are not drawn, see :meth:`actions_shown`; its code blocks' Copy stays)."""
        return not (row.streaming and hit.action in HOVER_ACTIONS)

    # -- events -------------------------------------------------------------------------------------
    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        pos = event.position().toPoint()
        self._pressed_anchor = ""
        self._pressed_hit = None
        if event.button() != Qt.MouseButton.LeftButton:
            return
        hit = self._hit_at(pos)
        if hit is not None:
            k, h = hit
            self._pressed_hit = (self._rows[k].id, h.action, h.piece)
            return
        if self._is_triple_click(pos):
            self._select_unit(pos, paragraph=True)
            return
        found = self._locate(pos)
        if found is None:
            return
        k, j, char, local = found
        row = self._rows[k]
        assert row.pieces is not None
        self._pressed_anchor = row.pieces[j].doc.documentLayout().anchorAt(local)
        self._current, self._current_hit = row.id, -1
        self._selecting = True
        start = (row.id, j, char)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and self._sel_anchor:
            self._sel_end = start
        else:
            self._sel_anchor = self._sel_end = start
        self.viewport().update()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        pos = event.position().toPoint()
        if event.buttons() & Qt.MouseButton.LeftButton and self._sel_anchor and not self._pressed_hit:
            self._extend_selection(pos)
            self._drag_to(pos)
            return
        self._set_hover(pos)
        pointing = self._hit_at(pos) is not None
        if not pointing:
            found = self._locate(pos)
            if found is not None:
                k, j, _, local = found
                pieces = self._rows[k].pieces or []
                pointing = bool(pieces and pieces[j].doc.documentLayout().anchorAt(local))
        self.viewport().setCursor(Qt.CursorShape.PointingHandCursor if pointing else Qt.CursorShape.IBeamCursor)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        pos = event.position().toPoint()
        self._selecting = False
        if self._drag_timer is not None:
            self._drag_timer.stop()
        if self._pressed_hit is not None:
            hit = self._hit_at(pos)
            pressed, self._pressed_hit = self._pressed_hit, None
            if hit is not None and (self._rows[hit[0]].id, hit[1].action, hit[1].piece) == pressed:
                self._trigger(pressed[0], hit[1])
            return
        if self._pressed_anchor and self._selection_range() is None:
            found = self._locate(pos)
            if found is not None:
                k, j, _, local = found
                pieces = self._rows[k].pieces or []
                if pieces and pieces[j].doc.documentLayout().anchorAt(local) == self._pressed_anchor:
                    self._open_link(self._pressed_anchor)
        self._pressed_anchor = ""
        if event.button() == Qt.MouseButton.LeftButton:
            text = self.selected_text()
            clipboard = QGuiApplication.clipboard()
            if text and clipboard.supportsSelection():
                clipboard.setText(text, clipboard.Mode.Selection)

    # -- a word, a paragraph, and selecting past the edges -------------------------------------------
    _selecting = False  # the left button went down on text and is still down
    _drag_timer: QTimer | None = None  # scrolls while a selection drag is past the top or bottom
    _drag_pos: QPoint | None = None
    _double_at: tuple[float, QPoint] | None = None  # when and where the last double-click was

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """A double-click selects the word under the pointer (a third click, its paragraph)."""
        pos = event.position().toPoint()
        if event.button() != Qt.MouseButton.LeftButton or self._hit_at(pos) is not None:
            self.mousePressEvent(event)  # on a button: a second click, as before
            return
        if self._select_unit(pos, paragraph=False):
            self._double_at = (time.monotonic(), pos)

    def _is_triple_click(self, pos: QPoint) -> bool:
        if self._double_at is None:
            return False
        when, where = self._double_at
        self._double_at = None
        hints = QGuiApplication.styleHints()
        return (time.monotonic() - when) * 1000 <= hints.mouseDoubleClickInterval() \
            and (pos - where).manhattanLength() <= hints.startDragDistance()

    def _select_unit(self, pos: QPoint, paragraph: bool) -> bool:
        """Select the word (or paragraph: the text block) under ``pos``; False when there is none."""
        found = self._locate(pos)
        if found is None:
            return False
        k, j, char, _ = found
        row = self._rows[k]
        assert row.pieces is not None
        doc = row.pieces[j].doc
        if paragraph:
            block = doc.findBlock(char)
            start, end = block.position(), block.position() + block.length() - 1
        else:
            cursor = QTextCursor(doc)
            cursor.setPosition(min(char, doc.characterCount() - 1))
            cursor.select(QTextCursor.SelectionType.WordUnderCursor)
            start, end = cursor.selectionStart(), cursor.selectionEnd()
        if end <= start:
            return False
        self._sel_anchor, self._sel_end = (row.id, j, start), (row.id, j, end)
        self._current, self._current_hit = row.id, -1
        self.viewport().update()
        clipboard = QGuiApplication.clipboard()
        if clipboard.supportsSelection():
            clipboard.setText(self.selected_text(), clipboard.Mode.Selection)
        return True

    def _drag_to(self, pos: QPoint) -> None:
        """A selection drag above or below the messages scrolls them, faster the further out."""
        self._drag_pos = pos
        outside = pos.y() < 0 or pos.y() >= self.viewport().height()
        if not outside or not self._selecting:
            if self._drag_timer is not None:
                self._drag_timer.stop()
            return
        if self._drag_timer is None:
            self._drag_timer = QTimer(self)
            self._drag_timer.setInterval(30)
            self._drag_timer.timeout.connect(self._drag_step)
        if not self._drag_timer.isActive():
            self._drag_timer.start()
            self._drag_step()

    def _drag_step(self) -> None:
        assert self._drag_timer is not None
        pos, height = self._drag_pos, self.viewport().height()
        over = 0 if pos is None or not self._selecting else pos.y() if pos.y() < 0 else max(0, pos.y() - height + 1)
        if over == 0 or pos is None:
            self._drag_timer.stop()
            return
        bar = self.verticalScrollBar()
        step = min(height // 2, 8 + abs(over))
        bar.setValue(bar.value() + (step if over > 0 else -step))
        self._extend_selection(QPoint(pos.x(), 0 if over < 0 else height - 1))

    def _extend_selection(self, pos: QPoint) -> None:
        """The selection's moving end goes to the text under ``pos`` (a drag, or its scrolling)."""
        found = self._locate(pos)
        if found is not None:
            k, j, char, _ = found
            self._sel_end = (self._rows[k].id, j, char)
            self.viewport().update()

    # -- focus ---------------------------------------------------------------------------------------
    def focusInEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().focusInEvent(event)
        self.viewport().update()  # the current message's frame is drawn only while the list has the focus

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().focusOutEvent(event)
        self.viewport().update()

    def _open_link(self, href: str) -> None:
        md, _ = render_module()
        if md.safe_link(href):  # rendering makes no other anchors; checked again all the same
            from PySide6.QtCore import QUrl  # not at import: its type costs ~0.5 ms of start-up

            QDesktopServices.openUrl(QUrl(href))
            self.linkActivated.emit(href)

    def _trigger(self, message_id: int, hit: _Hit) -> None:
        row = self._row(message_id)
        action = hit.action
        if action == "copy":
            self.copy_message(message_id)
        elif action == "copy_markdown":
            self.copy_message(message_id, markdown=True)
        elif action == "copy_code":
            assert row.pieces is not None
            self._to_clipboard(row.pieces[hit.piece].code, "the code")
        elif action == "toggle_reasoning":
            row.expanded = not row.expanded
            self._invalidate(row)
        elif action == "regenerate":
            self.regenerateRequested.emit(message_id)
        elif action == "edit":
            self.editRequested.emit(message_id)
        elif action == "delete":
            self.deleteRequested.emit(message_id)
        elif action in ("previous_version", "next_version"):
            if self.delegate.hit_enabled(row, action):
                self.versionRequested.emit(message_id, row.version + (1 if action == "next_version" else -1))
        elif (action, hit.label) in row.links:
            self.actionRequested.emit(message_id, action)

    def trigger_action(self, message_id: int, action: str, piece: int = -1) -> None:
        """Does what clicking the message's ``action`` button does (as the keyboard path does)."""
        row = self._row(message_id)
        self._ensure_whole(row)
        self.delegate._layout_row(row)
        for hit in row.hits:
            if hit.action == action and (piece < 0 or hit.piece == piece):
                self._trigger(message_id, hit)
                return
        raise KeyError(f"message {message_id} has no {action!r} action")

    def action_point(self, message_id: int, action: str, label: str = "") -> QPoint:
        """Where a message's ``action`` button (reading ``label``, if given) is in the viewport,
        scrolled into view first: what a mouse click there does is what the user gets."""
        row = self._row(message_id)
        self._ensure_whole(row)
        self._measure(row, force=True)
        hit = next((h for h in row.hits if h.action == action and (not label or h.label == label)), None)
        if hit is None:
            raise KeyError(f"message {message_id} has no {action!r} action")
        bar = self.verticalScrollBar()
        k = self._index[message_id]
        y = self._tops[k] + hit.rect.center().y()
        if not bar.value() <= y < bar.value() + self.viewport().height():
            self._stick = False
            bar.setValue(max(0, y - self.viewport().height() // 2))
            self._prepare_visible()
            y = self._tops[self._index[message_id]] + hit.rect.center().y()
        x0, _ = self._column()
        return QPoint(x0 + hit.rect.center().x(), y - bar.value())

    def links(self) -> list[tuple[int, str, str]]:
        """Every row's own link on screen, in order: (message id, action, label)."""
        return [(row.id, action, label) for row in self._rows for action, label in row.links]

    def action_labels(self, message_id: int) -> list[str]:
        """The actions shown for a message, in keyboard order."""
        row = self._row(message_id)
        self._ensure_whole(row)
        self.delegate._layout_row(row)
        return [hit.action for hit in row.hits]

    def _deletes_current(self, event: Any) -> bool:
        """Whether ``event`` is Delete on a current message that offers Delete: it deletes that
        message, as its Delete button does (as Delete in the chat list acts on the highlighted chat).
        With no current message the key is the window's: Delete chat, with Undo."""
        return (event.matches(QKeySequence.StandardKey.Delete) and self._current in self._index
                and "delete" in self.action_labels(self._current))

    def event(self, event: Any) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._deletes_current(event):
            event.accept()  # the key comes here, not to the window's Delete chat
            return True
        return super().event(event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if self._deletes_current(event):
            self.deleteRequested.emit(self._current)
            return
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection() if self._selection_range() else (
                self.copy_message(self._current) if self._current in self._index else None)
            return
        if event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
            return
        if ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1)
            return
        if ctrl and key == Qt.Key.Key_Minus:
            self.zoom(-1)
            return
        if ctrl and key == Qt.Key.Key_0:
            self.set_zoom(0)
            return
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self._rows:
            k = self._index.get(self._current, len(self._rows))
            k = max(0, k - 1) if key == Qt.Key.Key_Up else min(len(self._rows) - 1, k + 1 if self._current in self._index else len(self._rows) - 1)
            self._set_current(self._rows[k].id)
            return
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self._current in self._index:
            row = self._row(self._current)
            shown = [n for n, hit in enumerate(row.hits) if self._offered(row, hit)]
            if shown:  # the next (previous) action drawn: none of a streaming reply's hidden ones
                step = 1 if key == Qt.Key.Key_Right else -1
                at = shown.index(self._current_hit) if self._current_hit in shown else (-1 if step > 0 else 0)
                self._current_hit = shown[(at + step) % len(shown)]
                self._announce()
                self.viewport().update()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self._current in self._index:
            row = self._row(self._current)
            if 0 <= self._current_hit < len(row.hits):
                hit = row.hits[self._current_hit]
                if self._offered(row, hit):
                    self._trigger(row.id, hit)
            return
        if key == Qt.Key.Key_Home and ctrl:
            self.verticalScrollBar().setValue(0)
            return
        if key == Qt.Key.Key_End and ctrl:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
            return
        if key == Qt.Key.Key_PageUp:
            self.verticalScrollBar().triggerAction(self.verticalScrollBar().SliderAction.SliderPageStepSub)
            return
        if key == Qt.Key.Key_PageDown:
            self.verticalScrollBar().triggerAction(self.verticalScrollBar().SliderAction.SliderPageStepAdd)
            return
        super().keyPressEvent(event)

    def current_message(self) -> int:
        return self._current

    def current_action(self) -> str:
        if self._current not in self._index:
            return ""
        row = self._row(self._current)
        return row.hits[self._current_hit].action if 0 <= self._current_hit < len(row.hits) else ""

    def _set_current(self, message_id: int) -> None:
        self._current, self._current_hit = message_id, -1
        k = self._index[message_id]
        bar = self.verticalScrollBar()
        top, bottom = self._tops[k], self._tops[k + 1]
        if top < bar.value():
            bar.setValue(top)
        elif bottom > bar.value() + self.viewport().height():
            bar.setValue(min(top, bottom - self.viewport().height()))
        self._announce()
        self.viewport().update()

    def _announce(self) -> None:
        """The accessible description follows the keyboard's current message and action."""
        if self._current in self._index:
            text = self.accessible_text(self._current)
            action = self.current_action()
            self.setAccessibleDescription(f"{text}. {action}" if action else text)
            from chatbot_gui.ui.messages import access

            access.focus_moved(self)

    def context_menu(self, message_id: int) -> QMenu:
        """The menu of a message's actions (right click, the Menu key, Shift+F10)."""
        menu = QMenu(self)
        if self._selection_range() is not None:
            menu.addAction("Copy selection", self.copy_selection)
            menu.addSeparator()
        row = self._row(message_id)
        self._ensure_whole(row)
        self.delegate._layout_row(row)
        names = {"copy": "Copy", "copy_markdown": "Copy Markdown", "regenerate": "Regenerate",
                 "edit": "Edit and resend", "delete": "Delete", "previous_version": "Previous version",
                 "next_version": "Next version", "toggle_reasoning": "Show or hide reasoning",
                 "pin": "Pin: always send to the model", "unpin": "Unpin"}
        for hit in row.hits:
            if hit.action in names or (hit.action, hit.label) in row.links:
                menu.addAction(names.get(hit.action, hit.label), lambda h=hit: self._trigger(message_id, h))
        return menu

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802
        if event.reason() == event.Reason.Mouse:
            found = self._locate(self.viewport().mapFrom(self, event.pos()))
            if found is None:
                return
            self._current = self._rows[found[0]].id
        if self._current not in self._index:
            return
        self.context_menu(self._current).exec(event.globalPos())

    def wheelEvent(self, event: Any) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1 if event.angleDelta().y() > 0 else -1)
            return
        super().wheelEvent(event)

    def _hold_collector(self) -> None:
        """Scrolling renders messages, which allocates; CPython's full (generation 2) collection then
        comes every few hundred rows and walks every object of the process, 15-40 ms with a
        10,000-message chat open (measured: the longest PageUp steps of benchmarks/bench_render.py
        were such passes). While the user scrolls or text streams in, and GC_HOLD_MS after, none starts
        (``core/gcpolicy.streaming``, as for a streaming reply); young generations still run."""
        if not self._gc_hold:
            from chatbot_gui.core import gcpolicy

            hold = gcpolicy.streaming()
            hold.__enter__()
            self._gc_hold.append(hold)
        self._gc_release.start()

    def _release_collector(self) -> None:
        _release(self._gc_hold)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        self._hold_collector()
        bar = self.verticalScrollBar()
        self._stick = bar.value() >= bar.maximum()
        vp = self.viewport()
        if abs(dy) >= vp.height() or abs(dx) >= vp.width():
            vp.update()  # nothing stays on screen (PageUp): nothing to copy
        else:
            vp.scroll(dx, dy)  # a copy of what stays on screen; only the new strip is drawn
        if self._hover_pos is not None:
            # The list moved under a still pointer (no mouse move comes: wheel, keys, a reply
            # followed to its end): the message now under it is the one pointed at.
            self._set_hover(self._hover_pos)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_scrollbar()

    def changeEvent(self, event: Any) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and self._theme == "system":
            self.set_theme("system")

    def _to_clipboard(self, text: str, what: str = "") -> None:
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text, what)
