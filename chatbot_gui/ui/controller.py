"""The chat controller: connects the main window's widgets to the chats and their replies.

It holds the chat shown and, per chat, at most one :class:`Reply` (the object that owns that
reply's thread, timers and state); several chats stream at once, up to :data:`MAX_STREAMS`. Each
chat keeps its own draft, Send/Stop state and status line; the sidebar learns which chats are
streaming and which have an unread finished reply (``marksChanged``). A reply belongs to the chat
that asked for it: it goes on (and is saved) there while another chat is shown, and what it does
reaches the transcript only while its chat is the one shown. Errors are shown as errors (never as
assistant text); Retry is offered only on the latest failed turn of a chat.

Signals:
    busyChanged(bool): the shown chat's reply started (True) or ended (False).
    replyFinished(str): a reply (in any chat) ended: "complete", "stopped" or "error".
    chatChanged(int): a chat in the store changed (new message, new chat); the id.
    chatTouched(int): a reply's final background save moved a chat's last update (its place in the
        newest-first list); the id.
    marksChanged(): the set of streaming chats or of chats with an unread (or failed) reply changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from PySide6.QtCore import QObject, Signal

from chatbot_gui.core import sched
from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import Conversation, ConversationLinks, Message, Status, persona_notice
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.reply_state import Phase
from chatbot_gui.ui.context import AppContext
from chatbot_gui.ui.reply import FLUSH_INTERVAL_MS, SAVE_INTERVAL_MS, Reply  # noqa: F401 - re-exported

if TYPE_CHECKING:  # the request machinery loads with the first request, not at start-up
    from chatbot_gui.core.context import ContextRequest
    from chatbot_gui.core.usage import ChatUsage, Price, Usage
    from chatbot_gui.core.params import ParameterPolicy
    from chatbot_gui.core.recorder import ChatRecorder
    from chatbot_gui.core.store import DeletedMessage
    from chatbot_gui.ui.main_window import MainWindow
    from chatbot_gui.ui.worker import CompletionThread

#: A chat this large (estimated tokens) on a server that did not say its model's window: ask it (the
#: smallest windows local servers run with are 2k-4k; a shorter chat needs no lookup).
ASK_WINDOW_FROM = 2048
#: How many chats may have a reply in flight (or waiting to retry) at once.
MAX_STREAMS = 4

NO_KEY_TEXT = (
    "No API key is set. Open Settings (Ctrl+,) to enter one, or to choose a local server such as "
    "Ollama or LM Studio that needs none. (The OPENAI_API_KEY and OPENAI_BASE_URL environment "
    "variables work too.) Your message stays in the input box."
)
TOO_MANY = (f"{MAX_STREAMS} replies are already coming in other chats. Wait for one to finish, or stop "
            "one, then {again}.")
#: TOO_MANY's end for a send (for Regenerate, Edit and Retry: "try again").
SEND_AGAIN = "send again. Your message stays in the input box"
THINKING = "The model is thinking… (Esc stops)"
#: Where a deleted message was, with "Undo".
DELETED_TEXT = "Message deleted."
DELETED_VERSION_TEXT = "Version {} of {} deleted."
UNDO_TOO_LATE = "The chat has changed since the message was deleted: it cannot be put back."
#: In the middle of an empty chat, as chat apps greet a new conversation.
EMPTY_CHAT_HINT = "What can I help with?"
#: Status while a message sent during the start-up keyring read waits for the saved key.
WAITING_FOR_KEY = "Waiting for the system keyring to send your message… (Esc cancels)"
#: Said in the chat when such a message cannot go out yet (the keyring failed, or there is no key).
HELD_TEXT = ("Not sent yet: {why} It goes out as soon as a key is available (Try again at the bottom "
             "right, or Settings, Ctrl+,). Stop cancels it.")
NO_KEY_YET = "no API key is set."
STATUS = {
    Phase.SENDING: "Sending… (Esc to stop)",
    Phase.STREAMING: "Receiving reply… (Esc to stop)",
}


@dataclass(frozen=True)
class _DeleteUndo:
    """A deleted message's way back: the chat, its shape before and right after, the store's record."""

    conv: Conversation
    before: ConversationLinks
    after: ConversationLinks
    deleted: DeletedMessage | None


class ChatController(QObject):
    """Chat logic for one main window."""

    busyChanged = Signal(bool)
    replyFinished = Signal(str)
    chatChanged = Signal(int)
    chatTouched = Signal(int)
    marksChanged = Signal()

    def __init__(self, context: AppContext | MainWindow, config: ConnectionConfig) -> None:
        if not isinstance(context, AppContext):
            context = AppContext(context)
        window = context.window
        super().__init__(window)
        self.context = context
        context.chat = self
        self.window = window
        self.config = config
        self.conversation = Conversation(persona=window.current_persona())
        #: What each model turned out not to accept, learnt for the app's lifetime.
        self._policy: ParameterPolicy | None = None
        #: The persona new chats start with (the Personas page chooses it).
        self.default_persona: Persona = window.current_persona()
        self.recorder: ChatRecorder | None = None
        #: Per chat (``Conversation.key``): its latest reply, in flight or ended.
        self._replies: dict[int, Reply] = {}
        #: Replies dropped from ``_replies`` whose threads may still be finishing.
        self._retired: list[Reply] = []
        # Errors of earlier turns, per chat (draft key): (row id, message id, error) of the message they
        # followed. Never saved and never sent; kept so the chat drawn again shows them at their place.
        self._old_errors: dict[object, list[tuple[int | None, int, ErrorInfo]]] = {}
        #: Per chat (store id, else ``("new", key)``): the text left in the input box.
        self._drafts: dict[object, str] = {}
        #: Chats (store ids) with a reply that ended while another chat was shown, and how: "unread"
        #: (it answered) or "failed" (a Retry waits there).
        self._unseen: dict[int, str] = {}
        self._shown_busy = False
        #: The start-up keyring read is still running (or failed: ``_key_problem`` says why), so a
        #: message sent now waits for the key instead of going out without it.
        self._key_pending = False
        self._key_problem = ""
        #: Per chat (``Conversation.key``): a sent message waiting for the key, with its model.
        self._queued: dict[int, tuple[Conversation, str]] = {}

        w = window
        w.input.submitted.connect(self.send_from_input)
        w.send_button.clicked.connect(self.send_from_input)
        w.stop_button.clicked.connect(self.stop)
        w.stop_action.triggered.connect(self.stop)
        w.new_chat_action.triggered.connect(self.new_chat)
        w.regenerate_action.triggered.connect(self.regenerate_last)
        w.persona_combo.currentIndexChanged.connect(self._persona_changed)
        w.transcript.retryRequested.connect(self.retry)
        w.transcript.keepRequested.connect(self.keep)
        w.transcript.stepRequested.connect(self.switch_version)
        w.transcript.messageActionRequested.connect(self._message_action)
        w.transcript.undoRequested.connect(self.undo_delete)
        #: The last message deleted, while its "Undo" is offered (a re-render or a send withdraws it).
        self._undo: _DeleteUndo | None = None
        # (w.transcript.settingsRequested, "Open Settings" under a refused key: the settings controller's)
        w.send_everything_action.toggled.connect(self._send_everything_toggled)
        w.model_combo.currentTextChanged.connect(lambda _text: self._plan_view(self.conversation))
        #: Per chat (``Conversation.key``): the tokens its replies used, and their cost, added up from
        #: the usage each reply keeps (saved with it), so a chat reopened or restarted shows the same.
        self._usage: dict[int, ChatUsage] = {}
        #: (server, model) pairs whose window was asked of the server already.
        self._windows_asked: set[tuple[str, str]] = set()

    @property
    def policy(self) -> ParameterPolicy:
        if self._policy is None:
            from chatbot_gui.core.params import ParameterPolicy

            self._policy = ParameterPolicy()
        return self._policy

    def set_config(self, config: ConnectionConfig, *, key_pending: bool = False, key_problem: str = "") -> None:
        """Where the next request goes (a reply already streaming keeps its own connection).

        ``key_pending``: the saved key is still being read from the keyring; ``key_problem``: the read
        failed (why, in a few words). Messages sent meanwhile wait and go out once a key is there."""
        self.config = config
        self._key_pending = key_pending or bool(key_problem)
        self._key_problem = key_problem
        self._release_queued()

    def _release_queued(self) -> None:
        """Send the messages that waited for the key, or say in their chat why they still wait."""
        if not self._queued:
            return
        if not self._key_pending and self.config.usable_key is not None:
            queued, self._queued = self._queued, {}
            for conv, model in queued.values():
                if self._shown(conv):
                    self.window.transcript.remove_error(-conv.key)  # the "Not sent yet" line
                self._start(conv, model=model)
            self._refresh_window()
            return
        self._show_held()
        self._refresh_window()

    def _show_held(self) -> None:
        """Say under the shown chat's waiting message why it is not sent yet (a line of its own,
        keyed like a reply's countdown, that goes when the message goes or is cancelled)."""
        if self.conversation.key in self._queued and (self._key_problem or not self._key_pending):
            why = self._key_problem or NO_KEY_YET
            self.window.transcript.set_countdown(HELD_TEXT.format(why=why), -self.conversation.key)

    def set_context_settings(self, windows: Mapping[str, int], prices: Mapping[str, Price]) -> None:
        """The user's context windows and prices from Settings (issue 12)."""
        from chatbot_gui.core.usage import OPENAI_PRICES

        self.context.windows.set_overrides(windows)
        self.context.remember_learned()  # a window set by hand replaces what was learnt for the model
        self.context.prices = {**OPENAI_PRICES, **prices}
        for usage in self._usage.values():  # the footer's cost follows edited prices at once
            usage.reprice(self.context.prices)
        self._plan_view(self.conversation)

    def set_recorder(self, recorder: ChatRecorder) -> None:
        """The history is open (it opens on a worker after the first paint): chats already begun
        in this window are saved now, and replies in flight save through it from now on."""
        self.recorder = recorder
        self.context.recorder = recorder
        recorder.on_chat_changed = self.chatChanged.emit
        convs = {id(c): c for c in (self.conversation, *(r.conv for r in self._replies.values()))}
        for conv in convs.values():
            if conv.chat_id is None and conv.messages:
                self._save_unsaved(conv)
        for reply in self._all_replies():
            reply.recorder = recorder

    def _save_unsaved(self, conv: Conversation) -> None:
        assert self.recorder is not None
        for msg in list(conv.nodes.values()):
            if msg.role == "user":
                problem = self.recorder.save_user(conv, msg, self.window.current_model())
            elif msg.role == "assistant" and msg.status is not Status.STREAMING:
                problem = self.recorder.save_reply(conv, msg)
            else:
                problem = self.recorder.save_notice(conv, msg) if msg.role == "notice" else None
            if problem:
                self._note_save_problem(problem)
                return

    def show_no_key_notice(self) -> None:
        self.window.transcript.add_notice(NO_KEY_TEXT)

    # -- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Whether any chat has a reply in flight or waiting to retry."""
        return any(r.active for r in self._replies.values())

    @property
    def busy_here(self) -> bool:
        """Whether the chat shown has a reply in flight or waiting to retry."""
        if self.conversation.key in self._queued:
            return True
        reply = self.reply_of(self.conversation)
        return reply is not None and reply.active

    def reply_of(self, conv: Conversation) -> Reply | None:
        return self._replies.get(conv.key)

    def streaming_chat_ids(self) -> set[int]:
        return {r.conv.chat_id for r in self._replies.values() if r.active and r.conv.chat_id is not None}

    def unseen_marks(self) -> dict[int, str]:
        """Chats with a reply that ended while another chat was shown: "unread" or "failed"."""
        return dict(self._unseen)

    @property
    def streaming_chat_id(self) -> int | None:
        """One chat with a reply in flight (kept for callers that knew only one)."""
        ids = self.streaming_chat_ids()
        return min(ids) if ids else None

    def _shown(self, conv: Conversation | None) -> bool:
        return conv is not None and conv is self.conversation

    def _refresh_window(self) -> None:
        """Send/Stop and the status line follow the chat shown."""
        reply = self.reply_of(self.conversation)
        busy = reply is not None and reply.active
        status = None
        if self.conversation.key in self._queued:
            busy = True
            status = WAITING_FOR_KEY if self._key_pending and not self._key_problem else None
            status = status or "Not sent yet: waiting for a key (Esc cancels)"
        elif reply is not None and reply.phase is Phase.WAITING:
            status = f"Rate limited: retrying in {reply.state.seconds_left()} s (Esc cancels)"
        elif reply is not None and reply.active:
            status = STATUS.get(reply.phase)
            if reply.reasoning_open:
                status = THINKING
        self.window.set_busy(busy, status)
        if busy != self._shown_busy:
            self._shown_busy = busy
            self.busyChanged.emit(busy)

    def _note_save_problem(self, problem: str | None) -> None:
        if problem:
            self.context.notify(problem)

    def _versions(self, conv: Conversation):  # noqa: ANN202 - Callable[[int], tuple[int, int]]
        return conv.version_of

    def _render(self) -> None:
        """Show the chat anew (after a change of versions or a delete), with its error if any."""
        conv = self.conversation
        self._undo = None  # its row goes with the rows shown
        self._plan_view(conv)
        self.window.transcript.show_messages(conv.messages, versions=conv.version_of, errors=self._errors_after(conv))
        reply = self.reply_of(conv)
        if reply is not None and reply.state.error is not None and reply.phase in (Phase.FAILED, Phase.WAITING):
            self.window.transcript.show_error(reply.state.error, can_retry=reply.can_retry, key=reply.key)
            if reply.phase is Phase.WAITING:
                self._show_countdown(reply, reply.state.seconds_left())
        self._show_held()

    def show_empty_hint(self) -> None:
        """From now on an empty chat greets the user in the middle of the list (called once the
        history is read, and the last chat restored: before, that chat would flash the greeting)."""
        self.window.transcript.set_empty_hint(EMPTY_CHAT_HINT)

    def _errors_after(self, conv: Conversation) -> dict[int, list[ErrorInfo]]:
        """The earlier turns' errors of ``conv``, by the id of the shown message each follows."""
        out: dict[int, list[ErrorInfo]] = {}
        for db_id, msg_id, info in self._old_errors.get(self._draft_key(conv), ()):
            for msg in conv.messages:
                if (msg.db_id == db_id) if db_id is not None else (msg.id == msg_id):
                    out.setdefault(msg.id, []).append(info)
                    break
        return out

    # -- user actions ----------------------------------------------------------------------------
    def send_from_input(self) -> None:
        """Send what is in the input box. Empty or whitespace-only input is not sent."""
        if self.busy_here:
            self.window.show_status("A reply is still coming in this chat. Press Esc or Stop to end it first.")
            return
        if not self.window.input.toPlainText().strip():
            return
        if not self._can_start(key_pending_ok=True, again=SEND_AGAIN):
            return
        self.send(self.window.input.take_text())

    def _can_start(self, key_pending_ok: bool = False, again: str = "try again") -> bool:
        """Whether a new request may go out: a key to send (or, for a send, one being read from the
        keyring: the send waits for it) and room under :data:`MAX_STREAMS`; else the user is told."""
        if self.config.usable_key is None and not (key_pending_ok and self._key_pending):
            self.show_no_key_notice()
            return False
        return self._room_for_one_more(again)

    def _room_for_one_more(self, again: str = "try again") -> bool:
        if sum(1 for r in self._replies.values() if r.active) >= MAX_STREAMS:
            self.window.show_status(TOO_MANY.format(again=again), 15000)
            return False
        return True

    def send(self, text: str) -> None:
        sched.gui_busy()
        self._withdraw_undo()
        conv = self.conversation
        self._retire(conv)
        self._drafts.pop(self._draft_key(conv), None)  # (before the message: a blank chat's draft key)
        msg = conv.add_user(text)
        self.window.transcript.add_message(msg, conv.version_of(msg.id))
        self.window.set_chat_title(conv.title)
        if self.recorder is not None:
            # Committed before the request goes out: a crash or a kill never loses what was typed.
            self._note_save_problem(self.recorder.save_user(conv, msg, self.window.current_model()))
        if self._key_pending:
            # The keyring is still being read (or failed): the message waits for the key rather
            # than going out without one. It is on screen and saved; Stop cancels the wait.
            self._queued[conv.key] = (conv, self.window.current_model())
            self._release_queued()
            return
        self._start(conv)

    def retry(self, key: int = 0) -> None:
        """Retry the latest failed reply of the chat shown (``key``: the one the link belongs to)."""
        reply = self.reply_of(self.conversation)
        if reply is None or (key and reply.key != key) or not reply.can_retry:
            return
        if reply.phase is Phase.FAILED and not self._room_for_one_more():
            return
        reply.retry()

    def stop(self) -> None:
        """Stop whatever the chat shown is doing: its stream, or its wait before retrying."""
        if self._queued.pop(self.conversation.key, None) is not None:
            self.window.transcript.remove_error(-self.conversation.key)
            self.window.transcript.add_notice("Not sent: stopped while waiting for the key.")
            self._refresh_window()
            return
        reply = self.reply_of(self.conversation)
        if reply is not None:
            reply.stop()

    def stop_chat(self, chat_id: int) -> None:
        """Stop the reply of the chat with store id ``chat_id`` (it is being deleted)."""
        for key, (conv, _model) in list(self._queued.items()):
            if conv.chat_id == chat_id:
                del self._queued[key]
        self._old_errors.pop(chat_id, None)  # its ids may be given to a new chat
        for reply in list(self._replies.values()):
            if reply.conv.chat_id == chat_id:
                reply.stop()

    def keep(self, message_id: int) -> None:
        conv = self.conversation
        msg = conv.find(message_id)
        if msg is None or msg.kept or msg.status is Status.COMPLETE or msg.status is Status.STREAMING:
            return
        msg.kept = True
        # The marker is written anew: "keep it" stays as words but is no longer a link, and a
        # "Kept:" line follows it (both part of the message's blocks).
        self.window.transcript.replace_message(msg, conv.version_of(msg.id))
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_reply(conv, msg))

    def _idle_here(self, what: str) -> bool:
        if self.busy_here:
            self.window.show_status(f"Wait for the reply to finish (or stop it) before you {what}.")
            return False
        return True

    def regenerate(self, reply_id: int) -> None:
        """A new version of an assistant reply; the earlier one stays reachable ("‹ 2/2 ›")."""
        conv = self.conversation
        msg = conv.find(reply_id)
        if msg is None or msg.role != "assistant" or msg not in conv.messages or not self._idle_here("regenerate"):
            return
        if not self._can_start():
            return
        self._retire(conv)
        self._start(conv, regenerate=reply_id)

    def regenerate_last(self) -> None:
        last = next((m for m in reversed(self.conversation.messages) if m.role == "assistant"), None)
        if last is not None:
            self.regenerate(last.id)

    def edit_and_resend(self, user_id: int, text: str) -> None:
        """Replace an earlier user message with ``text`` and continue from there (the old branch is kept)."""
        conv = self.conversation
        if not text.strip() or not self._idle_here("edit a message"):
            return
        if not self._can_start():
            return
        self._retire(conv)
        msg = conv.edit(user_id, text)
        if msg is None:
            return
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_user(conv, msg, self.window.current_model()))
        self._render()
        self._start(conv)

    def delete_message(self, message_id: int) -> None:
        """Delete a message (what followed it follows its parent); "Undo" is offered at its place."""
        conv = self.conversation
        if not self._idle_here("delete a message"):
            return
        before = conv.links()
        position, count = conv.version_of(message_id)
        msg = conv.remove(message_id)
        if msg is None:
            return
        deleted = None
        if self.recorder is not None:
            problem, deleted = self.recorder.delete_message(conv, msg)
            self._note_save_problem(problem)
        self._usage.pop(conv.key, None)  # its tokens leave the chat's total, as after a restart
        self._render()
        self._undo = _DeleteUndo(conv, before, conv.links(), deleted)
        shown_before = msg.parent if any(m.id == msg.parent for m in conv.messages) else None
        # One version of several: the message stays (another version shown), so say which went.
        said = DELETED_VERSION_TEXT.format(position, count) if count > 1 else DELETED_TEXT
        self.window.transcript.offer_undo(said, shown_before)

    def undo_delete(self) -> None:
        """Put the message deleted last back at its place, in the chat and the store."""
        undo, self._undo = self._undo, None
        self.window.transcript.withdraw_undo()
        conv = self.conversation
        if undo is None or undo.conv is not conv:
            return
        if self.busy_here or not undo.after.same_shape(conv.links()):
            self.window.show_status(UNDO_TOO_LATE)
            return
        if undo.deleted is not None and self.recorder is not None:
            problem, back = self.recorder.undelete_message(conv, undo.deleted)
            if problem is not None:
                self._note_save_problem(problem)
                return
            if not back:
                self.window.show_status(UNDO_TOO_LATE)
                return
        conv.restore_links(undo.before)
        self._usage.pop(conv.key, None)
        self._render()

    def _withdraw_undo(self) -> None:
        if self._undo is not None:
            self._undo = None
            self.window.transcript.withdraw_undo()

    def switch_version(self, message_id: int, step: int) -> None:
        """Show the previous (-1) or next (+1) version of a message, and the branch under it."""
        conv = self.conversation
        if not self._idle_here("switch versions"):
            return
        shown = conv.switch_version(message_id, step)
        if shown is None or shown.id == message_id:
            return
        self._retire(conv)
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_selection(shown))
        self._render()

    def reveal_stored(self, db_id: int) -> None:
        """Show the version (and branch) of the chat shown that holds stored message ``db_id``."""
        conv = self.conversation
        msg = next((m for m in conv.nodes.values() if m.db_id == db_id), None)
        if msg is None or self.busy_here or not conv.reveal(msg.id):
            return
        if self.recorder is not None:
            node: Message | None = msg
            while node is not None:  # the choice of versions is kept, as a click on "‹ ›" keeps it
                self._note_save_problem(self.recorder.save_selection(node))
                node = conv.find(node.parent) if node.parent is not None else None
        self._render()

    def _message_action(self, action: str, message_id: int) -> None:
        if action == "regenerate":
            self.regenerate(message_id)
        elif action == "delete":
            self.delete_message(message_id)
        elif action in ("pin", "unpin"):
            self.set_pinned(message_id, action == "pin")
        elif action == "edit":
            msg = self.conversation.find(message_id)
            if msg is None:
                return
            text = self.context.edit_text(msg.content)
            if text is not None:
                self.edit_and_resend(message_id, text)

    # -- what is sent: trimming, pins, the footer (issue 12) ---------------------------------------
    def set_pinned(self, message_id: int, pinned: bool) -> None:
        """Pin a message (always sent, however long the chat grows) or unpin it."""
        conv = self.conversation
        msg = conv.find(message_id)
        if msg is None or msg.role not in ("user", "assistant") or msg.pinned == pinned:
            return
        msg.pinned = pinned
        self.window.transcript.replace_message(msg, conv.version_of(msg.id))
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_pin(msg))
        self._plan_view(conv)

    def _send_everything_toggled(self, on: bool) -> None:
        conv = self.conversation
        mode = "everything" if on else "fit"
        if conv.context_mode == mode:
            return
        conv.context_mode = mode
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_context_mode(conv))
        self._plan_view(conv)

    def _plan_view(self, conv: Conversation) -> None:
        """Show where the model's view of the chat shown begins, and its size, as the next send would
        make them (nothing is sent)."""
        if not self._shown(conv):
            return
        from chatbot_gui.core.context import ContextMode, context_request

        mode = ContextMode.EVERYTHING if conv.context_mode == "everything" else ContextMode.FIT
        self.window.send_everything_action.setChecked(mode is ContextMode.EVERYTHING)
        if not any(m.in_context for m in conv.messages):
            self.window.transcript.set_context_marker(None)
            self.window.context_label.setText("")
            return
        _, ctx = context_request(conv, self.window.current_model(), base_url=self.config.base_url,
                                 windows=self.context.windows, estimator=self.context.estimator, mode=mode)
        self._show_plan(conv, ctx)

    def _ask_server_window(self, model: str) -> None:
        """Ask the server, in the background, what window ``model`` has (its model list; Ollama's own
        API, since Ollama cuts a long prompt silently instead of refusing it). Once per server and model."""
        config = self.config
        if config.is_default_server or (config.base_url, model) in self._windows_asked:
            return
        self._windows_asked.add((config.base_url, model))
        from chatbot_gui.core.windows import fetch_model_windows
        from chatbot_gui.ui.tasks import runner

        def found(windows: dict[str, int]) -> None:
            self.context.windows.report(config.base_url, windows)
            if windows:
                self._plan_view(self.conversation)

        runner().run(lambda: fetch_model_windows(config, model=model), found, lambda _exc: None,
                     name="context window", timeout=30)

    def _show_plan(self, conv: Conversation, ctx: ContextRequest) -> None:
        if not self._shown(conv):
            return
        from chatbot_gui.core.context import footer_text

        self.window.transcript.set_context_marker(ctx.marker_id, ctx.plan.marker_text())
        if ctx.window is None and ctx.plan.tokens >= ASK_WINDOW_FROM:
            self._ask_server_window(ctx.model)
        usage = self._chat_usage(conv)
        self.window.context_label.setText(footer_text(ctx.plan, usage.summary() if usage is not None else ""))

    def _chat_usage(self, conv: Conversation) -> ChatUsage | None:
        """The chat's total: every reply (every version) that keeps the server's usage; None: none does.
        Made once per chat shown and after each change (a reply's usage, a delete), not per paint."""
        chat = self._usage.get(conv.key)
        if chat is None:
            counted = [m for m in conv.nodes.values() if m.usage is not None]
            if not counted:
                return None
            from chatbot_gui.core.usage import OPENAI_PRICES, ChatUsage

            chat = self._usage[conv.key] = ChatUsage(self.context.prices or OPENAI_PRICES)
            for m in counted:
                assert m.usage is not None
                # Prices are OpenAI's: other servers' replies count their tokens but get no cost.
                chat.add(m.model or "", m.usage.usage, priced=m.usage.priced)
        return chat

    def _reply_usage(self, reply: Reply, usage: Usage) -> None:
        self._usage.pop(reply.conv.key, None)  # counted again with the reply's usage (Reply kept it)
        if reply.message is not None and self._shown(reply.conv):
            self.window.transcript.set_meta(reply.message, usage)  # under the reply: its own tokens
        if reply.ctx is not None:
            self._show_plan(reply.conv, reply.ctx)

    # -- which chat is shown ---------------------------------------------------------------------
    def _draft_key(self, conv: Conversation) -> object:
        """Where a chat's draft is kept: by its store id; a chat not saved yet by its own key; and
        every blank new chat in one place ("new"), so Ctrl+N brings back what was typed in the
        blank chat left before (a blank chat is not kept, so there is only ever one)."""
        if conv.chat_id is not None:
            return conv.chat_id
        return "new" if not conv.messages else ("new", conv.key)

    def new_chat(self) -> None:
        """Show a new, empty chat (replies in other chats go on)."""
        self.show_conversation(Conversation(persona=self.default_persona))
        self.apply_persona_model(self.default_persona)
        self.window.input.setFocus()

    def conversation_for(self, chat_id: int) -> Conversation | None:
        """The chat in memory with a reply (in flight or failed) for store id ``chat_id``."""
        for reply in self._replies.values():
            if reply.conv.chat_id == chat_id:
                return reply.conv
        for conv, _model in self._queued.values():
            if conv.chat_id == chat_id:
                return conv
        return None

    def show_conversation(self, conv: Conversation) -> None:
        """Display ``conv`` (the one in memory, if that chat has a reply, so the reply goes on here)."""
        sched.gui_busy()
        if conv.chat_id is not None:
            conv = self.conversation_for(conv.chat_id) or conv
        old = self.conversation
        draft = self.window.input.toPlainText()
        if draft:
            self._drafts[self._draft_key(old)] = draft
        else:
            self._drafts.pop(self._draft_key(old), None)
        self.conversation = conv
        wanted = self._drafts.get(self._draft_key(conv), "")
        if wanted != draft:  # (setting the same text, or clearing an empty box, costs a relayout)
            self.window.input.setPlainText(wanted)
        self.window.input.moveCursor(self.window.input.textCursor().MoveOperation.End)
        self._render()
        self.window.set_chat_title(conv.title)
        self.window.select_persona(conv.persona.name)
        if self._unseen.pop(conv.chat_id, None) is not None:
            self.marksChanged.emit()
        self._prune()
        self._refresh_window()

    def retitle(self, chat_id: int, title: str) -> None:
        """A chat was renamed: the chat shown and any chat with a reply take the title."""
        for conv in (self.conversation, *(r.conv for r in self._replies.values())):
            if conv.chat_id == chat_id:
                conv.title = title

    def _persona_changed(self, _index: int) -> None:
        self.set_persona(self.window.current_persona())

    def set_persona(self, persona: Persona) -> None:
        """Use ``persona`` from the next turn on (noted in the chat, at its place, when it has begun)."""
        conv = self.conversation
        if persona == conv.persona:
            return
        conv.persona = persona
        self.apply_persona_model(persona)
        if not conv.messages:
            return
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_persona(conv))
        note = conv.add_notice(persona_notice(persona.name))
        self.window.transcript.add_message(note)
        reply = self.reply_of(conv)
        if reply is not None and reply.active and reply.message is not None and reply.message.db_id is None:
            reply.defer_notice(note)  # saved once the reply it follows has a row
        elif self.recorder is not None:
            self._note_save_problem(self.recorder.save_notice(conv, note))

    def apply_persona_model(self, persona: Persona) -> None:
        if persona.model:
            self.window.model_combo.setEditText(persona.model)

    # -- replies ---------------------------------------------------------------------------------
    def _retire(self, conv: Conversation) -> None:
        """The chat moves on: its previous reply's error becomes history (no Retry)."""
        old = self._replies.pop(conv.key, None)
        if old is None:
            return
        if old.phase is Phase.FAILED and old.state.error is not None and conv.messages:
            anchor = conv.messages[-1]  # what the error was shown under: the turn that failed
            self._old_errors.setdefault(self._draft_key(conv), []).append((anchor.db_id, anchor.id, old.state.error))
        if self._shown(conv):
            self.window.transcript.disable_retry(old.key)
        self._retired.append(old)

    def _prune(self) -> None:
        """Forget ended replies of chats not shown (failed ones stay, for their Retry)."""
        for key, reply in list(self._replies.items()):
            if not reply.active and reply.phase is not Phase.FAILED and not self._shown(reply.conv):
                del self._replies[key]
                self._retired.append(reply)
        self._retired = [r for r in self._retired if r.threads()]

    def _start(self, conv: Conversation, regenerate: int | None = None, model: str | None = None) -> None:
        self._withdraw_undo()
        reply = Reply(conv, self.config, self.policy, self.recorder, model or self.window.current_model(), self,
                      windows=self.context.windows, estimator=self.context.estimator)
        self._replies[conv.key] = reply
        reply.contextPlanned.connect(lambda ctx, r=reply: self._show_plan(r.conv, ctx))
        reply.usageReported.connect(lambda usage, r=reply: self._reply_usage(r, usage))
        reply.started.connect(lambda msg, r=reply: self._reply_started(r, msg, regenerate is not None))
        reply.textAppended.connect(lambda mid, text, r=reply: self._reply_text(r, mid, text))
        reply.removed.connect(lambda mid, r=reply: self._reply_removed(r, mid))
        reply.ended.connect(lambda msg, r=reply: self._reply_ended(r, msg))
        reply.noticeAdded.connect(lambda msg, r=reply: self._shown(r.conv) and self.window.transcript.add_message(msg))
        reply.failed.connect(lambda info, r=reply: self._reply_failed(r, info))
        reply.countdown.connect(lambda left, r=reply: self._reply_countdown(r, left))
        reply.thinking.connect(lambda r=reply: self._reply_thinking(r))
        reply.reasoningEnded.connect(lambda mid, seconds, r=reply: self._reply_reasoned(r, mid, seconds))
        reply.changed.connect(self._reply_changed)
        reply.saveProblem.connect(self._note_save_problem)
        reply.saved.connect(lambda r=reply: r.conv.chat_id is not None and self.chatTouched.emit(r.conv.chat_id))
        reply.start(regenerate)

    def _reply_started(self, reply: Reply, msg: Message, regenerated: bool) -> None:
        if not self._shown(reply.conv):
            return
        view = self.window.transcript
        if regenerated or reply.state.attempts > 1 and len(reply.conv.versions(msg.id)) > 1:
            self._render()  # the path changed: the new version replaces the one shown
        else:
            view.add_message(msg, reply.conv.version_of(msg.id))

    def _reply_text(self, reply: Reply, msg_id: int, text: str) -> None:
        if self._shown(reply.conv):
            self.window.transcript.append_to(msg_id, text)

    def _reply_thinking(self, reply: Reply) -> None:
        if self._shown(reply.conv):
            self.window.show_status(THINKING, 0)

    def _reply_reasoned(self, reply: Reply, msg_id: int, seconds: float) -> None:
        """The reasoning is over: "Thought for N s" (the status line moves on with ``changed``)."""
        if self._shown(reply.conv) and self.window.transcript.has_message(msg_id):
            self.window.transcript.set_reasoning_seconds(msg_id, seconds)

    def _reply_removed(self, reply: Reply, msg_id: int) -> None:
        # An empty reply is not kept, so neither are the tokens it reported: the chat's total is
        # counted again without it, as it reads after a restart.
        self._usage.pop(reply.conv.key, None)
        if self._shown(reply.conv):
            self.window.transcript.remove_message(msg_id)

    def _reply_ended(self, reply: Reply, msg: Message) -> None:
        self.context.remember_learned()  # a limit learnt, the estimate calibrated: kept for the next start
        shown = self._shown(reply.conv)
        if shown:
            if msg.status is Status.COMPLETE:
                self.window.transcript.remove_error(reply.key)  # a successful retry takes its place
            if reply.conv.find(msg.id) is not None:
                self.window.transcript.end_message(msg)
            elif msg.status is Status.STOPPED:
                self.window.transcript.add_notice("Stopped before any reply arrived.")
            # The footer and the context marker: as the next send would make them (the reply now
            # counts), as they read when this chat is opened again; they showed the request sent.
            self._plan_view(reply.conv)
        elif msg.status is Status.COMPLETE and reply.conv.chat_id is not None:
            self._unseen[reply.conv.chat_id] = "unread"  # (also over "failed": a retry that answered)
        if reply.phase in (Phase.DONE, Phase.STOPPED):
            self.replyFinished.emit("complete" if reply.phase is Phase.DONE else "stopped")

    def _reply_failed(self, reply: Reply, info: ErrorInfo) -> None:
        self.context.remember_learned()  # a limit learnt, the estimate calibrated: kept for the next start
        if self._shown(reply.conv):
            self.window.transcript.show_error(info, can_retry=reply.can_retry, key=reply.key)
        else:
            if reply.conv.chat_id is not None:
                self._unseen[reply.conv.chat_id] = "failed"
            title = reply.conv.title or "another chat"
            self.window.show_status(f"A reply in “{title[:40]}” failed: {info.message}", 10000)
        if reply.phase is Phase.FAILED:
            self.replyFinished.emit("error")

    def _show_countdown(self, reply: Reply, left: int) -> None:
        if left > 0:
            text = f"Retrying in {left} s… (click Retry to go now; Esc cancels)"
        elif reply.phase is Phase.FAILED:
            text = "Retry stopped." if reply.retry_stopped else "Automatic retry cancelled."
        else:
            text = "Retrying now…"
        self.window.transcript.set_countdown(text, reply.key)

    def _reply_countdown(self, reply: Reply, left: int) -> None:
        if self._shown(reply.conv):
            self._show_countdown(reply, left)
            self._refresh_window()
        if left == 0 and reply.phase is Phase.FAILED:
            self.replyFinished.emit("error")

    def _reply_changed(self) -> None:
        self._refresh_window()
        self.marksChanged.emit()

    def save_now(self) -> None:
        """Write every streaming reply as it stands (before an export reads the store)."""
        for reply in self._replies.values():
            reply.save_now()
            reply.flush_saves()

    # -- threads ---------------------------------------------------------------------------------
    def _all_replies(self) -> list[Reply]:
        return [*self._replies.values(), *self._retired]

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop everything before the window goes away. True when no thread is left running."""
        for reply in self._all_replies():
            reply.shutdown()
        ok = True
        for reply in self._all_replies():
            for thread in reply.threads():
                if not thread.wait(timeout_ms):
                    ok = False
        return ok

    def running_threads(self) -> list[CompletionThread]:
        return [t for r in self._all_replies() for t in r.threads() if t.isRunning()]
