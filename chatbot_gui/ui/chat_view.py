"""The chat pane: the message list (``ui/messages``) driven by the chat's messages, errors and notices.

The controller and ``Reply`` address everything here by id, never "the last block": a message by its
``Message.id``; an error line by the key of the reply that failed (Retry names that key). Rows that
are not turns of the conversation (an error, its details, a retry countdown, a note that is not
saved such as "Stopped before any reply arrived.") get ids of their own, below zero, so they never
collide with a message's.

Signals:
    retryRequested(int): "Retry" under an error (the failed reply's key).
    keepRequested(int): "keep it" on a stopped/interrupted reply (message id).
    versionRequested(int, int): "‹" (-1) or "›" (+1) on a message with versions (message id, step).
    messageActionRequested(str, int): "regenerate", "edit" or "delete" on a message.
    settingsRequested(): "Open Settings" on an error (a key the server refused).
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence
from PySide6.QtWidgets import QWidget

from chatbot_gui.ui.messages.rows import NOTE_ROLES, no_answer
from chatbot_gui.ui.messages.view import ASSISTANT, EMPTY_REPLY, MessagesView

if TYPE_CHECKING:
    from chatbot_gui.core.errors import ErrorInfo

USER_LABEL = "You"
ASSISTANT_LABEL = "Assistant"
KEPT_TEXT = "Kept: this partial reply is part of the conversation."
PINNED_TEXT = "pinned: always sent"


def marker_text(status: str, kept: bool) -> str:
    """The line under a stopped or interrupted reply."""
    word = "Stopped" if status == "stopped" else "Interrupted"
    text = f"■ {word}. This partial reply will not be sent back to the model unless you keep it."
    return f"{text}\n{KEPT_TEXT}" if kept else text


def _status_lines(msg: Any) -> list[str]:
    lines = []
    status = _status(msg)
    if msg.role == ASSISTANT and status in ("stopped", "interrupted"):
        lines.append(marker_text(status, msg.kept))
    if getattr(msg, "pinned", False):
        lines.append(f"📌 {PINNED_TEXT} to the model")
    return lines


def _status(msg: Any) -> str:
    return msg.status.value if hasattr(msg.status, "value") else str(msg.status)


class ChatView(MessagesView):
    """Shows a chat's turns, streaming text, notices and errors. Holds no chat state of its own."""

    retryRequested = Signal(int)
    keepRequested = Signal(int)
    stepRequested = Signal(int, int)
    messageActionRequested = Signal(str, int)
    settingsRequested = Signal()
    #: "Undo" where a message was deleted.
    undoRequested = Signal()
    #: Ctrl+wheel over the view: the window's zoom (remembered), not one of the view's own.
    zoomRequested = Signal(int)
    #: Text typed while the messages have the focus (letters, digits, punctuation): it belongs in the
    #: message box, as in chat apps, instead of being dropped.
    typed = Signal(str)

    def __init__(self, parent: QWidget | None = None, theme: str = "system") -> None:
        super().__init__(parent, theme)
        self._ids = itertools.count(-2, -1)  # (-1 is the view's "no current message")
        #: error row id -> [info, can_retry, times, details shown, reply key]
        self._errors: dict[int, list] = {}
        self._reply_errors: dict[int, int] = {}  # reply key -> its latest error row
        self._countdowns: dict[int, int] = {}  # reply key -> its countdown row
        self._details: dict[int, int] = {}  # error row -> its details row
        self._db_ids: dict[int, int] = {}  # store row id -> message id (search jumps to it)
        self._usage: dict[int, Any] = {}  # reply id -> the server's usage, for a message that does not keep it
        self.regenerateRequested.connect(lambda mid: self.messageActionRequested.emit("regenerate", mid))
        self.editRequested.connect(lambda mid: self.messageActionRequested.emit("edit", mid))
        self.deleteRequested.connect(lambda mid: self.messageActionRequested.emit("delete", mid))
        self.versionRequested.connect(self._version_asked)
        self.actionRequested.connect(self._row_action)
        #: Where the model's view begins (issue 12): (message id, words) and the row showing it.
        self._context_marker: tuple[int, str] | None = None
        self._context_row = next(self._ids)
        self._undo_row = next(self._ids)  # "Message deleted. Undo", where the message was
        self._appearance: Any = None
        from chatbot_gui.ui.theme import follow

        follow(self._follow_appearance)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.matches(QKeySequence.StandardKey.Undo) and self._undo_row in self._index:
            self.undoRequested.emit()  # Ctrl+Z: what the "Undo" under a deleted message does
            return
        text = event.text()
        mods = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
        # Space and Enter stay the current action's keys; Ctrl/Alt combinations stay shortcuts.
        if text and text.isprintable() and not text.isspace() and mods == Qt.KeyboardModifier.NoModifier:
            self.typed.emit(text)
            return
        super().keyPressEvent(event)

    # -- appearance (chatbot_gui/ui/theme.py) and zoom (the window's) -------------------------------
    def _follow_appearance(self, colors: Any) -> None:
        self._appearance = colors
        self.set_theme("dark" if colors.dark else "light")

    def colors(self) -> dict[str, str]:
        """The render theme's colours, with the app's appearance for notes, errors, links, search."""
        base = dict(super().colors())
        c = getattr(self, "_appearance", None)
        if c is not None:
            base.update(muted=c.note, error=c.error, error_bg=c.error_bg, link=c.link, highlight=c.search_bg,
                        background=c.base, text=c.text, selection=c.highlight)
        return base

    def _apply_theme(self) -> None:
        super()._apply_theme()
        if getattr(self, "_appearance", None) is not None:
            from PySide6.QtGui import QColor, QPalette

            pal = self.viewport().palette()
            pal.setColor(QPalette.ColorRole.Base, QColor(self._appearance.base))
            pal.setColor(QPalette.ColorRole.Window, QColor(self._appearance.base))
            self.viewport().setPalette(pal)

    def zoom(self, steps: int) -> None:
        self.zoomRequested.emit(steps)

    def changeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange and hasattr(self, "_base_font") and self.font() != self._base_font:
            # The window's zoom sets this widget's font (remembered in settings): lay out anew in it.
            self._base_font = QFont(self.font())
            self.set_zoom(0)

    # -- messages ----------------------------------------------------------------------------------
    def _row_args(self, msg: Any, version: tuple[int, int]) -> dict:
        status = _status(msg)
        args: dict = {"version": version[0], "versions": version[1]}
        links: list[tuple[str, str]] = []
        lines = _status_lines(msg)
        if msg.role == ASSISTANT:
            if status == "streaming":
                args["streaming"] = True
            elif status in ("stopped", "interrupted"):
                if not msg.kept:
                    links.append(("keep", "keep it"))
            elif no_answer(msg.content):  # (no text, or only its reasoning)
                lines.append(EMPTY_REPLY)
        if msg.role in ("user", ASSISTANT) and status != "streaming":
            links.append(("unpin", "Unpin") if getattr(msg, "pinned", False) else ("pin", "Pin"))
        if lines:
            args["status"] = "\n".join(lines)
        if links:
            args["links"] = links
        if msg.role == ASSISTANT and status != "streaming":
            args["meta"] = self._meta_text(msg)
        if getattr(msg, "reasoning_seconds", None) is not None:
            args["reasoning_seconds"] = msg.reasoning_seconds
        return args

    def add_message(self, msg: Any, version: tuple[int, int] = (1, 1), *,  # type: ignore[override]
                    after: int | None = None, **_: Any) -> None:
        """Shows a core ``Message`` at the end (or right after message ``after``)."""
        index = None
        if after is not None and after in self._index:
            index = self._index[after] + 1
        if msg.db_id is not None:
            self._db_ids[msg.db_id] = msg.id
        super().add_message(msg.id, msg.role, msg.content, index=index, **self._row_args(msg, version))
        if msg.role == "user":
            self._stick = True
            self._update_scrollbar()

    def append_to(self, msg_id: int, text: str) -> None:
        """Adds streamed text at the end of message ``msg_id``. Never re-sets existing text."""
        if text and msg_id in self._index:
            self.append_text(msg_id, text)

    def end_message(self, msg: Any, version: tuple[int, int] = (1, 1)) -> None:
        """The reply ended (complete, stopped or interrupted): its last block is final, its marker shown."""
        if msg.id not in self._index:
            return
        if msg.db_id is not None:
            self._db_ids[msg.db_id] = msg.id
        args = self._row_args(msg, version)
        if msg.reasoning_seconds is not None:
            self._row(msg.id).reasoning_seconds = msg.reasoning_seconds  # (laid out with the end, below)
        self.finish(msg.id, args.get("status", ""))
        self.set_links(msg.id, args.get("links", []))
        self.set_meta(msg)
        if msg.role == ASSISTANT:
            from chatbot_gui.ui.messages import access

            access.announce(self, msg.id)  # read out politely, when a screen reader listens

    def replace_message(self, msg: Any, version: tuple[int, int] = (1, 1)) -> None:
        """Shows message ``msg.id`` anew, in its place (text, versions or status changed)."""
        if msg.id not in self._index:
            self.add_message(msg, version)
            return
        k = self._index[msg.id]
        MessagesView.remove_message(self, msg.id)  # (the context line above it stays where it is)
        if msg.db_id is not None:
            self._db_ids[msg.db_id] = msg.id
        MessagesView.add_message(self, msg.id, msg.role, msg.content, index=k, **self._row_args(msg, version))

    def remove_message(self, message_id: int) -> None:
        if message_id in self._index:
            super().remove_message(message_id)
            if self._context_marker and self._context_marker[0] == message_id:
                self._remove_row(self._context_row)

    # -- the quiet line under a reply: model, time, tokens -----------------------------------------
    def set_meta(self, msg: Any, usage: Any = None) -> None:
        """Shows the reply's model and time, and the tokens the server counted (``usage``), beside
        its actions. The figures also go into the message's accessible text."""
        if msg.id not in self._index:
            return
        if usage is not None:
            self._usage[msg.id] = usage
        self._row(msg.id).meta = self._meta_text(msg)
        self._repaint_meta(msg.id)  # (not the whole screen: this runs as a reply ends, see end_message)

    def _meta_text(self, msg: Any) -> str:
        kept = getattr(msg, "usage", None)  # a core Message keeps it (saved, so shown after a restart)
        usage = kept.usage if kept is not None else self._usage.get(msg.id)
        parts = [msg.model] if msg.model else []
        parts.append(time.strftime("%H:%M", time.localtime(msg.created_at)))
        if usage is not None and usage.total_tokens:
            parts.append(f"{usage.total_tokens:,} tokens")  # (the chat's sum is in the footer)
        return " · ".join(parts)

    def meta_of(self, message_id: int) -> str:
        return self._row(message_id).meta

    # -- where the model's view begins (issue 12) --------------------------------------------------
    def set_context_marker(self, msg_id: int | None, text: str = "") -> None:
        """Shows ``text`` ("Earlier messages are not sent: …") just above message ``msg_id``, the first
        one the model still sees; None takes the line away. It stays across redraws."""
        marker = (msg_id, text) if msg_id is not None and text else None
        if marker == self._context_marker and (marker is None or self._context_row in self._index):
            return
        self._context_marker = marker
        self._place_context_marker()

    def context_marker(self) -> tuple[int, str] | None:
        """(the id of the message under the line, its text) as shown, or None."""
        if self._context_row not in self._index:
            return None
        k = self._index[self._context_row]
        if k + 1 >= len(self._rows):
            return None
        return self._rows[k + 1].id, self.text_of(self._context_row)

    def _place_context_marker(self) -> None:
        self._remove_row(self._context_row)
        if self._context_marker is None:
            return
        msg_id, text = self._context_marker
        if msg_id in self._index:
            MessagesView.add_message(self, self._context_row, "context", f"⋯ {text}", index=self._index[msg_id])

    def has_message(self, msg_id: int) -> bool:
        return msg_id in self._index

    def offer_undo(self, text: str, after: int | None) -> None:
        """``text`` with an "Undo" link, right under message ``after`` (None: at the top); one at a
        time, and not saved: showing the chat anew takes it away."""
        self.withdraw_undo()
        index = self._index[after] + 1 if after is not None and after in self._index else 0
        MessagesView.add_message(self, self._undo_row, "notice", text, links=[("undo", "Undo")], index=index)

    def withdraw_undo(self) -> None:
        self._remove_row(self._undo_row)

    def add_notice(self, text: str) -> None:
        """A line about this chat that is not part of it (not saved): "Stopped before any reply"."""
        MessagesView.add_message(self, next(self._ids), "notice", text)

    def show_messages(self, messages: Any, recent: int | None = None, versions: Any = None,
                      errors: dict[int, list] | None = None) -> None:
        """Replaces the view with a chat. Only what is on screen is rendered, so opening costs the
        same whatever the chat's length (``recent`` is accepted for the old transcript's callers).
        ``errors[message_id]``: earlier turns' errors, shown (without Retry) after that message."""
        self._clear_errors()
        self._db_ids = {m.db_id: m.id for m in messages if m.db_id is not None}
        self.highlight_terms = []
        rows: list[tuple] = []
        for m in messages:
            rows.append((m.id, m.role, m.content, self._row_args(m, versions(m.id) if versions else (1, 1))))
            for info in (errors or {}).get(m.id, ()):
                error_id = next(self._ids)
                self._errors[error_id] = [info, False, 1, False, error_id]  # history: its own key, no Retry
                self._reply_errors[error_id] = error_id
                text, links = self._error_row(error_id)
                rows.append((error_id, "error", text, {"links": links}))
        self.set_messages(rows)
        self._place_context_marker()

    def clear_chat(self) -> None:
        self.show_messages([])

    @property
    def hidden_earlier(self) -> int:
        """Messages of the open chat not in the view: none (the view lays out only what is seen)."""
        return 0

    def show_earlier(self) -> None:
        """Nothing to do: every message is in the view (kept for callers of the old transcript)."""

    # -- errors ------------------------------------------------------------------------------------
    def _clear_errors(self) -> None:
        self._errors.clear()
        self._reply_errors.clear()
        self._countdowns.clear()
        self._details.clear()

    def show_error(self, info: ErrorInfo, *, can_retry: bool, key: int = 0) -> int:
        """An error, visually distinct from assistant text, on one line: the app's explanation, the
        server's words folded to one short line, and links: "Details" (the server's full text,
        shown under it), "Retry" where it can help, "Open Settings" when that is the remedy.

        The same error again for the same reply (a retry that failed alike) updates its line in
        place ("failed 3 times"); a different one gets its own line, and the earlier loses its
        Retry. Returns the error row's id."""
        self._remove_row(self._countdowns.pop(key, None))
        current = self._reply_errors.get(key)
        if current is not None and current in self._index:
            entry = self._errors[current]
            if entry[0].signature == info.signature:
                entry[0], entry[1], entry[2] = info, can_retry, entry[2] + 1
                self._render_error(current)
                return current
            entry[1] = False  # history now
            self._render_error(current)
        error_id = next(self._ids)
        self._errors[error_id] = [info, can_retry, 1, False, key]
        self._reply_errors[key] = error_id
        text, links = self._error_row(error_id)
        MessagesView.add_message(self, error_id, "error", text, links=links)
        return error_id

    def _error_row(self, error_id: int) -> tuple[str, list[tuple[str, str]]]:
        info, can_retry, times, expanded, _ = self._errors[error_id]
        text = "⚠ " + info.message + (f" (failed {times} times)" if times > 1 else "")
        if info.detail:
            text += f"  Server said: {info.summary}"
        links: list[tuple[str, str]] = []
        if info.action == "settings":
            links.append(("settings", "Open Settings"))
        if info.has_more:
            links.append(("details", "Hide details" if expanded else "Details"))
        if can_retry:
            links.append(("retry", "Retry"))
        return text, links

    def _render_error(self, error_id: int) -> None:
        if error_id not in self._index:
            return
        text, links = self._error_row(error_id)
        self.set_text(error_id, text)
        self.set_links(error_id, links)
        info, _, _, expanded, _ = self._errors[error_id]
        shown = self._details.get(error_id)
        if expanded and shown is None:
            lines = [line.rstrip() for line in info.detail.strip().splitlines()]
            folded = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
            row = next(self._ids)
            self._details[error_id] = row
            MessagesView.add_message(self, row, "error-detail", "\n".join(folded),
                                     index=self._index[error_id] + 1)
        elif not expanded and shown is not None:
            self._remove_row(self._details.pop(error_id))

    def toggle_error_details(self, error_id: int) -> None:
        entry = self._errors.get(error_id)
        if entry is not None:
            entry[3] = not entry[3]
            self._render_error(error_id)

    def _remove_row(self, row_id: int | None) -> None:
        if row_id is not None and row_id in self._index:
            MessagesView.remove_message(self, row_id)

    def disable_retry(self, key: int) -> None:
        """The reply's errors stay as history, without Retry (a later turn made them stale)."""
        self._remove_row(self._countdowns.pop(key, None))
        for error_id, entry in self._errors.items():
            if entry[4] == key and entry[1]:
                entry[1] = False
                self._render_error(error_id)

    def remove_error(self, key: int) -> None:
        """Takes a reply's errors (and countdown) off the screen: a retry of it succeeded, in their place."""
        self._remove_row(self._countdowns.pop(key, None))
        for error_id in [e for e, entry in self._errors.items() if entry[4] == key]:
            self._remove_row(self._details.pop(error_id, None))
            self._remove_row(error_id)
            del self._errors[error_id]
        self._reply_errors.pop(key, None)

    def set_countdown(self, text: str, key: int = 0) -> None:
        """Shows (or updates in place) the one 'retrying in N s' line under the errors of reply ``key``."""
        row = self._countdowns.get(key)
        if row is not None and row in self._index:
            self.set_text(row, text)
            return
        after = [self._index[r] for r in (self._reply_errors.get(key), self._details.get(self._reply_errors.get(key, 0)))
                 if r is not None and r in self._index]
        row = next(self._ids)
        self._countdowns[key] = row
        MessagesView.add_message(self, row, "countdown", text, index=max(after) + 1 if after else None)

    # -- user's clicks -----------------------------------------------------------------------------
    def _row_action(self, row_id: int, action: str) -> None:
        if action in ("pin", "unpin"):
            self.messageActionRequested.emit(action, row_id)
        elif action == "keep":
            self.keepRequested.emit(row_id)
        elif action == "retry" and row_id in self._errors:
            self.retryRequested.emit(self._errors[row_id][4])
        elif action == "details":
            self.toggle_error_details(row_id)
        elif action == "settings":
            self.settingsRequested.emit()
        elif action == "undo":
            self.undoRequested.emit()

    def _version_asked(self, message_id: int, n: int) -> None:
        version, _ = self.versions_of(message_id)
        if n != version:
            self.stepRequested.emit(message_id, n - version)

    # -- search ------------------------------------------------------------------------------------
    def highlight(self, query: str, message_db_id: int | None = None) -> int:
        """Marks every occurrence of the query's words and scrolls to that message.

        Returns how many were found in the chat's text (the view marks them where they are drawn)."""
        self.highlight_terms = list(dict.fromkeys(query.split()))
        count = sum(self.text_of(mid).lower().count(term.lower()) for mid in self.message_ids() if mid > 0
                    for term in self.highlight_terms)
        target = self._db_ids.get(message_db_id) if message_db_id is not None else None
        if target is not None and target in self._index:
            self.scroll_to(target)
        self.viewport().update()
        return count

    def scroll_to(self, message_id: int) -> None:
        """Brings a message to the top of the view (rendering what is there first)."""
        k = self._index[message_id]
        self._measure_rows(range(max(0, k - 2), min(len(self._rows), k + 3)))
        bar = self.verticalScrollBar()
        self._stick = False
        bar.setValue(min(bar.maximum(), self._tops[k]))
        self._stick = bar.value() >= bar.maximum()
        self._current = message_id
        self.viewport().update()

    def highlighted(self) -> list[str]:
        """The text of every search match marked in the chat, in order (what is painted yellow)."""
        out: list[str] = []
        colors = self.colors()
        for row in self._rows:
            self._ensure(row)
            for piece in row.pieces or []:
                out += [s.cursor.selectedText() for s in self.delegate._highlights(piece, colors)]
        return out

    def visible_ids(self) -> list[int]:
        """The ids of the rows on screen now."""
        return [self._rows[k].id for k in self._visible_rows()]

    # -- reading back (tests, accessibility) -------------------------------------------------------
    def _labels(self, row_id: int) -> str:
        role = self.row_role(row_id)
        label = USER_LABEL if role == "user" else ASSISTANT_LABEL
        if PINNED_TEXT in self.status_of(row_id):
            label += f"   {PINNED_TEXT}"
        version, versions = self.versions_of(row_id)
        return f"{label}   ‹ {version}/{versions} ›" if versions > 1 else label

    def blocks_of_kind(self, kind: str) -> list[str]:
        """What the view shows of one kind, in order: "user" and "assistant" (message text),
        "user-label"/"assistant-label" (role and "‹ 2/3 ›"), "marker" (stopped/interrupted line),
        "notice", "error", "error-detail", "countdown"."""
        out: list[str] = []
        for mid in self.message_ids():
            role = self.row_role(mid)
            if kind == role == ASSISTANT:
                out.append(self.delegate._answer(self._row(mid)))  # its reasoning is shown apart, folded
            elif kind == role:
                links = "  ".join(label for _, label in self.links_of(mid)) if role in NOTE_ROLES else ""
                out.append(f"{self.text_of(mid)}  {links}" if links else self.text_of(mid))
            elif kind == f"{role}-label" and role in ("user", "assistant"):
                out.append(self._labels(mid))
            elif role in ("user", "assistant") and kind in ("marker", "notice"):
                for line in self.status_of(mid).splitlines():
                    if kind == "marker" and line.startswith("■") or kind == "notice" and line == KEPT_TEXT:
                        out.append(line)
        return out

    def reasoning_of(self, message_id: int) -> tuple[str, str]:
        """(the label shown above a reply's answer, e.g. "▸ Thought for 12 s", its reasoning text)."""
        row = self._row(message_id)
        text = row.reasoning or self.delegate._reasoning_text(row)
        return (self.delegate._reasoning_label(row) if text or self.delegate._thinking(row) else ""), text

    def toPlainText(self) -> str:  # noqa: N802 - the name QTextEdit's readers know
        """The chat as text, in order: role labels, texts, markers, notices, errors."""
        lines: list[str] = []
        for mid in self.message_ids():
            role = self.row_role(mid)
            if role in ("user", "assistant"):
                lines.append(self._labels(mid))
            lines.append(self.text_of(mid))
            if role in ("user", "assistant") and self.status_of(mid):
                lines.append(self.status_of(mid))
        return "\n".join(lines)
