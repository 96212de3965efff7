"""The transcript pane: a read-only, selectable view of the chat, built for long chats.

Reply text is only ever inserted with ``QTextCursor.insertText`` (plain text, never HTML), so markup
in a reply is shown, not interpreted. Streaming text is appended at the end of the document, so the
cost of a delta does not grow with the number of messages already on screen.

Signals:
    retryRequested(): the user clicked "Retry" under an error.
    keepRequested(int): the user clicked "Keep" on a stopped/interrupted reply (message id).
    settingsRequested(): the user clicked "Open Settings" on an error (a key the server refused).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QFont, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QTextBrowser, QTextEdit, QWidget

if TYPE_CHECKING:
    from chatbot_gui.core.errors import ErrorInfo

USER_LABEL = "You"
ASSISTANT_LABEL = "Assistant"
ERROR_COLOR = QColor("#b3261e")
NOTE_COLOR = QColor("#6b6b6b")
ERROR_BG = QColor("#fdecea")

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
HIGHLIGHT = QColor("#ffe066")


class TranscriptView(QTextBrowser):
    """Shows turns, streaming text, notices and errors. Holds no chat state of its own."""

    retryRequested = Signal()
    keepRequested = Signal(int)
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
        self._streaming = False
        self._breaker = SoftBreaker()
        self._messages: list = []
        self._hidden = 0
        #: Errors on screen by id: [info, can_retry, times it happened, details shown].
        self._errors: dict[int, list] = {}
        self._next_error = 1
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self._text_format = QTextCharFormat()
        self._label_format = QTextCharFormat()
        self._label_format.setFontWeight(QFont.Weight.Bold)
        self._note_format = QTextCharFormat()
        self._note_format.setForeground(NOTE_COLOR)
        self._note_format.setFontItalic(True)
        self._error_format = QTextCharFormat()
        self._error_format.setForeground(ERROR_COLOR)
        self._link_format = QTextCharFormat()
        self._link_format.setAnchor(True)
        self._link_format.setFontUnderline(True)
        self._link_format.setForeground(QColor("#1a5fb4"))

    # -- building blocks -------------------------------------------------------------------------
    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _new_block(self, kind: str, *, top_margin: float = 0.0, background: QColor | None = None,
                   message: int | None = None) -> QTextCursor:
        cursor = self._end_cursor()
        fmt = QTextBlockFormat()
        fmt.setTopMargin(top_margin)
        fmt.setProperty(KIND_PROPERTY, kind)
        if message is not None:
            fmt.setProperty(MESSAGE_PROPERTY, message)
        if background is not None:
            fmt.setBackground(background)
        if self.document().isEmpty():
            cursor.setBlockFormat(fmt)
        else:
            cursor.insertBlock(fmt, self._text_format)
        return cursor

    def _insert_body(self, kind: str, text: str) -> None:
        cursor = self._new_block(kind)
        cursor.insertText(text, self._text_format)

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

    # -- what the controller calls ---------------------------------------------------------------
    def add_user(self, text: str, db_id: int | None = None) -> None:
        following = self._following()
        self._new_block("user-label", top_margin=14, message=db_id).insertText(USER_LABEL, self._label_format)
        self._insert_body("user", soft_breaks(text))
        self._scroll_if_following(True if not following else following)

    def begin_assistant(self, label: str = ASSISTANT_LABEL, db_id: int | None = None) -> None:
        following = self._following()
        self._new_block("assistant-label", top_margin=14, message=db_id).insertText(label, self._label_format)
        self._new_block("assistant")
        self._breaker = SoftBreaker()
        self._streaming = True
        self._scroll_if_following(following)

    def append_reply_text(self, text: str) -> None:
        """Add streamed text at the end of the reply being written. Never re-sets existing text."""
        if not text:
            return
        following = self._following()
        self._end_cursor().insertText(self._breaker.feed(text), self._text_format)
        self._scroll_if_following(following)

    def discard_empty_reply(self) -> bool:
        """Remove the "Assistant" heading of a reply that ended before any text arrived."""
        doc = self.document()
        last = doc.lastBlock()
        label = last.previous()
        if (last.blockFormat().property(KIND_PROPERTY) != "assistant" or last.text()
                or label.blockFormat().property(KIND_PROPERTY) != "assistant-label"):
            return False
        cursor = QTextCursor(doc)
        cursor.setPosition(max(0, label.position() - 1))  # from the end of the block before it
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if doc.blockCount() == 1 and doc.firstBlock().blockFormat().property(KIND_PROPERTY) == "assistant-label":
            doc.clear()
        self._streaming = False
        return True

    def end_assistant(self, status: str, message_id: int | None = None) -> None:
        """Close the reply; mark it when it was stopped or interrupted."""
        self._streaming = False
        if status == "stopped":
            self._marker("Stopped. This partial reply will not be sent back to the model", message_id)
        elif status == "interrupted":
            self._marker("Interrupted. This partial reply will not be sent back to the model", message_id)

    def _marker(self, text: str, message_id: int | None) -> None:
        following = self._following()
        cursor = self._new_block("marker")
        cursor.insertText(f"■ {text}", self._note_format)
        if message_id is not None:
            cursor.insertText(" unless you ", self._note_format)
            self._insert_link(cursor, "keep it", f"keep:{message_id}")
            cursor.insertText(".", self._note_format)
        else:
            cursor.insertText(".", self._note_format)
        self._scroll_if_following(following)

    def mark_kept(self, message_id: int | None = None) -> None:
        """Say the partial reply is kept, and make its "keep it" plain text: clicking it again did
        nothing, so it must not look like something to click."""
        if message_id is not None:
            self._unlink(f"keep:{message_id}")
        self.add_notice("Kept: that partial reply is now part of the conversation.")

    def _unlink(self, href: str) -> None:
        block = self.document().lastBlock()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.isValid() and fragment.charFormat().anchorHref() == href:
                    cursor = QTextCursor(self.document())
                    cursor.setPosition(fragment.position())
                    cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
                    cursor.setCharFormat(self._note_format)
                    return
                it += 1
            block = block.previous()

    def add_notice(self, text: str) -> None:
        following = self._following()
        cursor = self._new_block("notice", top_margin=8)
        cursor.insertText(text, self._note_format)
        self._scroll_if_following(following)

    def show_error(self, info: ErrorInfo, *, can_retry: bool) -> int:
        """An error, visually distinct from assistant text, on one line: the app's explanation, the
        server's words folded to one short line, and links: "Details" (the server's full text,
        expanded in place), "Retry" where it can help, "Open Settings" when that is the remedy.

        The same error again right after itself (a retry that failed alike) updates that line in
        place ("failed 3 times") instead of stacking another block. Returns the error's id."""
        following = self._following()
        last = self._last_error_id()
        if last is not None and self._errors[last][0].signature == info.signature:
            entry = self._errors[last]
            entry[0], entry[1], entry[2] = info, can_retry, entry[2] + 1
            self._remove_trailing("countdown")  # a stale "Retrying now…": the controller sets a new one
            self._render_error(last)
            self._scroll_if_following(following)
            return last
        error_id = self._next_error
        self._next_error += 1
        self._errors[error_id] = [info, can_retry, 1, False]
        cursor = self._new_block("error", top_margin=10, background=ERROR_BG)
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
            self._insert_link(cursor, "Retry", "retry:")

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
            fmt.setBackground(ERROR_BG)
            fmt.setLeftMargin(16)
            cursor.insertBlock(fmt, self._error_format)
            # One block whatever the server's text: its lines break with U+2028, blank runs folded.
            lines = [line.rstrip() for line in info.detail.strip().splitlines()]
            folded = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
            cursor.insertText("\u2028".join(folded), self._error_format)
        elif not expanded and shown is not None:
            self._remove_block(shown)

    def toggle_error_details(self, error_id: int) -> None:
        """Show or hide the server's full text under an error."""
        entry = self._errors.get(error_id)
        if entry is None:
            return
        entry[3] = not entry[3]
        self._render_error(error_id)

    def _last_error_id(self) -> int | None:
        """The error at the end of the view (after it, at most its details and a countdown line)."""
        block = self.document().lastBlock()
        while block.isValid() and block.blockFormat().property(KIND_PROPERTY) in ("countdown", "error-detail"):
            block = block.previous()
        if block.isValid() and block.blockFormat().property(KIND_PROPERTY) == "error":
            error_id = block.blockFormat().property(ERROR_PROPERTY)
            return error_id if error_id in self._errors else None
        return None

    def _remove_block(self, block) -> None:  # noqa: ANN001 - a QTextBlock
        cursor = QTextCursor(self.document())
        cursor.setPosition(max(0, block.position() - 1))  # from the end of the block before it
        cursor.setPosition(block.position() + block.length() - 1, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()

    def _remove_trailing(self, kind: str) -> None:
        last = self.document().lastBlock()
        if last.blockFormat().property(KIND_PROPERTY) == kind and last.previous().isValid():
            self._remove_block(last)

    def set_countdown(self, text: str) -> None:
        """Show (or update in place) the single 'retrying in N s' line under an error."""
        doc = self.document()
        last = doc.lastBlock()
        if last.blockFormat().property(KIND_PROPERTY) == "countdown":
            cursor = QTextCursor(last)
            cursor.select(QTextCursor.SelectionType.BlockUnderCursor)
            cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
            cursor.insertText(text, self._note_format)
            return
        self._new_block("countdown").insertText(text, self._note_format)
        self._scroll_if_following(True)

    def clear_chat(self) -> None:
        self._streaming = False
        self._hidden = 0
        self._errors.clear()
        self.setExtraSelections([])
        self.document().clear()

    def show_messages(self, messages, recent: int | None = None) -> None:  # noqa: ANN001 - core Messages
        """Replace the view with a chat (one edit block, repainted once).

        A long chat opens with its last ``recent`` messages (default :data:`RECENT_MESSAGES`); the
        earlier ones are shown when the user scrolls to the top or clicks the note there, so opening
        a chat costs the same whatever its length."""
        recent = RECENT_MESSAGES if recent is None else recent
        hidden = max(0, len(messages) - recent) if recent > 0 else 0
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
                if msg.role == "user":
                    self.add_user(msg.content, msg.db_id)
                    continue
                self.begin_assistant(db_id=msg.db_id)
                self.append_reply_text(msg.content)
                status = msg.status.value if hasattr(msg.status, "value") else str(msg.status)
                if status == "streaming":
                    continue  # still coming in: the controller goes on appending
                self.end_assistant(status if not msg.kept else "complete", msg.id)
                if msg.kept and status != "complete":
                    self.add_notice("Kept: this partial reply is part of the conversation.")
            cursor.endEditBlock()
        finally:
            self.setUpdatesEnabled(True)
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
        self.show_messages(self._messages, recent=0)
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
        fmt.setBackground(HIGHLIGHT)
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

    def _on_anchor(self, url: QUrl) -> None:
        href = url.toString()
        if href.startswith("retry:"):
            self.retryRequested.emit()
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
