"""Keys and the keyring in the running app and the Settings dialog (issue 9).

- First start: the cursor waits in the key field; paste + Enter saves; Shift+Tab reaches the address.
- A key goes only to the server it was saved for (two loopback servers = two hosts, each recording
  the Authorization header it received through the real openai client); Settings shows and tests the
  server actually in use (OPENAI_BASE_URL).
- The keyring never freezes the window: a backend that blocks on an Event, keyring's own errors
  (KeyringLocked), and a keyring that never answers (timeout) - while a QTimer keeps firing.
- A profile with no key saved does not ask the keyring; a never-named profile follows its server.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from keyring.errors import InitError, KeyringLocked
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

import chatbot_gui.ui.settings_controller as settings_controller
import chatbot_gui.ui.settings_dialog as settings_dialog
from chatbot_gui.app import create_window
from chatbot_gui.core.connection import DEFAULT_BASE_URL
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import SERVICE, KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Profile, Settings, SettingsStore
from chatbot_gui.ui.models_thread import running_models_threads
from chatbot_gui.ui.settings_dialog import SettingsDialog

KEY = "sk-pasted-first-start-3b9f0c2a"
STORED = "sk-stored-for-first-host-81c4"
OK = QDialogButtonBox.StandardButton.Ok


class BlockingKeyring(MemoryKeyring):
    """A keyring whose calls wait until ``release`` is set (an unlock prompt nobody answered yet)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()
        self.reads = 0
        self.locked = False  # raise KeyringLocked, as SecretService does when the prompt is dismissed
        self.error: type[Exception] = KeyringLocked

    def _wait(self) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.locked:
            raise self.error("Failed to unlock the collection!")

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        self._wait()
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._wait()
        super().set_password(service, username, password)


@pytest.fixture
def app_paths(tmp_path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


def start(qtbot, app_paths, keys, env=None, ask=None):
    extra = {"ask_settings": ask} if ask is not None else {}
    window, chat = create_window(env or {}, paths=app_paths, keys=keys, **extra)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window, chat


def send(qtbot, window, chat, text: str) -> None:
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=5000)


def ticking(qtbot):
    """A QTimer on the GUI thread; its tick count proves the event loop keeps running."""
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    return timer, ticks


def saved_profile(app_paths, profile: Profile) -> None:
    SettingsStore(app_paths).save(Settings(profiles=(profile,), active_profile_id=profile.id))


def never_asked(*args, **kwargs):
    raise AssertionError("the Settings dialog was opened")


# -- first start -----------------------------------------------------------------------------------
def test_first_start_paste_and_enter_saves_the_key_and_chats(qtbot, app_paths, hosts) -> None:
    """The real modal dialog, driven with key events only: Ctrl+V into the focused field, Enter."""
    server, _ = hosts
    backend = MemoryKeyring()
    seen: dict[str, object] = {}

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog) or not dialog.isVisible():
            QTimer.singleShot(20, answer)
            return
        try:
            page = dialog.connection
            seen["focus"] = dialog.focusWidget()
            page.url_edit.setText(server.base_url)  # a local server, so the test needs no network
            qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
            seen["shift_tab"] = dialog.focusWidget()
            qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
            QApplication.clipboard().setText(f" {KEY}\n")
            qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
            qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)
        except BaseException as exc:
            seen["error"] = exc
            dialog.reject()

    QTimer.singleShot(0, answer)
    window, chat = start(qtbot, app_paths, KeyStore(backend))
    qtbot.waitUntil(lambda: chat.config.api_key == KEY or "error" in seen, timeout=5000)
    QApplication.clipboard().clear()
    assert "error" not in seen, seen.get("error")
    assert seen["shift_tab"] is not None and seen["shift_tab"].objectName() == "baseUrl"
    assert seen["focus"] is not None and seen["focus"].objectName() == "apiKey"
    assert backend.get_password(SERVICE, "default") == KEY
    send(qtbot, window, chat, "hello")
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    chat.shutdown()


def test_first_start_dialog_focuses_the_key_and_tab_follows_the_page(qtbot) -> None:
    dialog = SettingsDialog(Settings(), KeyStore(MemoryKeyring()), {}, first_run=True)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    page = dialog.connection
    assert dialog.focusWidget() is page.key_edit
    order = []
    for _ in range(4):
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
        order.append(dialog.focusWidget().objectName())
    assert order == ["baseUrl", "preset", "profileName", "addProfile"]  # Delete is disabled: one profile
    for _ in range(4):
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    assert dialog.focusWidget() is page.key_edit
    qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    assert dialog.focusWidget() is page.show_key
    dialog.close()


# -- keys go only where they were saved for ------------------------------------------------------
def test_openai_base_url_without_a_key_never_gets_the_stored_key(qtbot, app_paths, hosts) -> None:
    server, _ = hosts
    keys = KeyStore(MemoryKeyring())
    keys.set("default", STORED)
    saved_profile(app_paths, Profile("default", "OpenAI", key_saved=True))
    window, chat = start(qtbot, app_paths, keys, env={"OPENAI_BASE_URL": server.base_url}, ask=never_asked)
    qtbot.waitUntil(lambda: "OPENAI_BASE_URL" in window.connection_label.text())
    send(qtbot, window, chat, "hi")
    assert server.requests, "the chat went to the server in OPENAI_BASE_URL"
    assert STORED not in server.requests[-1].headers.get("authorization", "")
    assert "127.0.0.1" in window.connection_label.text() and "OpenAI ·" not in window.connection_label.text()
    chat.shutdown()


def test_settings_shows_and_tests_the_server_in_use(qtbot, hosts) -> None:
    env_server, profile_server = hosts
    keys = KeyStore(MemoryKeyring())
    keys.set("p1", STORED)
    settings = Settings(profiles=(Profile("p1", "Mine", base_url=profile_server.base_url, key_saved=True),),
                        active_profile_id="p1")
    dialog = SettingsDialog(settings, keys, {"OPENAI_BASE_URL": env_server.base_url})
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.connection
    assert page.env_server.isVisible() and env_server.base_url in page.env_server.text()
    assert "OPENAI_BASE_URL" in page.env_server.text()
    assert "not sent" in page.key_status.text()
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.test_result.text().startswith("Connected"), timeout=5000)
    assert [r.path for r in env_server.requests] == ["/v1/models"] and not profile_server.requests
    assert STORED not in env_server.requests[-1].headers.get("authorization", "")
    dialog.close()


def test_a_changed_server_does_not_get_the_old_key_until_the_user_says_so(qtbot, app_paths, hosts) -> None:
    first, second = hosts
    keys = KeyStore(MemoryKeyring())
    keys.set("p1", STORED)
    saved_profile(app_paths, Profile("p1", "Work", base_url=first.base_url, key_saved=True))
    asked = []

    def move_to_second(parent, settings, keys, env, first_run=False, personas=None):
        dialog = SettingsDialog(settings, keys, env, first_run, parent)
        qtbot.addWidget(dialog)
        dialog.show()
        page = dialog.connection
        page.url_edit.clear()
        qtbot.keyClicks(page.url_edit, second.base_url)
        assert "not sent" in page.key_status.text() and page.use_saved_key.isVisible()
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.test_result.text() != "Connecting…", timeout=5000)
        if asked:  # the second time: the user says the saved key belongs to the new server
            qtbot.mouseClick(page.use_saved_key, Qt.MouseButton.LeftButton)
            assert not page.use_saved_key.isVisible()
        asked.append(1)
        qtbot.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.saving)
        return settings_dialog.DialogResult(dialog.result_settings())

    window, chat = start(qtbot, app_paths, keys, ask=move_to_second)
    qtbot.waitUntil(lambda: chat.config.api_key == STORED)
    window.settings_controller.open_settings()
    assert all(STORED not in r.headers.get("authorization", "") for r in second.requests)
    send(qtbot, window, chat, "to the new server")
    assert second.requests[-1].path == "/v1/chat/completions"
    assert STORED not in second.requests[-1].headers.get("authorization", ""), "the key stayed behind"
    assert "another" in window.connection_label.text()
    window.settings_controller.open_settings()  # this time "Use the saved key here"
    send(qtbot, window, chat, "now with the key")
    assert second.requests[-1].headers["authorization"] == f"Bearer {STORED}"
    stored = json.loads((app_paths.config_dir / "settings.json").read_text())["profiles"][0]
    assert stored["key_server"] == second.base_url and STORED not in json.dumps(stored)
    chat.shutdown()


def test_switching_the_preset_or_emptying_the_address_sends_no_key(qtbot) -> None:
    keys = KeyStore(MemoryKeyring())
    keys.set("default", STORED)
    dialog = SettingsDialog(Settings(profiles=(Profile("default", "OpenAI", key_saved=True),)), keys, {})
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.connection
    assert page.current_config().api_key == STORED
    page.preset_combo.setFocus()
    target = page.preset_combo.findText("OpenRouter")
    while page.preset_combo.currentIndex() != target:
        qtbot.keyClick(page.preset_combo, Qt.Key.Key_Down)
    assert page.url_edit.text() == "https://openrouter.ai/api/v1"
    assert page.current_config().api_key is None and page.use_saved_key.isVisible()
    page.url_edit.clear()
    qtbot.keyClick(page.url_edit, Qt.Key.Key_Backspace)
    assert page.current_config().api_key is None
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.test_result.text() == "Enter the server address first."
    assert running_models_threads() == 0
    dialog.close()


# -- the keyring never freezes the window ----------------------------------------------------------
def test_a_blocked_keyring_leaves_the_window_alive_and_says_so(qtbot, app_paths, hosts) -> None:
    server, _ = hosts
    backend = BlockingKeyring()
    MemoryKeyring.set_password(backend, SERVICE, "p1", STORED)
    saved_profile(app_paths, Profile("p1", "Local", base_url=server.base_url, key_saved=True))
    timer, ticks = ticking(qtbot)
    try:
        window, chat = start(qtbot, app_paths, KeyStore(backend), ask=never_asked)
        qtbot.waitUntil(backend.entered.is_set, timeout=5000)
        before = len(ticks)
        qtbot.wait(400)
        assert len(ticks) - before >= 8, "the GUI thread kept running while the keyring blocked"
        assert "Waiting for the system keyring" in window.statusBar().currentMessage()
        assert "waiting for the keyring" in window.connection_label.text()
        backend.release.set()
        qtbot.waitUntil(lambda: chat.config.api_key == STORED, timeout=5000)
        assert "Waiting" not in window.statusBar().currentMessage()
        send(qtbot, window, chat, "hi")
        assert server.requests[-1].headers["authorization"] == f"Bearer {STORED}"
        chat.shutdown()
    finally:
        backend.release.set()
        timer.stop()


@pytest.mark.parametrize(("error", "words"), [(KeyringLocked, "locked"), (InitError, "keyring failed")])
def test_a_cancelled_unlock_prompt_says_so_and_try_again_reads_the_key(qtbot, app_paths, hosts, error,
                                                                        words) -> None:
    server, _ = hosts
    backend = BlockingKeyring()
    backend.locked = True
    backend.error = error
    backend.release.set()
    MemoryKeyring.set_password(backend, SERVICE, "p1", STORED)
    saved_profile(app_paths, Profile("p1", "Local", base_url=server.base_url, key_saved=True))
    window, chat = start(qtbot, app_paths, KeyStore(backend), ask=never_asked)
    qtbot.waitUntil(lambda: window.keyring_retry_button.isVisible(), timeout=5000)
    message = window.statusBar().currentMessage()
    assert words in message and "Try again" in message
    assert chat.config.api_key is None
    backend.locked = False  # the user unlocks it this time
    qtbot.mouseClick(window.keyring_retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: chat.config.api_key == STORED, timeout=5000)
    assert not window.keyring_retry_button.isVisible()
    chat.shutdown()


def test_a_keyring_that_never_answers_times_out(qtbot, app_paths, hosts, monkeypatch) -> None:
    server, _ = hosts
    monkeypatch.setattr(settings_controller, "KEYRING_TIMEOUT", 0.3)
    backend = BlockingKeyring()
    saved_profile(app_paths, Profile("p1", "Local", base_url=server.base_url, key_saved=True))
    try:
        window, chat = start(qtbot, app_paths, KeyStore(backend), ask=never_asked)
        qtbot.waitUntil(lambda: window.keyring_retry_button.isVisible(), timeout=5000)
        assert "did not answer within 0.3 s" in window.statusBar().currentMessage()
        chat.shutdown()
    finally:
        backend.release.set()


def test_ok_waits_for_a_blocked_keyring_without_freezing_and_times_out(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(settings_dialog, "KEYRING_TIMEOUT", 0.5)
    backend = BlockingKeyring()
    dialog = SettingsDialog(Settings(), KeyStore(backend), {})
    qtbot.addWidget(dialog)
    dialog.show()
    timer, ticks = ticking(qtbot)
    try:
        qtbot.keyClicks(dialog.connection.key_edit, KEY)
        qtbot.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)
        assert dialog.saving and "Saving in the system keyring" in dialog.error_label.text()
        before = len(ticks)
        qtbot.waitUntil(lambda: not dialog.saving, timeout=5000)
        assert len(ticks) - before >= 5
        assert dialog.isVisible() and "did not answer within" in dialog.error_label.text()
        assert dialog.connection.session_only.isVisible(), "the key can still be used until quit"
        assert KEY not in dialog.error_label.text()
        backend.release.set()  # the keyring answers after all; OK again stores the key
        qtbot.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
        assert backend.get_password(SERVICE, "default") == KEY
        assert dialog.result_settings().active_profile.key_saved is True
    finally:
        backend.release.set()
        timer.stop()


def test_typing_the_server_address_never_asks_the_keyring(qtbot) -> None:
    backend = BlockingKeyring()
    backend.release.set()
    MemoryKeyring.set_password(backend, SERVICE, "default", STORED)
    settings = Settings(profiles=(Profile("default", "OpenAI", key_saved=True),))
    dialog = SettingsDialog(settings, KeyStore(backend), {})
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.connection
    page.url_edit.clear()
    qtbot.keyClicks(page.url_edit, "http://localhost:4000/v1")
    assert backend.reads == 0
    assert "not sent" in page.key_status.text()
    dialog.close()


def test_an_unknown_key_is_looked_up_off_the_gui_thread(qtbot) -> None:
    backend = BlockingKeyring()
    MemoryKeyring.set_password(backend, SERVICE, "default", STORED)
    try:
        dialog = SettingsDialog(Settings(profiles=(Profile("default", "OpenAI"),)), KeyStore(backend), {})
        qtbot.addWidget(dialog)
        dialog.show()  # an older settings file: whether a key is saved is not known
        qtbot.waitUntil(backend.entered.is_set, timeout=5000)
        assert "Checking the system keyring" in dialog.connection.key_status.text()
        backend.release.set()
        qtbot.waitUntil(lambda: "saved in the system keyring" in dialog.connection.key_status.text())
        dialog.close()
    finally:
        backend.release.set()


def test_a_profile_with_no_key_saved_never_asks_the_keyring(qtbot, app_paths) -> None:
    backend = BlockingKeyring()
    backend.release.set()
    asked = []

    def cancel(parent, settings, keys, env, first_run=False, personas=None):
        asked.append(first_run)
        return None

    window, chat = start(qtbot, app_paths, KeyStore(backend), ask=cancel)  # a first start: no settings file
    qtbot.waitUntil(lambda: asked == [True])
    assert backend.reads == 0
    window.close()
    chat.shutdown()
    saved = json.loads((app_paths.config_dir / "settings.json").read_text())
    assert saved["profiles"][0]["key_saved"] is False
    window2, chat2 = start(qtbot, app_paths, KeyStore(backend), ask=cancel)
    qtbot.waitUntil(lambda: asked == [True, True])
    assert backend.reads == 0
    chat2.shutdown()


# -- names follow servers ---------------------------------------------------------------------------
def test_a_never_named_profile_is_called_after_its_server(qtbot, app_paths, hosts) -> None:
    server, _ = hosts
    keys = KeyStore(MemoryKeyring())

    def to_local(parent, settings, keys, env, first_run=False, personas=None):
        dialog = SettingsDialog(settings, keys, env, first_run, parent)
        qtbot.addWidget(dialog)
        dialog.show()
        page = dialog.connection
        assert page.name_edit.text() == "OpenAI"
        page.url_edit.clear()
        qtbot.keyClicks(page.url_edit, server.base_url)
        assert page.name_edit.text() == server.base_url.split("//")[1].split("/")[0]
        assert page.profile_combo.currentText() == page.name_edit.text()
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(page.name_edit, "My LiteLLM")  # named by the user: it stays
        page.url_edit.clear()
        qtbot.keyClicks(page.url_edit, "http://localhost:4000")
        assert page.name_edit.text() == "My LiteLLM"
        page.profile_combo.setCurrentIndex(0)
        qtbot.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.saving)
        return settings_dialog.DialogResult(dialog.result_settings())

    window, chat = start(qtbot, app_paths, keys, ask=to_local)
    qtbot.waitUntil(lambda: chat.config.base_url == server.base_url)
    assert window.connection_label.text().startswith("127.0.0.1:")
    assert [p.name for p in window.settings_controller.settings.profiles][1] == "My LiteLLM"
    assert DEFAULT_BASE_URL not in chat.config.base_url
    chat.shutdown()


def test_test_connection_reads_an_unknown_key_off_the_gui_thread(qtbot, hosts) -> None:
    server, _ = hosts
    backend = BlockingKeyring()
    MemoryKeyring.set_password(backend, SERVICE, "p1", STORED)
    settings = Settings(profiles=(Profile("p1", "Older file", base_url=server.base_url),), active_profile_id="p1")
    try:
        dialog = SettingsDialog(settings, KeyStore(backend), {})
        qtbot.addWidget(dialog)
        dialog.show()
        page = dialog.connection
        qtbot.waitUntil(backend.entered.is_set, timeout=5000)
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        assert page.test_result.text() == "Connecting…"
        qtbot.keyClicks(page.name_edit, " still typing")  # the dialog answers while the keyring blocks
        assert page.name_edit.text().endswith("still typing") and not server.requests
        backend.release.set()
        qtbot.waitUntil(lambda: page.test_result.text().startswith("Connected"), timeout=5000)
        assert server.requests[-1].headers["authorization"] == f"Bearer {STORED}"
        dialog.close()
    finally:
        backend.release.set()
