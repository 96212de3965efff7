"""The Settings dialog as a person uses it: typing, clicking, Test connection against the loopback server."""

from __future__ import annotations

import dataclasses
import logging
import socket
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit, QWidget

from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import SERVICE, KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Profile, Settings, SettingsStore
from chatbot_gui.ui.models_thread import running_models_threads
from chatbot_gui.ui.settings_dialog import API_KEYS_URL, SettingsDialog, ask
from fakeserver import FakeServer
from keyring.backends import fail
from proxy import LoopbackProxy

KEY = "sk-dialog-test-8c1f0e5d9b3a"
OK = QDialogButtonBox.StandardButton.Ok
CANCEL = QDialogButtonBox.StandardButton.Cancel


@pytest.fixture(autouse=True)
def _no_models_thread_left(qtbot):
    yield
    qtbot.waitUntil(lambda: running_models_threads() == 0, timeout=3000)


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def keys(backend: MemoryKeyring) -> KeyStore:
    return KeyStore(backend)


@pytest.fixture
def open_dialog(qtbot, keys):
    opened: list[SettingsDialog] = []  # qtbot holds widgets weakly; the test may keep only a page

    def make(settings: Settings | None = None, env: dict[str, str] | None = None, first_run: bool = False,
             store: KeyStore | None = None) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(), store or keys, env or {}, first_run)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        opened.append(dialog)
        return dialog

    yield make
    for dialog in opened:
        if shiboken6.isValid(dialog):
            dialog.close()


def click(qtbot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def press_ok(qtbot, dialog: SettingsDialog) -> None:
    """Press OK and wait while the keys are stored (keyring writes run off the GUI thread)."""
    click(qtbot, dialog.buttons.button(OK))
    qtbot.waitUntil(lambda: not dialog.saving, timeout=5000)


def choose(qtbot, combo, text: str) -> None:
    """Pick an entry with the keyboard, as a user can (emits ``activated``)."""
    combo.setFocus()
    target = combo.findText(text)
    assert target >= 0, text
    key = Qt.Key.Key_Down if target > combo.currentIndex() else Qt.Key.Key_Up
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, key)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the key ------------------------------------------------------------------------------------
def test_a_pasted_key_is_trimmed_masked_and_saved_on_ok(qtbot, open_dialog, keys, backend) -> None:
    dialog = open_dialog()
    page = dialog.connection
    assert page.key_edit.echoMode() == QLineEdit.EchoMode.Password
    QApplication.clipboard().setText(f"  {KEY}\n")
    page.key_edit.setFocus()
    page.key_edit.paste()
    assert page.key_edit.text() == KEY
    click(qtbot, page.show_key)
    assert page.key_edit.echoMode() == QLineEdit.EchoMode.Normal
    assert "saved when you press OK" in page.key_status.text()
    assert backend.get_password(SERVICE, "default") is None, "nothing is stored before OK"
    press_ok(qtbot, dialog)
    assert not dialog.isVisible()
    assert backend.get_password(SERVICE, "default") == KEY
    # Only the flag "a key is saved" (never the key) changed in the settings.
    assert dialog.result_settings() == Settings().with_profile(
        dataclasses.replace(Settings().active_profile, key_saved=True))


def test_cancel_changes_nothing(qtbot, open_dialog, keys, backend) -> None:
    keys.set("default", "sk-old")
    dialog = open_dialog()
    page = dialog.connection
    qtbot.keyClicks(page.key_edit, KEY)
    page.name_edit.clear()
    qtbot.keyClicks(page.name_edit, "Renamed")
    click(qtbot, dialog.buttons.button(CANCEL))
    assert dialog.result_settings() is None
    assert backend.get_password(SERVICE, "default") == "sk-old"


def test_a_stored_key_is_never_loaded_into_the_field(open_dialog, keys) -> None:
    keys.set("default", KEY)
    page = open_dialog().connection
    assert page.key_edit.text() == ""
    click_show = page.show_key
    click_show.setChecked(True)
    assert KEY not in page.key_edit.text() and KEY not in page.key_edit.displayText()
    assert "saved in the system keyring" in page.key_status.text()


def test_remove_key_deletes_it_on_ok_only(qtbot, open_dialog, keys, backend) -> None:
    keys.set("default", KEY)
    dialog = open_dialog()
    click(qtbot, dialog.connection.remove_key)
    assert "removed when you press OK" in dialog.connection.key_status.text()
    assert backend.get_password(SERVICE, "default") == KEY
    press_ok(qtbot, dialog)
    assert backend.get_password(SERVICE, "default") is None


def test_environment_key_is_shown_as_such_and_not_stored(qtbot, open_dialog, backend) -> None:
    dialog = open_dialog(env={"OPENAI_API_KEY": "sk-env-1234567890"})
    assert "from the environment" in dialog.connection.key_status.text()
    press_ok(qtbot, dialog)
    assert backend.get_password(SERVICE, "default") is None


def test_first_run_explains_and_links_to_the_key_page(open_dialog) -> None:
    intro = open_dialog(first_run=True).intro
    assert intro.isVisible() and intro.openExternalLinks()
    assert f'href="{API_KEYS_URL}"' in intro.text() and "API key" in intro.text()
    assert not open_dialog().intro.isVisible()


# -- no keyring ------------------------------------------------------------------------------------
def test_without_a_keyring_it_says_so_and_offers_the_key_until_quit(qtbot, open_dialog, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    store = KeyStore(fail.Keyring())
    dialog = open_dialog(store=store)
    page = dialog.connection
    assert page.keyring_notice.isVisible() and "No system keyring" in page.keyring_notice.text()
    assert page.session_only.isVisible() and not page.session_only.isChecked()
    qtbot.keyClicks(page.key_edit, KEY)
    assert "saved when you press OK" not in page.key_status.text()  # never "saved" without a keyring
    assert "Use the key until Chatbot quits" in page.key_status.text()
    press_ok(qtbot, dialog)
    assert dialog.isVisible(), "the key would be lost: the dialog stays open and says why"
    assert "No system keyring" in dialog.error_label.text()
    click(qtbot, page.session_only)
    press_ok(qtbot, dialog)
    assert not dialog.isVisible()
    assert store.get_with_source("default") == (KEY, "session")
    assert not any(KEY.encode() in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


class RefusingKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        from keyring.errors import PasswordSetError

        raise PasswordSetError(f"Prompt dismissed for {password}")


def test_a_keyring_that_refuses_on_ok_offers_the_key_until_quit(qtbot, open_dialog) -> None:
    store = KeyStore(RefusingKeyring())
    dialog = open_dialog(store=store)
    page = dialog.connection
    assert not page.session_only.isVisible()
    qtbot.keyClicks(page.key_edit, KEY)
    press_ok(qtbot, dialog)
    assert dialog.isVisible() and "keyring failed" in dialog.error_label.text()
    assert KEY not in dialog.error_label.text()
    assert page.session_only.isVisible()
    click(qtbot, page.session_only)
    press_ok(qtbot, dialog)
    assert store.get_with_source("default") == (KEY, "session")


def test_the_key_line_stops_promising_to_save_once_the_keyring_is_found_missing(qtbot, open_dialog) -> None:
    """The first run: the keyring is not asked before OK, so the line first says the key will be
    saved; once OK found no keyring, it must not go on saying so beside "keys cannot be saved"."""
    store = KeyStore(RefusingKeyring())
    page = open_dialog(store=store).connection
    qtbot.keyClicks(page.key_edit, KEY)
    assert page.key_status.text() == "The new key is saved when you press OK."
    press_ok(qtbot, page.window())
    assert page.session_only.isVisible()
    assert "saved when you press OK" not in page.key_status.text()
    assert "Use the key until Chatbot quits" in page.key_status.text()  # says what to do instead
    click(qtbot, page.session_only)
    assert page.key_status.text() == "The new key is used when you press OK, until Chatbot quits (not saved)."
    click(qtbot, page.session_only)
    assert "Use the key until Chatbot quits" in page.key_status.text()


def test_no_blank_row_under_the_key_line_when_there_is_no_saved_key_button(open_dialog) -> None:
    """The hidden "Use the saved key here" row took a row's spacing: a visible gap under the key line."""
    page = open_dialog().connection
    assert not page.use_saved_key.isVisible()
    under_key = page.org_edit.geometry().top() - page.key_status.geometry().bottom()
    between_fields = page.project_edit.geometry().top() - page.org_edit.geometry().bottom()
    assert under_key <= between_fields


# -- server and profiles ---------------------------------------------------------------------------
def test_presets_fill_the_address_and_custom_addresses_show_custom(qtbot, open_dialog) -> None:
    page = open_dialog().connection
    assert page.preset_combo.currentText() == "OpenAI"
    choose(qtbot, page.preset_combo, "Ollama")
    assert page.url_edit.text() == "http://localhost:11434/v1"
    choose(qtbot, page.preset_combo, "OpenRouter")
    assert page.url_edit.text() == "https://openrouter.ai/api/v1"
    page.url_edit.clear()
    qtbot.keyClicks(page.url_edit, "http://127.0.0.1:8080/v1")
    assert page.preset_combo.currentText() == "Custom"
    qtbot.keyClicks(page.url_edit, "x")
    page.url_edit.setText("http://localhost:1234/v1")
    assert page.preset_combo.currentText() == "LM Studio"


def test_add_a_profile_with_its_own_key_and_make_it_active(qtbot, open_dialog, keys, backend) -> None:
    keys.set("default", "sk-openai")
    dialog = open_dialog()
    page = dialog.connection
    click(qtbot, page.add_button)
    assert page.profile_combo.count() == 2
    assert dialog.focusWidget() is page.name_edit and page.name_edit.selectedText() == "Profile 2"
    page.name_edit.clear()
    qtbot.keyClicks(page.name_edit, "Local Ollama")
    choose(qtbot, page.preset_combo, "Ollama")
    qtbot.keyClicks(page.key_edit, KEY)
    page.timeout_spin.setValue(300)
    page.model_combo.setEditText("llama3.2")
    assert page.profile_combo.currentText() == "Local Ollama"
    press_ok(qtbot, dialog)
    result = dialog.result_settings()
    assert [p.name for p in result.profiles] == ["OpenAI", "Local Ollama"]
    local = result.active_profile
    assert (local.name, local.base_url, local.read_timeout, local.default_model) == (
        "Local Ollama", "http://localhost:11434/v1", 300.0, "llama3.2")
    assert backend.get_password(SERVICE, local.id) == KEY
    assert backend.get_password(SERVICE, "default") == "sk-openai"


def test_switching_profiles_keeps_each_ones_edits(qtbot, open_dialog) -> None:
    settings = Settings(profiles=(Profile("a", "A"), Profile("b", "B", base_url="http://localhost:1234/v1")))
    dialog = open_dialog(settings)
    page = dialog.connection
    qtbot.keyClicks(page.org_edit, "org-a")
    page.profile_combo.setCurrentIndex(1)
    assert page.url_edit.text() == "http://localhost:1234/v1" and page.org_edit.text() == ""
    qtbot.keyClicks(page.project_edit, "proj-b")
    page.profile_combo.setCurrentIndex(0)
    assert page.org_edit.text() == "org-a"
    press_ok(qtbot, dialog)
    result = dialog.result_settings()
    assert result.profile("a").organization == "org-a" and result.profile("b").project == "proj-b"
    assert result.active_profile_id == "a"


def test_deleting_a_profile_forgets_its_secrets_on_ok(qtbot, open_dialog, keys, backend) -> None:
    keys.set("b", "sk-b")
    keys.set("b", "pw-b", proxy=True)
    settings = Settings(profiles=(Profile("a", "A"), Profile("b", "B")), active_profile_id="b")
    dialog = open_dialog(settings)
    page = dialog.connection
    click(qtbot, page.delete_button)
    assert page.profile_combo.count() == 1 and not page.delete_button.isEnabled()
    press_ok(qtbot, dialog)
    assert [p.id for p in dialog.result_settings().profiles] == ["a"]
    assert backend.get_password(SERVICE, "b") is None and backend.get_password(SERVICE, "b:proxy") is None


def test_bad_addresses_block_ok_with_a_message(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    page = dialog.connection
    qtbot.keyClicks(page.proxy_edit, "ftp://proxy:21")
    press_ok(qtbot, dialog)
    assert dialog.isVisible() and "http://, https:// or socks5://" in dialog.error_label.text()
    page.proxy_edit.clear()
    page.url_edit.setText("localhost:11434")
    press_ok(qtbot, dialog)
    assert dialog.isVisible() and "must start with http://" in dialog.error_label.text()


def test_a_pasted_proxy_url_with_a_password_is_split(qtbot, open_dialog, backend, tmp_path) -> None:
    dialog = open_dialog()
    page = dialog.connection
    qtbot.keyClicks(page.proxy_edit, "http://bob:s3cret-proxy@127.0.0.1:3128")
    page.proxy_edit.editingFinished.emit()
    assert page.proxy_edit.text() == "http://127.0.0.1:3128"
    assert page.proxy_user_edit.text() == "bob" and page.proxy_pw_edit.text() == "s3cret-proxy"
    assert page.proxy_pw_edit.echoMode() == QLineEdit.EchoMode.Password
    press_ok(qtbot, dialog)
    assert backend.get_password(SERVICE, "default:proxy") == "s3cret-proxy"
    store = SettingsStore(AppPaths(tmp_path, tmp_path))
    store.save(dialog.result_settings())
    assert "s3cret-proxy" not in store.path.read_text()
    assert store.load()[0].active_profile.proxy_user == "bob"


def test_add_page(open_dialog) -> None:
    dialog = open_dialog()
    dialog.add_page("Personas", QWidget())
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["Connection", "Appearance", "Models", "Personas"]


# -- Test connection ---------------------------------------------------------------------------------
def test_test_connection_lists_the_models_and_remembers_them(qtbot, open_dialog, fake_server: FakeServer) -> None:
    dialog = open_dialog()
    page = dialog.connection
    page.url_edit.setText(fake_server.base_url)
    qtbot.keyClicks(page.key_edit, KEY)
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: page.test_result.text() == "Connected — 3 models", timeout=5000)
    assert fake_server.requests[-1].path == "/v1/models"
    assert fake_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert [page.model_combo.itemText(i) for i in range(page.model_combo.count())] == [
        "gpt-4o", "gpt-4o-mini", "o3-mini"]
    press_ok(qtbot, dialog)
    assert dialog.result_settings().active_profile.models == ("gpt-4o", "gpt-4o-mini", "o3-mini")


def test_test_connection_shows_a_clear_error(qtbot, open_dialog, fake_server: FakeServer) -> None:
    page = open_dialog().connection
    page.url_edit.setText(f"http://127.0.0.1:{closed_port()}/v1")
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: "refused the connection" in page.test_result.text(), timeout=5000)
    assert page.test_button.isEnabled()
    page.url_edit.setText(fake_server.base_url + "/wrong")
    qtbot.keyClicks(page.key_edit, KEY)
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: "404" in page.test_result.text(), timeout=5000)
    assert "no model list at this address" in page.test_result.text()
    assert KEY not in page.test_result.text()


def test_test_connection_goes_through_the_proxy_typed_in_the_dialog(qtbot, open_dialog, fake_server) -> None:
    with LoopbackProxy(auth=("bob", "pw-typed")) as proxy:
        page = open_dialog().connection
        page.url_edit.setText(fake_server.base_url)
        qtbot.keyClicks(page.proxy_edit, proxy.url())
        qtbot.keyClicks(page.proxy_user_edit, "bob")
        qtbot.keyClicks(page.proxy_pw_edit, "wrong")
        click(qtbot, page.test_button)
        qtbot.waitUntil(lambda: "proxy" in page.test_result.text(), timeout=5000)
        assert "407" in page.test_result.text() and "wrong" not in page.test_result.text()
        page.proxy_pw_edit.clear()
        qtbot.keyClicks(page.proxy_pw_edit, "pw-typed")
        click(qtbot, page.test_button)
        qtbot.waitUntil(lambda: page.test_result.text().startswith("Connected"), timeout=5000)
    assert proxy.records[-1].credentials == ("bob", "pw-typed")


@pytest.fixture
def silent_server():
    """Accepts connections (in the kernel backlog) and never answers: a stalled server."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


def test_the_dialog_stays_responsive_during_a_test(qtbot, open_dialog, silent_server) -> None:
    page = open_dialog().connection
    page.url_edit.setText(silent_server)
    click(qtbot, page.test_button)
    assert page.test_result.text() == "Connecting…" and not page.test_button.isEnabled()
    qtbot.keyClicks(page.name_edit, " still typing")
    assert page.name_edit.text().endswith("still typing")
    assert running_models_threads() == 1


@pytest.mark.parametrize("how", ["cancel", "close", "ok"])
def test_closing_mid_test_leaves_no_thread_and_no_late_result(qtbot, open_dialog, silent_server, how) -> None:
    dialog = open_dialog()
    page = dialog.connection
    page.url_edit.setText(silent_server)
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: running_models_threads() == 1)
    {"cancel": lambda: click(qtbot, dialog.buttons.button(CANCEL)), "close": dialog.close,
     "ok": lambda: press_ok(qtbot, dialog)}[how]()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: running_models_threads() == 0, timeout=3000)
    qtbot.wait(50)
    assert page.test_result.text() == "Connecting…", "a cancelled test must not report anything"


def test_destroying_the_dialog_mid_test_is_safe(qtbot, keys, silent_server) -> None:
    """The dialog (or its parent window) is deleted while testing: the thread outlives it safely."""
    dialog = SettingsDialog(Settings(), keys, {})
    dialog.show()
    dialog.connection.url_edit.setText(silent_server)
    click(qtbot, dialog.connection.test_button)
    qtbot.waitUntil(lambda: running_models_threads() == 1)
    with qtbot.waitSignal(dialog.destroyed):
        dialog.deleteLater()  # no close(): as when its parent window is deleted
    del dialog
    qtbot.waitUntil(lambda: running_models_threads() == 0, timeout=3000)


def test_ask_returns_the_new_settings_on_ok_and_none_on_cancel(qtbot, keys, backend) -> None:
    def answer(accept: bool) -> None:
        dialog = QApplication.activeModalWidget()
        try:
            assert isinstance(dialog, SettingsDialog)
            qtbot.keyClicks(dialog.connection.key_edit, KEY)
            qtbot.keyClicks(dialog.connection.name_edit, " (work)")
        finally:
            click(qtbot, dialog.buttons.button(OK if accept else CANCEL))

    QTimer.singleShot(0, lambda: answer(False))
    assert ask(None, Settings(), keys, {}) is None
    assert backend.get_password(SERVICE, "default") is None
    QTimer.singleShot(0, lambda: answer(True))
    result = ask(None, Settings(), keys, {}, first_run=True)
    assert result is not None and result.settings.active_profile.name == "OpenAI (work)"
    assert result.personas is None  # no Personas page was asked for
    assert backend.get_password(SERVICE, "default") == KEY


# -- the key never leaks -------------------------------------------------------------------------------
def test_a_key_set_through_the_dialog_never_reaches_files_logs_or_titles(
    qtbot, open_dialog, fake_server, tmp_path: Path, caplog, monkeypatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    dialog = open_dialog()
    page = dialog.connection
    page.url_edit.setText(fake_server.base_url)
    QApplication.clipboard().setText(KEY)
    page.key_edit.paste()
    qtbot.keyClicks(page.proxy_pw_edit, "pw-leak-check")
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: page.test_result.text().startswith("Connected"), timeout=5000)
    page.url_edit.setText(fake_server.base_url + "/wrong")
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: "404" in page.test_result.text(), timeout=5000)
    press_ok(qtbot, dialog)
    QApplication.clipboard().clear()
    result = dialog.result_settings()
    SettingsStore(AppPaths(tmp_path / "config", tmp_path / "data")).save(result)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files, "settings.json was written"
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    for text in (caplog.text, repr(result), dialog.windowTitle(), page.test_result.text(),
                 dialog.error_label.text(), page.key_status.text()):
        assert KEY not in text
