"""Personas in the running app: edited in Settings, shown in the picker, sent with the next request."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.persona_store import PersonaStore
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.ui.settings_dialog import DialogResult, SettingsDialog
from fakeserver import FakeServer

KEY = "sk-personas-0123456789"


class Driver:
    """Fills the real Settings dialog (Personas page included) and presses OK or Cancel."""

    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot
        self.fill = None
        self.cancel = False
        self.last: SettingsDialog | None = None

    def __call__(self, parent, settings, keys, env, first_run=False, personas=None):
        dialog = SettingsDialog(settings, keys, env, first_run, parent, personas=personas)
        self.qtbot.addWidget(dialog)
        dialog.show()
        self.last = dialog
        if self.fill is not None:
            self.fill(dialog.personas_page)
        button = QDialogButtonBox.StandardButton.Cancel if self.cancel else QDialogButtonBox.StandardButton.Ok
        dialog.buttons.button(button).click()
        if dialog.result_settings() is None:
            return None
        return DialogResult(dialog.result_settings(), dialog.result_personas())


@pytest.fixture
def paths(tmp_path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


@pytest.fixture
def keys() -> KeyStore:
    return KeyStore(MemoryKeyring())


def start(qtbot, paths, keys, server, driver):
    window, chat = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url},
                                 paths=paths, keys=keys, ask_settings=driver)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: chat.config.api_key == KEY)
    return window, chat


def send(qtbot, window, chat, text):
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=5000)


def picker_names(window) -> list[str]:
    return [window.persona_combo.itemText(i) for i in range(window.persona_combo.count())]


def add_pirate(page, *, default=True, model=None, temperature=None, prompt="You are a pirate. Arr."):
    page.add_persona()
    page.name_edit.setText("Pirate")
    page.prompt_edit.setPlainText(prompt)
    if model:
        page.model_combo.setEditText(model)
    if temperature is not None:
        page.temp_check.setChecked(True)
        page.temp_spin.setValue(temperature)
    if default:
        page.make_default()


def test_a_new_default_persona_is_kept_shown_and_sent(qtbot, paths, keys, fake_server: FakeServer):
    driver = Driver(qtbot)
    window, chat = start(qtbot, paths, keys, fake_server, driver)
    driver.fill = add_pirate
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert "Pirate" in picker_names(window)
    # New chats start with the default persona.
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.persona_combo.currentText() == "Pirate"
    send(qtbot, window, chat, "Ahoy?")
    assert fake_server.requests[-1].json["messages"][0] == {"role": "system", "content": "You are a pirate. Arr."}
    window.close()
    chat.shutdown()
    # Kept across restarts.
    library, notice = PersonaStore(paths).load()
    assert notice is None and library.default_name == "Pirate"
    window2, chat2 = start(qtbot, paths, keys, fake_server, Driver(qtbot))
    assert "Pirate" in picker_names(window2) and window2.persona_combo.currentText() == "Pirate"
    chat2.shutdown()


def test_cancel_discards_persona_edits(qtbot, paths, keys, fake_server):
    driver = Driver(qtbot)
    window, chat = start(qtbot, paths, keys, fake_server, driver)
    driver.fill = add_pirate
    driver.cancel = True
    window.settings_controller.open_settings()
    assert "Pirate" not in picker_names(window)
    assert not PersonaStore(paths).path.exists()
    chat.shutdown()


def test_editing_the_persona_in_use_applies_from_the_next_turn(qtbot, paths, keys, fake_server):
    driver = Driver(qtbot)
    window, chat = start(qtbot, paths, keys, fake_server, driver)
    send(qtbot, window, chat, "first")

    def edit(page):
        page.prompt_edit.setPlainText("You are a terse assistant.")
    driver.fill = edit
    window.settings_controller.open_settings()
    assert "Persona: Helpful assistant" in window.transcript.blocks_of_kind("notice")
    send(qtbot, window, chat, "second")
    assert fake_server.requests[-1].json["messages"][0]["content"] == "You are a terse assistant."


def test_persona_model_and_temperature_go_with_the_request(qtbot, paths, keys, fake_server):
    driver = Driver(qtbot)
    window, chat = start(qtbot, paths, keys, fake_server, driver)
    driver.fill = lambda page: add_pirate(page, default=False, model="pirate-model", temperature=1.25)
    window.settings_controller.open_settings()
    window.persona_combo.setCurrentText("Pirate")
    assert window.current_model() == "pirate-model"
    send(qtbot, window, chat, "hi")
    body = fake_server.requests[-1].json
    assert body["model"] == "pirate-model" and body["temperature"] == 1.25


def test_an_empty_system_prompt_sends_no_system_message(qtbot, paths, keys, fake_server):
    driver = Driver(qtbot)
    window, chat = start(qtbot, paths, keys, fake_server, driver)
    driver.fill = lambda page: add_pirate(page, default=False, prompt="")
    window.settings_controller.open_settings()
    window.persona_combo.setCurrentText("Pirate")
    send(qtbot, window, chat, "no system please")
    assert [m["role"] for m in fake_server.requests[-1].json["messages"]] == ["user"]


def test_a_duplicate_name_blocks_ok_with_a_visible_message(qtbot, paths, keys, fake_server):
    driver = Driver(qtbot)
    window, chat = start(qtbot, paths, keys, fake_server, driver)

    def duplicate_name(page):
        page.add_persona()
        page.name_edit.selectAll()
        qtbot.keyClicks(page.name_edit, "French assistant")  # typed, as a person would
    driver.fill = duplicate_name
    result = window.settings_controller.open_settings()
    dialog = driver.last
    assert result is False or dialog.isVisible()
    assert dialog.tabs.currentWidget() is dialog.personas_page
    assert dialog.error_label.text(), "OK must say why it did nothing"
    assert dialog.personas_page.name_error.text() and not dialog.personas_page.name_error.isHidden()
    assert picker_names(window) == ["Helpful assistant", "Sarcastic assistant", "French assistant"]
    dialog.reject()
    chat.shutdown()
