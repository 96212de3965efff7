"""Child process for the start-up benchmark: start a window, print when it was first shown, quit.

Usage: ``python benchmarks/_startup_child.py app|bare``. Prints one JSON line:
``{"shown": <time.time() once the window is exposed and painted>, "modules": [...], "paints": N}``
where ``modules`` lists the heavy modules (openai, httpx2, pydantic, keyring) already imported by then
and ``paints`` counts the main window's paint events while Qt handled that first expose (0 would
mean the time was taken before anything was drawn).

``app`` runs the real ``chatbot_gui.app.main()``; ``bare`` is a plain QMainWindow holding a QTextBrowser
and a QPlainTextEdit, the least any Qt chat window could do. Both report through the same hook: an
event filter that catches the window's first Expose event, has Qt handle it at once (Qt paints the
whole window while handling it) and notes the time right after.
"""

from __future__ import annotations

import json
import sys
import time

WATCHED = ("openai", "httpx2", "httpx", "pydantic", "keyring", "sqlite3")


def _install_reporter(window) -> None:  # noqa: ANN001 - a QWidget
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    class Reporter(QObject):
        def __init__(self) -> None:
            super().__init__(window)
            self.done = False
            self.paints = 0

        def eventFilter(self, obj, event) -> bool:  # noqa: ANN001, N802 - Qt override
            kind = event.type()
            if kind == QEvent.Type.Show and obj is window and window.windowHandle() is not None:
                window.windowHandle().installEventFilter(self)
            elif kind == QEvent.Type.Paint:
                self.paints += 1
            elif kind == QEvent.Type.Expose and not self.done and obj.isExposed():
                self.done = True
                # Let Qt handle the expose now (it paints the window while doing so), then note the
                # time: a zero-delay timer could run only after other already-queued work.
                before = self.paints
                obj.event(event)
                shown = time.time()
                painted = self.paints - before
                modules = [m for m in WATCHED if m in sys.modules]
                QTimer.singleShot(0, lambda: self.report(shown, painted, modules))
                return True
            return False

        def report(self, shown: float, painted: int, modules: list[str]) -> None:
            print(json.dumps({"shown": shown, "modules": modules, "paints": painted}), flush=True)
            QApplication.instance().quit()

    window.installEventFilter(Reporter())


def run_app() -> int:
    import chatbot_gui.app as app_module

    real_create = app_module.create_window

    def create_window(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - forwards
        window, controller = real_create(*args, **kwargs)
        _install_reporter(window)
        return window, controller

    app_module.create_window = create_window
    return app_module.main(["chatbot-bench"])


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
    _install_reporter(window)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(run_app() if sys.argv[1] == "app" else run_bare())
