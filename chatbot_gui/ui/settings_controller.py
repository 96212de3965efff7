"""Settings for one main window: load and save them, resolve the connection, open the dialog.

Reading the keyring waits until the window is shown (a Secret Service call, and the import of
its client, stay off the start-up path) and runs on the task runner, never on the GUI thread: a
locked keyring's unlock prompt (or a D-Bus service that does not answer) leaves the window alive,
the status line says what the app waits for, and a failure or a timeout leaves a message and a
"Try again" button. A profile known to have no key saved does not ask the keyring at all. On the
very first start with no key anywhere, the Settings dialog opens by itself. Changes apply from the
next request.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import TYPE_CHECKING, Callable, Mapping

from PySide6.QtCore import QByteArray, QObject

from chatbot_gui.core.persona_store import PersonaLibrary, PersonaStore
from chatbot_gui.core.personas import DEFAULT_MODEL
from chatbot_gui.core.settings import (
    Settings, SettingsStore, env_base_url, keyring_reads, resolve_connection, server_label,
)
from chatbot_gui.ui.main_window import MainWindow

if TYPE_CHECKING:  # keyring is imported when the keyring is first used, after the window shows
    from chatbot_gui.core.connection import ConnectionConfig
    from chatbot_gui.core.secrets import KeyStore
    from chatbot_gui.ui.controller import ChatController  # may come after the first paint: attach()
    from chatbot_gui.ui.settings_dialog import DialogResult

AskSettings = Callable[..., "DialogResult | None"]

KEY_SOURCE_LABELS = {
    "environment": "key from environment",
    "keyring": "key in system keyring",
    "session": "key until quit (not saved)",
    "typed": "key typed",
    "other server": "no key for this server (the saved one is for another)",
    "": "no key",
}
#: How long the keyring may take to answer (an unlock prompt included) before the app gives up.
KEYRING_TIMEOUT = 30.0
WAITING_FOR_KEYRING = "Waiting for the system keyring… (unlock it if it asks)"


def _default_ask(*args, **kwargs) -> "DialogResult | None":  # noqa: ANN002, ANN003 - forwards to the dialog
    from chatbot_gui.ui.settings_dialog import ask

    return ask(*args, **kwargs)


class SettingsController(QObject):
    """Owns the window's :class:`Settings`, personas and :class:`KeyStore`; feeds the chat controller.

    Made before the first paint, it shows what the settings say in the window's first frame (theme,
    text size, geometry, personas, models). ``chat`` may be None then, and :meth:`attach` gives it
    once the chat logic is loaded (after the first paint: ``chatbot_gui.app``); until then the
    Settings action is not connected."""

    def __init__(
        self,
        window: MainWindow,
        chat: ChatController | None,
        store: SettingsStore,
        keys: "KeyStore | None",
        env: Mapping[str, str],
        *,
        persona_store: PersonaStore | None = None,
        ask: AskSettings = _default_ask,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.chat = chat
        self.store = store
        self._keys = keys
        self.env = env
        self._ask = ask
        self._keyring_task = None  # the keyring read in flight (a tasks.Task)
        window.keyring_retry_button.clicked.connect(lambda: self.load_key())
        self.settings, notice = store.load()
        if notice:
            self._notify(notice)
        self.persona_store = persona_store
        self.personas = PersonaLibrary()
        if persona_store is not None:
            self.personas, persona_notice = persona_store.load()
            if persona_notice:
                self._notify(persona_notice)
        self._apply_personas(first=True)
        self._apply_appearance()
        window.zoomChanged.connect(self._zoom_changed)
        self._restore_geometry()
        self._fill_models()
        window.on_close(self.save_on_close)
        if chat is not None:
            self.attach(chat)

    def attach(self, chat: ChatController) -> None:
        """Feed ``chat`` (made after the first paint, or at once): the personas shown, the Settings action."""
        self.chat = chat
        chat.default_persona = self.personas.default_persona
        chat.conversation.persona = self.personas.default_persona
        self.window.settings_action.triggered.connect(lambda: self.open_settings())
        # "Open Settings" under an error whose remedy is the key (the server refused it, 401).
        self.window.transcript.settingsRequested.connect(lambda: self.open_settings(focus_key=True))

    def _notify(self, text: str) -> None:
        if self.chat is not None:
            self.chat.context.notify(text)
        else:  # before the chat logic is loaded: the same banner (no listeners can exist yet)
            self.window.notify(text)

    @property
    def keys(self) -> "KeyStore":
        """The key store, created on first use (after the window is shown)."""
        if self._keys is None:
            from chatbot_gui.core.secrets import KeyStore

            self._keys = KeyStore()
        return self._keys

    # -- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        """Call after the window is shown: resolve the key, and on a first start ask for one."""
        self.window.after_first_paint(self._after_shown)

    def _after_shown(self) -> None:
        self.load_key(first_run=True)

    def load_key(self, first_run: bool = False) -> None:
        """Apply the active profile's connection, reading its key from the keyring off the GUI thread
        when it needs one (and was not read yet). On a first start without any key, ask for one."""
        from chatbot_gui.ui.tasks import runner

        self.window.keyring_retry_button.hide()
        profile = self.settings.active_profile
        reads = keyring_reads(profile, self.env)
        if all(self.keys.is_known(profile.id, proxy=proxy) for proxy in reads):
            self._key_loaded(first_run)
            return
        if self._keyring_task is not None:
            self._keyring_task.cancel()
        self.apply_connection(waiting=True)
        self.window.show_status(WAITING_FOR_KEYRING, 0)
        keys = self.keys

        def read() -> None:  # on a worker thread: may wait for an unlock prompt
            keys.prepare()
            for proxy in reads:
                keys.load(profile.id, proxy=proxy)

        self._keyring_task = runner().run(read, lambda _none: self._key_loaded(first_run),
                                          self._key_failed, name="keyring read", timeout=KEYRING_TIMEOUT)

    def _key_loaded(self, first_run: bool) -> None:
        self._keyring_task = None
        self._remember_key_saved()
        if self.window.statusBar().currentMessage() == WAITING_FOR_KEYRING:
            self.window.show_status("Ready", 0)
        config = self.apply_connection()
        if first_run and config.usable_key is None:
            self.open_settings(first_run=True)

    def _key_failed(self, exc: BaseException) -> None:
        """The keyring refused, stayed locked (prompt cancelled) or did not answer in time."""
        from chatbot_gui.core.secrets import KeyStoreError
        from chatbot_gui.ui.tasks import TaskTimeout

        self._keyring_task = None
        detail = ""
        if isinstance(exc, TaskTimeout):
            text = f"The system keyring did not answer within {KEYRING_TIMEOUT:g} s."
        elif isinstance(exc, KeyStoreError) and exc.kind == "locked":
            text = "The system keyring stayed locked, so the saved key was not read."
            detail = str(exc)
        elif isinstance(exc, KeyStoreError):
            text = "The system keyring failed, so the saved key was not read."
            detail = str(exc)
        else:
            text = f"The saved key could not be read ({type(exc).__name__})."
        self.apply_connection(problem=text)
        self.window.set_connection_label(f"{self._where()} · key not read")
        # One short line (the status bar cuts long ones); the keyring's full words are the tooltip.
        self.window.show_status(f"{text} Try again?", 0)
        self.window.keyring_retry_button.setToolTip(detail or text)
        self.window.keyring_retry_button.show()

    def _remember_key_saved(self) -> None:
        """Remember whether the keyring holds the profile's key (an older settings file does not say;
        a key deleted outside the app makes the flag wrong), so later starts ask it only when needed."""
        profile = self.settings.active_profile
        saved = self.keys.saved_in_keyring(profile.id)
        if saved is None or saved == profile.key_saved:
            return
        self.settings = self.settings.with_profile(dataclasses.replace(profile, key_saved=saved))
        self._save()

    def _where(self) -> str:
        base = env_base_url(self.env)
        return f"{server_label(base)} (OPENAI_BASE_URL)" if base else self.settings.active_profile.name

    def apply_connection(self, waiting: bool = False, problem: str = "") -> ConnectionConfig:
        """Resolve the connection from what is known now (never asks the keyring) and use it.
        ``waiting``/``problem``: the keyring read runs or failed, so a message sent waits for the key."""
        config = resolve_connection(self.settings, self.keys.cached, self.env)
        self.chat.set_config(config, key_pending=waiting, key_problem=problem)
        self.chat.set_context_settings(self.settings.context_windows, self.settings.model_prices)
        what = "waiting for the keyring" if waiting else KEY_SOURCE_LABELS.get(config.key_source, "key")
        self.window.set_connection_label(f"{self._where()} · {what}")
        return config

    # -- the dialog ------------------------------------------------------------------------------
    def open_settings(self, first_run: bool = False, focus_key: bool = False) -> bool:
        """Show the Settings dialog; True when the user pressed OK (changes then apply).
        ``focus_key``: with the cursor in the API key field of the profile in use."""
        extra = {"focus_key": True} if focus_key else {}  # (an injected ``ask`` need not know it)
        result = self._ask(self.window, self.settings, self.keys, self.env, first_run=first_run,
                           personas=self.personas if self.persona_store is not None else None, **extra)
        if result is None:
            if first_run:
                self.chat.show_no_key_notice()
            return False
        new = dataclasses.replace(result.settings, font_zoom=self.window.zoom)  # zoomed meanwhile: kept
        old = self.settings.active_profile
        self.settings = new
        self._save()
        self._apply_appearance()
        if result.personas is not None and result.personas != self.personas:
            self.personas = result.personas
            self._save_personas()
            self._apply_personas()
        # The picker keeps the user's current model unless the profile or its default model changed.
        profile = new.active_profile
        self._fill_models(keep_current=profile.id == old.id and profile.default_model == old.default_model)
        self.load_key()
        return True

    # -- appearance ------------------------------------------------------------------------------
    def _apply_appearance(self) -> None:
        """The light/dark choice and the text size from the settings (before the first paint)."""
        from chatbot_gui.ui.theme import theme

        theme().set_mode(self.settings.theme)
        if self.window.zoom != self.settings.font_zoom:
            self.window.set_zoom(self.settings.font_zoom, announce=False)

    def _zoom_changed(self, steps: int) -> None:
        # Written with the rest at close (or with the next settings change), not at every key press.
        self.settings = dataclasses.replace(self.settings, font_zoom=steps)

    # -- personas --------------------------------------------------------------------------------
    def _apply_personas(self, first: bool = False) -> None:
        """Show the library in the picker; the open chat keeps its persona, updated if edited."""
        library = self.personas
        if first:  # from __init__: the chat (if any yet) is given its persona by attach()
            self.window.set_personas(library.personas, library.default_persona.name)
            if library.default_persona.model:  # as ChatController.apply_persona_model does
                self.window.model_combo.setEditText(library.default_persona.model)
            return
        self.chat.default_persona = library.default_persona
        current = library.find(self.chat.conversation.persona.name)
        chosen = current or library.default_persona
        self.window.set_personas(library.personas, chosen.name)
        self.chat.set_persona(chosen)

    def _save_personas(self) -> None:
        if self.persona_store is None:
            return
        try:
            self.persona_store.save(self.personas)
        except OSError as exc:
            self._notify(
                f"Personas could not be saved ({exc.strerror or exc}). They apply until Chatbot quits."
            )

    def _save(self) -> None:
        try:
            self.store.save(self.settings)
        except OSError as exc:
            self._notify(
                f"Settings could not be saved ({exc.strerror or exc}). They apply until Chatbot quits."
            )

    # -- model picker and window state -----------------------------------------------------------
    def _fill_models(self, keep_current: bool = False) -> None:
        profile = self.settings.active_profile
        current = self.window.current_model() if keep_current else ""
        self.window.set_models(profile.models, current or profile.default_model or DEFAULT_MODEL)

    def _restore_geometry(self) -> None:
        if not self.settings.window_geometry:
            return
        try:
            raw = base64.b64decode(self.settings.window_geometry.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return
        self.window.restoreGeometry(QByteArray(raw))

    def save_on_close(self) -> None:
        """Remember the window's geometry and the model in use for the active profile."""
        geometry = base64.b64encode(bytes(self.window.saveGeometry().data())).decode("ascii")
        profile = self.settings.active_profile
        model = self.window.current_model()
        if model and model != profile.default_model:
            self.settings = self.settings.with_profile(dataclasses.replace(profile, default_model=model))
        self.settings = dataclasses.replace(self.settings, window_geometry=geometry)
        self._save()
