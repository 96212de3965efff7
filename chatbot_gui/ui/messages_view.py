"""The message list: a chat's messages in a centred column, each rendered once and laid out when seen.

Model/view in the manner of KDE Ruqola's message list: the messages are rows addressed by id; a
delegate (``_Painter``) draws a row from its cached documents (one per top-level Markdown block, see
``chatbot_gui.ui.render``); text selection runs from (row, block, char) to (row, block, char) across
messages; per-message actions are drawn by the delegate and reachable by keyboard.

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
    copied(str): text was put on the clipboard (a message, a selection or a code block)
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPalette,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QMenu, QWidget

USER, ASSISTANT = "user", "assistant"
ROLE_LABELS = {USER: "You", ASSISTANT: "Assistant"}
#: Shown under a reply that finished without any text (instead of a bare label).
EMPTY_REPLY = "The reply was empty."
#: Column width in average characters (ChatGPT's reading column is about this wide).
COLUMN_CHARS = 75
#: Rendered documents are kept for at most this many messages (the rest keep only their height).
CACHE_ROWS = 300
ZOOM_MIN, ZOOM_MAX = -6, 12
_PAD = 14  # vertical space above and below a message
_BUBBLE_PAD = 10
_CODE_HEAD = 26  # the bar with a code block's language and Copy button
_CODE_PAD = 10
_ACTION_H = 24
_COALESCE_MS = 16
#: Rendering work per event-loop pass while text floods in (the rest waits for the next pass).
FLUSH_BUDGET_S = 0.004
#: Rows rendered ahead of the screen, in each direction, while the view is idle.
AHEAD = 4


@dataclass
class _Hit:
    rect: QRect  # in row coordinates
    action: str
    label: str
    piece: int = -1


@dataclass
class _Piece:
    doc: QTextDocument
    kind: str  # text, code, table, math, plain, reasoning
    code: str = ""
    language: str = ""
    x: int = 0
    y: int = 0
    width: int = -1
    height: int = 0
    bottom: int = 0  # where the next block starts (row coordinates)
    hit: _Hit | None = None  # a code block's Copy button


@dataclass
class _Row:
    id: int
    role: str
    text: str
    status: str = ""
    version: int = 1
    versions: int = 1
    reasoning: str = ""
    reasoning_seconds: float | None = None
    expanded: bool = False
    streaming: bool = False
    pieces: list[_Piece] | None = None
    stream: Any = None  # BlockStream while streaming
    pending: deque = field(default_factory=deque)  # finished blocks not yet turned into documents
    open_blocks: list | None = None  # the open block's latest rendering, shown once pending is empty
    fed: int = -1  # len(text) last given to the stream
    fed_final: bool = False
    done: int = 0  # pieces[:done] are finished blocks of a streaming reply
    answer_start: int = 0  # where the answer starts in pieces (after reasoning)
    height: int = 0
    measured: bool = False
    hits: list[_Hit] = field(default_factory=list)
    bubble: QRect | None = None


_SAMPLE = "the quick brown fox jumps over a lazy dog, THEN 42 more "


def _char_width(font: QFont) -> float:
    """The average width of a character of prose in ``font``."""
    return QFontMetrics(font).horizontalAdvance(_SAMPLE) / len(_SAMPLE)


def _render_module() -> Any:
    # Imported on first use: markdown-it-py and Pygments never load before the first paint.
    from chatbot_gui.ui.render import document, markdown_html

    return markdown_html, document


class MessagesView(QAbstractScrollArea):
    """A chat's messages, addressed by id. Holds no chat state beyond what it is told to show."""

    regenerateRequested = Signal(int)
    editRequested = Signal(int)
    deleteRequested = Signal(int)
    versionRequested = Signal(int, int)
    linkActivated = Signal(str)
    copied = Signal(str)

    def __init__(self, parent: QWidget | None = None, theme: str = "light") -> None:
        super().__init__(parent)
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
        self._current_hit = -1
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_COALESCE_MS)
        self._timer.timeout.connect(self._flush)
        self._ahead = QTimer(self)
        self._ahead.setSingleShot(True)
        self._ahead.setInterval(0)
        self._ahead.timeout.connect(self._render_ahead)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().setMouseTracking(True)
        self.verticalScrollBar().setSingleStep(40)
        self.setAccessibleName("Messages")
        self._apply_theme()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._scheme_changed)

    def _scheme_changed(self, *_args: Any) -> None:
        if self._theme == "system":
            self.set_theme("system")

    # -- public API (addressed by message id) ---------------------------------------------------------
    def add_message(self, message_id: int, role: str, text: str, *, streaming: bool = False,
                    status: str = "", version: int = 1, versions: int = 1) -> None:
        """Adds a message at the end (``streaming``: more text will come with ``append_text``)."""
        if message_id in self._index:
            raise ValueError(f"message {message_id} is already shown")
        row = _Row(message_id, role, text, status=status, version=version, versions=versions,
                   streaming=streaming and role == ASSISTANT)
        self._index[message_id] = len(self._rows)
        self._rows.append(row)
        row.height = self._estimate(row)
        self._relayout_from(len(self._rows) - 1)

    def set_messages(self, messages: list[tuple[int, str, str]]) -> None:
        """Replaces everything with ``(id, role, text)`` messages (opening a chat); nothing is
        rendered until it is scrolled into view, so this costs microseconds per message."""
        self._drop_all()
        self._rows = [_Row(i, role, text) for i, role, text in messages]
        self._index = {row.id: k for k, row in enumerate(self._rows)}
        self._sel_anchor = self._sel_end = None
        self._current, self._current_hit = -1, -1
        per_line = self._per_line()
        heights = [self._estimate(row, per_line) for row in self._rows]
        for row, h in zip(self._rows, heights):
            row.height = h
        self._tops = list(itertools.accumulate(heights, initial=0))
        self._stick = True
        self._relayout_from(0)

    def append_text(self, message_id: int, delta: str) -> None:
        """Adds streamed text to a message; shown at the next coalescing tick (~16 ms)."""
        row = self._row(message_id)
        row.text += delta
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
        if not status and row.role == ASSISTANT and not self._answer(row).strip():
            status = EMPTY_REPLY
        row.status = status
        self._dirty.discard(message_id)
        if row.pieces is not None:
            until = time.perf_counter() + FLUSH_BUDGET_S
            self._measure(row, force=True, start=self._update_stream(row, final=True, until=until))
            if row.pending:
                self._dirty.add(message_id)
                self._timer.start(0)
        else:
            self._invalidate(row)

    def set_status(self, message_id: int, status: str) -> None:
        row = self._row(message_id)
        row.status = status
        self._measure(row, force=True)

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
        parts = [f"{ROLE_LABELS.get(row.role, row.role)}: {self._answer(row)}"]
        if row.status:
            parts.append(row.status)
        if row.versions > 1:
            parts.append(f"version {row.version} of {row.versions}")
        return ". ".join(parts)

    def plain_text(self, message_id: int) -> str:
        """The message as plain text: rendered Markdown's text, code blocks exactly."""
        row = self._row(message_id)
        self._ensure(row)
        assert row.pieces is not None
        return "\n\n".join(self._piece_text(p) for p in row.pieces[row.answer_start:])

    def copy_message(self, message_id: int, markdown: bool = False) -> None:
        text = self._answer(self._row(message_id)) if markdown else self.plain_text(message_id)
        self._to_clipboard(text)

    def chat_markdown(self) -> str:
        """The whole chat as Markdown ("Copy chat"): each turn under its role, reasoning left out."""
        parts = []
        for row in self._rows:
            label = ROLE_LABELS.get(row.role, row.role)
            parts.append(f"**{label}:**\n\n{self._answer(row).strip()}")
        return "\n\n".join(parts) + "\n"

    def copy_chat(self) -> None:
        self._to_clipboard(self.chat_markdown())

    def code_blocks(self, message_id: int) -> list[tuple[str, str]]:
        """(language, code) of each code block of the message, in order."""
        row = self._row(message_id)
        self._ensure(row)
        assert row.pieces is not None
        return [(p.language, p.code) for p in row.pieces if p.kind == "code"]

    def copy_code(self, message_id: int, n: int) -> None:
        """Copies the ``n``-th code block of the message, exactly."""
        self._to_clipboard(self.code_blocks(message_id)[n][1])

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
                parts.append(cursor.selection().toPlainText())
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
            self._font_cache = (self._zoom, font, _char_width(font), QFontMetrics(font).lineSpacing())
        return self._font_cache[1]

    def _font_metrics(self) -> tuple[float, int]:
        """(average character width, line spacing) of the content font."""
        self.content_font()
        assert self._font_cache is not None
        return self._font_cache[2], self._font_cache[3]

    def colors(self) -> dict[str, str]:
        md, _ = _render_module()
        return md.THEMES[self._resolved_theme()]

    # -- internals: rows and rendering --------------------------------------------------------------
    def _row(self, message_id: int) -> _Row:
        return self._rows[self._index[message_id]]

    def _answer(self, row: _Row) -> str:
        if row.role != ASSISTANT:
            return row.text
        md, _ = _render_module()
        return md.split_reasoning(row.text).answer

    def _resolved_theme(self) -> str:
        if self._theme == "system":
            scheme = QGuiApplication.styleHints().colorScheme()
            return "dark" if scheme == Qt.ColorScheme.Dark else "light"
        return self._theme

    def _apply_theme(self) -> None:
        md, _ = _render_module()  # (cheap: the Markdown libraries load only when a block renders)
        bg = md.THEMES[self._resolved_theme()]["background"]
        pal = self.viewport().palette()
        pal.setColor(QPalette.ColorRole.Base, QColor(bg))
        pal.setColor(QPalette.ColorRole.Window, QColor(bg))
        self.viewport().setPalette(pal)
        self.viewport().setAutoFillBackground(True)
        self.viewport().update()

    def _column(self) -> tuple[int, int]:
        """(left x, width) of the reading column in the viewport."""
        vw = max(100, self.viewport().width())
        want = int(self._font_metrics()[0] * COLUMN_CHARS) + 2 * _PAD
        width = min(vw - 2 * _PAD, want)
        return (vw - width) // 2, width

    def _estimate(self, row: _Row, per_line: int = 0) -> int:
        """A row's height before it is rendered: from its length (exact once it is seen)."""
        char_w, line = self._font_metrics()
        if not per_line:
            per_line = max(20, int(self._column()[1] / char_w))
        lines = len(row.text) / per_line + row.text.count("\n") * 0.6 + 1
        extra = line if row.role == ASSISTANT else 2 * _BUBBLE_PAD
        return int(lines * line) + 2 * _PAD + _ACTION_H + extra

    def _per_line(self) -> int:
        return max(20, int(self._column()[1] / self._font_metrics()[0]))

    def _drop_all(self) -> None:
        self._cache.clear()
        self._dirty.clear()

    def _invalidate(self, row: _Row, relayout: bool = True) -> None:
        row.pieces = None
        row.stream = None
        row.measured = False
        self._cache.pop(row.id, None)
        if relayout:
            self._measure(row, force=True)

    def _piece_text(self, piece: _Piece) -> str:
        return piece.code if piece.kind == "code" else piece.doc.toPlainText()

    def _ensure(self, row: _Row) -> None:
        """Renders a row's documents if it has none (and keeps at most CACHE_ROWS rows rendered)."""
        if row.pieces is not None:
            self._cache.move_to_end(row.id, last=True) if row.id in self._cache else None
            return
        md, doc = _render_module()
        font = self.content_font()
        theme = self._resolved_theme()
        pieces: list[_Piece] = []
        if row.role != ASSISTANT:
            pieces.append(_Piece(doc.plain_document(row.text, font), "plain"))
            row.answer_start = 0
        else:
            split = md.split_reasoning(row.text)
            reasoning = row.reasoning or split.reasoning
            if reasoning and row.expanded:
                rdoc = doc.plain_document(reasoning, font)
                pieces.append(_Piece(rdoc, "reasoning"))
            row.answer_start = len(pieces)
            if row.streaming or row.stream is not None:
                row.pieces = pieces
                row.stream = None
                self._update_stream(row, final=row.fed_final, until=math.inf)
                pieces = row.pieces
            else:
                pieces += [self._block_piece(b, font) for b in md.render_blocks(split.answer, theme)]
                row.done = len(pieces)
        row.pieces = pieces
        row.measured = False
        self._cache[row.id] = None
        while len(self._cache) > CACHE_ROWS:
            old, _ = self._cache.popitem(last=False)
            k = self._index.get(old)
            if k is not None and not self._rows[k].streaming and self._rows[k].stream is None:
                self._rows[k].pieces = None  # its height stays; documents come back when seen

    def _block_piece(self, block: Any, font: QFont) -> _Piece:
        _, doc = _render_module()
        if block.kind == "code":
            return _Piece(doc.block_document(block, font), "code", block.code, block.language)
        return _Piece(doc.block_document(block, font), block.kind)

    def _update_stream(self, row: _Row, final: bool = False, until: float = 0.0) -> int:
        """Renders what is new in a streaming reply: blocks that became finished (once each) and
        the open last block (again). Stops turning finished blocks into documents at ``until``
        (``time.perf_counter()``; at least one per call), so a flood of text is shown over several
        event-loop passes instead of blocking one. Returns the index of the first changed block."""
        md, _ = _render_module()
        assert row.pieces is not None
        if row.stream is None:
            row.stream = md.BlockStream(self._resolved_theme())
            row.pieces = row.pieces[: row.answer_start]
            row.done = row.answer_start
            row.pending.clear()
            row.fed = -1
        if row.fed != len(row.text) or (final and not row.fed_final):
            split = md.split_reasoning(row.text)
            finished, open_ = row.stream.feed(split.answer, final=final)
            row.pending.extend(finished)
            row.open_blocks = open_
            row.fed = len(row.text)
            row.fed_final = final
        font = self.content_font()
        first_changed = len(row.pieces)
        converted = False
        while row.pending and (not converted or time.perf_counter() < until):
            if not converted:
                del row.pieces[row.done:]  # the open block shown so far is among these
                first_changed = row.done
                converted = True
            row.pieces.append(self._block_piece(row.pending.popleft(), font))
            row.done += 1
        if not row.pending and row.open_blocks is not None:
            first_changed = min(first_changed, row.done)
            del row.pieces[row.done:]
            row.pieces += [self._block_piece(b, font) for b in row.open_blocks]
            row.open_blocks = None
        if row.fed_final and not row.pending:
            row.stream = None
        return first_changed

    def _flush(self) -> None:
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
            self._measure(row, force=True, start=self._update_stream(row, final=row.fed_final, until=until))
            if row.pending:
                self._dirty.add(message_id)
        if self._dirty:
            self._timer.start(0)  # the rest in the next pass, after input and timers had their turn

    def rendering_pending(self) -> bool:
        """Whether streamed text is still waiting to be shown (benchmarks wait for this)."""
        return bool(self._dirty) or self._timer.isActive()

    # -- layout -------------------------------------------------------------------------------------
    def _layout_row(self, row: _Row, start: int = 0) -> int:
        """Positions a rendered row's documents and hit areas; returns its height. ``start``: the
        blocks before it are laid out already and unchanged (a streaming reply's finished ones)."""
        assert row.pieces is not None
        x0, width = self._column()
        fm = QFontMetrics(self.content_font())
        line = fm.lineSpacing()
        gap = int(line * 0.6)
        y = _PAD
        hits: list[_Hit] = []
        row.bubble = None
        if row.role == ASSISTANT:
            y += line  # the role label
            reasoning = row.reasoning or self._reasoning_text(row)
            if reasoning or self._thinking(row):
                label = self._reasoning_label(row)
                hits.append(_Hit(QRect(0, y, fm.horizontalAdvance(label) + 8, line), "toggle_reasoning", label))
                y += line + gap // 2
        if not row.measured or start <= 0 or start > len(row.pieces) or row.role == USER:
            start = 0
        elif start > 0:
            y = row.pieces[start - 1].bottom
        for j in range(start, len(row.pieces)):
            piece = row.pieces[j]
            piece.hit = None
            if row.role == USER:
                inner = int(width * 0.8) - 2 * _BUBBLE_PAD
                if piece.width != inner:
                    piece.doc.setTextWidth(inner)
                    piece.width = inner
                ideal = min(inner, math.ceil(piece.doc.idealWidth()))
                piece.doc.setTextWidth(ideal)
                piece.width = ideal
                piece.height = math.ceil(piece.doc.size().height())
                bw = ideal + 2 * _BUBBLE_PAD
                row.bubble = QRect(width - bw, y, bw, piece.height + 2 * _BUBBLE_PAD)
                piece.x, piece.y = width - bw + _BUBBLE_PAD, y + _BUBBLE_PAD
                y += piece.height + 2 * _BUBBLE_PAD + gap
                piece.bottom = y
                continue
            inner = width - (2 * _CODE_PAD if piece.kind == "code" else 0) - (16 if piece.kind == "reasoning" else 0)
            if piece.width != inner:
                piece.doc.setTextWidth(inner)
                piece.width = inner
            piece.height = math.ceil(piece.doc.size().height())
            if piece.kind == "code":
                copy_w = fm.horizontalAdvance("Copy") + 16
                piece.hit = _Hit(QRect(width - copy_w - 4, y + 2, copy_w, _CODE_HEAD - 4), "copy_code", "Copy", j)
                piece.x, piece.y = _CODE_PAD, y + _CODE_HEAD + _CODE_PAD
                y += _CODE_HEAD + piece.height + 2 * _CODE_PAD + gap
            else:
                piece.x = 16 if piece.kind == "reasoning" else 0
                piece.y = y
                y += piece.height + gap
            piece.bottom = y
        if row.pieces:
            y = row.pieces[-1].bottom
            hits += [p.hit for p in row.pieces if p.hit is not None]
        if row.status:
            y += line
        # The action bar.
        ax = 0 if row.role == ASSISTANT else None
        labels = self._actions(row)
        widths = [fm.horizontalAdvance(label) + 14 for _, label in labels]
        total = sum(widths)
        ax = 0 if row.role == ASSISTANT else width - total
        for (action, label), w in zip(labels, widths):
            hits.append(_Hit(QRect(ax, y, w, _ACTION_H - 2), action, label))
            ax += w
        y += _ACTION_H + _PAD
        row.hits = hits
        row.measured = True
        return y

    def _actions(self, row: _Row) -> list[tuple[str, str]]:
        acts: list[tuple[str, str]] = []
        if row.versions > 1:
            acts += [("previous_version", "‹"), ("version", f"{row.version}/{row.versions}"),
                     ("next_version", "›")]
        acts.append(("copy", "Copy"))
        if row.role == ASSISTANT:
            acts.append(("copy_markdown", "Copy Markdown"))
            acts.append(("regenerate", "Regenerate"))
        else:
            acts.append(("edit", "Edit"))
        acts.append(("delete", "Delete"))
        return acts

    def _reasoning_text(self, row: _Row) -> str:
        if row.role != ASSISTANT or "<think" not in row.text[:64].lower():
            return ""
        md, _ = _render_module()
        return md.split_reasoning(row.text).reasoning

    def _thinking(self, row: _Row) -> bool:
        if row.role != ASSISTANT or "<think" not in row.text[:64].lower():
            return False
        md, _ = _render_module()
        return md.split_reasoning(row.text).thinking

    def _reasoning_label(self, row: _Row) -> str:
        arrow = "▾" if row.expanded else "▸"
        if self._thinking(row):
            return f"{arrow} Thinking…"
        if row.reasoning_seconds is not None:
            return f"{arrow} Thought for {round(row.reasoning_seconds)} s"
        return f"{arrow} Reasoning"

    def _measure(self, row: _Row, force: bool = False, start: int = 0) -> None:
        """Brings a row's height up to date (rendered: exact; not rendered: estimated)."""
        k = self._index[row.id]
        dirty_y = None
        if row.pieces is not None:
            height = self._layout_row(row, start)
            if 0 < start <= len(row.pieces):
                dirty_y = self._tops[k] + row.pieces[start - 1].bottom
        else:
            height = self._estimate(row)
        if height != row.height or force:
            row.height = height
            self._relayout_from(k, dirty_y=dirty_y)

    def _relayout_from(self, k: int, reestimate: bool = False, dirty_y: int | None = None) -> None:
        """Row tops from row ``k`` down; keeps the view at the end while following it.

        Only what changed is painted again: content from ``dirty_y`` (content coordinates; default:
        row ``k``'s top) down. When following the end, the pixels above move up by a scroll (a copy)
        instead of being drawn again, so a streamed delta costs a strip of painting, not a screen.
        """
        if reestimate:
            per_line = self._per_line()
            for row in self._rows:
                row.height = self._estimate(row, per_line)
            k = 0
        heights = [row.height for row in self._rows[k:]]
        start = self._tops[k] if k < len(self._tops) else 0
        del self._tops[k:]
        self._tops.extend(itertools.accumulate(heights, initial=start))
        bar = self.verticalScrollBar()
        before = bar.value()
        self._update_scrollbar()
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
        bar.setRange(0, max(0, total - page))
        bar.setPageStep(page)
        if self._stick:
            bar.setValue(bar.maximum())
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
        for k in rows:
            row = self._rows[k]
            if row.pieces is not None and row.measured:
                continue
            self._ensure(row)
            old = row.height
            row.height = self._layout_row(row)
            if row.height != old:
                first_changed = k if first_changed < 0 else min(first_changed, k)
                if self._tops[k] < top:
                    shift_above += row.height - old
        if first_changed < 0:
            return False
        self._relayout_from(first_changed)
        if shift_above and not self._stick:
            bar.blockSignals(True)
            bar.setValue(top + shift_above)
            bar.blockSignals(False)
        return True

    def _render_ahead(self) -> None:
        """While idle, renders a few rows above and below the screen, one per event-loop pass, so
        scrolling finds them ready (each pass costs one message: a few milliseconds)."""
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
        if not self._ahead.isActive():
            self._ahead.start()

    def _paint(self, area: QRect) -> None:
        painter = QPainter(self.viewport())
        colors = self.colors()
        x0, width = self._column()
        top = self.verticalScrollBar().value()
        rng = self._selection_range()
        font = self.content_font()
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.9)
        fm = QFontMetrics(font)
        for k in self._visible_rows():
            row = self._rows[k]
            oy = self._tops[k] - top
            if row.pieces is None or oy > area.bottom() or oy + row.height < area.top():
                continue
            painter.save()
            painter.translate(x0, oy)
            self._paint_row(painter, row, k, colors, rng, font, small, fm,
                            (area.top() - oy, area.bottom() + 1 - oy))
            painter.restore()
        painter.end()

    def _paint_row(self, p: QPainter, row: _Row, k: int, c: dict[str, str], rng: Any,
                   font: QFont, small: QFont, fm: QFontMetrics, shown: tuple[int, int]) -> None:
        """Draws one row; ``shown`` is the part of it on screen (row coordinates): a long reply
        draws only the blocks there."""
        assert row.pieces is not None
        shown_top, shown_bottom = shown
        x0, width = self._column()
        muted, text = QColor(c["muted"]), QColor(c["text"])
        if row.role == ASSISTANT:
            p.setFont(small)
            p.setPen(muted)
            p.drawText(QRect(0, _PAD, width, fm.lineSpacing()), Qt.AlignmentFlag.AlignVCenter, ROLE_LABELS[ASSISTANT])
        if row.bubble is not None:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(c["bubble"]))
            p.drawRoundedRect(QRectF(row.bubble), 14, 14)
        first = 0
        if len(row.pieces) > 8:  # find the first block on screen (blocks are in y order)
            first = max(0, bisect.bisect_left(row.pieces, shown_top, key=lambda q: q.bottom))
        for j in range(first, len(row.pieces)):
            piece = row.pieces[j]
            if piece.y - _CODE_HEAD - _CODE_PAD > shown_bottom:
                break
            if piece.kind == "code":
                box = QRectF(0, piece.y - _CODE_HEAD - _CODE_PAD, width, piece.height + _CODE_HEAD + 2 * _CODE_PAD)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(c["code_bg"]))
                p.drawRoundedRect(box, 8, 8)
                p.setBrush(QColor(c["code_head"]))
                p.drawRoundedRect(QRectF(0, box.top(), width, _CODE_HEAD), 8, 8)
                p.setFont(small)
                p.setPen(muted)
                p.drawText(QRectF(_CODE_PAD, box.top(), width, _CODE_HEAD), Qt.AlignmentFlag.AlignVCenter, piece.language or "text")
            ctx = QAbstractTextDocumentLayout.PaintContext()
            pal = ctx.palette
            pal.setColor(QPalette.ColorRole.Text, muted if piece.kind == "reasoning" else text)
            pal.setColor(QPalette.ColorRole.Link, QColor(c["link"]))
            ctx.palette = pal
            sel = self._piece_selection(rng, k, j, piece)
            if sel is not None:
                s = QAbstractTextDocumentLayout.Selection()
                cur = QTextCursor(piece.doc)
                cur.setPosition(sel[0])
                cur.setPosition(sel[1], QTextCursor.MoveMode.KeepAnchor)
                s.cursor = cur
                fmt = s.format
                fmt.setBackground(QColor(c["selection"]))
                s.format = fmt
                ctx.selections = [s]
            p.save()
            p.translate(piece.x, piece.y)
            piece.doc.documentLayout().draw(p, ctx)
            p.restore()
        p.setFont(small)
        if row.status:
            p.setPen(QColor(c["error"]) if row.status.lower().startswith(("error", "failed")) else muted)
            y = (row.hits[-1].rect.top() if row.hits else row.height) - fm.lineSpacing()
            p.drawText(QRect(0, y, width, fm.lineSpacing()), Qt.AlignmentFlag.AlignVCenter, row.status)
        focus = self._current == row.id and self.hasFocus()
        for n, hit in enumerate(row.hits):
            if hit.rect.bottom() < shown_top or hit.rect.top() > shown_bottom:
                continue
            p.setPen(QColor(c["link"]) if hit.action in ("copy_code", "toggle_reasoning") else muted)
            p.drawText(hit.rect, Qt.AlignmentFlag.AlignCenter, hit.label)
            if focus and n == self._current_hit:
                p.setPen(QColor(c["focus"]))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(QRectF(hit.rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        if focus and self._current_hit < 0:
            p.setPen(QColor(c["focus"]))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(-6, 4, width + 12, row.height - 8), 8, 8)

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

    @staticmethod
    def _piece_selection(rng: Any, k: int, j: int, piece: _Piece) -> tuple[int, int] | None:
        if rng is None:
            return None
        (r0, p0, c0), (r1, p1, c1) = rng
        if (k, j) < (r0, p0) or (k, j) > (r1, p1):
            return None
        a = c0 if (k, j) == (r0, p0) else 0
        b = c1 if (k, j) == (r1, p1) else piece.doc.characterCount() - 1
        return (a, b) if b > a else None

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
            self._layout_row(row)
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
                return k, hit
        return None

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
        found = self._locate(pos)
        if found is None:
            return
        k, j, char, local = found
        row = self._rows[k]
        assert row.pieces is not None
        self._pressed_anchor = row.pieces[j].doc.documentLayout().anchorAt(local)
        self._current, self._current_hit = row.id, -1
        start = (row.id, j, char)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and self._sel_anchor:
            self._sel_end = start
        else:
            self._sel_anchor = self._sel_end = start
        self.viewport().update()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        pos = event.position().toPoint()
        if event.buttons() & Qt.MouseButton.LeftButton and self._sel_anchor and not self._pressed_hit:
            found = self._locate(pos)
            if found is not None:
                k, j, char, _ = found
                self._sel_end = (self._rows[k].id, j, char)
                self.viewport().update()
            return
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

    def _open_link(self, href: str) -> None:
        md, _ = _render_module()
        if md.safe_link(href):  # rendering makes no other anchors; checked again all the same
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
            self._to_clipboard(row.pieces[hit.piece].code)
        elif action == "toggle_reasoning":
            row.expanded = not row.expanded
            self._invalidate(row)
        elif action == "regenerate":
            self.regenerateRequested.emit(message_id)
        elif action == "edit":
            self.editRequested.emit(message_id)
        elif action == "delete":
            self.deleteRequested.emit(message_id)
        elif action == "previous_version" and row.version > 1:
            self.versionRequested.emit(message_id, row.version - 1)
        elif action == "next_version" and row.version < row.versions:
            self.versionRequested.emit(message_id, row.version + 1)

    def trigger_action(self, message_id: int, action: str, piece: int = -1) -> None:
        """Does what clicking the message's ``action`` button does (as the keyboard path does)."""
        row = self._row(message_id)
        self._ensure(row)
        self._layout_row(row)
        for hit in row.hits:
            if hit.action == action and (piece < 0 or hit.piece == piece):
                self._trigger(message_id, hit)
                return
        raise KeyError(f"message {message_id} has no {action!r} action")

    def action_labels(self, message_id: int) -> list[str]:
        """The actions shown for a message, in keyboard order."""
        row = self._row(message_id)
        self._ensure(row)
        self._layout_row(row)
        return [hit.action for hit in row.hits]

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
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
            if row.hits:
                step = 1 if key == Qt.Key.Key_Right else -1
                self._current_hit = (self._current_hit + step) % len(row.hits)
                self._announce()
                self.viewport().update()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self._current in self._index:
            row = self._row(self._current)
            if 0 <= self._current_hit < len(row.hits):
                self._trigger(row.id, row.hits[self._current_hit])
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

    def context_menu(self, message_id: int) -> QMenu:
        """The menu of a message's actions (right click, the Menu key, Shift+F10)."""
        menu = QMenu(self)
        if self._selection_range() is not None:
            menu.addAction("Copy selection", self.copy_selection)
            menu.addSeparator()
        row = self._row(message_id)
        self._ensure(row)
        self._layout_row(row)
        names = {"copy": "Copy", "copy_markdown": "Copy Markdown", "regenerate": "Regenerate",
                 "edit": "Edit and resend", "delete": "Delete", "previous_version": "Previous version",
                 "next_version": "Next version", "toggle_reasoning": "Show or hide reasoning"}
        for hit in row.hits:
            if hit.action in names:
                menu.addAction(names[hit.action], lambda h=hit: self._trigger(message_id, h))
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

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        bar = self.verticalScrollBar()
        self._stick = bar.value() >= bar.maximum()
        self.viewport().scroll(dx, dy)  # a copy of what stays on screen; only the new strip is drawn

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_scrollbar()

    def changeEvent(self, event: Any) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and self._theme == "system":
            self.set_theme("system")

    def _to_clipboard(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text)


# -- demo ----------------------------------------------------------------------------------------------

DEMO_REPLY = """## Reading a CSV file in Python

Use the **`csv`** module from the standard library; it handles quoting for you:

```python
import csv

with open("data.csv", newline="") as f:
    for row in csv.DictReader(f):
        print(row["name"], row["age"])
```

| option | meaning | default |
| --- | --- | --- |
| `delimiter` | field separator | `,` |
| `quotechar` | quoting character | `"` |

- [x] works with ~~huge~~ large files (it streams)
- [ ] needs *pandas* for analysis

The area of a circle is $A = \\pi r^2$, and the sum is

$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$

See https://docs.python.org/3/library/csv.html. <b>HTML</b> is shown as text.
"""


def main(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication(argv)
    view = MessagesView(theme="dark" if "--dark" in argv else "light")
    view.resize(1000, 760)
    view.setWindowTitle("Chatbot messages (demo)")
    view.add_message(1, USER, "How do I read a CSV file in Python? Show me a short example.")
    view.add_message(2, ASSISTANT, "<think>The user wants a CSV example.</think>" + DEMO_REPLY,
                     versions=2, version=2)
    view.set_reasoning(2, "", 4.2)
    view.add_message(3, USER, "Thanks! And in one line?")
    view.add_message(4, ASSISTANT, "`list(csv.reader(open('data.csv')))` — but close the file.")
    view.show()
    if "--shot" in argv:
        path = argv[argv.index("--shot") + 1]
        view.verticalScrollBar().setValue(0)
        QTimer.singleShot(500, lambda: (view.grab().save(path), app.quit()))
    return app.exec()


if __name__ == "__main__":
    if "--demo" not in sys.argv:
        print("usage: python -m chatbot_gui.ui.messages_view --demo [--dark] [--shot FILE]")
        raise SystemExit(2)
    raise SystemExit(main(sys.argv))
