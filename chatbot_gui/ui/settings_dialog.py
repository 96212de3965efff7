"""The Settings dialog: connection profiles (server, key, proxy, timeout) and "Test connection".

Entry point: :func:`ask` returns the new :class:`Settings` on OK, or None on Cancel. Secrets typed
here go to the :class:`KeyStore` on OK only; Cancel changes nothing. Stored secrets are never
loaded into the widgets (so "Show" only ever reveals what was typed in this dialog). More pages
(Personas, ...) are added with :meth:`SettingsDialog.add_page`.

The keyring is never asked on the GUI thread: what the page shows comes from the profiles' "key
saved" flags and what the keyring answered before; reads it still needs, and the writes on OK, run on
the task runner with a timeout while the dialog stays usable. A saved key belongs to the server it
was given for: when a profile's server changes, the key stays behind until the user says it belongs
to the new one ("Use the saved key here") or types a new one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QSizePolicy, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.persona_store import PersonaLibrary
from chatbot_gui.core.personas import DEFAULT_MODEL
from chatbot_gui.core.secrets import KeyStore, KeyStoreError, PendingSecrets
from chatbot_gui.core.settings import (
    PRESETS, Profile, Settings, env_base_url, env_key_applies, key_goes_to, keyring_reads, new_profile_id,
    proxy_problem, resolve_connection, same_server, server_in_use, server_label, settings_problem,
    split_proxy_url,
)
from chatbot_gui.ui.models_thread import ModelsThread, start_models_thread
from chatbot_gui.ui.tasks import Task, TaskTimeout, runner
from chatbot_gui.ui.theme import error_style

#: How long the keyring may take (its unlock prompt included) before the dialog stops waiting.
KEYRING_TIMEOUT = 30.0
KEYRING_SLOW = (f"The system keyring did not answer within {KEYRING_TIMEOUT:g} s. Press OK to try again, "
                "or use the key until Chatbot quits.")

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
        # A key's server is pinned while editing: changing the address must not take the key along.
        self._drafts: dict[str, Profile] = {p.id: dataclasses.replace(p, key_server=p.key_address)
                                            for p in settings.profiles}
        self._order: list[str] = [p.id for p in settings.profiles]
        self._pending = PendingSecrets()
        self._current = ""
        self._thread: ModelsThread | None = None
        self._test_pid = ""
        self._test_task: Task | None = None
        self._probe: Task | None = None
        self._save_task: Task | None = None
        self._build()
        for pid in self._order:
            self.profile_combo.addItem(self._drafts[pid].name, pid)
        self.profile_combo.setCurrentIndex(max(0, self._order.index(settings.active_profile.id)))
        self._load(self.profile_combo.currentData())
        self._probe_keyring()

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
        base = env_base_url(self._env)
        # One short line each (a word-wrapped label in a tab page is not given its wrapped height by
        # Qt's layouts and overlaps the next row); the full explanation is the tooltip.
        self.env_server = QLabel(objectName="envServer")
        self.env_server.setText(f"In use: {base} (OPENAI_BASE_URL)" if base else "")
        self.env_server.setToolTip(f"This run uses {base}, from OPENAI_BASE_URL in the environment; the "
                                   "address above applies when the variable is not set." if base else "")
        self.env_server.setVisible(bool(base))
        self.key_edit = QLineEdit(objectName="apiKey", echoMode=QLineEdit.EchoMode.Password)
        self.show_key = QCheckBox("Show", objectName="showKey")
        self.remove_key = QPushButton("Remove key", objectName="removeKey")
        self.use_saved_key = QPushButton("Use the saved key here", objectName="useSavedKey")
        self.use_saved_key.setToolTip("The saved key belongs to this server too: send it here")
        # Its own row, at its own width: a hidden widget's row takes no room (a row holding a layout
        # of hidden widgets kept its spacing: a blank line under the key's status).
        self.use_saved_key.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
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
            ("Name:", self.name_edit), ("Server:", _row(self.preset_combo, self.url_edit)), ("", self.env_server),
            ("API key:", _row(self.key_edit, self.show_key, self.remove_key, grow=0)), ("", self.key_status),
            ("", self.use_saved_key),
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

        self._set_tab_order()
        reason = self._keys.known_reason  # never asks the keyring here: an unlock prompt would freeze us
        self._set_keyring_notice(reason)
        self.keyring_notice.setVisible(bool(reason))
        self.session_only.setVisible(bool(reason))

        self.profile_combo.currentIndexChanged.connect(self._on_profile_changed)
        self.add_button.clicked.connect(self._add_profile)
        self.delete_button.clicked.connect(self._delete_profile)
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.preset_combo.activated.connect(self._on_preset)
        self.url_edit.textChanged.connect(self._sync_preset)
        self.url_edit.textEdited.connect(self._on_url_edited)
        self.use_saved_key.clicked.connect(self._on_use_saved_key)
        self.key_edit.textEdited.connect(self._on_key_edited)
        self.show_key.toggled.connect(self._on_show_key)
        self.session_only.toggled.connect(self._update_key_status)
        self.remove_key.clicked.connect(self._on_remove_key)
        self.proxy_edit.editingFinished.connect(self._split_pasted_proxy)
        self.proxy_pw_edit.textEdited.connect(
            lambda text: self._pending.proxy_passwords.__setitem__(self._current, text))
        self.test_button.clicked.connect(self.test_connection)

    def _set_tab_order(self) -> None:
        """Tab goes through the page in the order it reads (Shift+Tab from the key reaches the address)."""
        chain = [self.profile_combo, self.add_button, self.delete_button, self.name_edit, self.preset_combo,
                 self.url_edit, self.key_edit, self.show_key, self.remove_key, self.use_saved_key,
                 self.session_only, self.org_edit, self.project_edit, self.timeout_spin, self.proxy_edit,
                 self.proxy_user_edit, self.proxy_pw_edit, self.model_combo, self.test_button]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

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
        stored_pw = prof.proxy_user and self._keys.cached.get(pid, proxy=True)
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
        original = {p.id: p for p in self._settings.profiles}

        def unpinned(prof: Profile) -> Profile:  # a key still bound to the profile's own address stays so
            before = original.get(prof.id)
            if before is not None and before.key_server is None and same_server(prof.key_address, prof.base_url):
                return dataclasses.replace(prof, key_server=None)
            return prof

        return dataclasses.replace(self._settings, profiles=tuple(unpinned(self._drafts[p]) for p in self._order),
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
        self._drafts[pid] = Profile(pid, f"Profile {len(self._order) + 1}", key_saved=False,
                                    name_follows_server=True)
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
        self._drafts[self._current] = dataclasses.replace(self._drafts[self._current], name_follows_server=False)

    def _follow_server(self) -> None:
        """A profile the user never named is called after its server (not "OpenAI" on LiteLLM)."""
        prof = self._drafts[self._current]
        if prof.follows_server and self.url_edit.text().strip():
            name = server_label(self.url_edit.text())
            self.name_edit.setText(name)
            self.profile_combo.setItemText(self.profile_combo.currentIndex(), name)
            self._drafts[self._current] = dataclasses.replace(prof, name=name, name_follows_server=True)

    # -- server, key, proxy --------------------------------------------------------------------------
    def _on_preset(self, index: int) -> None:
        url = self.preset_combo.itemData(index)
        if url:
            self.url_edit.setText(url)
            self._follow_server()
            self._update_key_status()

    def _on_url_edited(self, _text: str) -> None:
        self._follow_server()
        self._update_key_status()

    def _on_use_saved_key(self) -> None:
        """The user says the saved key belongs to the server in use too."""
        self._store()
        prof = self._drafts[self._current]
        self._drafts[self._current] = dataclasses.replace(prof, key_server=server_in_use(prof, self._env))
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

    def _stored_source(self, prof: Profile) -> str:
        """Where the profile's saved key is ("keyring", "session"), "" for none, "?" while unknown.

        From the profile's "key saved" flag and what the keyring answered before: never asks it.
        """
        source = self._keys.peek(prof.id, keyring=prof.key_saved is not False)[1]
        if source or prof.key_saved is False or self._keys.is_known(prof.id):
            return source
        return "keyring" if prof.key_saved else "?"

    def _update_key_status(self) -> None:
        pid, pending = self._current, self._pending
        draft = dataclasses.replace(self._drafts[pid], base_url=self.url_edit.text().strip())
        stored = self._stored_source(draft)
        source = "" if pid in pending.remove_keys else stored
        env_key = bool((self._env.get("OPENAI_API_KEY") or "").strip())
        elsewhere = source in ("keyring", "session") and not key_goes_to(draft, self._env)
        tip = ""
        if env_key and env_key_applies(draft, self._env):
            text = "Using the key from the environment (OPENAI_API_KEY) for this run; it is not stored."
        elif pending.keys.get(pid):
            if self.session_only.isChecked():
                text = "The new key is used when you press OK, until Chatbot quits (not saved)."
            elif not self._keys.available_known or not self.session_only.isHidden():  # offered: saving failed
                text = "This key cannot be saved. Tick “Use the key until Chatbot quits” to use it."
            else:
                text = "The new key is saved when you press OK."
        elif stored and not source:
            text = "The saved key will be removed when you press OK."
        elif elsewhere:
            text = f"The saved key is for {server_label(draft.key_address)}: it is not sent to this server."
            tip = (f"The saved key was given for {draft.key_address}, so it is not sent to "
                   f"{server_in_use(draft, self._env) or 'an empty address'}. Type this server's key, or use "
                   "the saved one here if it belongs to this server too.")
        else:
            text = {"keyring": "A key is saved in the system keyring. Type a new one to replace it.",
                    "session": "A key is kept in memory until Chatbot quits (not saved).",
                    "?": "Checking the system keyring…"}.get(source, "No key saved.")
        self.key_status.setText(text)
        self.key_status.setToolTip(tip)
        self.remove_key.setEnabled(bool(pending.keys.get(pid) or source in ("keyring", "session")))
        self.use_saved_key.setVisible(elsewhere and not pending.keys.get(pid)
                                      and bool(server_in_use(draft, self._env)))

    def _probe_keyring(self) -> None:
        """Ask the keyring (off the GUI thread) about profiles whose "key saved" flag is unknown."""
        unknown = [p.id for p in self._drafts.values() if p.key_saved is None and not self._keys.is_known(p.id)]
        proxies = [p.id for p in self._drafts.values()
                   if p.proxy_user and p.proxy_url_without_password and not self._keys.is_known(p.id, proxy=True)]
        if not unknown and not proxies:
            return
        keys = self._keys

        def read() -> None:
            keys.prepare()
            for pid in unknown:
                keys.get_with_source(pid)  # a failure is remembered as the keyring's reason
            for pid in proxies:
                keys.get_with_source(pid, proxy=True)

        def done(_none: object = None) -> None:
            self._probe = None
            for pid in unknown:
                saved = keys.saved_in_keyring(pid)
                if pid in self._drafts and saved is not None:
                    self._drafts[pid] = dataclasses.replace(self._drafts[pid], key_saved=saved)
            self._show_keyring_reason(keys.known_reason)
            if self._current in proxies and keys.peek(self._current, proxy=True)[0]:
                self.proxy_pw_edit.setPlaceholderText("saved in the keyring (type to replace)")
            self._update_key_status()

        def failed(exc: BaseException) -> None:
            self._probe = None
            self.key_status.setText(KEYRING_SLOW.split(". ")[0] + "." if isinstance(exc, TaskTimeout)
                                    else "The system keyring could not be read.")

        self._probe = runner().run(read, done, failed, name="keyring probe", timeout=KEYRING_TIMEOUT)
        self.destroyed.connect(self._probe.cancel)

    def _show_keyring_reason(self, reason: str) -> None:
        self._set_keyring_notice(reason)
        self.keyring_notice.setVisible(bool(reason))
        self.session_only.setVisible(bool(reason) or self.session_only.isChecked())

    # -- test connection ----------------------------------------------------------------------------
    def current_config(self) -> ConnectionConfig:
        """The ConnectionConfig for the profile shown, with what was typed but not saved yet.

        From what is known without asking the keyring (see :meth:`test_connection`).
        """
        return resolve_connection(self.draft_settings(), self._keys.cached, self._env, self._pending)

    def test_connection(self) -> None:
        """Ask the server in use for its models on a worker thread; the page stays usable meanwhile.

        The server in use is the one chats go to (``OPENAI_BASE_URL`` included), with the key chats
        would send there, never another. A key the keyring has not told yet is read on the task runner.
        """
        problem = proxy_problem(self.proxy_edit.text())
        settings = self.draft_settings()
        if not problem and not server_in_use(settings.active_profile, self._env):
            problem = "Enter the server address first."
        if problem:
            self.test_result.setText(problem)
            return
        self.cancel_test()
        self.test_result.setText("Connecting…")
        self.test_result.setToolTip("")
        self.test_button.setEnabled(False)
        self._test_pid = self._current
        prof = settings.active_profile
        if all(self._keys.is_known(prof.id, proxy=proxy) for proxy in keyring_reads(prof, self._env)):
            self._start_test(self.current_config())
            return
        keys, env = self._keys, self._env
        pending = dataclasses.replace(self._pending, keys=dict(self._pending.keys),
                                      proxy_passwords=dict(self._pending.proxy_passwords),
                                      remove_keys=set(self._pending.remove_keys))
        self._test_task = runner().run(lambda: resolve_connection(settings, keys, env, pending),
                                       self._start_test, self._test_keyring_failed, name="keyring read",
                                       timeout=KEYRING_TIMEOUT)

    def _start_test(self, config: ConnectionConfig) -> None:
        self._test_task = None
        thread = start_models_thread(config)
        thread.modelsReady.connect(self._on_models)
        thread.failed.connect(self._on_failed)
        self.destroyed.connect(thread.cancel)  # deleted with its parent window mid-test: hang up
        self._thread = thread

    def _test_keyring_failed(self, exc: BaseException) -> None:
        self._test_task = None
        self.test_button.setEnabled(True)
        self.test_result.setText(KEYRING_SLOW.split(". ")[0] + "." if isinstance(exc, TaskTimeout)
                                 else "The system keyring could not be read.")

    def cancel_test(self) -> None:
        """Forget a running test: its thread hangs up and its result is dropped."""
        if self._test_task is not None:
            self._test_task.cancel()
            self._test_task = None
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

    def save_secrets(self, on_saved: Callable[[], None], on_failed: Callable[[str], None]) -> None:
        """Write typed keys, removals and deleted profiles' keys to the KeyStore, then ``on_saved()``.

        Keyring writes run on the task runner (a locked keyring's prompt, or a service that does not
        answer, must not freeze the dialog). When the keyring refuses or times out and "use until
        quit" was not chosen, ``on_failed(text)`` gets words safe to show, and the notice and the
        "use until quit" choice are shown.
        """
        self._store()
        auth = {pid: bool(p.proxy_url_without_password and p.proxy_user) for pid, p in self._drafts.items()}
        had = {p.id: bool(p.proxy_url_without_password and p.proxy_user) for p in self._settings.profiles}
        session_only = self.session_only.isChecked()
        pending, keys = self._pending, self._keys

        def saved(done: dict[str, str]) -> None:
            self._save_task = None
            for pid, where in done.items():
                if pid not in self._drafts:
                    continue
                prof = self._drafts[pid]
                if where == "removed":
                    self._drafts[pid] = dataclasses.replace(prof, key_saved=False, key_server=None)
                else:  # a typed key belongs to the address it was typed beside
                    saved_flag = True if where == "keyring" else prof.key_saved
                    self._drafts[pid] = dataclasses.replace(prof, key_saved=saved_flag, key_server=prof.base_url)
            on_saved()

        def failed(exc: BaseException) -> None:
            self._save_task = None
            if isinstance(exc, TaskTimeout):
                text = KEYRING_SLOW
            elif isinstance(exc, KeyStoreError):
                text = str(exc)
            else:
                text = f"The keys could not be saved ({type(exc).__name__})."
            self._set_keyring_notice(self._keys.known_reason or text)
            self.keyring_notice.setVisible(True)
            self.session_only.setVisible(True)
            self._update_key_status()  # no longer "saved when you press OK"
            on_failed(text)

        if not pending.touches_keyring(auth, had, session_only):
            try:
                done = pending.apply(keys, auth, session_only=session_only, had_proxy_auth=had)
            except KeyStoreError as exc:
                failed(exc)
                return
            saved(done)
            return
        self._save_task = runner().run(
            lambda: pending.apply(keys, auth, session_only=session_only, had_proxy_auth=had),
            saved, failed, name="keyring write", timeout=KEYRING_TIMEOUT)

    def stop_background(self) -> None:
        """The dialog closes: a running test hangs up; keyring reads and writes deliver nothing more."""
        self.cancel_test()
        for task in (self._probe, self._save_task):
            if task is not None:
                task.cancel()


@dataclass(frozen=True)
class DialogResult:
    """What OK hands back: the settings, and the personas when the Personas page was shown."""

    settings: Settings
    personas: PersonaLibrary | None = None


class SettingsDialog(QDialog):
    """Settings with a Connection page and, given a persona library, a Personas page."""

    def __init__(self, settings: Settings, keys: KeyStore, env: Mapping[str, str],
                 first_run: bool = False, parent: QWidget | None = None,
                 personas: PersonaLibrary | None = None, focus_key: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._result: Settings | None = None
        self._saving = False
        self.intro = QLabel(FIRST_RUN_TEXT, objectName="firstRunIntro", wordWrap=True)
        self.intro.setOpenExternalLinks(True)
        self.intro.setVisible(first_run)
        self._first_run = first_run
        #: Open with the cursor in the key field of the profile in use (the server refused the key).
        self._focus_key = first_run or focus_key
        self.tabs = QTabWidget(objectName="settingsPages")
        self.connection = ConnectionPage(settings, keys, env)
        self.add_page("Connection", self.connection)
        self.personas_page = None
        self._personas_result: PersonaLibrary | None = None
        if personas is not None:
            from chatbot_gui.ui.personas_page import Interaction, PersonasPage

            self.personas_page = PersonasPage(personas, models=settings.active_profile.models,
                                              interaction=Interaction(self), parent=self)
            self.add_page("Personas", self.personas_page)
        from chatbot_gui.ui.appearance_page import AppearancePage
        from chatbot_gui.ui.accessibility import SETTINGS_NAMES, name_controls

        self.appearance = AppearancePage(settings.theme)
        self.add_page("Appearance", self.appearance)
        from chatbot_gui.ui.models_page import ModelsPage

        self.models_page = ModelsPage(settings.context_windows, settings.model_prices)
        self.add_page("Models", self.models_page)
        self.error_label = QLabel(objectName="dialogError", wordWrap=True)
        self.error_label.setStyleSheet(error_style())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (self.intro, self.tabs, self.error_label, self.buttons):
            layout.addWidget(w)
        self.setMinimumWidth(600)
        name_controls(self, SETTINGS_NAMES)

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().showEvent(event)
        self.adjustSize()  # word-wrapped notices need their height once the width is known
        if self._focus_key:
            # A newcomer, or someone whose key the server refused, pastes the key and presses Enter
            # (OK): the cursor waits in the key field of the profile in use (the page opens on it).
            self._first_run = self._focus_key = False
            self.tabs.setCurrentWidget(self.connection)
            self.connection.key_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            self.connection.key_edit.selectAll()

    def add_page(self, title: str, widget: QWidget) -> None:
        """Add a page (tab) after the existing ones."""
        self.tabs.addTab(widget, title)

    def result_settings(self) -> Settings | None:
        """The settings accepted with OK (None until then)."""
        return self._result

    def result_personas(self) -> PersonaLibrary | None:
        """The personas accepted with OK (None until then, or when the page was not shown)."""
        return self._personas_result

    @property
    def saving(self) -> bool:
        """True while OK waits for the keyring to store the keys."""
        return self._saving

    def accept(self) -> None:
        if self._saving:
            return
        problem = self.connection.problem()
        if not problem and self.personas_page is not None:
            persona_problem = self.personas_page.problem()
            if persona_problem:
                self.tabs.setCurrentWidget(self.personas_page)
                self.error_label.setText(persona_problem)
                return
        if not problem and self.models_page.problem():
            self.tabs.setCurrentWidget(self.models_page)  # the page says what is wrong under its table
            self.error_label.setText("Fix the Models page first: " + self.models_page.problem())
            return
        if problem:
            self.error_label.setText(problem)
            return
        self._saving = True
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.error_label.setStyleSheet("")
        self.error_label.setText("Saving in the system keyring… (unlock it if it asks)")
        self.connection.save_secrets(self._saved, self._not_saved)

    def _saved(self) -> None:
        self._saving = False
        self.error_label.setText("")
        self._result = dataclasses.replace(self.connection.draft_settings(), theme=self.appearance.mode(),
                                           context_windows=self.models_page.context_windows(),
                                           model_prices=self.models_page.model_prices())
        if self.personas_page is not None:
            self._personas_result = self.personas_page.result()
        super().accept()

    def _not_saved(self, text: str) -> None:
        self._saving = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)
        self.error_label.setStyleSheet(error_style())
        self.error_label.setText(text)

    def done(self, result: int) -> None:
        self.connection.stop_background()  # closing mid-test: the thread hangs up and ends by itself
        self._saving = False
        super().done(result)


def ask(parent: QWidget | None, settings: Settings, keys: KeyStore, env: Mapping[str, str],
        first_run: bool = False, personas: PersonaLibrary | None = None,
        focus_key: bool = False) -> DialogResult | None:
    """Show the dialog modally. What OK accepted (secrets already in ``keys``), or None on Cancel.
    ``focus_key``: the cursor starts in the API key field of the profile in use."""
    dialog = SettingsDialog(settings, keys, env, first_run, parent, personas=personas, focus_key=focus_key)
    try:
        dialog.exec()
        accepted = dialog.result_settings()
        return None if accepted is None else DialogResult(accepted, dialog.result_personas())
    finally:
        dialog.deleteLater()
