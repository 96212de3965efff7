"""One reply in flight for one chat: its request thread, its timers, its state (qutebrowser's downloads).

A :class:`Reply` is made when the user sends (or regenerates) in a chat and lives until that chat
sends again: it owns the :class:`CompletionThread` of each attempt, the ~60 Hz flush of streamed
text, the periodic save while streaming, and the rate-limit countdown, and it keeps the Qt-free
:class:`ReplyState` (phase, retry budget, deadline) up to date. It edits its conversation (the
core model) and the store through the recorder; it never touches a widget. The chat controller
holds one per chat and mirrors its signals into the window when that chat is the one shown.

Signals:
    started(object): an attempt began; the payload is its new assistant ``Message`` (streaming).
    textAppended(int, str): text was added to message ``id``.
    reasoningEnded(int, float): the reasoning of message ``id`` (its leading <think> block) is over:
        it took that many seconds to arrive (also when the reply ended before any answer).
    ended(object): the attempt's message ended (``Message``, status set); it may have been removed
        from the chat when nothing arrived (then ``removed`` came first).
    removed(int): the attempt's message had no text and was taken out of the chat.
    noticeAdded(object): a notice ``Message`` about this reply ("cut off at the maximum length").
    failed(object): the attempt failed; the payload is the ``ErrorInfo``.
    countdown(int): seconds left before the automatic retry (0: retrying now / cancelled).
    changed(): the phase changed (buttons, status line, sidebar marks).
    saveProblem(str): the store could not save; text for the user.
    saved(): the reply's last background save (not a streaming one) landed: the chat's last update
        moved. Not after each 0.5 s streaming save: the newest-first list would reorder that often.
    contextPlanned(object): the attempt's :class:`~chatbot_gui.core.context.ContextRequest` (what is
        sent, where the model's view begins) was made, or remade for the retry after a refusal.
    usageReported(object): the server's :class:`~chatbot_gui.core.usage.Usage` for a finished attempt.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.context import ContextRequest, TokenEstimator
from chatbot_gui.core.conversation import ChatRequest, Conversation, Message, Status, ThinkTags
from chatbot_gui.core.reply_state import Phase, ReplyState
from chatbot_gui.core.windows import ContextWindows

if TYPE_CHECKING:
    from chatbot_gui.core.params import ParameterPolicy
    from chatbot_gui.core.recorder import ChatRecorder
    from chatbot_gui.core.streaming import Outcome
    from chatbot_gui.ui.tasks import Task
    from chatbot_gui.ui.worker import CompletionThread

#: Repaint interval for streamed text (~60 per second).
FLUSH_INTERVAL_MS = 16
#: How often a streaming reply is written to the store (a kill loses at most this much text).
SAVE_INTERVAL_MS = 500

_keys = itertools.count(1)


#: A reply that asked to call a tool (or function) and said nothing: this app runs no tools.
TOOL_CALL_TEXT = "The model answered with a tool call and no text (this app does not run tools)."


class Reply(QObject):
    """A reply to one chat, from the request until it is done, stopped or given up."""

    started = Signal(object)
    textAppended = Signal(int, str)
    reasoningEnded = Signal(int, float)
    ended = Signal(object)
    removed = Signal(int)
    noticeAdded = Signal(object)
    failed = Signal(object)
    countdown = Signal(int)
    thinking = Signal()
    changed = Signal()
    saveProblem = Signal(str)
    saved = Signal()
    contextPlanned = Signal(object)
    usageReported = Signal(object)

    def __init__(self, conv: Conversation, config: ConnectionConfig, policy: ParameterPolicy,
                 recorder: ChatRecorder | None, model: str, parent: QObject | None = None,
                 clock: Callable[[], float] = time.monotonic, windows: ContextWindows | None = None,
                 estimator: TokenEstimator | None = None) -> None:
        super().__init__(parent)
        self.windows = windows if windows is not None else ContextWindows()
        self.estimator = estimator if estimator is not None else TokenEstimator()
        #: The context side of the attempt in flight (issue 12): plan, usage, the one retry.
        self.ctx: ContextRequest | None = None
        self.key = next(_keys)
        self.conv = conv
        self.config = config
        self.policy = policy
        self.recorder = recorder
        self.model = model
        self.state = ReplyState(clock)
        #: The last retry was stopped before anything of it arrived (its error stands, with Retry).
        self.retry_stopped = False
        self._clock = clock
        self._tags = ThinkTags()  # the attempt's <think> block, as its text arrives
        self._reasoning_from: float | None = None  # when that block began to arrive
        self.message: Message | None = None
        self._thread: CompletionThread | None = None
        self._threads: set[CompletionThread] = set()
        self._saved_len = 0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._save_timer = QTimer(self)
        self._save_timer.setInterval(SAVE_INTERVAL_MS)
        self._save_timer.timeout.connect(self.save_now)
        self._tick = QTimer(self)
        self._tick.setInterval(250)
        self._tick.timeout.connect(self._tick_countdown)
        self._shown_left = -1
        self._deferred: list[Message] = []
        self._write_task: Task | None = None  # the background save in flight
        self._dirty = False  # the reply changed since that save's snapshot
        self._write_final = False  # that save writes the reply's end (not a streaming save)

    # -- state -----------------------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self.state.phase

    @property
    def active(self) -> bool:
        return self.state.active

    @property
    def can_retry(self) -> bool:
        return self.state.can_retry

    def threads(self) -> list[CompletionThread]:
        return list(self._threads)

    # -- attempts --------------------------------------------------------------------------------
    def start(self, regenerate: int | None = None) -> None:
        """Send the chat as it stands, or a new version of reply ``regenerate``."""
        conv = self.conv
        msg = conv.regenerate(regenerate, None) if regenerate is not None else None
        if msg is None:
            request = self._build_request()
            msg = conv.start_reply(request.model)
        else:
            conv.messages.pop()  # the request is built from what comes before the new version
            request = self._build_request()
            conv.messages.append(msg)
            msg.model = request.model
        self._launch(request, msg)

    def _build_request(self) -> ChatRequest:
        """The chat as it stands, trimmed to the model's window unless the chat sends everything."""
        from chatbot_gui.core.context import ContextMode, context_request

        mode = ContextMode.EVERYTHING if self.conv.context_mode == "everything" else ContextMode.FIT
        request, self.ctx = context_request(self.conv, self.model, base_url=self.config.base_url,
                                            windows=self.windows, estimator=self.estimator, mode=mode)
        self.contextPlanned.emit(self.ctx)
        return request

    def _launch(self, request: ChatRequest, msg: Message) -> None:
        self.message = msg
        self._saved_len = 0
        self._tags = ThinkTags()
        self._reasoning_from = None
        self.started.emit(msg)
        from chatbot_gui.ui.worker import CompletionThread

        thread = CompletionThread(request, self.config, self.policy, include_usage=True, keep_reasoning=True)
        thread.textAvailable.connect(lambda t=thread: self._text_available(t))
        thread.thinking.connect(lambda t=thread: self._thinking(t))
        thread.outcomeReady.connect(lambda outcome, t=thread: self._outcome(t, outcome))
        thread.finished.connect(lambda t=thread: self._thread_finished(t))
        self._threads.add(thread)
        self._thread = thread
        self._save_timer.start()
        # The window's own updates first: once the thread runs, each Python step of the GUI thread
        # may wait for the request thread's turn on the interpreter.
        self.changed.emit()
        thread.start()

    def retry(self) -> bool:
        """Try again (the user's Retry, or the countdown's end). A partial reply becomes a version."""
        if not self.state.retry():
            return False
        self.retry_stopped = False
        self._tick.stop()
        old = self.message
        partial = old is not None and old.content and old in self.conv.messages
        self.start(regenerate=old.id if partial and old is not None else None)
        return True

    def stop(self) -> None:
        """Stop whatever this reply is doing: the stream (hung up at once) or the countdown."""
        phase = self.state.phase
        if phase is Phase.WAITING:
            self.state.cancel()
            self._tick.stop()
            self.countdown.emit(0)
            self.changed.emit()
            return
        if phase not in (Phase.SENDING, Phase.STREAMING):
            return
        thread = self._thread
        if thread is not None:
            thread.stop()
        self._flush()  # what already arrived stays
        self._thread = None
        if thread is not None and thread.reported_model and self.message is not None:
            self.message.model = thread.reported_model  # saved with the model the server said answers
        if self.state.cancel() is Phase.FAILED:
            # A retry stopped before anything of it arrived: the error it retried stands, with Retry.
            self.retry_stopped = True
            self._finish(Status.INTERRUPTED, announce=False)
            self.countdown.emit(0)
            self.changed.emit()
            return
        self._finish(Status.STOPPED)

    # -- the worker's reports --------------------------------------------------------------------
    def _thinking(self, thread: CompletionThread) -> None:
        if thread is self._thread and self.message is not None and (not self.message.content or self.reasoning_open):
            self.thinking.emit()

    @property
    def reasoning_open(self) -> bool:
        """Whether the reply so far is only its reasoning (kept in band as an open <think> block)."""
        return self._tags.open

    def _text_available(self, thread: CompletionThread) -> None:
        if thread is not self._thread:
            return  # a stopped request: its text is dropped
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        thread, msg = self._thread, self.message
        if thread is None or msg is None:
            return
        text = thread.take_text()
        if text:
            self._append(msg, text)

    def _append(self, msg: Message, text: str, final: bool = False) -> None:
        """Adds streamed text to the reply. A piece that may be part of a <think> tag waits for the
        next (``ThinkTags``; ``final``: the reply ended, it is text as it stands). When the reasoning
        ends (its </think> came, or the reply ended in it), how long it took is kept with the reply,
        and the status line moves on from "thinking"."""
        tags = self._tags
        if tags.state == ThinkTags.ANSWER and self._reasoning_from is None:
            shown = text  # the common case: no <think> block, nothing to follow
        else:
            was_answer = tags.state == ThinkTags.ANSWER
            shown = tags.feed(text) + (tags.flush() if final else "")
            if tags.opened and self._reasoning_from is None:
                self._reasoning_from = self._clock()
            if tags.opened and not was_answer and (tags.state == ThinkTags.ANSWER or final):
                msg.reasoning_seconds = self._clock() - self._reasoning_from  # type: ignore[operator]
        first = bool(shown) and not msg.content
        msg.content += shown
        if first:
            self.state.text_arrived()
        ended = msg.reasoning_seconds is not None and self._reasoning_from is not None
        if ended:
            self._reasoning_from = None  # (said once)
            self.reasoningEnded.emit(msg.id, msg.reasoning_seconds)
        if first or ended:
            self.changed.emit()  # the status line: receiving (no longer "thinking")
        if shown:  # (after those: the answer never shows beside "Thinking…" or the old status)
            self.textAppended.emit(msg.id, shown)

    def save_now(self) -> None:
        """Write the streaming reply as it stands (every SAVE_INTERVAL_MS while it streams)."""
        msg = self.message
        if msg is None or self.recorder is None or self._thread is None:
            return
        self._flush()
        if len(msg.content) != self._saved_len:
            self._saved_len = len(msg.content)
            self._write()

    def _write(self) -> None:
        """Save the reply as it stands. The first time here, on the GUI thread: it needs its row id
        at once (a notice or the next message follows it) and is small. After that on a worker
        (``ui/tasks.py``), one write at a time, the latest text winning: a long reply's final write
        indexes it for search (~10-20 ms per 100 kB), and a WAL checkpoint can take ~8 ms."""
        msg = self.message
        if msg is None or self.recorder is None or not msg.content:
            return
        if msg.db_id is None:
            self._say(self.recorder.save_reply(self.conv, msg))
            self._save_deferred()
            return
        self._dirty = True
        if self._write_task is None:
            self._start_write()

    def _start_write(self) -> None:
        msg, recorder = self.message, self.recorder
        self._dirty = False
        if msg is None or recorder is None or msg.db_id is None:
            return
        from chatbot_gui.ui.tasks import runner

        db_id, content, status, model, usage = msg.db_id, msg.content, msg.status, msg.model, msg.usage
        seconds = msg.reasoning_seconds
        self._write_final = status is not Status.STREAMING
        self._write_task = runner().run(lambda: recorder.update_in_background(db_id, content, status, model, usage,
                                                                              seconds),
                                        self._written, self._write_failed, name="save reply")

    def _written(self, problem: str | None) -> None:
        self._write_task = None
        self._say(problem)
        if problem is None and self._write_final:
            self.saved.emit()
        if self._dirty:
            self._start_write()

    def _write_failed(self, exc: BaseException) -> None:
        self._written(f"This reply could not be saved ({type(exc).__name__}).")

    def flush_saves(self, timeout: float = 5.0) -> None:
        """Finish this reply's saves now, on this thread (quit, an export about to read the store)."""
        task, self._write_task = self._write_task, None
        if task is not None:
            task.wait(timeout)
            task.cancel()  # its outcome is handled here
            self._dirty = True
        msg = self.message
        if self._dirty and msg is not None and msg.db_id is not None and self.recorder is not None:
            self._dirty = False
            self._say(self.recorder.update_in_background(msg.db_id, msg.content, msg.status, msg.model,
                                                         msg.usage, msg.reasoning_seconds))

    def defer_notice(self, notice: Message) -> None:
        """Save ``notice`` (which follows this reply) once the reply has a row of its own."""
        self._deferred.append(notice)

    def _save_deferred(self) -> None:
        if self.recorder is None or not self._deferred:
            return
        if self.message is not None and self.message.db_id is None and self.conv.find(self.message.id):
            return  # the reply is not saved yet: the notice would land before it
        notices, self._deferred = self._deferred, []
        for notice in notices:
            self._say(self.recorder.save_notice(self.conv, notice))

    def _say(self, problem: str | None) -> None:
        if problem:
            self.saveProblem.emit(problem)

    def _outcome(self, thread: CompletionThread, outcome: Outcome) -> None:
        if thread is not self._thread:
            return
        self._flush_timer.stop()
        self._flush()
        self._thread = None
        if outcome.model and self.message is not None:
            self.message.model = outcome.model  # saved with the model the server says answered
        if self._resend_trimmed(outcome):
            return
        if outcome.usage is not None:
            self._count_usage(outcome)
        phase = self.state.ended(outcome.status, outcome.error, outcome.finish_reason)
        if phase is Phase.DONE:
            self._finish(Status.COMPLETE)
            notice = {"length": "The reply was cut off: it reached the maximum length.",
                      "content_filter": "The server's content filter stopped this reply.",
                      # A reply that is only a tool call has no text: said, instead of a bare heading.
                      "tool_calls": TOOL_CALL_TEXT, "function_call": TOOL_CALL_TEXT}.get(
                          outcome.finish_reason or "")
            if notice is TOOL_CALL_TEXT and outcome.received_chars:
                notice = None  # it said something too: that is the reply
            if notice and self.message is not None:
                note = self.conv.add_notice(notice)
                if self.recorder is not None:
                    self._say(self.recorder.save_notice(self.conv, note))
                self.noticeAdded.emit(note)
        elif phase is Phase.STOPPED:
            self._finish(Status.STOPPED)
        else:
            self._finish(Status.INTERRUPTED, announce=False)
            assert self.state.error is not None
            self.failed.emit(self.state.error)
            if phase is Phase.WAITING:
                self._shown_left = -1
                self._tick_countdown()
                self._tick.start()
            self.changed.emit()

    def _count_usage(self, outcome: Outcome) -> None:
        """Calibrate the estimate with the server's count; the reply's own size is now known exactly."""
        from chatbot_gui.core.context import MESSAGE_OVERHEAD

        usage = outcome.usage
        assert usage is not None
        if self.ctx is not None and usage.prompt_tokens:
            self.ctx.on_usage(usage.prompt_tokens)
        if self.message is not None and outcome.status == "complete" and usage.completion_tokens:
            self.message.tokens = max(1, usage.completion_tokens - usage.reasoning_tokens) + MESSAGE_OVERHEAD
        if self.message is not None:
            from chatbot_gui.core.usage import ReplyUsage

            # Kept with the reply and saved with its final write; OpenAI's prices apply to OpenAI's server.
            self.message.usage = ReplyUsage(usage, priced=self.config.is_default_server)
        self.usageReported.emit(usage)

    def _resend_trimmed(self, outcome: Outcome) -> bool:
        """The server refused the length: learn its limit, leave out more, and send once more (visibly).

        True when the request went out again (the empty reply gave way to a notice and a new attempt)."""
        error, ctx, msg = outcome.error, self.ctx, self.message
        if outcome.status != "error" or error is None or ctx is None or msg is None or msg.content:
            return False
        plan = ctx.on_refused(error.status, error.detail)
        if plan is None:
            return False
        from chatbot_gui.core.context import format_tokens

        self._save_timer.stop()
        self.conv.remove(msg.id)
        self.removed.emit(msg.id)
        limit = f"the model's limit is {format_tokens(plan.window)} tokens" if plan.window else "the chat is too long"
        note = self.conv.add_notice(f"The server refused the conversation as too long ({limit}): "
                                    f"{plan.dropped:,} earlier messages were left out and it was sent again.")
        if self.recorder is not None:
            self._say(self.recorder.save_notice(self.conv, note))
        self.noticeAdded.emit(note)
        self.contextPlanned.emit(ctx)
        import dataclasses

        request = dataclasses.replace(self.conv.build_request(self.model), messages=ctx.messages())
        self._launch(request, self.conv.start_reply(request.model))
        return True

    def _finish(self, status: Status, announce: bool = True) -> None:
        self._save_timer.stop()
        msg = self.message
        if msg is None:
            return
        if self._tags.state != ThinkTags.ANSWER or self._reasoning_from is not None:
            self._append(msg, "", final=True)  # a held piece of a tag is text after all; an open block ends
        msg.status = status
        if msg.content:
            self._write()
        else:
            # Nothing arrived: no empty assistant turn is kept, and no empty heading is shown.
            self.conv.remove(msg.id)
            self.removed.emit(msg.id)
        self._save_deferred()
        self.ended.emit(msg)
        if announce:
            self.changed.emit()

    def _tick_countdown(self) -> None:
        if self.state.due():
            self._tick.stop()
            self.countdown.emit(0)
            self.retry()
            return
        left = self.state.seconds_left()
        if left != self._shown_left:
            self._shown_left = left
            self.countdown.emit(left)

    def _thread_finished(self, thread: CompletionThread) -> None:
        self._threads.discard(thread)
        thread.deleteLater()

    def shutdown(self) -> None:
        """Stop, stop every thread this reply started, and finish its saves (quit)."""
        self.stop()
        self._tick.stop()
        for thread in list(self._threads):
            thread.stop()
        self.flush_saves()
