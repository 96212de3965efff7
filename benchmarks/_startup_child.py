"""Child process for the start-up benchmark: start a window, print when it was first shown, quit.

Usage: ``python benchmarks/_startup_child.py app|bare``. Prints one JSON line:
``{"shown": <time.time() once the window is exposed and painted>, "modules": [...], "paints": N}``
where ``modules`` lists the heavy modules (openai, httpx2, pydantic, keyring) already imported by then
and ``paints`` counts the main window's paint events while Qt handled that first expose (0 would
mean the time was taken before anything was drawn).

``app`` runs the real ``chatbot_gui.app.main()``; ``bare`` is a plain QMainWindow holding a QTextBrowser
and a QPlainTextEdit, the least any Qt chat window could do. Both report through the same hook
(``chatbot_gui.selfcheck.install_startup_reporter``, which the frozen app's ``--startup-probe`` uses): an
event filter that catches the window's first Expose event, has Qt handle it at once (Qt paints the
whole window while handling it) and notes the time right after.
"""

from __future__ import annotations

import sys

from chatbot_gui.selfcheck import STARTUP_WATCHED, install_startup_reporter, startup_probe


def run_app() -> int:
    return startup_probe("chatbot-bench", STARTUP_WATCHED)


def run_bare() -> int:
    from PySide6.QtWidgets import QApplication, QMainWindow, QPlainTextEdit, QSplitter, QTextBrowser

    from PySide6.QtCore import Qt

    app = QApplication(["bare-bench"])
    window = QMainWindow()
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(QTextBrowser())
    splitter.addWidget(QPlainTextEdit())
    window.setCentralWidget(splitter)
    window.resize(900, 700)
    install_startup_reporter(window, STARTUP_WATCHED)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(run_app() if sys.argv[1] == "app" else run_bare())
