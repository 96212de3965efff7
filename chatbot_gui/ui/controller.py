"""The chat controller: connects the main window's widgets to the conversation and the worker.

It owns the chat state on the GUI thread, starts one :class:`CompletionThread` per request, coalesces
streamed text (the transcript repaints at most ~60 times a second), drops anything a stopped request
still sends, shows errors as errors (never as assistant text), and has the :class:`ChatRecorder`
keep every turn in the chat store: the user's message before the request goes out, a streaming
reply at least every :data:`SAVE_INTERVAL_MS`, and each reply at its end.

A reply belongs to the chat that asked for it: switching to another chat while it streams leaves it
streaming (and being saved) in its own chat. One reply streams at a time.

Signals:
    busyChanged(bool): a reply started (True) or ended (False).
    replyFinished(str): a reply ended: "complete", "stopped" or "error".
    chatChanged(int): a chat in the store changed (new message, new chat); the id.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import Conversation, Message, Status
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.personas import Persona

if TYPE_CHECKING:  # the request machinery loads with the first request, not at start-up
    from chatbot_gui.core.params import ParameterPolicy
    from chatbot_gui.core.recorder import ChatRecorder
    from chatbot_gui.core.streaming import Outcome
    from chatbot_gui.ui.worker import CompletionThread
    from chatbot_gui.ui.main_window import MainWindow

#: Repaint interval for streamed text (~60 per second).
FLUSH_INTERVAL_MS = 16
#: How often a streaming reply is written to the store (a kill loses at most this much text).
SAVE_INTERVAL_MS = 500
#: Automatic retries after a rate limit (each after the server's retry-after, capped) per message.
MAX_AUTO_RETRIES = 3

NO_KEY_TEXT = (
    "No API key is set. Open Settings (Ctrl+,) to enter one, or to choose a local server such as "
    "Ollama or LM Studio that needs none. (The OPENAI_API_KEY and OPENAI_BASE_URL environment "
    "variables work too.) Your message stays in the input box."
)


class ChatController(QObject):
    """Chat logic for one main window."""

    busyChanged = Signal(bool)
    replyFinished = Signal(str)
    chatChanged = Signal(int)

    def __init__(self, window: "MainWindow", config: ConnectionConfig) -> None:
        super().__init__(window)
        self.window = window
        self.config = config
        self.conversation = Conversation(persona=window.current_persona())
        #: What each model turned out not to accept, learnt for the app's lifetime.
        self._policy: ParameterPolicy | None = None
        #: The persona new chats start with (the Personas page chooses it).
        self.default_persona: Persona = window.current_persona()
        self.recorder: ChatRecorder | None = None
        self._active: CompletionThread | None = None
        self._active_conv: Conversation | None = None
        self._reply: Message | None = None
        self._saved_len = 0
        self._threads: set[CompletionThread] = set()
        self._auto_retries = 0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._save_timer = QTimer(self)
        self._save_timer.setInterval(SAVE_INTERVAL_MS)
        self._save_timer.timeout.connect(self._save_partial)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick_countdown)
        self._countdown_left = 0

        w = window
        w.input.submitted.connect(self.send_from_input)
        w.send_button.clicked.connect(self.send_from_input)
        w.stop_button.clicked.connect(self.stop)
        w.stop_action.triggered.connect(self.stop)
        w.new_chat_action.triggered.connect(self.new_chat)
        w.persona_combo.currentIndexChanged.connect(self._persona_changed)
        w.transcript.retryRequested.connect(self.retry)
        w.transcript.keepRequested.connect(self.keep)
        w.transcript.settingsRequested.connect(w.settings_action.trigger)

    @property
    def policy(self) -> "ParameterPolicy":
        if self._policy is None:
            from chatbot_gui.core.params import ParameterPolicy

            self._policy = ParameterPolicy()
        return self._policy

    def set_config(self, config: ConnectionConfig) -> None:
        """Where the next request goes (a reply already streaming keeps its own connection)."""
        self.config = config

    def set_recorder(self, recorder: "ChatRecorder") -> None:
        self.recorder = recorder
        recorder.on_chat_changed = self.chatChanged.emit

    def show_no_key_notice(self) -> None:
        self.window.transcript.add_notice(NO_KEY_TEXT)

    # -- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._active is not None

    @property
    def streaming_chat_id(self) -> int | None:
        return self._active_conv.chat_id if self._active is not None and self._active_conv else None

    def _shown(self, conv: Conversation | None) -> bool:
        return conv is not None and conv is self.conversation

    def _set_busy(self, busy: bool) -> None:
        self.window.set_busy(busy)
        self.busyChanged.emit(busy)

    def _note_save_problem(self, problem: str | None) -> None:
        if problem:
            self.window.transcript.add_notice(problem)

    # -- user actions ----------------------------------------------------------------------------
    def send_from_input(self) -> None:
        """Send what is in the input box. Empty or whitespace-only input is not sent."""
        if self.busy:
            self.window.show_status("A reply is still coming. Press Esc or Stop to end it first.")
            return
        if not self.window.input.toPlainText().strip():
            return
        if self.config.usable_key is None:
            self.show_no_key_notice()
            return
        self.send(self.window.input.take_text())

    def send(self, text: str) -> None:
        self._cancel_countdown()
        self._auto_retries = 0
        msg = self.conversation.add_user(text)
        self.window.transcript.add_user(text)
        self.window.set_chat_title(self.conversation.title)
        if self.recorder is not None:
            # Committed before the request goes out: a crash or a kill never loses what was typed.
            self._note_save_problem(self.recorder.save_user(self.conversation, msg, self.window.current_model()))
        self._start_request()

    def retry(self) -> None:
        """Send the conversation again as it stands (the failed reply is not part of it)."""
        if self.busy:
            return
        self._cancel_countdown()
        if not any(m.role == "user" for m in self.conversation.messages):
            return
        self._start_request()

    def stop(self) -> None:
        """End the reply now: keep the partial text, mark it stopped, hang up the connection."""
        self._cancel_countdown()
        thread = self._active
        if thread is None:
            return
        thread.stop()
        self._flush()
        self._active = None
        if thread.reported_model and self._reply is not None:
            self._reply.model = thread.reported_model
        self._finish_reply(Status.STOPPED)
        self._set_busy(False)
        self.replyFinished.emit("stopped")

    def keep(self, message_id: int) -> None:
        msg = self.conversation.find(message_id)
        if msg is None or msg.kept or msg.status is Status.COMPLETE:
            return
        msg.kept = True
        self.window.transcript.mark_kept(message_id)
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_reply(self.conversation, msg))

    def new_chat(self) -> None:
        """Show a new, empty chat (a reply still streaming goes on in its own chat)."""
        self._cancel_countdown()
        self.window.select_persona(self.default_persona.name)
        self.show_conversation(Conversation(persona=self.default_persona))
        self.apply_persona_model(self.default_persona)
        self.window.input.setFocus()

    def show_conversation(self, conv: Conversation) -> None:
        """Display ``conv`` (the one streaming, if it is the same chat, so the reply goes on here)."""
        self._cancel_countdown()
        if self._active_conv is not None and conv.chat_id is not None and conv.chat_id == self._active_conv.chat_id:
            conv = self._active_conv
        self.conversation = conv
        self.window.transcript.show_messages(conv.messages)
        self.window.set_chat_title(conv.title)
        self.window.select_persona(conv.persona.name)

    def retitle(self, chat_id: int, title: str) -> None:
        """A chat was renamed: the open one and the one streaming (they may differ) take the title."""
        for conv in (self.conversation, self._active_conv):
            if conv is not None and conv.chat_id == chat_id:
                conv.title = title

    def _persona_changed(self, _index: int) -> None:
        self.set_persona(self.window.current_persona())

    def set_persona(self, persona: Persona) -> None:
        """Use ``persona`` from the next turn on (noted in the transcript when the chat has begun)."""
        if persona == self.conversation.persona:
            return
        self.conversation.persona = persona
        self.apply_persona_model(persona)
        if self.conversation.messages:
            self.window.transcript.add_notice(f"Persona: {persona.name}")
            if self.recorder is not None:
                self._note_save_problem(self.recorder.save_persona(self.conversation))

    def apply_persona_model(self, persona: Persona) -> None:
        if persona.model:
            self.window.model_combo.setEditText(persona.model)

    # -- requests --------------------------------------------------------------------------------
    def _start_request(self) -> None:
        request = self.conversation.build_request(self.window.current_model())
        self._active_conv = self.conversation
        self._reply = self.conversation.start_reply(request.model)
        self._saved_len = 0
        self.window.transcript.begin_assistant()
        from chatbot_gui.ui.worker import CompletionThread

        thread = CompletionThread(request, self.config, self.policy)
        thread.textAvailable.connect(lambda t=thread: self._text_available(t))
        thread.thinking.connect(lambda t=thread: self._thinking(t))
        thread.outcomeReady.connect(lambda outcome, t=thread: self._outcome(t, outcome))
        thread.finished.connect(lambda t=thread: self._thread_finished(t))
        self._threads.add(thread)
        self._active = thread
        self._set_busy(True)
        self._save_timer.start()
        thread.start()

    def _thinking(self, thread: "CompletionThread") -> None:
        if thread is self._active and self._reply is not None and not self._reply.content:
            self.window.show_status("The model is thinking… (its reasoning is not shown; Esc stops)", 0)

    def _text_available(self, thread: CompletionThread) -> None:
        if thread is not self._active:
            return  # a stopped request: its text is dropped
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        thread = self._active
        if thread is None or self._reply is None:
            return
        text = thread.take_text()
        if text:
            if not self._reply.content:
                self.window.set_busy(True)  # "Receiving reply…" replaces "thinking"
            self._reply.content += text
            if self._shown(self._active_conv):
                self.window.transcript.append_reply_text(text)

    def save_now(self) -> None:
        """Write a streaming reply as it stands (before an export reads the store)."""
        self._save_partial()

    def _save_partial(self) -> None:
        reply = self._reply
        if reply is None or self.recorder is None or self._active_conv is None:
            return
        self._flush()
        if len(reply.content) != self._saved_len:
            self._saved_len = len(reply.content)
            self._note_save_problem(self.recorder.save_reply(self._active_conv, reply))

    def _outcome(self, thread: CompletionThread, outcome: Outcome) -> None:
        if thread is not self._active:
            return
        self._flush_timer.stop()
        self._flush()
        self._active = None
        if outcome.model and self._reply is not None:
            self._reply.model = outcome.model  # saved with the model the server says answered
        shown = self._shown(self._active_conv)
        if outcome.status == "complete":
            self._finish_reply(Status.COMPLETE)
            if shown and outcome.finish_reason == "length":
                self.window.transcript.add_notice("The reply was cut off: it reached the maximum length.")
            elif shown and outcome.finish_reason == "content_filter":
                self.window.transcript.add_notice("The server's content filter stopped this reply.")
        elif outcome.status == "stopped":
            self._finish_reply(Status.STOPPED)
        else:
            self._finish_reply(Status.INTERRUPTED)
            info = outcome.error or ErrorInfo("unexpected", "The request failed.")
            if shown:
                self._show_error(info)
            else:
                self.window.show_status(f"A reply in another chat failed: {info.message}", 10000)
        self._set_busy(False)
        self.replyFinished.emit(outcome.status)

    def _finish_reply(self, status: Status) -> None:
        self._save_timer.stop()
        reply, conv = self._reply, self._active_conv
        self._reply = None
        if reply is None or conv is None:
            return
        shown = self._shown(conv)
        reply.status = status
        if self.recorder is not None:
            self._note_save_problem(self.recorder.save_reply(conv, reply))
        if status is Status.COMPLETE:
            if shown:
                self.window.transcript.end_assistant("complete")
            return
        if reply.content:
            if shown:
                self.window.transcript.end_assistant(status.value, reply.id)
        else:
            # Nothing arrived: no empty assistant turn is kept, and no empty heading is shown.
            conv.messages.remove(reply)
            if shown:
                self.window.transcript.discard_empty_reply()
                if status is Status.STOPPED:
                    self.window.transcript.add_notice("Stopped before any reply arrived.")

    def _show_error(self, info: ErrorInfo) -> None:
        self.window.transcript.show_error(info, can_retry=info.retryable)
        if info.retry_after is not None and self._auto_retries < MAX_AUTO_RETRIES:
            self._auto_retries += 1
            self._countdown_left = max(1, math.ceil(info.retry_after))
            self.window.transcript.set_countdown(self._countdown_text())
            self._countdown.start()

    # -- rate-limit countdown --------------------------------------------------------------------
    def _countdown_text(self) -> str:
        return f"Retrying in {self._countdown_left} s… (click Retry to go now)"

    def _tick_countdown(self) -> None:
        self._countdown_left -= 1
        if self._countdown_left <= 0:
            self._countdown.stop()
            self.window.transcript.set_countdown("Retrying now…")
            self.retry()
            return
        self.window.transcript.set_countdown(self._countdown_text())

    def _cancel_countdown(self) -> None:
        if self._countdown.isActive():
            self._countdown.stop()
            self.window.transcript.set_countdown("Automatic retry cancelled.")

    # -- threads ---------------------------------------------------------------------------------
    def _thread_finished(self, thread: CompletionThread) -> None:
        self._threads.discard(thread)
        thread.deleteLater()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop everything before the window goes away. True when no thread is left running."""
        self.stop()
        self._cancel_countdown()
        for thread in list(self._threads):
            thread.stop()
        ok = True
        for thread in list(self._threads):
            if not thread.wait(timeout_ms):
                ok = False
        return ok

    def running_threads(self) -> list[CompletionThread]:
        return [t for t in self._threads if t.isRunning()]
