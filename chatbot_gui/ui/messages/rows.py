"""The message list's delegate: what a row (one message) holds, how it is rendered, laid out and drawn.

As in KDE Ruqola's ``MessageListDelegate``: one cached document per block of the message (see
``chatbot_gui.ui.render``), laid out for the column width when the row is first seen, drawn with the
role's look (the user's turns in a bubble, the assistant's full width under a small label), code blocks
on a panel with their language and a Copy button, the action bar under the message. Hit areas (buttons)
are kept per row in row coordinates, so the view can find what was clicked and walk them by keyboard.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QFont, QFontMetrics, QPainter, QPalette, QTextCursor, QTextDocument

if TYPE_CHECKING:
    from chatbot_gui.ui.messages.view import MessagesView

USER, ASSISTANT = "user", "assistant"
ROLE_LABELS = {USER: "You", ASSISTANT: "Assistant"}
#: Rows that are not a turn of the conversation: a note about the chat ("Persona: …"), an error
#: line (with Details / Retry / Open Settings), its expanded details, a retry countdown. Full width,
#: small, no bubble and no per-message actions beyond their own links.
NOTE_ROLES = ("notice", "error", "error-detail", "countdown", "context")
_NOTE_PAD = 6
#: Shown under a reply that finished without any text (instead of a bare label).
EMPTY_REPLY = "The reply was empty."
#: Said (on the status line) when Copy is asked of a reply that has no text, only its reasoning.
NOTHING_TO_COPY = "Nothing to copy: this reply has no text, only its reasoning."
#: Column width in average characters (ChatGPT's reading column is about this wide).
COLUMN_CHARS = 75
#: Rendered documents are kept for at most this many messages (the rest keep only their height).
CACHE_ROWS = 300
ZOOM_MIN, ZOOM_MAX = -6, 12
_PAD = 14  # vertical space above and below a message
_BUBBLE_PAD = 10
#: Under a user's bubble: to its action bar (drawn on hover), and under that bar. Kept small: the
#: bar's room is empty most of the time, and a full gap + pad left ~60 px before the reply.
_BUBBLE_GAP = 4
_USER_END_PAD = _PAD // 2
_CODE_HEAD = 26  # the bar with a code block's language and Copy button
_CODE_PAD = 10
_ACTION_H = 24
_COALESCE_MS = 16
#: Rendering work per event-loop pass while text floods in (the rest waits for the next pass).
#: Parsing, turning blocks into documents and laying them out count against it; the scroll and
#: repaint that show them come in a pass of their own. Small, because a pass delays everything
#: else on the GUI thread by its length: a 5 ms timer's p99 gap during a 20,000-chunk Markdown
#: flood was ~12 ms with 3 ms passes followed at once by their paint (benchmarks/bench_render.py).
FLUSH_BUDGET_S = 0.001
#: Rows rendered ahead of the screen, in each direction, while the view is idle. A page is 3-4
#: rows of a typical chat; with 4, PageUp once per frame outran the idle rendering and 285 of 3,250
#: steps rendered rows themselves (benchmarks/bench_render.py); with 12, about 20 did, and the
#: steps' GUI-thread CPU p99 went from ~6.5 to ~3.3 ms. One row per event-loop pass, as before.
AHEAD = 12


#: What a step of rendering a streamed block is first guessed to cost per character, by step
#: (measured on this project's machine; ``MessageDelegate._advance`` learns the real figures as it
#: goes): its HTML from the source (inline parsing, or highlighting a code block), its document
#: from the HTML, its layout. Plus a fixed cost per step.
#: A streaming reply's open block is rendered again no sooner than this many times what its last
#: rendering took after it was shown (see ``MessageDelegate._update_stream``).
OPEN_RERENDER_FACTOR = 3.0
_DEFAULT_RATES = {"html": 1.5e-6, "doc": 0.12e-6, "layout": 0.15e-6, "parse": 0.5e-6}
_STEP_OVERHEAD_S = 20e-6
#: A pass parses at least this much new text (characters), so that a reply always moves on.
_MIN_PARSE_CHARS = 256


def _marked(cursor: QTextCursor, background: QColor, foreground: QColor | None = None) -> Any:
    """A range of a block's document drawn marked (a selection, a search match)."""
    s = QAbstractTextDocumentLayout.Selection()
    s.cursor = cursor
    fmt = s.format
    fmt.setBackground(background)
    if foreground is not None:
        fmt.setForeground(foreground)
    s.format = fmt
    return s


def _step_key(item: Any) -> tuple[tuple[str, str], int]:
    """((step, kind), size) of the next step of a block on its way to a laid-out piece."""
    if isinstance(item, _Piece):
        return ("layout", item.kind), max(1, item.size)
    if callable(item):  # a DeferredBlock: its source
        return ("html", item.kind), max(1, item.size)
    return ("doc", item.kind), max(1, len(item.html))  # an HtmlBlock


#: A message's own actions, drawn under the latest reply always and under any other message while
#: it is pointed at or current (keyboard), as chat apps do; links (Retry, keep it…) and the version
#: switcher always show.
HOVER_ACTIONS = frozenset({"copy", "copy_markdown", "regenerate", "edit", "delete", "pin", "unpin"})


def no_answer(text: str) -> bool:
    """Whether a reply has no text to show or copy: none, or only its reasoning (a leading <think>
    block). The one test for "The reply was empty.", Copy not offered and nothing copied."""
    if "<think" not in text[:64].lower():
        return not text or text.isspace()
    # Not imported with this module: the chat logic loads after the window's first paint.
    from chatbot_gui.core.conversation import has_answer

    return not has_answer(text)


def split_clock(meta: str) -> tuple[str, str]:
    """("14:02", "model · 515 tokens") from a reply's "model · 14:02 · 515 tokens": the time is
    shown beside the role ("Assistant · 14:02"), where there is always room for it; the rest under
    the reply, beside its actions (which left it no room at the default size)."""
    parts = meta.split(" · ") if meta else []
    clock = next((part for part in parts if len(part) == 5 and part[2] == ":" and part.replace(":", "").isdigit()), "")
    return clock, " · ".join(part for part in parts if part != clock)


def heading(row: Any) -> str:
    """The line above a reply: its role, and when it came ("Assistant · 14:02")."""
    clock = split_clock(row.meta)[0]
    return f"{ROLE_LABELS[ASSISTANT]} · {clock}" if clock else ROLE_LABELS[ASSISTANT]


def fit_meta(meta: str, fm: QFontMetrics, room: int) -> str:
    """The quiet line "model · 14:02 · 515 tokens" in ``room`` pixels: whole parts are left out
    before anything is cut off - first the time, then the model - so a narrow column still shows
    the token count whole rather than "gpt-4o-mini · 14:02 · 515 to…"."""
    parts = meta.split(" · ")
    # Least needed first: the clock time ("14:02"), then the model (the first part).
    order = [i for i, part in enumerate(parts) if len(part) == 5 and part[2] == ":"] + [0]
    for drop in order:
        if len(parts) <= 1 or fm.horizontalAdvance(" · ".join(parts)) <= room:
            break
        del parts[drop]
    return fm.elidedText(" · ".join(parts), Qt.TextElideMode.ElideRight, room)


#: Why rows keep their geometry as plain ints, not QRect: every live PySide wrapper has an entry in
#: Shiboken's wrapper map (a C++ hash table). Kept QRects (a few hit areas per measured row) grew it
#: by ~45,000 entries over one scroll through a 10,000-message chat, and each time the table grew
#: it was rehashed inside whatever Python call made the next wrapper: one PageUp step took 8-14 ms
#: more (perf: the time was in libshiboken's hash rehash; the same step in every process, as the
#: table grows at fixed sizes). A QRect is made when one is asked for, and freed after.
Box = tuple[int, int, int, int]  # x, y, width, height (row coordinates)


@dataclass
class _Hit:
    box: Box  # in row coordinates
    action: str
    label: str
    piece: int = -1

    @property
    def rect(self) -> QRect:
        return QRect(*self.box)

    @property
    def top(self) -> int:
        return self.box[1]

    @property
    def bottom(self) -> int:  # as QRect.bottom(): the last row of pixels inside
        return self.box[1] + self.box[3] - 1


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
    size: int = 0  # the length of the HTML it was made from (what laying it out costs goes with it)
    natural: int = -1  # a table's width with nothing wrapped (-1: not measured yet)


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
    #: [index, block] of finished blocks rendered again (see BlockStream.redo), on their way to
    #: replacing the answer's piece ``index``; after ``pending``, before the open block.
    redo: deque = field(default_factory=deque)
    open_blocks: list | None = None  # the open block's latest rendering, shown once pending is empty
    open_cost: float = 0.0  # what rendering the open block took last time (s)
    open_shown_at: float = 0.0  # when it was shown (time.perf_counter())
    fed: int = -1  # how much of text (characters) was last given to the stream
    fed_final: bool = False
    done: int = 0  # pieces[:done] are finished blocks of a streaming reply
    answer_start: int = 0  # where the answer starts in pieces (after reasoning)
    height: int = 0
    measured: bool = False
    hits: list[_Hit] = field(default_factory=list)
    bubble_box: Box | None = None  # (see Box)
    #: Row-specific links (action, label): an error's "Retry", a stopped reply's "keep it".
    links: list[tuple[str, str]] = field(default_factory=list)
    status_h: int = 0
    #: A quiet line beside the actions: the model, the time, the tokens the server counted.
    meta: str = ""

    @property
    def bubble(self) -> QRect | None:
        """The user's bubble (row coordinates), or None."""
        return None if self.bubble_box is None else QRect(*self.bubble_box)


_SAMPLE = "the quick brown fox jumps over a lazy dog, THEN 42 more "


def _button_width(fm: QFontMetrics, label: str) -> int:
    """The width of an action's button (a link drawn as a button) reading ``label``."""
    return fm.horizontalAdvance(label) + 14


def _action_bar(hits: list[_Hit], labels: list[tuple[str, str]], fm: QFontMetrics, width: int, y: int,
                x: int = 0, right: bool = False) -> int:
    """Adds a row's buttons to ``hits`` from ``y`` down, as many to a line as fit ``width`` (a
    narrow window wraps them rather than cutting the last ones off); returns the y under them."""
    widths = [_button_width(fm, label) for _, label in labels]
    line_h = max(_ACTION_H, fm.height() + 4)  # zoomed in, the text is taller than the default bar
    lines: list[list[int]] = []
    used = width
    for n, w in enumerate(widths):
        if used + w > width and not (lines and not lines[-1]):
            lines.append([])
            used = 0
        lines[-1].append(n)
        used += w
    for line in lines:
        ax = x + (width - sum(widths[n] for n in line) if right else 0)
        for n in line:
            hits.append(_Hit((ax, y, widths[n], line_h - 2), *labels[n]))
            ax += widths[n]
        y += line_h
    return y


def _bar_top(row: _Row) -> int:
    """The top of a row's action bar (its buttons come last among its hits; a block's Copy or the
    reasoning toggle come before them)."""
    top = row.height
    for hit in reversed(row.hits):
        if hit.piece != -1 or hit.action == "toggle_reasoning":
            break
        top = min(top, hit.top)
    return top


def char_width(font: QFont) -> float:
    """The average width of a character of prose in ``font``."""
    return QFontMetrics(font).horizontalAdvance(_SAMPLE) / len(_SAMPLE)


_RENDER: tuple[Any, Any] | None = None


def render_module() -> Any:
    # Imported on first use: markdown-it-py and Pygments never load before the first paint. Kept
    # once imported: an import statement costs ~10 us even then, and this is asked a few times per
    # rendering pass.
    global _RENDER
    if _RENDER is None:
        from chatbot_gui.ui.render import document, markdown_html

        _RENDER = markdown_html, document
    return _RENDER


class MessageDelegate:
    """Renders, lays out and paints rows for a ``MessagesView`` (the view owns the rows and says when)."""

    def __init__(self, view: MessagesView) -> None:
        self.view = view
        #: (step, kind) -> seconds per character that step took lately (see ``_advance``).
        self._rates: dict[tuple[str, str], float] = {}

    def _answer(self, row: _Row) -> str:
        if row.role != ASSISTANT:
            return row.text
        md, _ = render_module()
        return md.split_reasoning(row.text).answer

    def _estimate(self, row: _Row, per_line: int = 0) -> int:
        """A row's height before it is rendered: from its length (exact once it is seen)."""
        char_w, line = self.view._font_metrics()
        if not per_line:
            per_line = max(20, int(self.view._column()[1] / char_w))
        lines = len(row.text) / per_line + row.text.count("\n") * 0.6 + 1
        if row.role in NOTE_ROLES:
            return int(lines * line) + 2 * _NOTE_PAD + (_ACTION_H if row.links else 0)
        if row.role == ASSISTANT:
            return int(lines * line) + 2 * _PAD + _ACTION_H + line
        return int(lines * line) + _PAD + 2 * _BUBBLE_PAD + _BUBBLE_GAP + _ACTION_H + _USER_END_PAD

    def _piece_text(self, piece: _Piece) -> str:
        # (without the display-only zero-width spaces of long runs, see render/softbreak.py)
        return piece.code if piece.kind == "code" else render_module()[1].document_text(piece.doc)

    def _block_piece(self, block: Any, font: QFont) -> _Piece:
        _, doc = render_module()
        if block.kind == "code":
            return _Piece(doc.block_document(block, font), "code", block.code, block.language)
        return _Piece(doc.block_document(block, font), block.kind)

    @staticmethod
    def _behind(row: _Row) -> bool:
        """Whether a streaming row has rendering left for another pass: finished blocks not yet
        documents, its open block, or text not parsed yet."""
        return bool(row.pending) or bool(row.redo) or row.open_blocks is not None or (
            row.stream is not None and (row.fed != len(row.text) or (not row.streaming and not row.fed_final)))

    @staticmethod
    def _finish_stream(row: _Row) -> None:
        """The reply is complete. When its streamed rendering already is the final one (every
        block shown, the open one rendered from all of the text, see ``BlockStream.open_exact``),
        its stream ends here and no block is rendered again; otherwise the next
        ``_update_stream`` renders the end as final."""
        stream = row.stream
        if (stream is not None and stream.open_exact and not stream.open_code.code and not row.pending
                and not row.redo and row.open_blocks is None and row.fed == len(row.text)):
            row.fed_final = True
            row.stream = None

    def _laid_out(self, piece: _Piece) -> _Piece:
        """An assistant's block laid out for the column now (as ``_layout_row`` would), so that
        the time it takes counts against the streaming budget of the pass that made it."""
        _, width = self.view._column()
        inner = width - (2 * _CODE_PAD if piece.kind == "code" else 0)
        # Keep what laying out learnt (the text's shaping: glyphs and their positions): a block
        # of a streamed reply is drawn right after, and without it the first draw shapes the text
        # all over again (Qt drops it at QTextLayout::endLayout unless caching is on). Measured:
        # the first draw of a block ~45-50 us instead of ~70-97 us, for ~40 bytes per character
        # kept (+4 MB for the 3,000-line benchmark reply), only for streamed blocks.
        block = piece.doc.begin()
        while block.isValid():
            block.layout().setCacheEnabled(True)
            block = block.next()
        piece.doc.setTextWidth(inner)
        piece.width = inner
        piece.doc.size()  # (the layout itself happens here)
        return piece

    def _guess(self, item: Any) -> float:
        """How long (s) the next step of ``item`` should take, from what such steps took so far."""
        key, size = _step_key(item)
        return self._rates.get(key, _DEFAULT_RATES[key[0]]) * size + _STEP_OVERHEAD_S

    def _advance(self, item: Any, font: QFont) -> Any:
        """One step of turning a block into a laid-out piece: a ``DeferredBlock`` becomes its HTML
        (inline parsing, highlighting), the HTML a document, the document is laid out. Each step
        is timed, so that ``_guess`` learns what steps of each kind cost per character."""
        key, size = _step_key(item)
        t = time.perf_counter()
        if isinstance(item, _Piece):
            out: Any = self._laid_out(item)
        elif callable(item):
            out = item()
        else:
            out = self._block_piece(item, font)
            out.size = len(item.html)
        self._learn(key, size, time.perf_counter() - t)
        return out

    def _learn(self, key: tuple[str, str], size: int, took: float) -> None:
        """What a step of this kind costs per character, learnt from one that took ``took`` s."""
        rate = (took - _STEP_OVERHEAD_S) / max(1, size)
        old = self._rates.get(key)
        self._rates[key] = max(0.0, rate if old is None else old + 0.25 * (rate - old))

    def _parse_end(self, answer: str, fed: int, until: float) -> int:
        """How far into ``answer`` this pass parses: what is new since ``fed``, up to what the
        pass's budget (``until``) allows, ended at a line's end. A burst of text (the flood of a
        fast server, or a frame that came late) is parsed in parts, in passes of their own: the
        structure of 10,000 characters took 3-6 ms in one piece."""
        room = until - time.perf_counter() - _STEP_OVERHEAD_S
        rate = self._rates.get(("parse", ""), _DEFAULT_RATES["parse"])
        if math.isinf(room) or rate <= 0:
            return len(answer)
        end = fed + max(_MIN_PARSE_CHARS, int(room / rate))
        if end >= len(answer):
            return len(answer)
        nl = answer.rfind("\n", fed, end)
        if nl < 0:
            nl = answer.find("\n", end)
        return len(answer) if nl < 0 else nl + 1

    def _update_stream(self, row: _Row, final: bool = False, until: float = 0.0) -> int:
        """Renders what is new in a streaming reply: blocks that became finished (once each) and
        the open last block (again). Works in steps (see ``_advance``) until ``until``
        (``time.perf_counter()``): a step is begun only if it is expected to end by then (at least
        one per call), so a flood of text - or one long code block - is shown over several short
        event-loop passes instead of blocking one. Returns the index of the first changed block."""
        md, _ = render_module()
        assert row.pieces is not None
        if row.stream is None:
            row.stream = md.BlockStream(self.view._resolved_theme())
            row.pieces = row.pieces[: row.answer_start]
            row.done = row.answer_start
            row.pending.clear()
            row.redo.clear()
            row.open_blocks = None
            row.open_cost = 0.0  # (rendered anew: nothing to wait for)
            row.fed = -1
        worked = False
        # New text is parsed only once the blocks found by the last parse are all shown, the open
        # one included: a pass with a backlog does no parsing (the open block would be parsed
        # again for nothing), and an open block big enough to take several passes is shown.
        # A long open block (a long list, table or code block: its rendering grows with it; one
        # that took more than a pass's budget) is rendered again at most once per
        # OPEN_RERENDER_FACTOR times what it took last time, so that it never takes more than
        # about a quarter of the GUI thread; the end of a reply (final) does not wait.
        if not row.pending and not row.redo and row.open_blocks is None and (
                row.fed != len(row.text) or (final and not row.fed_final)) and (
                final or not row.streaming or row.open_cost <= FLUSH_BUDGET_S
                or time.perf_counter() - row.open_shown_at >= OPEN_RERENDER_FACTOR * row.open_cost):
            answer = md.split_reasoning(row.text).answer
            at = len(row.text) - len(answer)  # (the answer is the end of the text)
            end = self._parse_end(answer, max(0, row.fed - at), until)
            cut = end < len(answer)
            parsed = end - row.stream.done_chars
            t = time.perf_counter()
            finished, open_ = row.stream.feed_deferred(answer[:end] if cut else answer, final=final and not cut)
            self._learn(("parse", ""), parsed, time.perf_counter() - t)
            row.pending.extend(finished)
            row.redo.extend([index, block] for index, block in row.stream.redo)
            # A backlog parsed in parts: the part's last block goes on in the next part, so it
            # is not rendered now (it would be rendered again at once).
            row.open_blocks = None if cut else list(open_)
            row.open_cost = 0.0
            row.fed = at + end if cut else len(row.text)
            row.fed_final = final and not cut
            worked = True
        font = self.view.content_font()
        first_changed = len(row.pieces)
        appended = False
        while row.pending:
            item = row.pending[0]
            if worked and time.perf_counter() + self._guess(item) > until:
                break
            item = self._advance(item, font)
            worked = True
            if isinstance(item, _Piece) and item.width >= 0:
                row.pending.popleft()
                if not appended:
                    del row.pieces[row.done:]  # the open block shown so far is among these
                    first_changed = row.done
                    appended = True
                row.pieces.append(item)
                row.done += 1
            else:
                row.pending[0] = item
        # Finished blocks rendered again (a link reference definition came after them), each in
        # place of its old piece once it is laid out: the old one stays on screen until then.
        while not row.pending and row.redo:
            entry = row.redo[0]
            if worked and time.perf_counter() + self._guess(entry[1]) > until:
                break
            entry[1] = self._advance(entry[1], font)
            worked = True
            if isinstance(entry[1], _Piece) and entry[1].width >= 0:
                row.redo.popleft()
                j = row.answer_start + entry[0]
                if j < row.done:  # (always: its block was given out before; all are pieces now)
                    row.pieces[j] = entry[1]
                    first_changed = min(first_changed, j)
        # The open block once the finished ones are all shown, within the budget too: when a pass
        # spent it on finished blocks, the open block waits for the next pass (a few ms).
        opens = row.open_blocks
        if not row.pending and not row.redo and opens is not None:
            for i, item in enumerate(opens):
                while not (isinstance(item, _Piece) and item.width >= 0):
                    if worked and time.perf_counter() + self._guess(item) > until:
                        break
                    t = time.perf_counter()
                    item = opens[i] = self._advance(item, font)
                    row.open_cost += time.perf_counter() - t
                    worked = True
                else:
                    continue
                break
            else:
                first_changed = min(first_changed, row.done)
                row.open_shown_at = time.perf_counter()
                del row.pieces[row.done:]
                row.pieces += opens
                row.open_blocks = None
        if row.fed_final and not row.pending and not row.redo and row.open_blocks is None:
            row.stream = None
        return first_changed

    def _layout_row(self, row: _Row, start: int = 0) -> int:
        """Positions a rendered row's documents and hit areas; returns its height. ``start``: the
        blocks before it are laid out already and unchanged (a streaming reply's finished ones)."""
        assert row.pieces is not None
        if row.role in NOTE_ROLES:
            return self._layout_note(row)
        x0, width = self.view._column()
        fm = QFontMetrics(self.view.content_font())
        line = fm.lineSpacing()
        gap = int(line * 0.6)
        y = _PAD
        hits: list[_Hit] = []
        row.bubble_box = None
        if row.role == ASSISTANT:
            y += line  # the role label
            reasoning = row.reasoning or self._reasoning_text(row)
            if reasoning or self._thinking(row):
                label = self._reasoning_label(row)
                hits.append(_Hit((0, y, fm.horizontalAdvance(label) + 8, line), "toggle_reasoning", label))
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
                row.bubble_box = (width - bw, y, bw, piece.height + 2 * _BUBBLE_PAD)
                piece.x, piece.y = width - bw + _BUBBLE_PAD, y + _BUBBLE_PAD
                y += piece.height + 2 * _BUBBLE_PAD + _BUBBLE_GAP
                piece.bottom = y
                continue
            inner = width - (2 * _CODE_PAD if piece.kind == "code" else 0) - (16 if piece.kind == "reasoning" else 0)
            if piece.kind == "table":
                inner = self._table_width(piece, inner)
            if piece.width != inner:
                piece.doc.setTextWidth(inner)
                piece.width = inner
            piece.height = math.ceil(piece.doc.size().height())
            if piece.kind == "code":
                copy_w = fm.horizontalAdvance("Copy") + 16
                piece.hit = _Hit((width - copy_w - 4, y + 2, copy_w, _CODE_HEAD - 4), "copy_code", "Copy", j)
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
            row.status_h = fm.boundingRect(QRect(0, 0, width, 10 * line), Qt.TextFlag.TextWordWrap,
                                           row.status).height()
            y += row.status_h
        # The action bar.
        y = _action_bar(hits, self._actions(row), fm, width, y, right=row.role != ASSISTANT)
        y += _PAD if row.role == ASSISTANT else _USER_END_PAD
        row.hits = hits
        row.measured = True
        return y

    @staticmethod
    def _footer(row: _Row, width: int, small: QFont) -> tuple[str, QRect] | None:
        """A reply's quiet line beside its actions ("gpt-4o-mini · 515 tokens", what fits) and
        where it goes; None for other rows."""
        if not (row.meta and row.hits and row.role == ASSISTANT):
            return None
        bar = row.hits[-1].rect
        room = max(0, width - bar.right() - 16)
        text = fit_meta(split_clock(row.meta)[1], QFontMetrics(small), room)
        return text, QRect(bar.right() + 16, bar.top(), room, bar.height())

    def _table_width(self, piece: _Piece, column: int) -> int:
        """A table wider than the reading column takes the room to its right, up to the view's edge
        (a wide table squeezed into the column broke its words: "Colu/mn A"); text stays in the column."""
        x0, _ = self.view._column()
        room = self.view.viewport().width() - x0 - _PAD
        if room <= column:
            return column
        if piece.natural < 0:  # its width unwrapped, once per rendering
            if piece.width != column:
                piece.doc.setTextWidth(column)
                piece.width = column
            used = math.ceil(piece.doc.idealWidth())
            if used < column:  # it fits the column (most do): no second layout, none wider
                piece.natural = used
                return column
            piece.doc.setTextWidth(-1)
            piece.natural = math.ceil(piece.doc.idealWidth()) + 2
            piece.width = -1
        return max(column, min(piece.natural, room))

    def _layout_note(self, row: _Row) -> int:
        """A note, error or countdown row: its text across the column, its links under it."""
        assert row.pieces is not None
        _, width = self.view._column()
        fm = QFontMetrics(self.view.content_font())
        y = _NOTE_PAD
        inset = 10 if row.role in ("error", "error-detail") else 0
        for piece in row.pieces:
            inner = width - 2 * inset
            if piece.width != inner:
                piece.doc.setTextWidth(inner)
                piece.width = inner
            piece.height = math.ceil(piece.doc.size().height())
            piece.x, piece.y = inset, y + (4 if inset else 0)
            y += piece.height + (8 if inset else 0)
            piece.bottom = y
        hits: list[_Hit] = []
        if row.links and not self._links_inline(row, hits, fm, width - 2 * inset):
            y = _action_bar(hits, list(row.links), fm, width - 2 * inset, y, x=inset)
        row.hits = hits
        row.measured = True
        return y + _NOTE_PAD

    @staticmethod
    def _links_inline(row: _Row, hits: list[_Hit], fm: QFontMetrics, width: int) -> bool:
        """A one-line notice's links on its line, after the text ("Message deleted.  Undo"), when
        they fit; False: they go under it."""
        if row.role != "notice" or len(row.pieces or ()) != 1:
            return False
        piece = row.pieces[0]
        text_w = math.ceil(piece.doc.idealWidth())
        links_w = sum(_button_width(fm, label) for _, label in row.links)
        if piece.height > fm.lineSpacing() * 1.6 or text_w + 8 + links_w > width:
            return False
        line_h = max(_ACTION_H, fm.height() + 4)
        _action_bar(hits, list(row.links), fm, links_w, piece.y + (piece.height - line_h) // 2, x=piece.x + text_w + 8)
        return True

    def _actions(self, row: _Row) -> list[tuple[str, str]]:
        if row.role in NOTE_ROLES:
            return list(row.links)
        versions = [("previous_version", "‹"), ("version", f"{row.version}/{row.versions}"),
                    ("next_version", "›")] if row.versions > 1 else []
        if row.role != ASSISTANT:  # right-aligned under the bubble: the switch ends the bar, at the
            # bubble's edge, and the actions shown on hover take their room to its left
            return [("copy", "Copy"), ("edit", "Edit"), ("delete", "Delete")] + row.links + versions
        # (A streaming reply's actions are not offered yet; their room is kept, Copy's included.)
        nothing = not row.streaming and no_answer(row.text)
        copy = [] if nothing else [("copy", "Copy"), ("copy_markdown", "Copy Markdown")]
        return versions + copy + [("regenerate", "Regenerate"), ("delete", "Delete")] + row.links

    def _reasoning_text(self, row: _Row) -> str:
        if row.role != ASSISTANT or "<think" not in row.text[:64].lower():
            return ""
        md, _ = render_module()
        return md.split_reasoning(row.text).reasoning

    def _thinking(self, row: _Row) -> bool:
        """Whether a reply is still reasoning: streaming, in its open <think> block. A reply that
        ended in it (only reasoning, or stopped while reasoning) is no longer thinking."""
        if not row.streaming or row.role != ASSISTANT or "<think" not in row.text[:64].lower():
            return False
        md, _ = render_module()
        return md.split_reasoning(row.text).thinking

    def _reasoning_label(self, row: _Row) -> str:
        arrow = "▾" if row.expanded else "▸"
        if self._thinking(row):
            return f"{arrow} Thinking…"
        if row.reasoning_seconds is not None:
            return f"{arrow} Thought for {max(1, round(row.reasoning_seconds))} s"  # not "0 s"
        return f"{arrow} Reasoning"

    def _paint_row(self, p: QPainter, row: _Row, k: int, c: dict[str, str], rng: Any,
                   font: QFont, small: QFont, fm: QFontMetrics, shown: tuple[int, int]) -> None:
        """Draws one row; ``shown`` is the part of it on screen (row coordinates): a long reply
        draws only the blocks there."""
        assert row.pieces is not None
        shown_top, shown_bottom = shown
        x0, width = self.view._column()
        muted, text = QColor(c["muted"]), QColor(c["text"])
        if row.role in ("error", "error-detail"):
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(c["error_bg"]))
            p.drawRoundedRect(QRectF(0, _NOTE_PAD, width, row.height - 2 * _NOTE_PAD), 8, 8)
            text = QColor(c["error"])
        elif row.role in NOTE_ROLES:
            text = muted
        if row.role == ASSISTANT:
            p.setFont(small)
            p.setPen(muted)
            p.drawText(QRect(0, _PAD, width, fm.lineSpacing()), Qt.AlignmentFlag.AlignVCenter, heading(row))
        if row.bubble_box is not None:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(c["bubble"]))
            p.drawRoundedRect(QRectF(*row.bubble_box), 14, 14)
        first = 0
        if len(row.pieces) > 8:  # find the first block on screen (blocks are in y order)
            first = max(0, bisect.bisect_left(row.pieces, shown_top, key=lambda q: q.bottom))
        for j in range(first, len(row.pieces)):
            piece = row.pieces[j]
            if piece.y - _CODE_HEAD - _CODE_PAD > shown_bottom:
                break
            if piece.kind == "quote":  # a bar beside a quote, in its indent (as GitHub and ChatGPT mark one)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(c["border"]))
                p.drawRoundedRect(QRectF(piece.x + 12, piece.y, 3, max(1, piece.height)), 1.5, 1.5)
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
            # Only the part of the block on screen is laid out into glyphs: a streamed frame
            # repaints a strip, and a long code block would otherwise draw every line of it.
            ctx.clip = QRectF(-piece.x, shown_top - piece.y, width + piece.x, shown_bottom - shown_top)
            pal = ctx.palette
            pal.setColor(QPalette.ColorRole.Text, muted if piece.kind == "reasoning" else text)
            pal.setColor(QPalette.ColorRole.Link, QColor(c["link"]))
            ctx.palette = pal
            sel = self._piece_selection(rng, k, j, piece)
            ctx.selections = self._highlights(piece, c) if self.view.highlight_terms else []
            if sel is not None:
                ctx.selections = ctx.selections + self._block_selections(piece.doc, sel, QColor(c["selection"]))
            p.save()
            p.translate(piece.x, piece.y)
            piece.doc.documentLayout().draw(p, ctx)
            p.restore()
        p.setFont(small)
        if row.status:
            p.setPen(QColor(c["error"]) if row.status.lower().startswith(("error", "failed")) else muted)
            h = max(row.status_h, fm.lineSpacing())
            y = _bar_top(row) - h
            p.drawText(QRect(0, y, width, h), Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, row.status)
        footer = self._footer(row, width, small)
        if footer is not None:
            p.setPen(muted)
            p.drawText(footer[1], Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, footer[0])
        focus = self.view._current == row.id and self.view.hasFocus()
        quiet = not self.view.actions_shown(row)
        for n, hit in enumerate(row.hits):
            if hit.bottom < shown_top or hit.top > shown_bottom:
                continue
            if quiet and hit.action in HOVER_ACTIONS:
                continue  # shown when the message is pointed at or current (their room stays kept)
            linky = hit.action in ("copy_code", "toggle_reasoning") or (
                (hit.action, hit.label) in row.links and hit.action not in ("pin", "unpin"))
            pen = QColor(c["link"]) if linky else QColor(muted)
            if not self.hit_enabled(row, hit.action):
                pen.setAlphaF(0.35)  # "‹" at the first version, "›" at the last: nothing to go to
            p.setPen(pen)
            rect = hit.rect
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, hit.label)
            if focus and n == self.view._current_hit:
                p.setPen(QColor(c["focus"]))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        if focus and self.view._current_hit < 0:
            p.setPen(QColor(c["focus"]))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(-6, 4, width + 12, row.height - 8), 8, 8)

    @staticmethod
    def hit_enabled(row: _Row, action: str) -> bool:
        """Whether an action does something now ("‹" at version 1, "›" at the last, do not)."""
        if action == "previous_version":
            return row.version > 1
        if action == "next_version":
            return row.version < row.versions
        return True

    def _highlights(self, piece: _Piece, c: dict[str, str]) -> list[Any]:
        """Search words found in a block, marked (the history search's "highlight the match")."""
        out = []
        for term in self.view.highlight_terms:
            found = piece.doc.find(term, 0)
            while not found.isNull() and len(out) < 200:
                out.append(_marked(found, QColor(c["highlight"]), QColor(c["text"])))
                found = piece.doc.find(term, found)
        return out

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

    @staticmethod
    def _block_selections(doc: QTextDocument, sel: tuple[int, int], color: QColor) -> list[Any]:
        """The selected range ``sel`` of a block's document as one selection per paragraph, each
        starting no earlier than its paragraph: Qt paints a list item's bullet as a filled square of
        the selection colour when a selection runs into the item from before it."""
        out = []
        block = doc.findBlock(sel[0])
        while block.isValid() and block.position() < sel[1]:
            start, end = max(sel[0], block.position()), min(sel[1], block.position() + block.length() - 1)
            if end > start:
                cur = QTextCursor(doc)
                cur.setPosition(start)
                cur.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                out.append(_marked(cur, color))
            block = block.next()
        return out

    def _render(self, row: _Row) -> None:
        """Renders a row's documents (the view decides when, and how many to keep)."""
        md, doc = render_module()
        font = self.view.content_font()
        theme = self.view._resolved_theme()
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
                self._update_stream(row, final=row.fed_final or not row.streaming, until=math.inf)
                pieces = row.pieces
            else:
                pieces += [self._block_piece(b, font) for b in md.render_blocks(split.answer, theme)]
                row.done = len(pieces)
        row.pieces = pieces
