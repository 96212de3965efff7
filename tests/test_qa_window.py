"""Defects found by trying the real window under Xvfb as a person would (issue 9 follow-ups).

Each test drives the real window (create_window, a loopback server through the real client) and
asserts what the user sees."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from fakeserver import stream


@pytest.fixture
def app(qtbot, tmp_path, fake_server):
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    window, chat = create_window({"OPENAI_API_KEY": "sk-qa-window-000000", "OPENAI_BASE_URL": fake_server.base_url},
                                 paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.history_controller.store is not None and chat.config.api_key is not None)
    yield window, chat
    assert chat.shutdown(3000)


def send_and_wait(qtbot, window, chat, text: str) -> None:
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=5000)


def test_at_500_by_400_the_undo_bar_still_says_what_was_deleted(qtbot, app, fake_server):
    """Seen at 500x400: the bar read "Del……”." beside its Undo button (no word of the name left)."""
    window, chat = app
    window.resize(500, 400)
    fake_server.queue(stream(["ok"]))
    send_and_wait(qtbot, window, chat, "hello")
    title = "Trip planning with many stops ending in Lisbon"
    window.history_controller.rename_chat(chat.conversation.chat_id, title)
    window.history_controller.delete_chat(chat.conversation.chat_id)
    bar = window.sidebar.undo_bar
    qtbot.waitUntil(bar.isVisible)
    qtbot.wait(50)  # laid out
    text = bar.label.text()
    assert text.startswith("Deleted “T") and text.endswith("n”."), text
    name_shown = text[len("Deleted “"):-len("”.")].replace("…", "")
    assert len(name_shown) >= 8, f"too little of the name is left: {text!r}"
    assert bar.label.fontMetrics().horizontalAdvance(text) <= bar.label.width()
    assert bar.undo_button.isVisible() and bar.undo_button.width() >= bar.undo_button.sizeHint().width()
    assert bar.label.geometry().bottom() < bar.undo_button.geometry().top(), "the label has a row of its own"
    # A wide sidebar: one row again, the button beside the label.
    window.sidebar.setFixedWidth(400)
    qtbot.waitUntil(lambda: abs(bar.label.geometry().center().y() - bar.undo_button.geometry().center().y()) < 8)
    qtbot.waitUntil(lambda: bar.label.text().startswith("Deleted “Trip pl"))


def test_at_500_by_400_the_connection_line_leaves_room_for_the_status(qtbot, app):
    """Seen at 500x400 with OPENAI_BASE_URL and a key saved for another server: the connection line
    ("localhost:… (OPENAI_BASE_URL) · no key for this server (the saved one is f") took the whole
    status bar, cut off, and "Sending…" / "Waiting for the system keyring…" could not be seen."""
    window, chat = app
    window.resize(500, 400)
    long = "localhost:35009 (OPENAI_BASE_URL) · no key for this server (the saved one is for another)"
    window.set_connection_label(long)
    window.show_status("Receiving reply… (Esc to stop)", 0)
    qtbot.wait(50)
    label = window.connection_label
    status_room = label.geometry().left()
    assert status_room >= label.fontMetrics().horizontalAdvance("Receiving reply… (Esc to stop)")
    assert label.width() <= window.width() // 2
    assert label.text() == long and label.toolTip() == long  # all of it on hover
    # A wide window shows the whole line, as before.
    window.resize(1400, 700)
    qtbot.waitUntil(lambda: label.width() >= label.fontMetrics().horizontalAdvance(long),
                    timeout=2000)


LONG_MODEL = "accounts/fireworks/models/llama-v3p1-405b-instruct-long-context"
LONG_PERSONA = "A very long persona name for the marketing department"


@pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support grabbing")
@pytest.mark.parametrize("which", ["model", "persona"])
def test_at_500_by_400_an_open_picker_lists_whole_names(qtbot, app, which):
    """Seen at 500x400: the model list opened only as wide as the shrunken picker and read
    "accoun…ontext"; an open list may be wider than its picker (as long as the window)."""
    from chatbot_gui.core.personas import BUILTIN_PERSONAS, Persona

    window, chat = app
    window.resize(500, 400)
    if which == "model":
        window.set_models(["gpt-4o-mini", LONG_MODEL], "gpt-4o-mini")
        combo, name = window.model_combo, LONG_MODEL
    else:
        window.set_personas(BUILTIN_PERSONAS + (Persona(LONG_PERSONA, ""),), BUILTIN_PERSONAS[0].name)
        combo, name = window.persona_combo, LONG_PERSONA
    qtbot.wait(50)
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    needed = view.fontMetrics().horizontalAdvance(name)
    assert view.viewport().width() >= min(needed, window.width() - 40), (view.viewport().width(), needed)
    combo.hidePopup()
