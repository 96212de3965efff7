"""The start-up reporter: print when a window was first painted, then quit the app.

Used by ``Chatbot --startup-probe`` (chatbot_gui/selfcheck.py), the start-up benchmark's children
(benchmarks/_startup_child.py) and the frozen hello-world the frozen start-up budget is measured
against (benchmarks/_frozen_hello.py). It imports only the standard library and PySide6, so a
build of that hello-world bundles nothing of the app.
"""

from __future__ import annotations

import json
import sys
import time

#: Modules whose presence at the first paint would mean start-up does work it should not (ctypes:
#: PyInstaller's bootstrap imports it whenever it is bundled; build.spec leaves it out on Linux).
STARTUP_WATCHED = ("openai", "httpx2", "httpx", "pydantic", "keyring", "sqlite3", "ctypes")


def install_startup_reporter(window, watched: tuple[str, ...] = STARTUP_WATCHED) -> None:  # type: ignore[no-untyped-def]
    """On ``window``'s first expose: let Qt handle it at once (it paints the whole window while doing
    so), note the time right after, print the JSON line and quit the app."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    class Reporter(QObject):
        def __init__(self) -> None:
            super().__init__(window)
            self.done = False
            self.paints = 0

        def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]  # noqa: N802
            kind = event.type()
            if kind == QEvent.Type.Show and obj is window and window.windowHandle() is not None:
                window.windowHandle().installEventFilter(self)
            elif kind == QEvent.Type.Paint:
                self.paints += 1
            elif kind == QEvent.Type.Expose and not self.done and obj.isExposed():
                self.done = True
                before = self.paints
                obj.event(event)  # Qt paints the window while handling the expose
                shown = time.time()
                # CPU time the whole process used so far (loader, interpreter, imports, Qt): far
                # less disturbed than wall time by other work on a busy machine.
                cpu = time.process_time()
                painted = self.paints - before
                # Which modules were loaded by the first paint (a zero-delay timer runs after it).
                modules = [m for m in watched if m in sys.modules]
                QTimer.singleShot(0, lambda: self.report(shown, cpu, painted, modules))
                return True
            return False

        def report(self, shown: float, cpu: float, painted: int, modules: list[str]) -> None:
            print(json.dumps({"shown": shown, "cpu": cpu, "paints": painted, "modules": modules}), flush=True)
            QApplication.instance().quit()

    window.installEventFilter(Reporter())
