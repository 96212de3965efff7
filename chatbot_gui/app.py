"""Start-up: build the window, show it, and only then touch the keyring or the network."""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping, Sequence

from chatbot_gui import APP_NAME, __version__


def create_window(
    env: Mapping[str, str] | None = None,
    *,
    paths: Any = None,
    keys: Any = None,
    ask_settings: Any = None,
    history_interaction: Any = None,
) -> tuple[Any, Any]:
    """Build the main window and its controllers (the QApplication must exist).

    Returns ``(window, chat_controller)``; the settings controller hangs off the window as
    ``window.settings_controller``. Collaborators come in as arguments so tests can point them at
    temporary folders and an in-memory keyring.
    """
    from chatbot_gui.core.connection import ConnectionConfig
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.persona_store import PersonaStore
    from chatbot_gui.core.settings import SettingsStore
    from chatbot_gui.ui.controller import ChatController
    from chatbot_gui.ui.history_controller import HistoryController
    from chatbot_gui.ui.main_window import MainWindow
    from chatbot_gui.ui.settings_controller import SettingsController

    env = os.environ if env is None else env
    paths = paths or AppPaths.default()
    window = MainWindow()
    chat = ChatController(window, ConnectionConfig())
    window.on_close(chat.shutdown)  # first: a streaming reply is saved before the store closes
    extra = {"ask": ask_settings} if ask_settings is not None else {}
    settings = SettingsController(window, chat, SettingsStore(paths), keys, env,
                                  persona_store=PersonaStore(paths), **extra)
    window.settings_controller = settings
    history = HistoryController(window, chat, paths, lambda: settings.personas, history_interaction)
    window.history_controller = history
    settings.start()
    history.start()
    return window, chat


def main(argv: Sequence[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication(list(argv) if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName("chatbot-gui")
    window, controller = create_window()
    window.show()
    code = app.exec()
    from chatbot_gui.ui.models_thread import wait_for_models_threads

    threads_done = wait_for_models_threads(1000)
    if controller.running_threads() or not threads_done:
        # A request stuck where no socket exists yet (e.g. inside DNS resolution) cannot be woken;
        # don't let it hold the process open after the user quit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
