"""Start-up: build the window, show it, and only then let anything touch the network."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

from chatbot_gui import APP_NAME, __version__


def create_window(env: Mapping[str, str] | None = None):  # noqa: ANN201 - returns (window, controller)
    """Build the main window and its controller (the app object must exist)."""
    from chatbot_gui.core.connection import from_environment
    from chatbot_gui.ui.controller import ChatController
    from chatbot_gui.ui.main_window import MainWindow

    window = MainWindow()
    controller = ChatController(window, from_environment(env))
    window.on_close(controller.shutdown)
    return window, controller


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
    if controller.running_threads():
        # A request stuck where no socket exists yet (e.g. inside DNS resolution) cannot be woken;
        # don't let it hold the process open after the user quit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
