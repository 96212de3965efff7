"""Start-up: the first frame is the real window with what the settings say, and the chat logic is
loaded and wired in the first event-loop turn after it (``create_window(wire_after_first_paint=True)``,
which ``main()`` uses); a message sent in between is not lost."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.persona_store import PersonaLibrary, PersonaStore
from chatbot_gui.core.personas import BUILTIN_PERSONAS, Persona
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Settings, SettingsStore
from chatting import sent_messages, wait_idle
from fakeserver import FakeServer, stream

ROOT = Path(__file__).resolve().parent.parent
KEY = "fake-test-key-first-frame"
PIRATE = Persona("Pirate", "You are a pirate. Arr.")


def _earlier_run(paths: AppPaths) -> None:
    """What a previous run left: a default persona of the user's own, a larger text."""
    PersonaStore(paths).save(PersonaLibrary(personas=BUILTIN_PERSONAS + (PIRATE,), default_name="Pirate"))
    SettingsStore(paths).save(dataclasses.replace(Settings(), font_zoom=3))


def _shown(window) -> tuple:  # noqa: ANN001 - MainWindow
    return (window.persona_combo.currentText(), window.current_model(), window.zoom,
            window.transcript.font().pointSizeF(), window.input.font().pointSizeF(),
            [action.text() for action in window.menuBar().actions()])


def _actions(window) -> list:  # noqa: ANN001 - MainWindow
    """Every menu's actions and the window's own (Esc), with their shortcuts and whether they work."""
    menus = [(menu.text(), [(a.text(), [k.toString() for k in a.shortcuts()], a.isEnabled(), a.isCheckable())
                            for a in menu.menu().actions()]) for menu in window.menuBar().actions()]
    return menus + [[(a.text(), [k.toString() for k in a.shortcuts()]) for a in window.actions()]]


def test_the_first_frame_shows_what_a_window_wired_at_once_shows(qtbot, tmp_path, fake_server: FakeServer):
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    _earlier_run(paths)
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url}
    at_once, chat = create_window(env, paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None)
    qtbot.addWidget(at_once)
    expected = _shown(at_once)
    assert expected[0] == "Pirate" and expected[2] == 3
    assert expected[5] == ["&File", "&Chat", "&View", "&Settings", "&Help"]
    expected_actions = _actions(at_once)
    assert ("&Quit", ["Ctrl+Q"], True, False) in expected_actions[0][1]
    at_once.close()
    assert chat.shutdown(3000)

    window, none = create_window(env, paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None,
                                 wire_after_first_paint=True)
    qtbot.addWidget(window)
    assert none is None and getattr(window, "context", None) is None  # nothing of the chat logic yet
    assert _shown(window) == expected  # before the first paint: no value corrected after it
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: getattr(window, "context", None) is not None and window.context.chat is not None)
    chat = window.context.chat
    qtbot.waitUntil(lambda: window.history_controller.store is not None and chat.config.api_key == KEY)
    assert _shown(window) == expected
    assert _actions(window) == expected_actions  # the menus' actions, made after the first paint
    # The scroll bar's container is made opaque after the first paint (messages/view.py), as the
    # window made at once has it once painted: streamed frames repaint the scroll bar alone.
    qtbot.waitUntil(lambda: window.transcript.verticalScrollBar().parentWidget().autoFillBackground())
    assert chat.conversation.persona == PIRATE
    window.close()
    assert chat.shutdown(3000)


def test_enter_pressed_before_the_chat_is_wired_sends_once_it_is(qtbot, tmp_path, fake_server: FakeServer):
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    _earlier_run(paths)
    fake_server.queue(stream(["Arr, ahoy."]))
    window, _ = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url}, paths=paths,
                              keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None,
                              wire_after_first_paint=True)
    qtbot.addWidget(window)
    qtbot.keyClicks(window.input, "Ahoy?")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    assert window.input.toPlainText() == "Ahoy?"  # held, not dropped
    window.show()
    qtbot.waitUntil(lambda: len(fake_server.requests) == 1)
    chat = window.context.chat
    assert sent_messages(fake_server) == [{"role": "system", "content": "You are a pirate. Arr."},
                                          {"role": "user", "content": "Ahoy?"}]
    wait_idle(qtbot, chat)
    assert "Arr, ahoy." in window.transcript.toPlainText()
    assert window.input.toPlainText() == ""
    window.close()
    assert chat.shutdown(3000)


# main() in a child process: at the first paint none of the chat logic is imported; right after, it is.
CHILD = r"""
import sys
import chatbot_gui.app as app_module
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from PySide6.support import feature

scanned = []  # the app's modules main() imports whose source PySide6 read (app._skip_pyside_source_scan)
real_scan = feature._mod_uses_pyside
loaded = set(sys.modules) | {"chatbot_gui.cli"}  # (main() imports cli before PySide6)

def scan(module):
    name = getattr(module, "__name__", "")
    if name.startswith("chatbot_gui.") and name not in loaded:
        scanned.append(name)
    return real_scan(module)

feature._mod_uses_pyside = scan

LOGIC = ("chatbot_gui.ui.controller", "chatbot_gui.ui.history_controller", "chatbot_gui.core.conversation",
         "chatbot_gui.core.learned", "chatbot_gui.core.windows", "chatbot_gui.core.usage", "chatbot_gui.core.connection")
REQUEST = ("chatbot_gui.core.streaming", "chatbot_gui.core.sse", "chatbot_gui.ui.worker")
SDK = ("openai", "httpx2", "pydantic")
RENDER = ("markdown_it", "linkify_it", "pygments.lexers.python")
real = app_module.create_window

def create_window(*args, **kwargs):
    window, controller = real(*args, **kwargs)
    real_paint = type(window).paintEvent

    def report_first(event):
        real_paint(window, event)
        if not hasattr(window, "reported"):
            window.reported = True
            print("at first paint", [m for m in LOGIC + RENDER if m in sys.modules], flush=True)
    window.paintEvent = report_first

    def after():
        chat = window.context.chat
        print("after", [m for m in LOGIC if m not in sys.modules], type(chat).__name__, flush=True)
        print("scanned", scanned, flush=True)

    def idle():  # a moment later, still before any request: what a first Enter and the first reply's
        # rendering need has loaded (the lexer compiled), the SDK has not
        from chatbot_gui.ui.render import markdown_html
        print("idle", [m for m in REQUEST + RENDER if m not in sys.modules], [m for m in SDK if m in sys.modules],
              markdown_html._lexer.cache_info().currsize == len(markdown_html.WARM_LANGUAGES), flush=True)
        QApplication.instance().quit()
    window.after_first_paint(lambda: QTimer.singleShot(100, after))
    window.after_first_paint(lambda: QTimer.singleShot(app_module.PRELOAD_AFTER_MS + 1500, idle))
    return window, controller

app_module.create_window = create_window
sys.exit(app_module.main(["chatbot"]))
"""


def test_main_loads_the_chat_logic_after_the_first_paint(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"), OPENAI_API_KEY=KEY, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    (tmp_path / "run").mkdir(mode=0o700)
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=str(ROOT), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["at first paint []", "after [] ChatController", "scanned []",
                                            "idle [] [] True"], done.stdout + done.stderr
