"""The application context: what every controller shares, passed in (git-cola's ``context``).

Controllers talk to each other and to the app-wide notification channel through this object instead
of reaching into each other's widgets. It is filled in by :func:`chatbot_gui.app.create_window`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from chatbot_gui.core.context import TokenEstimator
from chatbot_gui.core.windows import ContextWindows

if TYPE_CHECKING:
    from chatbot_gui.core.recorder import ChatRecorder
    from chatbot_gui.ui.controller import ChatController
    from chatbot_gui.ui.main_window import MainWindow


@dataclass
class AppContext:
    """The window, the controllers and the one channel for app-level notices."""

    window: MainWindow
    #: The chat controller (set once it exists).
    chat: ChatController | None = None
    #: The settings and history controllers (set once they exist).
    settings: Any = None
    history: Any = None
    #: Where chats are saved (a recorder with no store until the history opens).
    recorder: ChatRecorder | None = None
    #: Extra listeners for app-level notices (tests, a log).
    listeners: list[Callable[[str], None]] = field(default_factory=list)
    #: Issue 12: every model's context window (overrides from Settings, learnt, reported, built in) and
    #: the token estimate calibrated from the servers' usage figures; shared by every chat.
    windows: ContextWindows = field(default_factory=ContextWindows)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)
    #: The price table for cost estimates (Settings' entries over OpenAI's list prices).
    prices: Any = None
    #: Asks the user for the new text of a message to resend (None: cancelled). Tests swap it.
    ask_edit: Callable[[str], str | None] | None = None

    def edit_text(self, text: str) -> str | None:
        """The edited text of a message, from the user (the one question the chat asks)."""
        if self.ask_edit is not None:
            return self.ask_edit(text)
        from PySide6.QtWidgets import QInputDialog

        new, ok = QInputDialog.getMultiLineText(self.window, "Edit and resend", "Your message:", text)
        return new if ok else None

    def notify(self, text: str) -> None:
        """An app-level notice (a file set aside, the store failing): the window's banner, never a
        chat's transcript, so loading a chat does not wipe it."""
        self.window.notify(text)
        for listener in self.listeners:
            listener(text)
