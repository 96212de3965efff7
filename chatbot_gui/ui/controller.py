"""The chat controller: connects the main window's widgets to the conversation and the worker.

It owns the chat state on the GUI thread, starts one :class:`CompletionThread` per request, coalesces
streamed text (the transcript repaints at most ~60 times a second), drops anything a stopped request
still sends, and shows errors as errors (never as assistant text).

Signals:
    busyChanged(bool): a reply started (True) or ended (False).
    replyFinished(str): a reply ended: "complete", "stopped" or "error".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import Conversation, Message, Status
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.params import ParameterPolicy
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.streaming import Outcome
from chatbot_gui.ui.worker import CompletionThread

if TYPE_CHECKING:
    from chatbot_gui.ui.main_window import MainWindow

#: Repaint interval for streamed text (~60 per second).
FLUSH_INTERVAL_MS = 16
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

    def __init__(self, window: "MainWindow", config: ConnectionConfig) -> None:
        super().__init__(window)
        self.window = window
        self.config = config
        self.conversation = Conversation(persona=window.current_persona())
        #: What each model turned out not to accept, learnt for the app's lifetime.
        self.policy = ParameterPolicy()
        #: The persona new chats start with (the Personas page chooses it).
        self.default_persona: Persona = window.current_persona()
        self._active: CompletionThread | None = None
        self._reply: Message | None = None
        self._reply_parts: list[str] = []
        self._threads: set[CompletionThread] = set()
        self._auto_retries = 0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
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

    def set_config(self, config: ConnectionConfig) -> None:
        """Where the next request goes (a reply already streaming keeps its own connection)."""
        self.config = config

    def show_no_key_notice(self) -> None:
        self.window.transcript.add_notice(NO_KEY_TEXT)

    # -- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._active is not None

    def _set_busy(self, busy: bool) -> None:
        self.window.set_busy(busy)
        self.busyChanged.emit(busy)

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
        self.conversation.add_user(text)
        self.window.transcript.add_user(text)
        self.window.set_chat_title(self.conversation.title)
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
        self._finish_reply(Status.STOPPED)
        self._set_busy(False)
        self.replyFinished.emit("stopped")

    def keep(self, message_id: int) -> None:
        msg = self.conversation.find(message_id)
        if msg is None or msg.kept or msg.status is Status.COMPLETE:
            return
        msg.kept = True
        self.window.transcript.mark_kept()

    def new_chat(self) -> None:
        self.stop()
        self._cancel_countdown()
        self.window.select_persona(self.default_persona.name)
        self.conversation = Conversation(persona=self.default_persona)
        self.apply_persona_model(self.default_persona)
        self.window.transcript.clear_chat()
        self.window.set_chat_title("")
        self.window.input.setFocus()

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

    def apply_persona_model(self, persona: Persona) -> None:
        if persona.model:
            self.window.model_combo.setEditText(persona.model)

    # -- requests --------------------------------------------------------------------------------
    def _start_request(self) -> None:
        request = self.conversation.build_request(self.window.current_model())
        self._reply = self.conversation.start_reply(request.model)
        self._reply_parts = []
        self.window.transcript.begin_assistant()
        thread = CompletionThread(request, self.config, self.policy)
        thread.textAvailable.connect(lambda t=thread: self._text_available(t))
        thread.outcomeReady.connect(lambda outcome, t=thread: self._outcome(t, outcome))
        thread.finished.connect(lambda t=thread: self._thread_finished(t))
        self._threads.add(thread)
        self._active = thread
        self._set_busy(True)
        thread.start()

    def _text_available(self, thread: CompletionThread) -> None:
        if thread is not self._active:
            return  # a stopped request: its text is dropped
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        thread = self._active
        if thread is None:
            return
        text = thread.take_text()
        if text:
            self._reply_parts.append(text)
            self.window.transcript.append_reply_text(text)

    def _outcome(self, thread: CompletionThread, outcome: Outcome) -> None:
        if thread is not self._active:
            return
        self._flush_timer.stop()
        self._flush()
        self._active = None
        if outcome.status == "complete":
            self._finish_reply(Status.COMPLETE)
            if outcome.finish_reason == "length":
                self.window.transcript.add_notice("The reply was cut off: it reached the maximum length.")
            elif outcome.finish_reason == "content_filter":
                self.window.transcript.add_notice("The server's content filter stopped this reply.")
        elif outcome.status == "stopped":
            self._finish_reply(Status.STOPPED)
        else:
            self._finish_reply(Status.INTERRUPTED)
            self._show_error(outcome.error or ErrorInfo("unexpected", "The request failed."))
        self._set_busy(False)
        self.replyFinished.emit(outcome.status)

    def _finish_reply(self, status: Status) -> None:
        reply = self._reply
        self._reply = None
        if reply is None:
            return
        reply.content = "".join(self._reply_parts)
        self._reply_parts = []
        if status is Status.COMPLETE:
            reply.status = Status.COMPLETE
            self.window.transcript.end_assistant("complete")
            return
        reply.status = status
        if reply.content:
            self.window.transcript.end_assistant(status.value, reply.id)
        else:
            # Nothing arrived: no empty assistant turn is kept.
            self.conversation.messages.remove(reply)
            self.window.transcript.end_assistant(status.value, None)

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
            auto = self._auto_retries
            self.retry()
            self._auto_retries = auto
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
