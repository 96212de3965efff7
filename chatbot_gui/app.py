"""Start-up: build the window, show it, and only then touch the keyring or the network."""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping, MutableMapping, Sequence

from chatbot_gui import APP_NAME


def create_window(
    env: Mapping[str, str] | None = None,
    *,
    paths: Any = None,
    keys: Any = None,
    ask_settings: Any = None,
    history_interaction: Any = None,
    wire_after_first_paint: bool = False,
) -> tuple[Any, Any]:
    """Build the main window and its controllers (the QApplication must exist).

    Returns ``(window, chat_controller)``; the settings controller hangs off the window as
    ``window.settings_controller``. Collaborators come in as arguments so tests can point them at
    temporary folders and an in-memory keyring.

    ``wire_after_first_paint`` (``main()``): build what the first frame shows (the widgets, and what
    the settings say: theme, text size, geometry, personas, models) and load the chat logic (the
    chat, history and context controllers, conversations, context windows, what was learnt) and wire
    it in the first event-loop turn after the first paint, instead of before it. The second value is
    then None; ``window.context.chat`` is the chat controller once wired. An Enter or Send click in
    between is not lost: the message is sent once the chat is wired.
    """
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.persona_store import PersonaStore
    from chatbot_gui.core.settings import SettingsStore
    from chatbot_gui.ui.main_window import MainWindow
    from chatbot_gui.ui.settings_controller import SettingsController

    # A streaming reply's worker thread is pure Python; with the default 5 ms switch interval the GUI
    # thread waits up to 5 ms for the interpreter lock at every step (benchmarks/: timer gaps of
    # 40-100 ms during a fast stream). 1 ms keeps the window smooth at no measurable throughput cost.
    sys.setswitchinterval(0.001)
    env = os.environ if env is None else env
    paths = paths or AppPaths.default()
    # Start-up: the menus' actions are made right after the first paint (only their titles show).
    window = MainWindow(actions_later=wire_after_first_paint)
    extra = {"ask": ask_settings} if ask_settings is not None else {}
    settings = SettingsController(window, None, SettingsStore(paths), keys, env,
                                  persona_store=PersonaStore(paths), **extra)
    window.settings_controller = settings

    def wire():  # noqa: ANN202 - returns the ChatController
        return _wire(window, settings, paths, history_interaction)

    if not wire_after_first_paint:
        return window, wire()
    sends: list[bool] = []

    def held_send() -> None:
        sends.append(True)

    window.input.submitted.connect(held_send)
    window.send_button.clicked.connect(held_send)

    def wire_now() -> None:
        window.input.submitted.disconnect(held_send)
        window.send_button.clicked.disconnect(held_send)
        chat = wire()
        if sends:  # after the start-up keyring read began (settings.start()), as a send then would
            window.after_first_paint(chat.send_from_input)

    window.after_first_paint(wire_now)
    return window, None


def _wire(window, settings, paths, history_interaction):  # noqa: ANN001, ANN202 - see create_window
    """The chat logic behind the window: context, chat and history controllers, wired."""
    from chatbot_gui.core.connection import ConnectionConfig
    from chatbot_gui.core.learned import LearnedStore
    from chatbot_gui.ui.context import AppContext
    from chatbot_gui.ui.controller import ChatController
    from chatbot_gui.ui.history_controller import HistoryController

    context = AppContext(window)
    window.context = context
    context.learned = LearnedStore(paths)  # issue 12: limits learnt and calibration, across restarts
    learned_notice = context.learned.seed(context.windows, context.estimator)
    chat = ChatController(context, ConnectionConfig())
    window.on_close(chat.shutdown, first=True)  # first: a streaming reply is saved before the store closes
    settings.attach(chat)
    context.settings = settings
    history = HistoryController(window, chat, paths, lambda: settings.personas, history_interaction)
    window.history_controller = context.history = history
    window.about_action.triggered.connect(lambda: _show_about(window, paths))
    settings.start()
    history.start()
    # Screen readers: the messages as a list (QAccessible costs ~2 ms to load: after the first paint).
    window.after_first_paint(lambda: _accessible_messages(window))
    window.after_first_paint(lambda: _preload_first_use(window))
    if learned_notice:
        context.notify(learned_notice)
    return chat


#: How long after the first paint what the first send and reply use loads (the user is still reading the window).
PRELOAD_AFTER_MS = 300


def _preload_first_use(window) -> None:  # noqa: ANN001 - MainWindow
    """Load the modules a request runs through (``core.streaming`` and what it imports, then
    ``ui.worker``) while the window is idle: the first Enter imported them on the GUI thread, ~12 ms
    in one piece. The Qt-free part loads on a worker; the SDK itself still loads with the first
    request, on its thread (~0.4 s that a user who never sends should not pay). Then the Markdown
    renderer's libraries, on a worker too."""
    from PySide6.QtCore import QTimer

    def start() -> None:
        if "chatbot_gui.ui.worker" in sys.modules:
            return
        import importlib

        from chatbot_gui.ui.tasks import runner

        def then(_module: object) -> None:
            importlib.import_module("chatbot_gui.ui.worker")  # its QThread class, on the GUI thread (~3 ms)
            # Then the Markdown view's libraries, also on a worker: the first reply rendered took
            # ~100 ms of the GUI thread to load and compile them (see markdown_html.warm_up).
            runner().run(lambda: importlib.import_module("chatbot_gui.ui.render.markdown_html").warm_up(),
                         None, lambda _exc: None, name="load the Markdown renderer")

        runner().run(lambda: importlib.import_module("chatbot_gui.core.streaming"), then, lambda _exc: None,
                     name="load the request path")

    QTimer.singleShot(PRELOAD_AFTER_MS, window, start)


def _accessible_messages(window) -> None:  # noqa: ANN001 - MainWindow
    from chatbot_gui.ui.messages import access

    access.install(window.transcript)


def _show_about(window, paths) -> None:  # noqa: ANN001 - MainWindow, AppPaths
    from chatbot_gui.ui.about_dialog import show_about

    show_about(window, paths)


def _app_icon():  # noqa: ANN202 - a QIcon
    """The window icon from the package's assets (files are read when Qt first needs a size)."""
    from importlib.resources import files

    from PySide6.QtGui import QIcon

    icon = QIcon()
    assets = files("chatbot_gui") / "assets"
    for size in (16, 32, 48, 64, 128, 256):
        icon.addFile(str(assets / f"chatbot-{size}.png"))
    return icon


def _close_on_terminate(window) -> None:  # noqa: ANN001 - the MainWindow
    """SIGTERM (logout, ``kill``) closes the window as Ctrl+Q does, so a reply in progress and the
    window's state are saved, instead of the process dying mid-write."""
    import signal

    from PySide6.QtCore import QTimer

    def handler(signum: int, frame: object) -> None:
        QTimer.singleShot(0, window.close)

    signal.signal(signal.SIGTERM, handler)
    # Python runs signal handlers between bytecodes; Qt's event loop is C++, so give it a turn.
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


def _after_first_paint(app) -> None:  # noqa: ANN001 - the QApplication
    """Start-up work the window does not wait for: the version lookup (importlib.metadata, ~50 ms)
    and the log file's set-up (logging.handlers, platformdirs), the latter on a worker thread."""
    from chatbot_gui import __version__
    from chatbot_gui.core import logs
    from chatbot_gui.ui.tasks import runner

    app.setApplicationVersion(__version__)
    runner().run(lambda: logs.setup(), name="log set-up")


def _install_crash_hooks(parent_window) -> None:  # noqa: ANN001 - returns the MainWindow or None
    """sys.excepthook (PySide6 calls it for exceptions in slots) and threading.excepthook: the
    reporter that logs and shows the error (chatbot_gui/ui/crash.py) is loaded when one happens."""
    import threading

    def excepthook(kind, exc, tb) -> None:  # noqa: ANN001 - sys.excepthook's arguments
        from chatbot_gui.ui.crash import shared_reporter

        shared_reporter(parent_window).excepthook(kind, exc, tb)

    def thread_hook(args) -> None:  # noqa: ANN001 - threading.ExceptHookArgs
        from chatbot_gui.ui.crash import shared_reporter

        shared_reporter(parent_window).thread_hook(args)

    sys.excepthook = excepthook
    threading.excepthook = thread_hook


def _skip_pyside_source_scan() -> None:
    """Tell PySide6 beforehand what it would find out by reading the source of each of the app's
    modules as it is imported.

    Once PySide6 is loaded it reads the whole source of every module imported after it, to see
    whether the text "PySide6" occurs (PYSIDE-2029; it decides whether ``from __feature__ import
    ...``, which this app never uses, applies there), unless the module's name is already in its
    published ``pyside_feature_dict``: ~0.1 ms a module, ~1.7 ms of start-up CPU from a checkout
    (napari/napari#8584 measured the same tax). The entries given are what that scan concludes:
    0 (uses PySide, no feature selected) for the ui modules, -1 (ignore) for the Qt-free core.
    Without that dict (another PySide6), nothing is done and PySide6 scans as before."""
    # (Loaded by PySide6 itself with QtCore, from its embedded support files: looked up, not imported.)
    known = getattr(sys.modules.get("PySide6.support.feature"), "pyside_feature_dict", None)
    if not isinstance(known, dict):
        return
    root = os.path.dirname(os.path.abspath(__file__))
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d.isidentifier() and d != "__pycache__"]
        relative = os.path.relpath(folder, root)
        package = "chatbot_gui" if relative == "." else "chatbot_gui." + relative.replace(os.sep, ".")
        verdict = -1 if package == "chatbot_gui.core" or package.startswith("chatbot_gui.core.") else 0
        for name in files:
            stem, dot, ext = name.rpartition(".")
            if dot and ext in ("py", "pyc") and stem.isidentifier():
                known.setdefault(package if stem == "__init__" else f"{package}.{stem}", verdict)


def qt_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Process-wide Qt settings that Qt reads once, the first time it needs them: set before the
    QApplication is made (``main``; the benchmarks' ``qt_app`` does the same, to measure the app).

    ``QT_NO_GUI_THREADPOOL``: Qt's raster engine splits every fill of 96 or more scan lines (the
    message list's background, each code block's panel) into pieces, hands them to a pool of
    threads and waits for them (``QT_THREAD_PARALLEL_FILLS`` in Qt's qdrawhelper.cpp): ~20 waits a
    frame while a chat scrolls. On a busy 2-core machine the GUI thread then waits for the pool's
    threads to get a core, and they preempt it when they do (measured, benchmarks/bench_render.py's
    PageUp scroll: ~18 voluntary and ~75 involuntary context switches per step, against ~0 and ~2
    with the fills drawn on the GUI thread, which then also costs less CPU per step). A fill of a
    window's size is a fraction of a millisecond: handing it over costs more than it saves."""
    (os.environ if environ is None else environ).setdefault("QT_NO_GUI_THREADPOOL", "1")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(argv) if argv is not None else list(sys.argv)
    from chatbot_gui.cli import early_exit

    answered = early_exit(args)  # --version, --help, --self-check: no window
    if answered is not None:
        return answered

    import gc

    # Until the first paint the cyclic collector only walks the long-lived objects start-up creates
    # (modules, classes, Qt wrappers) and frees nothing: ~9 ms of CPU time (~4 %) before the window
    # shows (README, frozen start-up). It is switched back on right after the first paint.
    gc.disable()
    from PySide6.QtWidgets import QApplication

    _skip_pyside_source_scan()
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.ui.single_instance import SingleInstance, bring_to_front, nobody_listening, server_name

    if os.environ.get("CHATBOT_DEBUG"):
        from chatbot_gui.core import logs

        if logs.debug_enabled():
            logs.setup(debug=True)  # at once: start-up speed does not matter when debugging
    qt_environment()
    app = QApplication(args)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("chatbot-gui")
    app.setDesktopFileName("chatbot")
    window = None
    # From here on an uncaught exception is logged and shown in a dialog (chatbot_gui/ui/crash.py).
    _install_crash_hooks(lambda: window)
    paths = AppPaths.default()

    def show_window() -> None:
        if window is not None:
            bring_to_front(window)

    name = server_name(paths.data_dir)
    instance = SingleInstance(name)
    if nobody_listening(name):
        # The usual case (no socket file): show the window first, start listening right after the
        # first paint (QtNetwork is not on the start-up path).
        def claim_later() -> None:
            if not instance.claim(show_window):
                # Another start won the race in these few milliseconds: it shows; this one goes.
                print(f"{APP_NAME} is already running; showing its window.", file=sys.stderr)
                window.close()

        deferred_claim = True
    else:
        # Listening starts before the window is built, so a start a moment later finds this one.
        if not instance.claim(show_window):
            print(f"{APP_NAME} is already running; showing its window.", file=sys.stderr)
            return 0
        deferred_claim = False
    # The chat logic loads and is wired right after the first paint (create_window's docstring).
    window, _ = create_window(paths=paths, wire_after_first_paint=True)
    window.after_first_paint(gc.enable)
    window.after_first_paint(lambda: _close_on_terminate(window))  # the signal module: ~0.5 ms
    window.after_first_paint(lambda: app.setWindowIcon(_app_icon()))  # ~9 ms: after the first paint
    window.after_first_paint(lambda: _after_first_paint(app))
    if deferred_claim:
        window.after_first_paint(claim_later)
    window.show()
    code = app.exec()
    instance.close()
    from chatbot_gui.ui.models_thread import wait_for_models_threads
    from chatbot_gui.ui.tasks import runner

    threads_done = wait_for_models_threads(1000)
    tasks_done = runner().wait(2.0)  # store writes and exports finish; a hung keyring call does not hold us
    chat = window.context.chat if getattr(window, "context", None) is not None else None
    if (chat is not None and chat.running_threads()) or not threads_done or not tasks_done:
        # A request stuck where no socket exists yet (e.g. inside DNS resolution) cannot be woken;
        # don't let it hold the process open after the user quit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
