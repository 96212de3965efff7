"""The transcript pane: a read-only, selectable view of the chat, built for long chats.

Reply text is only ever inserted with ``QTextCursor.insertText`` (plain text, never HTML), so markup
in a reply is shown, not interpreted. Streaming text is appended at the end of the document, so the
cost of a delta does not grow with the number of messages already on screen.

Signals:
    retryRequested(int): the user clicked "Retry" under an error (the failed reply's key).
    keepRequested(int): the user clicked "Keep" on a stopped/interrupted reply (message id).
    versionRequested(int, int): "‹" (-1) or "›" (+1) on a message with versions (message id, step).
    messageActionRequested(str, int): "regenerate", "edit" or "delete" from a message's context menu.
    settingsRequested(): the user clicked "Open Settings" on an error (a key the server refused).

Everything that can change later is addressed by id: a message by its ``Message.id`` (every one of
its blocks carries it), an error line by its id and by the key of the reply that failed (Retry
names that key). Nothing edits "the last block".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (QColor, QContextMenuEvent, QFont, QTextBlock, QTextBlockFormat, QTextCharFormat,
                           QTextCursor, QTextFormat)
from PySide6.QtWidgets import QTextBrowser, QTextEdit, QWidget

from chatbot_gui.ui.theme import LIGHT, Colors, follow

if TYPE_CHECKING:
    from chatbot_gui.core.errors import ErrorInfo

USER_LABEL = "You"
ASSISTANT_LABEL = "Assistant"
# The light appearance's colours (chatbot_gui/ui/theme.py owns both; the view follows the one in effect).
ERROR_COLOR = QColor(LIGHT.error)
NOTE_COLOR = QColor(LIGHT.note)
ERROR_BG = QColor(LIGHT.error_bg)

#: Qt lays out a paragraph with a very long run of characters and no break opportunity (a pasted
#: base64 blob, a minified file) in time that grows with the square of its length: 1 MB took 96 s.
#: The view (only the view: the message itself is untouched) gets a zero-width space every
#: SOFT_BREAK_EVERY characters of such a run, which brings 1 MB down to about a second.
SOFT_BREAK_EVERY = 500
_LONG_RUN = re.compile(r"\S{%d,}" % SOFT_BREAK_EVERY)
_ZWSP = "\u200b"
_SPACE = re.compile(r"\s")
_TRAILING_RUN = re.compile(r"\S*\Z")


class SoftBreaker:
    """Adds display-only break opportunities to long unbroken runs, across streamed pieces."""

    def __init__(self) -> None:
        self.run = 0  # length of the non-space run at the end of the text so far

    def feed(self, text: str) -> str:
        first = _SPACE.search(text)
        if first is None:
            if self.run + len(text) < SOFT_BREAK_EVERY:
                self.run += len(text)
                return text
        elif self.run + first.start() < SOFT_BREAK_EVERY and not _LONG_RUN.search(text):
            # The common case: no run needs breaking (the run carried over from the last piece
            # ends at the first space; none inside is long; the trailing one is carried on).
            self.run = len(_TRAILING_RUN.search(text).group(0))
            return text
        out: list[str] = []
        run = self.run
        for piece in re.split(r"(\s+)", text):
            if not piece:
                continue
            if piece[0].isspace():
                out.append(piece)
                run = 0
                continue
            start = 0
            while run + len(piece) - start > SOFT_BREAK_EVERY:
                take = SOFT_BREAK_EVERY - run
                out.append(piece[start : start + take])
                out.append(_ZWSP)
                start += take
                run = 0
            out.append(piece[start:])
            run += len(piece) - start
        self.run = run
        return "".join(out)


def soft_breaks(text: str) -> str:
    """``text`` with display-only break opportunities in runs longer than SOFT_BREAK_EVERY."""
    if not _LONG_RUN.search(text):
        return text
    return SoftBreaker().feed(text)


#: A chat opens showing its last this many messages; earlier ones come when scrolled to.
RECENT_MESSAGES = 300

#: A block property marking what a block shows, so tests (and later features) can find it.
KIND_PROPERTY = QTextFormat.UserProperty + 1
#: On a message's label block: the message's row id in the chat store (search jumps to it).
MESSAGE_PROPERTY = QTextFormat.UserProperty + 2
#: On an error's blocks (its line, its expanded details): the error's id in this view.
ERROR_PROPERTY = QTextFormat.UserProperty + 3
#: On every block of a message: the message's id in memory (``Message.id``): how it is addressed.
MSG_KEY = QTextFormat.UserProperty + 4
#: On an error's blocks and its countdown line: the key of the reply that failed.
ERROR_KEY = QTextFormat.UserProperty + 5
BODY_KINDS = ("user", "assistant")
HIGHLIGHT = QColor(LIGHT.search_bg)


class TranscriptView(QTextBrowser):
    """Shows turns, streaming text, notices and errors. Holds no chat state of its own."""

    retryRequested = Signal(int)
    keepRequested = Signal(int)
    versionRequested = Signal(int, int)
    messageActionRequested = Signal(str, int)
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.document().setDocumentMargin(12)
        # Read-only: no blinking text cursor (keyboard selection still works, as in a web page).
        self.setCursorWidth(0)
        # Always shown: otherwise the bar appearing on a long chat narrows the viewport and Qt lays
        # the whole document out a second time (a 2,000-message chat took 0.9 s instead of 0.5 s,
        # and ended scrolled near the top because the range grew after it was set).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.anchorClicked.connect(self._on_anchor)
        self._tails: dict[int, QTextBlock] = {}  # message id -> its last text block (a cache)
        self._breakers: dict[int, SoftBreaker] = {}  # streaming message id -> its soft breaker
        #: Errors on screen by id: [info, can_retry, times it happened, details shown].
        self._errors: dict[int, list] = {}
        self._next_error = 1
        #: Reply key -> the id of its latest error line.
        self._reply_errors: dict[int, int] = {}
        self._versions = None
        self._errors_after: dict = {}  # message id -> earlier errors shown after it (show_earlier keeps them)
        self._messages: list = []
        self._hidden = 0
        #: Where the model's view begins (issue 12): the message id and the words, kept across redraws.
        self._context_marker: tuple[int, str] | None = None
        self._context_block: QTextBlock | None = None
        self._pinned: set[int] = set()
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self._text_format = QTextCharFormat()
        self._label_format = QTextCharFormat()
        self._label_format.setFontWeight(QFont.Weight.Bold)
        self._colors = LIGHT
        self._note_format = QTextCharFormat()
        self._note_format.setForeground(NOTE_COLOR)
        self._note_format.setFontItalic(True)
        self._error_format = QTextCharFormat()
        self._error_format.setForeground(ERROR_COLOR)
        self._link_format = QTextCharFormat()
        self._link_format.setAnchor(True)
        self._link_format.setFontUnderline(True)
        self._link_format.setForeground(QColor(LIGHT.link))
        follow(self.apply_colors)

    # -- appearance ------------------------------------------------------------------------------
    @property
    def colors(self) -> Colors:
        """The appearance's colours the view uses now (chatbot_gui/ui/theme.py)."""
        return self._colors

    def apply_colors(self, colors: Colors) -> None:
        """Re-colour notes, errors, links and search matches for another appearance, in place
        (the text's own colour and the background come from the palette and follow by themselves)."""
        old = self._colors
        if colors == old:
            return
        self._colors = colors
        self._note_format.setForeground(QColor(colors.note))
        self._error_format.setForeground(QColor(colors.error))
        self._link_format.setForeground(QColor(colors.link))
        foreground = {QColor(old.note).rgb(): QColor(colors.note), QColor(old.error).rgb(): QColor(colors.error),
                      QColor(old.link).rgb(): QColor(colors.link)}
        old_error_bg, error_bg = QColor(old.error_bg).rgb(), QColor(colors.error_bg)
        doc = self.document()
        cursor = QTextCursor(doc)
        cursor.beginEditBlock()
        block = doc.begin()
        while block.isValid():
            fmt = block.blockFormat()
            if fmt.hasProperty(QTextFormat.Property.BackgroundBrush) and fmt.background().color().rgb() == old_error_bg:
                fmt.setBackground(error_bg)
                cursor.setPosition(block.position())
                cursor.setBlockFormat(fmt)
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                char = fragment.charFormat()
                if char.hasProperty(QTextFormat.Property.ForegroundBrush):
                    new = foreground.get(char.foreground().color().rgb())
                    if new is not None:
                        change = QTextCharFormat()
                        change.setForeground(new)
                        cursor.setPosition(fragment.position())
                        cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
                        cursor.mergeCharFormat(change)
                it += 1
            block = block.next()
        cursor.endEditBlock()
        selections = self.extraSelections()
        for sel in selections:
            sel.format.setBackground(QColor(colors.search_bg))
        self.setExtraSelections(selections)

    # -- building blocks -------------------------------------------------------------------------
    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _new_block(self, kind: str, *, top_margin: float = 0.0, background: QColor | None = None,
                   message: int | None = None, cursor: QTextCursor | None = None, key: int | None = None,
                   error: int | None = None) -> QTextCursor:
        """A new block after the one ``cursor`` is at the end of (default: the document's end);
        returns a cursor in it. ``key``: the message's id; ``error``: the failed reply's key."""
        cursor = self._end_cursor() if cursor is None else cursor
        fmt = QTextBlockFormat()
        fmt.setTopMargin(top_margin)
        fmt.setProperty(KIND_PROPERTY, kind)
        if message is not None:
            fmt.setProperty(MESSAGE_PROPERTY, message)
        if key is not None:
            fmt.setProperty(MSG_KEY, key)
        if error is not None:
            fmt.setProperty(ERROR_KEY, error)
        if background is not None:
            fmt.setBackground(background)
        if self.document().isEmpty():
            cursor.setBlockFormat(fmt)
        else:
            cursor.insertBlock(fmt, self._text_format)
        return cursor

    def _insert_link(self, cursor: QTextCursor, label: str, href: str) -> None:
        fmt = QTextCharFormat(self._link_format)
        fmt.setAnchorHref(href)
        cursor.insertText(label, fmt)

    def _scroll_if_following(self, following: bool) -> None:
        if following:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    def _following(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    # -- finding a message's blocks ----------------------------------------------------------------
    def _blocks(self, prop: int, key: int) -> list[QTextBlock]:
        """The blocks carrying ``prop == key`` (one message, or one error), in order.

        A message's blocks are contiguous; the search starts at the end, where the messages that
        change (a streaming reply, the latest error) are, so it stays short in a long chat."""
        found: list[QTextBlock] = []
        block = self.document().lastBlock()
        while block.isValid():
            if block.blockFormat().property(prop) == key:
                found.append(block)
            elif found:
                break
            block = block.previous()
        found.reverse()
        return found

    def _body_end(self, msg_id: int) -> QTextCursor | None:
        """A cursor at the end of the text of message ``msg_id`` (before any marker under it)."""
        block = self._tails.get(msg_id)
        if block is None or not block.isValid() or block.blockFormat().property(MSG_KEY) != msg_id:
            blocks = [b for b in self._blocks(MSG_KEY, msg_id)
                      if b.blockFormat().property(KIND_PROPERTY) in BODY_KINDS]
            if not blocks:
                return None
            block = blocks[-1]
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        return cursor

    def _after(self, prop: int, key: int) -> QTextCursor:
        """A cursor at the end of the last block carrying ``prop == key`` (else at the document's end)."""
        blocks = self._blocks(prop, key)
        if not blocks:
            return self._end_cursor()
        cursor = QTextCursor(blocks[-1])
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        return cursor

    def _remove_blocks(self, blocks: list[QTextBlock]) -> None:
        if not blocks:
            return
        doc = self.document()
        cursor = QTextCursor(doc)
        first, last = blocks[0], blocks[-1]
        if first.previous().isValid():
            cursor.setPosition(first.position() - 1)  # from the end of the block before
            cursor.setPosition(last.position() + last.length() - 1, QTextCursor.MoveMode.KeepAnchor)
        elif last.next().isValid():
            cursor.setPosition(first.position())
            cursor.setPosition(last.next().position(), QTextCursor.MoveMode.KeepAnchor)
        else:
            doc.clear()
            return
        cursor.removeSelectedText()
        if doc.blockCount() == 1 and not doc.firstBlock().text():
            doc.clear()

    # -- what the controller calls: messages, addressed by id -------------------------------------
    def add_message(self, msg, version: tuple[int, int] = (1, 1), *,  # noqa: ANN001 - a core Message
                    after: int | None = None) -> None:
        """Show a message at the end (or right after message ``after``)."""
        following = self._following()
        cursor = self._end_cursor() if after is None else self._after(MSG_KEY, after)
        self._write_message(cursor, msg, version)
        self._scroll_if_following(True if msg.role == "user" else following)

    def _write_message(self, cursor: QTextCursor, msg, version: tuple[int, int]) -> None:  # noqa: ANN001
        mid = msg.id
        if msg.role == "notice":
            self._new_block("notice", top_margin=8, cursor=cursor, key=mid).insertText(msg.content, self._note_format)
            return
        user = msg.role == "user"
        label = self._new_block("user-label" if user else "assistant-label", top_margin=14, message=msg.db_id,
                                cursor=cursor, key=mid)
        label.insertText(USER_LABEL if user else ASSISTANT_LABEL, self._label_format)
        if getattr(msg, "pinned", False):
            label.insertText("   pinned: always sent", self._note_format)
            self._pinned.add(mid)
        else:
            self._pinned.discard(mid)
        if version[1] > 1:
            label.insertText("   ", self._note_format)
            self._insert_link(label, "‹", f"version:{mid}:-1")
            label.insertText(f" {version[0]}/{version[1]} ", self._note_format)
            self._insert_link(label, "›", f"version:{mid}:1")
        body = self._new_block("user" if user else "assistant", cursor=label, key=mid)
        if user:
            body.insertText(soft_breaks(msg.content), self._text_format)
            self._tails[mid] = body.block()
            return
        breaker = SoftBreaker()
        body.insertText(breaker.feed(msg.content), self._text_format)
        self._tails[mid] = body.block()
        status = msg.status.value if hasattr(msg.status, "value") else str(msg.status)
        if status == "streaming":
            self._breakers[mid] = breaker
            return
        if status != "complete":
            self._marker(body, status, mid, kept=msg.kept)

    def append_to(self, msg_id: int, text: str) -> None:
        """Add streamed text at the end of message ``msg_id``. Never re-sets existing text."""
        if not text:
            return
        cursor = self._body_end(msg_id)
        if cursor is None:
            return
        following = self._following()
        breaker = self._breakers.setdefault(msg_id, SoftBreaker())
        cursor.insertText(breaker.feed(text), self._text_format)
        self._tails[msg_id] = cursor.block()
        self._scroll_if_following(following)

    def end_message(self, msg, version: tuple[int, int] = (1, 1)) -> None:  # noqa: ANN001 - a core Message
        """A reply ended: mark it when it was stopped or interrupted (under its text, wherever it is)."""
        self._breakers.pop(msg.id, None)
        status = msg.status.value if hasattr(msg.status, "value") else str(msg.status)
        if status in ("stopped", "interrupted"):
            cursor = self._body_end(msg.id)
            if cursor is not None:
                following = self._following()
                self._marker(cursor, status, msg.id, kept=msg.kept)
                self._scroll_if_following(following)

    def replace_message(self, msg, version: tuple[int, int] = (1, 1)) -> None:  # noqa: ANN001
        """Show message ``msg.id`` anew, in its place (text, versions or status changed)."""
        blocks = self._blocks(MSG_KEY, msg.id)
        if not blocks:
            self.add_message(msg, version)
            return
        prev = blocks[0].previous()
        self._remove_blocks(blocks)
        if prev.isValid():
            cursor = QTextCursor(prev)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        else:
            cursor = QTextCursor(self.document())
            if not self.document().isEmpty():
                # the message was first: write it above what is there now
                cursor.insertBlock()
                cursor.movePosition(QTextCursor.MoveOperation.Start)
                self._write_message(cursor, msg, version)
                return
        self._write_message(cursor, msg, version)

    def remove_message(self, msg_id: int) -> None:
        """Take message ``msg_id`` off the screen (a reply that ended with no text, a deleted message)."""
        self._remove_blocks(self._blocks(MSG_KEY, msg_id))
        self._tails.pop(msg_id, None)
        self._breakers.pop(msg_id, None)

    def has_message(self, msg_id: int) -> bool:
        return bool(self._blocks(MSG_KEY, msg_id))

    def message_at(self, pos: QPoint) -> int | None:
        """The id of the message under a point of the viewport (for the context menu)."""
        block = self.cursorForPosition(pos).block()
        key = block.blockFormat().property(MSG_KEY)
        return int(key) if isinstance(key, int) else None

    def _marker(self, cursor: QTextCursor, status: str, msg_id: int, kept: bool = False) -> None:
        word = "Stopped" if status == "stopped" else "Interrupted"
        marker = self._new_block("marker", cursor=cursor, key=msg_id)
        marker.insertText(f"■ {word}. This partial reply will not be sent back to the model unless you ",
                          self._note_format)
        if kept:
            # Plain words once kept: clicking them again would do nothing, so they must not look
            # like something to click.
            marker.insertText("keep it.", self._note_format)
            self._new_block("notice", top_margin=8, cursor=marker, key=msg_id).insertText(
                "Kept: this partial reply is part of the conversation.", self._note_format)
            return
        self._insert_link(marker, "keep it", f"keep:{msg_id}")
        marker.insertText(".", self._note_format)

    # -- where the model's view begins (issue 12) --------------------------------------------------
    def set_context_marker(self, msg_id: int | None, text: str = "") -> None:
        """Show ``text`` ("Earlier messages are not sent: …") just above message ``msg_id``, the first
        one the model still sees; None takes the line away. It moves as the chat grows, and stays
        across redraws (a message hidden at the top gets it when it is shown)."""
        marker = (msg_id, text) if msg_id is not None and text else None
        if marker == self._context_marker and (marker is None or self._context_block_valid()):
            return
        self._context_marker = marker
        self._place_context_marker()

    def context_marker(self) -> tuple[int, str] | None:
        """(the id of the message under the line, its text) as shown, or None."""
        if not self._context_block_valid() or self._context_block is None:
            return None
        nxt = self._context_block.next()
        key = nxt.blockFormat().property(MSG_KEY) if nxt.isValid() else None
        return (int(key), self._context_block.text()) if isinstance(key, int) else None

    def _context_block_valid(self) -> bool:
        block = self._context_block
        return block is not None and block.isValid() and block.blockFormat().property(KIND_PROPERTY) == "context"

    def _place_context_marker(self) -> None:
        if self._context_block_valid() and self._context_block is not None:
            self._remove_blocks([self._context_block])
        self._context_block = None
        if self._context_marker is None:
            return
        msg_id, text = self._context_marker
        blocks = self._blocks(MSG_KEY, msg_id)
        if not blocks:
            return  # not on screen (yet)
        prev = blocks[0].previous()
        if prev.isValid():
            cursor = QTextCursor(prev)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
            cursor = self._new_block("context", top_margin=14, cursor=cursor)
        else:
            cursor = QTextCursor(self.document())
            cursor.insertBlock()
            cursor.movePosition(QTextCursor.MoveOperation.Start)
            fmt = QTextBlockFormat()
            fmt.setProperty(KIND_PROPERTY, "context")
            cursor.setBlockFormat(fmt)
        cursor.insertText(f"⋯ {text}", self._note_format)
        self._context_block = cursor.block()

    def add_notice(self, text: str) -> None:
        """A line about this chat that is not part of it (not saved): "Stopped before any reply"."""
        following = self._following()
        cursor = self._new_block("notice", top_margin=8)
        cursor.insertText(text, self._note_format)
        self._scroll_if_following(following)

    # -- errors: one line per error, addressed by its id and by the failed reply's key -------------
    def show_error(self, info: ErrorInfo, *, can_retry: bool, key: int = 0) -> int:
        """An error, visually distinct from assistant text, on one line: the app's explanation, the
        server's words folded to one short line, and links: "Details" (the server's full text,
        expanded in place), "Retry" where it can help, "Open Settings" when that is the remedy.

        ``key`` names the reply that failed: Retry emits it, and :meth:`remove_error` takes its
        errors away when a retry succeeds. The same error again for the same reply (a retry that
        failed alike) updates its line in place ("failed 3 times") instead of stacking another; a
        different one gets its own line, and the earlier line loses its Retry. Returns the error's id."""
        following = self._following()
        current = self._reply_errors.get(key)
        # a stale "Retrying now…": the controller sets a new countdown if there is one
        self._remove_blocks([b for b in self._blocks(ERROR_KEY, key)
                             if b.blockFormat().property(KIND_PROPERTY) == "countdown"])
        if current is not None and self._error_block(current) is not None:
            entry = self._errors[current]
            if entry[0].signature == info.signature:
                entry[0], entry[1], entry[2] = info, can_retry, entry[2] + 1
                self._render_error(current)
                self._scroll_if_following(following)
                return current
            entry[1] = False  # history now
            self._render_error(current)
        error_id = self._next_error
        self._next_error += 1
        self._errors[error_id] = [info, can_retry, 1, False]
        self._reply_errors[key] = error_id
        cursor = self._new_block("error", top_margin=10, background=QColor(self._colors.error_bg), error=key)
        fmt = cursor.blockFormat()
        fmt.setProperty(ERROR_PROPERTY, error_id)
        cursor.setBlockFormat(fmt)
        self._write_error(cursor, error_id)
        self._scroll_if_following(following)
        return error_id

    def _write_error(self, cursor: QTextCursor, error_id: int) -> None:
        info, can_retry, times, expanded = self._errors[error_id]
        bold = QTextCharFormat(self._error_format)
        bold.setFontWeight(QFont.Weight.Bold)
        cursor.insertText("⚠ " + info.message, bold)
        if times > 1:
            cursor.insertText(f" (failed {times} times)", bold)
        if info.action == "settings":  # the remedy, right next to the explanation
            cursor.insertText("  ", self._error_format)
            self._insert_link(cursor, "Open Settings", "settings:")
        if info.detail:
            cursor.insertText(f"  Server said: {info.summary}", self._error_format)
        if info.has_more:
            cursor.insertText("  ", self._error_format)
            self._insert_link(cursor, "Hide details" if expanded else "Details", f"details:{error_id}")
        if can_retry:
            cursor.insertText("  ", self._error_format)
            key = self._errors_key(error_id)
            self._insert_link(cursor, "Retry", f"retry:{key}")

    def _errors_key(self, error_id: int) -> int:
        block = self._error_block(error_id)
        key = block.blockFormat().property(ERROR_KEY) if block is not None else None
        return int(key) if isinstance(key, int) else 0

    def _error_block(self, error_id: int, kind: str = "error"):  # noqa: ANN202 - a QTextBlock
        block = self.document().lastBlock()
        while block.isValid():
            fmt = block.blockFormat()
            if fmt.property(ERROR_PROPERTY) == error_id and fmt.property(KIND_PROPERTY) == kind:
                return block
            block = block.previous()
        return None

    def _render_error(self, error_id: int) -> None:
        block = self._error_block(error_id)
        if block is None:
            return
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._write_error(cursor, error_id)
        info, _, _, expanded = self._errors[error_id]
        shown = self._error_block(error_id, "error-detail")
        if expanded and shown is None:
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
            fmt = QTextBlockFormat()
            fmt.setProperty(KIND_PROPERTY, "error-detail")
            fmt.setProperty(ERROR_PROPERTY, error_id)
            fmt.setProperty(ERROR_KEY, block.blockFormat().property(ERROR_KEY))
            fmt.setBackground(QColor(self._colors.error_bg))
            fmt.setLeftMargin(16)
            cursor.insertBlock(fmt, self._error_format)
            # One block whatever the server's text: its lines break with U+2028, blank runs folded.
            lines = [line.rstrip() for line in info.detail.strip().splitlines()]
            folded = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
            cursor.insertText("\u2028".join(folded), self._error_format)
        elif not expanded and shown is not None:
            self._remove_blocks([shown])

    def toggle_error_details(self, error_id: int) -> None:
        """Show or hide the server's full text under an error."""
        entry = self._errors.get(error_id)
        if entry is None:
            return
        entry[3] = not entry[3]
        self._render_error(error_id)

    def disable_retry(self, key: int) -> None:
        """The reply's errors stay as history, without Retry (a later turn made them stale)."""
        self._remove_blocks([b for b in self._blocks(ERROR_KEY, key)
                             if b.blockFormat().property(KIND_PROPERTY) == "countdown"])
        for block in self._blocks(ERROR_KEY, key):
            error_id = block.blockFormat().property(ERROR_PROPERTY)
            if block.blockFormat().property(KIND_PROPERTY) == "error" and self._errors.get(error_id, [0, 0])[1]:
                self._errors[error_id][1] = False
                self._render_error(error_id)

    def remove_error(self, key: int) -> None:
        """Take a reply's errors (and countdown) off the screen: a retry of it succeeded, in their place."""
        for block in self._blocks(ERROR_KEY, key):
            self._errors.pop(block.blockFormat().property(ERROR_PROPERTY), None)
        self._remove_blocks(self._blocks(ERROR_KEY, key))
        self._reply_errors.pop(key, None)

    def set_countdown(self, text: str, key: int = 0) -> None:
        """Show (or update in place) the one 'retrying in N s' line under the errors of reply ``key``."""
        for block in self._blocks(ERROR_KEY, key):
            if block.blockFormat().property(KIND_PROPERTY) == "countdown":
                cursor = QTextCursor(block)
                cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
                cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
                cursor.insertText(text, self._note_format)
                return
        following = self._following()
        self._new_block("countdown", cursor=self._after(ERROR_KEY, key), error=key).insertText(
            text, self._note_format)
        self._scroll_if_following(following)

    def clear_chat(self) -> None:
        self._hidden = 0
        self._tails.clear()
        self._breakers.clear()
        self._reply_errors.clear()
        self._errors.clear()
        self.setExtraSelections([])
        self.document().clear()

    def show_messages(self, messages, recent: int | None = None,  # noqa: ANN001 - core Messages
                      versions=None, errors=None) -> None:  # noqa: ANN001 - Callable[[int], tuple[int, int]]
        """Replace the view with a chat (one edit block, repainted once).

        A long chat opens with its last ``recent`` messages (default :data:`RECENT_MESSAGES`); the
        earlier ones are shown when the user scrolls to the top or clicks the note there, so opening
        a chat costs the same whatever its length. ``versions(message_id)`` gives "2/3";
        ``errors[message_id]``: earlier turns' errors shown (without Retry) after that message."""
        recent = RECENT_MESSAGES if recent is None else recent
        hidden = max(0, len(messages) - recent) if recent > 0 else 0
        self._versions = versions
        errors = errors or {}
        self.setUpdatesEnabled(False)
        try:
            self.clear_chat()
            self._messages, self._hidden = messages, hidden
            cursor = self._end_cursor()
            cursor.beginEditBlock()
            if hidden:
                note = self._new_block("earlier")
                note.insertText(f"{hidden:,} earlier messages. Scroll up or ", self._note_format)
                self._insert_link(note, "show them", "earlier:")
                note.insertText(".", self._note_format)
            for msg in messages[hidden:] if hidden else messages:
                self._write_message(self._end_cursor(), msg, versions(msg.id) if versions else (1, 1))
                for info in errors.get(msg.id, ()):
                    self.show_error(info, can_retry=False, key=-1 - self._next_error)  # history: no reply key
            cursor.endEditBlock()
            self._place_context_marker()
        finally:
            self.setUpdatesEnabled(True)
        self._errors_after = errors
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    @property
    def hidden_earlier(self) -> int:
        """How many earlier messages of the open chat are not shown yet."""
        return self._hidden

    def show_earlier(self) -> None:
        """Show the whole chat, keeping the message that was at the top where it was."""
        if not self._hidden:
            return
        bar = self.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        self.show_messages(self._messages, recent=0, versions=self._versions, errors=self._errors_after)
        self.document().documentLayout().documentSize()  # lay out now, so the range is final
        bar.setValue(max(0, bar.maximum() - from_bottom))

    def _scrolled(self, value: int) -> None:
        if value == 0 and self._hidden:
            QTimer.singleShot(0, self.show_earlier)

    def highlight(self, query: str, message_db_id: int | None = None) -> int:
        """Mark every occurrence of the query's words; scroll to the first one in that message.

        Returns how many were marked (at most 500)."""
        if message_db_id is not None and self._hidden and message_db_id not in {
                m.db_id for m in self._messages[self._hidden:]}:
            self.show_earlier()  # the match is in a message not shown yet
        doc = self.document()
        selections = []
        first: QTextCursor | None = None
        start_pos = 0
        if message_db_id is not None:
            block = doc.begin()
            while block.isValid():
                if block.blockFormat().property(MESSAGE_PROPERTY) == message_db_id:
                    start_pos = block.position()
                    break
                block = block.next()
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(self._colors.search_bg))
        for term in dict.fromkeys(query.split()):
            found = doc.find(term, 0)
            while not found.isNull() and len(selections) < 500:
                sel = QTextEdit.ExtraSelection()
                sel.cursor = found
                sel.format = fmt
                selections.append(sel)
                if found.position() >= start_pos and (first is None or found.position() < first.position()):
                    first = QTextCursor(found)
                found = doc.find(term, found)
        self.setExtraSelections(selections)
        if first is not None:
            self.setTextCursor(first)
            self.ensureCursorVisible()
        return len(selections)

    # -- reading back (tests, accessibility) -----------------------------------------------------
    def blocks_of_kind(self, kind: str) -> list[str]:
        out = []
        block = self.document().begin()
        while block.isValid():
            if block.blockFormat().property(KIND_PROPERTY) == kind:
                out.append(block.text().replace(_ZWSP, ""))
            block = block.next()
        return out

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt override
        menu = self.createStandardContextMenu(event.pos())
        msg_id = self.message_at(event.pos())
        if msg_id is not None:
            self.add_message_actions(menu, msg_id)
        menu.exec(event.globalPos())
        menu.deleteLater()

    def add_message_actions(self, menu, msg_id: int) -> None:  # noqa: ANN001 - a QMenu
        """Regenerate / Edit and resend / Delete for the message ``msg_id`` (what applies to its role)."""
        kinds = {b.blockFormat().property(KIND_PROPERTY) for b in self._blocks(MSG_KEY, msg_id)}
        menu.addSeparator()
        if "assistant" in kinds:
            menu.addAction("Regenerate reply", lambda: self.messageActionRequested.emit("regenerate", msg_id))
        if "user" in kinds:
            menu.addAction("Edit and resend…", lambda: self.messageActionRequested.emit("edit", msg_id))
        if kinds & set(BODY_KINDS):
            if msg_id in self._pinned:
                menu.addAction("Unpin", lambda: self.messageActionRequested.emit("unpin", msg_id))
            else:
                menu.addAction("Pin: always send to the model",
                               lambda: self.messageActionRequested.emit("pin", msg_id))
        menu.addAction("Delete message", lambda: self.messageActionRequested.emit("delete", msg_id))

    def _on_anchor(self, url: QUrl) -> None:
        href = url.toString()
        if href.startswith("retry:"):
            try:
                self.retryRequested.emit(int(href.split(":", 1)[1] or 0))
            except ValueError:
                pass
        elif href.startswith("version:"):
            _, mid, step = href.split(":")
            self.versionRequested.emit(int(mid), int(step))
        elif href.startswith("earlier:"):
            self.show_earlier()
        elif href.startswith("settings:"):
            self.settingsRequested.emit()
        elif href.startswith("details:"):
            try:
                self.toggle_error_details(int(href.split(":", 1)[1]))
            except ValueError:
                pass
        elif href.startswith("keep:"):
            try:
                self.keepRequested.emit(int(href.split(":", 1)[1]))
            except ValueError:
                pass
