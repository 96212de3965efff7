"""A short-lived QThread that asks a server for its model list ("Test connection", model picker).

The thread never touches widgets and is never parented to one: whoever started it may go away
(a dialog closed mid-test) while it still runs. :func:`start_models_thread` keeps a reference
until ``finished``, so the QThread object is never destroyed while running ("QThread: Destroyed
while thread is still running"), and :meth:`ModelsThread.cancel` hangs up the connection at once
so it ends promptly. After ``cancel`` it emits nothing.

Signals:
    modelsReady(object): a tuple of model ids (sorted).
    failed(object): an :class:`~chatbot_gui.core.errors.ErrorInfo` saying what went wrong.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, QThread, Signal, Slot

from chatbot_gui.core import sched
from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.streaming import AbortHandle

PROXY_AUTH = "The proxy asked for a user name and password (407). Check the proxy user and password."
NO_MODEL_LIST = ("The server has no model list at this address (404). Check the server address: "
                 "for OpenAI-compatible servers it usually ends in /v1.")
_live: set[ModelsThread] = set()
_reaper: _Reaper | None = None


class ModelsThread(QThread):
    """Runs :func:`chatbot_gui.core.models.fetch_models` once for ``config``."""

    modelsReady = Signal(object)
    failed = Signal(object)

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__()
        self._config = config
        self.abort = AbortHandle()

    def run(self) -> None:
        sched.make_background()  # its wake-ups do not preempt the GUI thread
        # Imported here so `import openai` (~0.4 s) happens on this thread, not on the GUI thread.
        from chatbot_gui.core.errors import describe_exception
        from chatbot_gui.core.models import fetch_models

        try:
            models = fetch_models(self._config, self.abort)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            if not self.abort.aborted:
                info = describe_exception(exc, self._config.api_key)
                # errors.py words these for chat requests; for GET /models they mean something else.
                if info.status == 407:
                    info = dataclasses.replace(info, kind="proxy_auth", message=PROXY_AUTH)
                elif info.status == 404:
                    info = dataclasses.replace(info, message=NO_MODEL_LIST)
                self.failed.emit(info)
            return
        if not self.abort.aborted:
            self.modelsReady.emit(tuple(models))

    def cancel(self) -> None:
        """Stop listening and hang up now. Never blocks; nothing is emitted afterwards."""
        self.requestInterruption()
        self.abort.abort()


class _Reaper(QObject):
    """Lives on the GUI thread, so ``finished`` (emitted from the worker) is handled there."""

    @Slot()
    def reap(self) -> None:
        thread = self.sender()
        if isinstance(thread, ModelsThread):
            _live.discard(thread)
            thread.deleteLater()


def start_models_thread(config: ConnectionConfig) -> ModelsThread:
    """Create and start a :class:`ModelsThread` (call on the GUI thread); kept alive until finished."""
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    thread = ModelsThread(config)
    _live.add(thread)
    thread.finished.connect(_reaper.reap)
    thread.start()
    return thread


def running_models_threads() -> int:
    """How many model-list threads are still alive (tests, and the app's quit path)."""
    return sum(1 for t in _live if t.isRunning() or not t.isFinished())


def wait_for_models_threads(msecs: int = 2000) -> bool:
    """At quit: cancel every model-list thread and wait (bounded) for them. True if all ended."""
    for thread in list(_live):
        thread.cancel()
    return all(thread.wait(msecs) for thread in list(_live))
