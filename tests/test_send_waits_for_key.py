"""A message sent while the start-up keyring read is still running waits for the key.

Before, it went out at once without the key: an OpenAI profile got the "no API key" notice, and a
profile for any other server sent ``Bearer no-key`` (a 401 from a proxy that wants the saved key).
Now the message is shown and saved, the status line says it waits for the keyring, Stop cancels it,
and it goes out with the key when the keyring answers; when the keyring fails it stays unsent, the
chat says why, and "Try again" sends it. Real window, real key events, a loopback server that
records what it received, a keyring backend that blocks like an unanswered unlock prompt.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import SERVICE, KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Profile, Settings, SettingsStore
from fakeserver import FakeServer, stream
from test_app_keys import BlockingKeyring

STORED = "fake-test-key-stored-while-the-keyring-waits"  # not a real key


def never_asked(*args, **kwargs):
    raise AssertionError("the Settings dialog was opened")


@pytest.fixture
def server():
    srv = FakeServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def started(qtbot, tmp_path, server):
    """The app with a saved key for the loopback server, its keyring read blocked (not answered yet)."""
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    profile = Profile("p1", "Proxy", base_url=server.base_url, key_saved=True)
    SettingsStore(paths).save(Settings(profiles=(profile,), active_profile_id=profile.id))
    backend = BlockingKeyring()
    MemoryKeyring.set_password(backend, SERVICE, "p1", STORED)
    window, chat = create_window({}, paths=paths, keys=KeyStore(backend), ask_settings=never_asked)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(backend.entered.is_set, timeout=5000)
    try:
        yield window, chat, backend
    finally:
        backend.release.set()
        chat.shutdown()


def type_and_enter(qtbot, window, text: str) -> None:
    window.input.setFocus()
    qtbot.keyClicks(window.input, text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)


def test_a_message_sent_during_the_keyring_read_goes_out_with_the_key(qtbot, started, server) -> None:
    window, chat, backend = started
    server.queue(stream(["Hello from the proxy"]))
    type_and_enter(qtbot, window, "sent before the keyring answered")
    assert "sent before the keyring answered" in window.transcript.toPlainText()
    assert window.input.toPlainText() == ""
    assert "Waiting for the system keyring" in window.statusBar().currentMessage()
    assert window.stop_button.isEnabled() and not window.send_button.isEnabled()
    qtbot.wait(300)
    assert server.requests == [], "nothing goes out before the key is there"
    backend.release.set()
    qtbot.waitUntil(lambda: "Hello from the proxy" in window.transcript.toPlainText(), timeout=5000)
    qtbot.waitUntil(lambda: window.send_button.isEnabled(), timeout=5000)
    assert len(server.requests) == 1
    assert server.requests[0].headers["authorization"] == f"Bearer {STORED}"
    assert server.requests[0].json["messages"][-1]["content"] == "sent before the keyring answered"
    assert "No API key" not in window.transcript.toPlainText()


def test_stop_cancels_a_message_waiting_for_the_keyring(qtbot, started, server) -> None:
    window, chat, backend = started
    type_and_enter(qtbot, window, "never mind")
    assert window.stop_button.isEnabled()
    qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert "Not sent" in window.transcript.toPlainText()
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()
    backend.release.set()
    qtbot.waitUntil(lambda: chat.config.api_key == STORED, timeout=5000)
    qtbot.wait(300)
    assert server.requests == [], "a cancelled message is not sent when the key arrives"
    assert "never mind" in window.transcript.toPlainText()  # what the user wrote stays on screen


def test_a_failed_keyring_holds_the_message_and_try_again_sends_it(qtbot, started, server) -> None:
    window, chat, backend = started
    server.queue(stream(["Got it"]))
    type_and_enter(qtbot, window, "are you there")
    backend.locked = True  # the user cancels the unlock prompt
    backend.release.set()
    qtbot.waitUntil(lambda: window.keyring_retry_button.isVisible(), timeout=5000)
    shown = window.transcript.toPlainText()
    assert "Not sent yet" in shown and "stayed locked" in shown
    assert "locked" in window.statusBar().currentMessage()
    assert window.stop_button.isEnabled()
    qtbot.wait(200)
    assert server.requests == [], "no request without the key the profile needs"
    backend.locked = False  # unlocked this time
    qtbot.mouseClick(window.keyring_retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Got it" in window.transcript.toPlainText(), timeout=5000)
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {STORED}"]
    assert "Not sent yet" not in window.transcript.toPlainText(), "the line goes once the message is sent"
    qtbot.waitUntil(lambda: window.send_button.isEnabled(), timeout=5000)


def test_an_openai_profile_no_longer_says_no_key_while_the_keyring_is_read(qtbot, tmp_path) -> None:
    """The reported case: OpenAI's own server, key saved, keyring slow. Stopped before the key
    arrives, so nothing leaves this machine."""
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    SettingsStore(paths).save(Settings(profiles=(Profile("p1", "OpenAI", key_saved=True),), active_profile_id="p1"))
    backend = BlockingKeyring()
    MemoryKeyring.set_password(backend, SERVICE, "p1", STORED)
    window, chat = create_window({}, paths=paths, keys=KeyStore(backend), ask_settings=never_asked)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        qtbot.waitUntil(backend.entered.is_set, timeout=5000)
        type_and_enter(qtbot, window, "hello openai")
        assert "No API key" not in window.transcript.toPlainText()
        assert "hello openai" in window.transcript.toPlainText()
        assert "Waiting for the system keyring" in window.statusBar().currentMessage()
        qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
        assert "Not sent" in window.transcript.toPlainText()
        backend.release.set()
        qtbot.waitUntil(lambda: chat.config.api_key == STORED, timeout=5000)
        assert chat.running_threads() == []
    finally:
        backend.release.set()
        chat.shutdown()
