"""Settings in the running app: first start, later starts, Ctrl+, profiles, models, window state.

The real Settings dialog is filled in and confirmed through qtbot (only its modal ``exec`` is skipped),
the key lives in an in-memory keyring (the real Secret Service test is at the end), requests go to the
loopback server through the real openai client.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import SERVICE, KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Profile, Settings, SettingsStore
from chatbot_gui.ui.settings_dialog import DialogResult, SettingsDialog
from fakeserver import FakeServer, error, stream

KEY = "sk-dialog-typed-5f3c2a1b0e9d8c7b"


@pytest.fixture
def app_paths(tmp_path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


@pytest.fixture
def keys() -> KeyStore:
    return KeyStore(MemoryKeyring())


class DialogDriver:
    """Stands in for the modal ``ask``: builds the real dialog, lets a test fill it, presses OK."""

    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot
        self.calls: list[bool] = []
        self.fill = None  # callable(dialog) or None to press Cancel

    def __call__(self, parent, settings, keys, env, first_run=False, personas=None):
        self.calls.append(first_run)
        dialog = SettingsDialog(settings, keys, env, first_run, parent, personas=personas)
        self.qtbot.addWidget(dialog)
        dialog.show()
        if self.fill is None:
            dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
            return None
        self.fill(dialog)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        self.qtbot.waitUntil(lambda: not dialog.saving, timeout=5000)  # keyring writes run off the GUI thread
        if dialog.result_settings() is None:
            return None
        return DialogResult(dialog.result_settings(), dialog.result_personas())


def start(qtbot, app_paths, keys, driver, env=None):
    window, chat = create_window(env or {}, paths=app_paths, keys=keys, ask_settings=driver)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window, chat


def send(qtbot, window, chat, text):
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=5000)


def enter_server_and_key(server: FakeServer, key: str = KEY):
    def fill(dialog):
        page = dialog.connection
        page.url_edit.setText(server.base_url)
        page.key_edit.setFocus()
        dialog.window().activateWindow()
        page.key_edit.setText("")
        page.key_edit.insert(f"  {key}\n")  # pasted with whitespace around it
    return fill


def test_first_start_asks_once_then_chats_at_once_and_later_starts_never_ask(qtbot, app_paths, keys, fake_server):
    driver = DialogDriver(qtbot)
    driver.fill = enter_server_and_key(fake_server)
    window, chat = start(qtbot, app_paths, keys, driver)
    qtbot.waitUntil(lambda: driver.calls == [True])
    qtbot.waitUntil(lambda: chat.config.api_key == KEY)
    send(qtbot, window, chat, "hello")
    assert fake_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert "key in system keyring" in window.connection_label.text()
    window.close()
    chat.shutdown()

    # A later start: the key comes from the keyring, nobody asks.
    again = DialogDriver(qtbot)
    window2, chat2 = start(qtbot, app_paths, keys, again)
    qtbot.waitUntil(lambda: chat2.config.api_key == KEY)
    send(qtbot, window2, chat2, "hello again")
    assert again.calls == []
    assert fake_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    saved = (app_paths.config_dir / "settings.json").read_text()
    assert KEY not in saved and fake_server.base_url in saved
    chat2.shutdown()


def test_cancelling_the_first_start_dialog_says_how_to_add_a_key(qtbot, app_paths, keys):
    driver = DialogDriver(qtbot)
    window, chat = start(qtbot, app_paths, keys, driver)
    qtbot.waitUntil(lambda: driver.calls == [True])
    assert any("Open Settings (Ctrl+,)" in n for n in window.transcript.blocks_of_kind("notice"))
    chat.shutdown()


def test_ctrl_comma_opens_settings_and_changes_apply_to_the_next_request(qtbot, app_paths, keys):
    first, second = FakeServer(), FakeServer()
    try:
        settings = Settings(
            profiles=(Profile("p-one", "One", base_url=first.base_url, default_model="model-one"),
                      Profile("p-two", "Two", base_url=second.base_url, default_model="model-two",
                              models=("model-two", "model-two-large"))),
            active_profile_id="p-one",
        )
        SettingsStore(app_paths).save(settings)
        keys.set("p-one", "sk-one-0000000000")
        keys.set("p-two", "sk-two-0000000000")
        driver = DialogDriver(qtbot)
        window, chat = start(qtbot, app_paths, keys, driver)
        qtbot.waitUntil(lambda: chat.config.api_key == "sk-one-0000000000")
        assert window.current_model() == "model-one"
        send(qtbot, window, chat, "to one")
        assert first.requests[-1].json["model"] == "model-one"

        def switch(dialog):
            page = dialog.connection
            page.profile_combo.setCurrentIndex(1)
        driver.fill = switch
        qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
        assert driver.calls == [False]
        # The model picker now lists the second server's models.
        items = [window.model_combo.itemText(i) for i in range(window.model_combo.count())]
        assert items[:2] == ["model-two", "model-two-large"]
        send(qtbot, window, chat, "to two")
        assert second.requests[-1].json["model"] == "model-two"
        assert second.requests[-1].headers["authorization"] == "Bearer sk-two-0000000000"
        assert len(first.requests) == 1
        # Both turns went with the conversation, whatever server answered.
        assert [m["content"] for m in second.requests[-1].json["messages"] if m["role"] == "user"] == ["to one", "to two"]
        chat.shutdown()
    finally:
        first.close()
        second.close()


def test_environment_key_overrides_and_is_shown_as_such(qtbot, app_paths, keys, fake_server):
    keys.set("default", "sk-stored-1111111111")
    driver = DialogDriver(qtbot)
    window, chat = start(qtbot, app_paths, keys, driver,
                         env={"OPENAI_API_KEY": "sk-env-2222222222", "OPENAI_BASE_URL": fake_server.base_url})
    qtbot.waitUntil(lambda: chat.config.api_key == "sk-env-2222222222")
    assert "key from environment" in window.connection_label.text()
    send(qtbot, window, chat, "hi")
    assert fake_server.requests[-1].headers["authorization"] == "Bearer sk-env-2222222222"
    assert keys.get("default") == "sk-stored-1111111111", "the environment key is never stored"
    chat.shutdown()


def test_window_geometry_and_model_are_remembered(qtbot, app_paths, keys, fake_server):
    keys.set("default", "sk-stored-1111111111")
    driver = DialogDriver(qtbot)
    window, chat = start(qtbot, app_paths, keys, driver)
    window.resize(733, 577)
    window.model_combo.setEditText("my-model")
    window.close()
    saved = SettingsStore(app_paths).load()[0]
    assert saved.window_geometry and saved.active_profile.default_model == "my-model"
    window2, chat2 = start(qtbot, app_paths, keys, driver)
    assert (window2.width(), window2.height()) == (733, 577)
    assert window2.current_model() == "my-model"
    chat.shutdown()
    chat2.shutdown()


def test_a_corrupt_settings_file_is_set_aside_with_a_visible_notice(qtbot, app_paths, keys):
    app_paths.config_dir.mkdir(parents=True)
    (app_paths.config_dir / "settings.json").write_text("{ not json")
    keys.set("default", "sk-stored-1111111111")
    window, chat = start(qtbot, app_paths, keys, DialogDriver(qtbot))
    # An app-level notice: in the window's banner, not in a chat (loading a chat cannot wipe it).
    notices = " ".join(window.notices())
    assert "settings" in notices.lower() and window.banner.isVisible()
    assert not window.transcript.blocks_of_kind("notice")
    aside = [p.name for p in app_paths.config_dir.iterdir() if p.name.startswith("settings.json.corrupt-")]
    assert len(aside) == 1
    chat.shutdown()


def test_a_key_entered_in_the_dialog_leaks_nowhere(qtbot, app_paths, keys, fake_server, tmp_path, caplog,
                                                    monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    secret = "sk-leakcheck-9q8w7e6r5t4y3u2i1o0p"
    driver = DialogDriver(qtbot)
    driver.fill = enter_server_and_key(fake_server, secret)
    window, chat = start(qtbot, app_paths, keys, driver)
    qtbot.waitUntil(lambda: chat.config.api_key == secret)
    send(qtbot, window, chat, "hello")
    # An error reply whose body echoes the key, as OpenAI's 401 does.
    fake_server.queue(error(401, {"error": {"message": f"Incorrect API key provided: {secret}.",
                                            "code": "invalid_api_key"}}))
    send(qtbot, window, chat, "again")
    assert window.transcript.blocks_of_kind("error")
    # An error shown in a dialog: Test connection against a server that echoes the key.
    fake_server.queue(error(401, {"error": {"message": f"bad key {secret}"}}))

    def test_connection(dialog):
        dialog.connection.test_button.click()
        qtbot.waitUntil(lambda: dialog.connection.test_result.text() != "" and
                        "Testing" not in dialog.connection.test_result.text(), timeout=5000)
        assert secret not in dialog.connection.test_result.text()
    driver.fill = test_connection
    window.settings_controller.open_settings()
    # Export the chat in every format: no key in any of them (checked with every file below).
    for fmt in ("txt", "md", "json"):
        window.history_controller.ask = _SaveTo(tmp_path / "exports" / f"chat.{fmt}", fmt)
        window.export_action.trigger()
        assert (tmp_path / "exports" / f"chat.{fmt}").exists()
    window.close()
    chat.shutdown()
    visible = window.transcript.toPlainText() + window.windowTitle() + window.connection_label.text()
    assert secret not in visible
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"key leaked into {path}"
    assert secret not in caplog.text


class _SaveTo:
    def __init__(self, path: Path, fmt: str) -> None:
        self.answer = (path, fmt)

    def ask_save_path(self, suggested):
        return self.answer

    def warn(self, title, text):
        raise AssertionError(text)


@pytest.mark.keyring_service
@pytest.mark.skipif(not os.environ.get("CHATBOT_TEST_SECRET_SERVICE"),
                    reason="set CHATBOT_TEST_SECRET_SERVICE=1 inside dbus-run-session with an unlocked "
                           "gnome-keyring (docs/platform.md) to test the real Secret Service")
def test_the_real_secret_service_keeps_the_key_across_restarts(qtbot, app_paths, fake_server):
    from chatbot_gui.core.secrets import select_backend

    backend, reason = select_backend()
    assert backend is not None, reason
    real = KeyStore()  # the app's own backend selection
    secret = "sk-secretservice-" + os.urandom(6).hex()
    driver = DialogDriver(qtbot)
    driver.fill = enter_server_and_key(fake_server, secret)
    window, chat = start(qtbot, app_paths, real, driver)
    qtbot.waitUntil(lambda: chat.config.api_key == secret)
    window.close()
    chat.shutdown()
    try:
        looked_up = subprocess.run(["secret-tool", "lookup", "service", SERVICE, "username", "default"],
                                   capture_output=True, text=True, timeout=10)
        assert looked_up.stdout == secret
        window2, chat2 = start(qtbot, app_paths, KeyStore(), DialogDriver(qtbot))
        qtbot.waitUntil(lambda: chat2.config.api_key == secret)
        send(qtbot, window2, chat2, "hi")
        assert fake_server.requests[-1].headers["authorization"] == f"Bearer {secret}"
        assert secret not in (app_paths.config_dir / "settings.json").read_text()
        chat2.shutdown()
    finally:
        KeyStore().delete("default")


def test_models_from_test_connection_fill_the_picker_and_a_new_default_applies(qtbot, app_paths, keys, fake_server):
    keys.set("default", "sk-stored-1111111111")
    SettingsStore(app_paths).save(Settings(profiles=(Profile("default", "Local", base_url=fake_server.base_url),)))
    fake_server.models = ["zeta-model", "alpha-model"]
    driver = DialogDriver(qtbot)
    window, chat = start(qtbot, app_paths, keys, driver)
    qtbot.waitUntil(lambda: chat.config.api_key == "sk-stored-1111111111")

    def test_only(dialog):
        dialog.connection.test_button.click()
        qtbot.waitUntil(lambda: "Connected" in dialog.connection.test_result.text(), timeout=5000)
        assert dialog.connection.model_combo.currentText() == ""  # nothing chosen: no model picked for the user
    driver.fill = test_only
    window.settings_controller.open_settings()
    items = [window.model_combo.itemText(i) for i in range(window.model_combo.count())]
    assert "zeta-model" in items and "alpha-model" in items
    assert window.current_model() == "gpt-4o-mini"  # unchanged: the user chose no new default

    def choose_default(dialog):
        dialog.connection.model_combo.setCurrentText("alpha-model")
    driver.fill = choose_default
    window.settings_controller.open_settings()
    assert window.current_model() == "alpha-model"
    chat.shutdown()
