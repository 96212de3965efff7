"""Uncaught exceptions: written to the log with their traceback, and shown in a dialog.

A windowed app has no console: without this, an exception in a Qt slot vanishes (PySide6 prints it
to a stderr nobody sees) and one on the way out of ``main()`` closes the app without a word.
:class:`CrashReporter` replaces ``sys.excepthook`` (which PySide6 calls for exceptions raised in
slots and virtual overrides, and Python for everything else) and ``threading.excepthook``.

The dialog says what happened and where the log is; it is shown on the GUI thread (an exception on a
worker thread is handed over through a queued signal), never more than one at a time (later errors
while it is open are counted in it), and without a nested event loop while the app runs
(``open()``, not ``exec()``): the app goes on, and so does a reply that is streaming.

Signals (CrashReporter):
    reported(str): an exception was logged and shown; the text is the dialog's one-line summary.
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from chatbot_gui import APP_NAME
from chatbot_gui.core import logs

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox, QWidget

# The dialog's classes (QtWidgets' QMessageBox, QtGui's QDesktopServices) are imported when an error
# is shown: the reporter is installed before the first paint and must cost start-up nothing.

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def summary_of(exc: BaseException) -> str:
    """One line for the dialog: the exception's type and message, scrubbed, at most 300 characters."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    line = logs.scrub(line)
    return line if len(line) <= 300 else line[:299] + "…"


class CrashReporter(QObject):
    """Installs itself as the process's excepthook; see the module docstring."""

    reported = Signal(str)
    _handover = Signal(str)  # worker thread -> GUI thread

    def __init__(self, ensure_log: Callable[[], Path] | None = None,
                 parent_window: "Callable[[], QWidget | None]" = lambda: None) -> None:
        app = QCoreApplication.instance()
        on_gui_thread = app is not None and QThread.currentThread() is app.thread()
        super().__init__(app if on_gui_thread else None)
        if app is not None and not on_gui_thread:
            self.moveToThread(app.thread())  # its dialog slot must run on the GUI thread
        self._ensure_log = ensure_log or (lambda: logs.ensure().path)
        self._parent_window = parent_window
        self._log_path: Path | None = None
        self.dialog: "QMessageBox | None" = None
        self._more = 0
        self._running = True
        self._saved: tuple | None = None
        self._handover.connect(self._show)

    # -- installing ----------------------------------------------------------------------------
    def install(self) -> "CrashReporter":
        self._saved = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_hook
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            sys.excepthook, threading.excepthook = self._saved
            self._saved = None

    # -- the hooks -----------------------------------------------------------------------------
    def excepthook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        self.report((kind, exc, tb))

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        self.report((args.exc_type, args.exc_value, args.exc_traceback),
                    where=f"thread {args.thread.name if args.thread else '?'}")

    def report(self, exc_info: _ExcInfo, where: str = "") -> None:
        """Log the traceback, print it to a console if there is one, and show the dialog."""
        kind, exc, tb = exc_info
        try:
            self._log_path = self._ensure_log()
            import logging

            logging.getLogger("chatbot_gui.crash").error(
                "uncaught exception%s", f" in {where}" if where else "", exc_info=exc_info)
        except Exception:  # noqa: BLE001 - the log itself failed: still tell the user
            self._log_path = None
        if sys.stderr is not None:
            try:
                sys.stderr.write(logs.scrub("".join(traceback.format_exception(kind, exc, tb))))
            except (OSError, ValueError):
                pass
        summary = summary_of(exc)
        app = QCoreApplication.instance()
        if app is None:
            return
        if QThread.currentThread() is app.thread():
            self._show(summary)
        else:
            self._handover.emit(summary)

    # -- the dialog ----------------------------------------------------------------------------
    @Slot(str)
    def _show(self, summary: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        if self.dialog is not None and self.dialog.isVisible():
            self._more += 1
            self.dialog.setInformativeText(self._details(f"{self._more} more unexpected error(s) since."))
            self.reported.emit(summary)
            return
        self._more = 0
        box = QMessageBox(QMessageBox.Icon.Critical, f"{APP_NAME}: unexpected error",
                          f"Something went wrong inside {APP_NAME}:\n{summary}", parent=self._parent_window())
        self._running = QThread.currentThread().loopLevel() > 0
        box.setInformativeText(self._details())
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        if self._log_path is not None:
            folder = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
            folder.clicked.disconnect()  # an action button closes the box by default; keep it open
            folder.clicked.connect(self.open_log_folder)
        self.dialog = box
        self.reported.emit(summary)
        if self._running:
            box.open()  # the app goes on: no nested event loop inside whatever raised
        else:
            box.exec()  # before or after the event loop (start-up, shut-down): wait for the user

    def _details(self, extra: str = "") -> str:
        where = (f"The details were written to the log:\n{self._log_path}" if self._log_path is not None
                 else "The log could not be written.")
        return "\n\n".join(p for p in (
            "The app is still running, but what you just did may not have finished." if self._running
            else f"{APP_NAME} cannot go on and will close.", where,
            "Please attach that file if you report the problem.", extra) if p)

    def open_log_folder(self) -> None:
        if self._log_path is not None:
            from PySide6.QtCore import QUrl
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log_path.parent)))

    def log_path(self) -> Path | None:
        return self._log_path


_shared: CrashReporter | None = None
_shared_lock = threading.Lock()


def shared_reporter(parent_window: "Callable[[], QWidget | None]" = lambda: None) -> CrashReporter:
    """The application's reporter, created on first use from whichever thread failed first.

    chatbot_gui/app.py installs two small hooks before the window is built that call this only when
    an exception escapes, so start-up does not even import this module."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CrashReporter(parent_window=parent_window)
        return _shared
