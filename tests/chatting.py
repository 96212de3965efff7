"""What a person does in the chat window, for the pytest-qt stories: type and send, wait for the
reply to finish, and what the loopback server received."""

from __future__ import annotations

from PySide6.QtCore import Qt

from fakeserver import FakeServer


def type_and_send(qtbot, window, text: str) -> None:  # noqa: ANN001 - QtBot, MainWindow
    """Type ``text`` into the input with real key events and press Enter."""
    window.input.setFocus()
    qtbot.keyClicks(window.input, text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)


def wait_idle(qtbot, chat, timeout: int = 15000) -> None:  # noqa: ANN001 - QtBot, ChatController
    """Until the chat controller has no reply in flight."""
    qtbot.waitUntil(lambda: not chat.busy, timeout=timeout)


def sent_messages(server: FakeServer, index: int = -1) -> list[dict]:
    """The ``messages`` of the ``index``-th request the server received."""
    return server.requests[index].json["messages"]
