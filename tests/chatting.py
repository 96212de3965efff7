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


def never_ask(*args, **kwargs) -> None:  # noqa: ANN002, ANN003 - create_window's ask_settings
    raise AssertionError("no Settings dialog expected")


def open_window(qtbot, server: FakeServer, tmp_path, key: str, size: tuple[int, int] = (1000, 760)):  # noqa: ANN001, ANN201
    """The real window on ``tmp_path``'s folders, talking to ``server`` with ``key`` (an in-memory
    keyring, no Settings dialog), shown, with its chat store open and the key applied.
    Returns ``(window, chat)``; the caller shuts the chat down."""
    from chatbot_gui.app import create_window
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.secrets import KeyStore, MemoryKeyring

    win, chat = create_window({"OPENAI_API_KEY": key, "OPENAI_BASE_URL": server.base_url},
                              paths=AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"),
                              keys=KeyStore(MemoryKeyring()), ask_settings=never_ask)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.history_controller.store is not None and chat.config.api_key is not None,
                    timeout=15000)
    return win, chat


def shown_view(qtbot, view, size: tuple[int, int] = (900, 600)):  # noqa: ANN001, ANN201 - QtBot, a view
    """``view`` (a message view of its own) at ``size``, shown and exposed."""
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return view
