"""The Settings dialog: connection profiles (server, key, proxy, timeout) and "Test connection".

Entry point: :func:`ask` returns the new :class:`Settings` on OK, or None on Cancel. Secrets typed
here go to the :class:`KeyStore` on OK only; Cancel changes nothing. Stored secrets are never
loaded into the widgets (so "Show" only ever reveals what was typed in this dialog). More pages
(Personas, ...) are added with :meth:`SettingsDialog.add_page`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.persona_store import PersonaLibrary
from chatbot_gui.core.personas import DEFAULT_MODEL
from chatbot_gui.core.secrets import KeyStore, KeyStoreError, PendingSecrets
from chatbot_gui.core.settings import (
    PRESETS, Profile, Settings, env_key_applies, new_profile_id, proxy_problem,
    resolve_connection, settings_problem, split_proxy_url,
)
from chatbot_gui.ui.models_thread import ModelsThread, start_models_thread

API_KEYS_URL = "https://platform.openai.com/api-keys"
FIRST_RUN_TEXT = (
    "<b>Welcome.</b> To chat with OpenAI's models, Chatbot needs an API key from your OpenAI account. "
    f'Create one at <a href="{API_KEYS_URL}">platform.openai.com/api-keys</a> and paste it below; it is '
    "kept in your system keyring. For a local server (Ollama, LM Studio) choose it under Server: "
    "no key is needed."
)


def _no_spaces(text: str) -> str:
    return "".join(text.split())  # keys never contain whitespace; pasted ones often carry some


def _row(*widgets: QWidget, grow: int = 1) -> QHBoxLayout:
    """Widgets side by side; the one at index ``grow`` takes the spare room."""
    row = QHBoxLayout()
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if i == grow else 0)
    return row


class ConnectionPage(QWidget):
    """Edits drafts of every profile; nothing is stored until the dialog's OK."""

    def __init__(self, settings: Settings, keys: KeyStore, env: Mapping[str, str]) -> None:
        super().__init__()
        self._keys = keys
        self._env = env
        self._settings = settings
        self._drafts: dict[str, Profile] = {p.id: p for p in settings.profiles}
        self._order: list[str] = [p.id for p in settings.profiles]
        self._pending = PendingSecrets()
        self._current = ""
        self._thread: ModelsThread | None = None
        self._test_pid = ""
        self._build()
        for pid in self._order:
            self.profile_combo.addItem(self._drafts[pid].name, pid)
        self.profile_combo.setCurrentIndex(max(0, self._order.index(settings.active_profile.id)))
        self._load(self.profile_combo.currentData())

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.profile_combo = QComboBox(objectName="profileCombo")
        self.add_button = QPushButton("Add", objectName="addProfile")
        self.delete_button = QPushButton("Delete", objectName="deleteProfile")
        self.name_edit = QLineEdit(objectName="profileName")
        self.preset_combo = QComboBox(objectName="preset")
        for label, url in PRESETS:
            self.preset_combo.addItem(label, url)
        self.preset_combo.addItem("Custom", "")
        self.url_edit = QLineEdit(objectName="baseUrl")
        self.key_edit = QLineEdit(objectName="apiKey", echoMode=QLineEdit.EchoMode.Password)
        self.show_key = QCheckBox("Show", objectName="showKey")
        self.remove_key = QPushButton("Remove key", objectName="removeKey")
        self.key_status = QLabel(objectName="keyStatus", wordWrap=True)
        self.keyring_notice = QLabel(objectName="keyringNotice", wordWrap=True)
        self.session_only = QCheckBox("Use the key until Chatbot quits (kept in memory only, not saved)",
                                      objectName="sessionOnly")
        self.org_edit = QLineEdit(objectName="organization", placeholderText="optional")
        self.project_edit = QLineEdit(objectName="project", placeholderText="optional")
        self.timeout_spin = QSpinBox(objectName="timeout", minimum=1, maximum=3600, suffix=" s")
        self.timeout_spin.setToolTip("How long the server may stay silent between two parts of a reply")
        self.proxy_edit = QLineEdit(objectName="proxyUrl",
                                    placeholderText="none (system proxy settings apply), or socks5://host:1080")
        self.proxy_user_edit = QLineEdit(objectName="proxyUser", placeholderText="optional")
        self.proxy_pw_edit = QLineEdit(objectName="proxyPassword", echoMode=QLineEdit.EchoMode.Password)
        self.model_combo = QComboBox(objectName="defaultModel", editable=True)
        self.model_combo.lineEdit().setPlaceholderText(DEFAULT_MODEL)
        self.test_button = QPushButton("Test connection", objectName="testConnection")
        self.test_result = QLabel(objectName="testResult", wordWrap=True)

        form = QFormLayout()
        for label, field in (
            ("Name:", self.name_edit), ("Server:", _row(self.preset_combo, self.url_edit)),
            ("API key:", _row(self.key_edit, self.show_key, self.remove_key, grow=0)), ("", self.key_status),
            ("", self.keyring_notice), ("", self.session_only), ("Organization:", self.org_edit),
            ("Project:", self.project_edit), ("Timeout:", self.timeout_spin), ("Proxy:", self.proxy_edit),
            ("Proxy user:", self.proxy_user_edit), ("Proxy password:", self.proxy_pw_edit),
            ("Default model:", self.model_combo), ("", _row(self.test_button, self.test_result)),
        ):
            form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.addLayout(_row(QLabel("Profile:"), self.profile_combo, self.add_button, self.delete_button))
        layout.addLayout(form)
        layout.addStretch(1)

        reason = self._keys.unavailable_reason
        self._set_keyring_notice(reason)
        self.keyring_notice.setVisible(bool(reason))
        self.session_only.setVisible(bool(reason))

        self.profile_combo.currentIndexChanged.connect(self._on_profile_changed)
        self.add_button.clicked.connect(self._add_profile)
        self.delete_button.clicked.connect(self._delete_profile)
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.preset_combo.activated.connect(self._on_preset)
        self.url_edit.textChanged.connect(self._sync_preset)
        self.url_edit.textEdited.connect(self._update_key_status)
        self.key_edit.textEdited.connect(self._on_key_edited)
        self.show_key.toggled.connect(self._on_show_key)
        self.remove_key.clicked.connect(self._on_remove_key)
        self.proxy_edit.editingFinished.connect(self._split_pasted_proxy)
        self.proxy_pw_edit.textEdited.connect(
            lambda text: self._pending.proxy_passwords.__setitem__(self._current, text))
        self.test_button.clicked.connect(self.test_connection)

    # -- drafts <-> widgets --------------------------------------------------------------------------
    def _set_keyring_notice(self, text: str) -> None:
        # One short line (a word-wrapped label in a tab page is not given its wrapped height by Qt's
        # layouts and overlaps the next row); the full explanation is the tooltip.
        self.keyring_notice.setText(
            "No system keyring is available, so keys cannot be saved." if text else ""
        )
        self.keyring_notice.setToolTip(text)

    def _load(self, pid: str) -> None:
        self._current = pid
        prof = self._drafts[pid]
        self.name_edit.setText(prof.name)
        self.url_edit.setText(prof.base_url)
        self.key_edit.setText(self._pending.keys.get(pid, ""))
        self.org_edit.setText(prof.organization)
        self.project_edit.setText(prof.project)
        self.timeout_spin.setValue(round(prof.read_timeout))
        self.proxy_edit.setText(prof.proxy_url_without_password)
        self.proxy_user_edit.setText(prof.proxy_user)
        self.proxy_pw_edit.setText(self._pending.proxy_passwords.get(pid, ""))
        stored_pw = prof.proxy_user and self._keys.get(pid, proxy=True)
        self.proxy_pw_edit.setPlaceholderText("saved in the keyring (type to replace)" if stored_pw else "")
        self.model_combo.clear()
        self.model_combo.addItems(list(prof.models))
        self.model_combo.setCurrentText(prof.default_model)
        self.test_result.clear()
        self.delete_button.setEnabled(len(self._order) > 1)
        self._update_key_status()

    def _store(self) -> None:
        """Copy the widgets into the current profile's draft."""
        if not self._current:
            return
        url, user, _pw = split_proxy_url(self.proxy_edit.text())
        self._drafts[self._current] = dataclasses.replace(
            self._drafts[self._current],
            name=self.name_edit.text().strip() or self._drafts[self._current].name,
            base_url=self.url_edit.text().strip(),
            organization=self.org_edit.text().strip(),
            project=self.project_edit.text().strip(),
            read_timeout=float(self.timeout_spin.value()),
            proxy_url_without_password=url,
            proxy_user=self.proxy_user_edit.text().strip() or user,
            default_model=self.model_combo.currentText().strip(),
        )

    def draft_settings(self) -> Settings:
        """The settings as edited so far (profiles, active profile = the one shown)."""
        self._store()
        return dataclasses.replace(self._settings, profiles=tuple(self._drafts[p] for p in self._order),
                                   active_profile_id=self._current)

    # -- profiles ------------------------------------------------------------------------------------
    def _on_profile_changed(self, index: int) -> None:
        pid = self.profile_combo.itemData(index)
        if pid and pid != self._current:
            self._store()
            self._load(pid)

    def _add_profile(self) -> None:
        self._store()
        pid = new_profile_id(set(self._drafts) | self._pending.removed_profiles)
        self._drafts[pid] = Profile(pid, f"Profile {len(self._order) + 1}")
        self._order.append(pid)
        self.profile_combo.addItem(self._drafts[pid].name, pid)
        self.profile_combo.setCurrentIndex(self.profile_combo.count() - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _delete_profile(self) -> None:
        if len(self._order) <= 1:
            return
        pid = self._current
        self._current = ""  # the draft is gone: nothing to store on the switch
        self._order.remove(pid)
        del self._drafts[pid]
        self._pending.forget_profile(pid)
        self.profile_combo.removeItem(self.profile_combo.findData(pid))
        self._load(self.profile_combo.currentData())

    def _on_name_edited(self, text: str) -> None:
        self.profile_combo.setItemText(self.profile_combo.currentIndex(), text.strip() or "(unnamed)")

    # -- server, key, proxy --------------------------------------------------------------------------
    def _on_preset(self, index: int) -> None:
        url = self.preset_combo.itemData(index)
        if url:
            self.url_edit.setText(url)
            self._update_key_status()

    def _sync_preset(self, text: str) -> None:
        index = self.preset_combo.findData(text.strip().rstrip("/"))
        self.preset_combo.setCurrentIndex(index if index >= 0 else self.preset_combo.count() - 1)

    def _on_key_edited(self, text: str) -> None:
        clean = _no_spaces(text)
        if clean != text:
            self.key_edit.setText(clean)
        self._pending.keys[self._current] = clean
        if clean:
            self._pending.remove_keys.discard(self._current)
        self._update_key_status()

    def _on_show_key(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.key_edit.setEchoMode(mode)
        self.proxy_pw_edit.setEchoMode(mode)

    def _on_remove_key(self) -> None:
        self._pending.keys.pop(self._current, None)
        self.key_edit.clear()
        self._pending.remove_keys.add(self._current)
        self._update_key_status()

    def _split_pasted_proxy(self) -> None:
        url, user, password = split_proxy_url(self.proxy_edit.text())
        if user or password:  # a pasted http://user:pass@host: keep the password out of the URL
            self.proxy_edit.setText(url)
            self.proxy_user_edit.setText(user)
            if password:
                self.proxy_pw_edit.setText(password)
                self._pending.proxy_passwords[self._current] = password

    def _update_key_status(self) -> None:
        pid, pending = self._current, self._pending
        stored = self._keys.get_with_source(pid)[1]
        source = "" if pid in pending.remove_keys else stored
        env_key = bool((self._env.get("OPENAI_API_KEY") or "").strip())
        if env_key and env_key_applies(dataclasses.replace(self._drafts[pid], base_url=self.url_edit.text())):
            text = "Using the key from the environment (OPENAI_API_KEY) for this run; it is not stored."
        elif pending.keys.get(pid):
            text = ("The new key is used when you press OK, until Chatbot quits (not saved)."
                    if not self._keys.available else "The new key is saved when you press OK.")
        elif stored and not source:
            text = "The saved key will be removed when you press OK."
        else:
            text = {"keyring": "A key is saved in the system keyring. Type a new one to replace it.",
                    "session": "A key is kept in memory until Chatbot quits (not saved)."}.get(source, "No key saved.")
        self.key_status.setText(text)
        self.remove_key.setEnabled(bool(pending.keys.get(pid) or source))

    # -- test connection ----------------------------------------------------------------------------
    def current_config(self) -> ConnectionConfig:
        """The ConnectionConfig for the profile shown, with what was typed but not saved yet."""
        return resolve_connection(self.draft_settings(), self._keys, self._env, self._pending)

    def test_connection(self) -> None:
        """Ask the server for its models on a worker thread; the page stays usable meanwhile."""
        problem = proxy_problem(self.proxy_edit.text())
        if problem:
            self.test_result.setText(problem)
            return
        self.cancel_test()
        self.test_result.setText("Connecting…")
        self.test_result.setToolTip("")
        self.test_button.setEnabled(False)
        thread = start_models_thread(self.current_config())
        self._test_pid = self._current
        thread.modelsReady.connect(self._on_models)
        thread.failed.connect(self._on_failed)
        self.destroyed.connect(thread.cancel)  # deleted with its parent window mid-test: hang up
        self._thread = thread

    def cancel_test(self) -> None:
        """Forget a running test: its thread hangs up and its result is dropped."""
        if self._thread is not None:
            self._thread.cancel()
            self._thread = None
        self.test_button.setEnabled(True)

    def _on_models(self, models: tuple[str, ...]) -> None:
        if self.sender() is None or self.sender() is not self._thread:
            return  # a cancelled test answering late
        self._thread = None
        self.test_button.setEnabled(True)
        pid = self._test_pid
        if pid in self._drafts:
            self._drafts[pid] = dataclasses.replace(self._drafts[pid], models=tuple(models))
        if pid == self._current:
            chosen = self.model_combo.currentText()
            self.model_combo.clear()
            self.model_combo.addItems(list(models))
            # Nothing chosen stays nothing chosen (the placeholder default), not the list's first entry.
            self.model_combo.setCurrentText(chosen)
        self.test_result.setText(f"Connected — {len(models)} model{'s' if len(models) != 1 else ''}")

    def _on_failed(self, info: ErrorInfo) -> None:
        if self.sender() is None or self.sender() is not self._thread:
            return
        self._thread = None
        self.test_button.setEnabled(True)
        # The server's words shortened to one line; the whole text (LiteLLM's runs to several
        # paragraphs) in the tooltip.
        self.test_result.setText(info.message + (f"\n{info.summary}" if info.detail else ""))
        self.test_result.setToolTip(info.detail if info.has_more else "")

    # -- OK ------------------------------------------------------------------------------------------
    def problem(self) -> str:
        """What must be fixed before OK can be accepted, or ""."""
        return settings_problem(self.draft_settings())

    def apply_secrets(self) -> None:
        """Write typed keys, removals and deleted profiles' keys to the KeyStore.

        Raises :class:`KeyStoreError` (safe to show) when the keyring refuses and "use until quit"
        was not chosen; the notice and the "use until quit" choice are then shown.
        """
        auth = {pid: bool(p.proxy_url_without_password and p.proxy_user) for pid, p in self._drafts.items()}
        try:
            self._pending.apply(self._keys, auth, session_only=self.session_only.isChecked())
        except KeyStoreError:
            self._set_keyring_notice(self._keys.unavailable_reason)
            self.keyring_notice.setVisible(True)
            self.session_only.setVisible(True)
            raise


@dataclass(frozen=True)
class DialogResult:
    """What OK hands back: the settings, and the personas when the Personas page was shown."""

    settings: Settings
    personas: PersonaLibrary | None = None


class SettingsDialog(QDialog):
    """Settings with a Connection page and, given a persona library, a Personas page."""

    def __init__(self, settings: Settings, keys: KeyStore, env: Mapping[str, str],
                 first_run: bool = False, parent: QWidget | None = None,
                 personas: PersonaLibrary | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._result: Settings | None = None
        self.intro = QLabel(FIRST_RUN_TEXT, objectName="firstRunIntro", wordWrap=True)
        self.intro.setOpenExternalLinks(True)
        self.intro.setVisible(first_run)
        self.tabs = QTabWidget()
        self.connection = ConnectionPage(settings, keys, env)
        self.add_page("Connection", self.connection)
        self.personas_page = None
        self._personas_result: PersonaLibrary | None = None
        if personas is not None:
            from chatbot_gui.ui.personas_page import Interaction, PersonasPage

            self.personas_page = PersonasPage(personas, models=settings.active_profile.models,
                                              interaction=Interaction(self), parent=self)
            self.add_page("Personas", self.personas_page)
        self.error_label = QLabel(objectName="dialogError", wordWrap=True)
        self.error_label.setStyleSheet("color: #b00020;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (self.intro, self.tabs, self.error_label, self.buttons):
            layout.addWidget(w)
        self.setMinimumWidth(600)

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().showEvent(event)
        self.adjustSize()  # word-wrapped notices need their height once the width is known

    def add_page(self, title: str, widget: QWidget) -> None:
        """Add a page (tab) after the existing ones."""
        self.tabs.addTab(widget, title)

    def result_settings(self) -> Settings | None:
        """The settings accepted with OK (None until then)."""
        return self._result

    def result_personas(self) -> PersonaLibrary | None:
        """The personas accepted with OK (None until then, or when the page was not shown)."""
        return self._personas_result

    def accept(self) -> None:
        problem = self.connection.problem()
        if not problem and self.personas_page is not None:
            persona_problem = self.personas_page.problem()
            if persona_problem:
                self.tabs.setCurrentWidget(self.personas_page)
                self.error_label.setText(persona_problem)
                return
        if not problem:
            try:
                self.connection.apply_secrets()
            except KeyStoreError as exc:
                problem = f"{exc}"
        if problem:
            self.error_label.setText(problem)
            return
        self._result = self.connection.draft_settings()
        if self.personas_page is not None:
            self._personas_result = self.personas_page.result()
        super().accept()

    def done(self, result: int) -> None:
        self.connection.cancel_test()  # closing mid-test: the thread hangs up and ends by itself
        super().done(result)


def ask(parent: QWidget | None, settings: Settings, keys: KeyStore, env: Mapping[str, str],
        first_run: bool = False, personas: PersonaLibrary | None = None) -> DialogResult | None:
    """Show the dialog modally. What OK accepted (secrets already in ``keys``), or None on Cancel."""
    dialog = SettingsDialog(settings, keys, env, first_run, parent, personas=personas)
    try:
        dialog.exec()
        accepted = dialog.result_settings()
        return None if accepted is None else DialogResult(accepted, dialog.result_personas())
    finally:
        dialog.deleteLater()
