"""The API keys and proxy passwords: in the OS keyring, or (when there is none) in memory until quit.

Secrets never go to settings files, logs or messages. Each profile has one keyring entry for its API
key (service ``chatbot-gui``, username = profile id) and one for its proxy password (username
``<profile id>:proxy``).

The backend is chosen explicitly per platform (:func:`select_backend`) instead of through keyring's
entry-point discovery, which frozen (PyInstaller) builds have repeatedly lost (jaraco/keyring issues
324, 399, 439, 468, 591). keyring's own config file and ``PYTHON_KEYRING_BACKEND`` are ignored on
purpose: they can select a plaintext backend (``keyrings.alt``), and plaintext is never a fallback.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import KeyringError, PasswordDeleteError

from chatbot_gui.core.errors import redact
from chatbot_gui.core.logs import add_secret

SERVICE = "chatbot-gui"
PROXY_SUFFIX = ":proxy"

UNTIL_QUIT = "You can use a key until Chatbot quits (kept in memory only, never written to disk)."
NO_KEYRING = f"No system keyring is available, so keys cannot be saved. {UNTIL_QUIT}"


def _no_keyring(why: str) -> str:
    return f"No system keyring is available ({why}), so keys cannot be saved. {UNTIL_QUIT}"


class KeyStoreError(Exception):
    """A keyring operation failed. The message is safe to show: it never contains the secret.

    ``kind`` says what happened in one word, for short messages: "locked" (the keyring stayed locked:
    its unlock prompt was cancelled, or access was refused), "unavailable" or "failed".
    """

    def __init__(self, message: str, kind: str = "failed") -> None:
        super().__init__(message)
        self.kind = kind


def _kind_of(exc: BaseException) -> str:
    from keyring.errors import KeyringLocked, NoKeyringError

    if isinstance(exc, KeyringLocked):
        return "locked"
    return "unavailable" if isinstance(exc, NoKeyringError) else "failed"


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict: for tests and for session-only keys.

    It is never picked by keyring's automatic detection (its ``priority`` raises), so it can only
    be used by passing an instance explicitly. Thread-safe.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], str] = {}

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("MemoryKeyring is only used when passed explicitly")

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            try:
                del self._items[(service, username)]
            except KeyError:
                raise PasswordDeleteError("No such password") from None


def select_backend(platform: str | None = None) -> tuple[KeyringBackend | None, str]:
    """The OS keyring for ``platform`` (default: this one) if it works, else ``(None, reason)``.

    Static imports per branch so PyInstaller bundles the backend module it needs.
    """
    platform = sys.platform if platform is None else platform
    try:
        if platform.startswith("linux") or platform.startswith("freebsd"):
            from keyring.backends import SecretService

            cls: Any = SecretService.Keyring
            what = "the Secret Service (GNOME Keyring, KWallet or KeePassXC)"
        elif platform == "darwin":
            from keyring.backends import macOS

            cls = macOS.Keyring
            what = "the macOS Keychain"
        elif platform == "win32":
            from keyring.backends import Windows

            cls = Windows.WinVaultKeyring
            what = "the Windows Credential Locker"
        else:
            return None, _no_keyring(f"no keyring support for {platform}")
    except Exception as exc:  # noqa: BLE001 - a broken install is a "no keyring" state, not a crash
        return None, _no_keyring(f"the keyring module could not be loaded: {type(exc).__name__}")
    try:
        cls.priority  # noqa: B018 - raises with the reason when the backend cannot work here
    except Exception:  # noqa: BLE001 - the library's reason is technical; the user needs the fact
        return None, _no_keyring(f"{what} is not reachable")
    return cls(), ""


def _is_fail_backend(backend: KeyringBackend) -> bool:
    from keyring.backends import fail

    return isinstance(backend, fail.Keyring)


class KeyStore:
    """Where the app gets and puts its secrets. One per app.

    ``backend`` is a keyring backend instance (tests pass :class:`MemoryKeyring` or
    ``keyring.backends.fail.Keyring()``); ``None`` selects the platform's keyring on first use.
    Keys set with :meth:`set_session` live in memory only and win over the keyring for this run.

    Every method that reaches the keyring may block (a locked keyring shows its unlock prompt and
    waits for it; a D-Bus service may not answer): the GUI calls them through the task runner and
    reads only :attr:`cached` (what the keyring said last) and :attr:`known_reason` itself.
    """

    def __init__(self, backend: KeyringBackend | None = None, service: str = SERVICE) -> None:
        self._service = service
        self._backend = backend
        self._selected = backend is not None
        self._reason = ""
        self._session = MemoryKeyring()
        self._cache: dict[str, str | None] = {}  # username -> what the keyring said last (None: nothing)
        self.cached = CachedKeys(self)
        if backend is not None and _is_fail_backend(backend):
            self._backend = None
            self._reason = NO_KEYRING

    # -- state ---------------------------------------------------------------------------------
    def _resolve(self) -> KeyringBackend | None:
        if not self._selected:
            self._selected = True
            self._backend, self._reason = select_backend()
        return self._backend

    @property
    def available(self) -> bool:
        """True while the OS keyring works (the last operation on it succeeded)."""
        return self._resolve() is not None and not self._reason

    @property
    def unavailable_reason(self) -> str:
        """Why keys cannot be saved, in words for the user; "" when the keyring works."""
        self._resolve()
        return self._reason

    @property
    def known_reason(self) -> str:
        """:attr:`unavailable_reason` as far as known without asking the keyring (never blocks)."""
        return self._reason if self._selected else ""

    @property
    def available_known(self) -> bool:
        """:attr:`available` as far as known without asking the keyring (True until it failed)."""
        return not self._selected or (self._backend is not None and not self._reason)

    def prepare(self) -> None:
        """Find the platform's keyring now (may block: D-Bus). For a worker thread."""
        self._resolve()

    @property
    def backend_name(self) -> str:
        backend = self._resolve()
        return "none" if backend is None else str(getattr(backend, "name", type(backend).__name__))

    # -- API keys --------------------------------------------------------------------------------
    def get(self, profile_id: str, *, proxy: bool = False) -> str | None:
        """The secret for ``profile_id`` (its proxy password with ``proxy=True``), or None."""
        return self.get_with_source(profile_id, proxy=proxy)[0]

    def get_with_source(self, profile_id: str, *, proxy: bool = False,
                        keyring: bool = True) -> tuple[str | None, str]:
        """``(secret, source)`` where source is "session", "keyring" or "" when there is none.

        ``keyring=False`` looks in memory only (a profile known to have no key saved).
        """
        try:
            return self.load(profile_id, proxy=proxy, keyring=keyring)
        except KeyStoreError:
            return None, ""

    def load(self, profile_id: str, *, proxy: bool = False, keyring: bool = True) -> tuple[str | None, str]:
        """As :meth:`get_with_source`, but a keyring that fails (locked, prompt dismissed, broken)
        raises :class:`KeyStoreError` with words for the user instead of answering "no key"."""
        user = _username(profile_id, proxy)
        value = self._session.get_password(self._service, user)
        if value:
            return value, "session"
        backend = self._resolve() if keyring else None
        if backend is None:
            return None, ""
        failure = kind = ""
        try:
            value = backend.get_password(self._service, user)
        except Exception as exc:  # noqa: BLE001 - any backend failure is said plainly
            failure, kind = self._fail(exc), _kind_of(exc)
        if failure:
            raise KeyStoreError(failure, kind)
        self._reason = ""
        self._cache[user] = value or None
        add_secret(value)  # never in the log, whatever its shape (an Azure key is 32 hex digits)
        return (value, "keyring") if value else (None, "")

    def peek(self, profile_id: str, *, proxy: bool = False, keyring: bool = True) -> tuple[str | None, str]:
        """What :meth:`get_with_source` answered last (memory only: never blocks)."""
        user = _username(profile_id, proxy)
        value = self._session.get_password(self._service, user)
        if value:
            return value, "session"
        value = self._cache.get(user) if keyring else None
        return (value, "keyring") if value else (None, "")

    def saved_in_keyring(self, profile_id: str) -> bool | None:
        """Whether the keyring held a key for ``profile_id`` when last asked (None: not asked)."""
        user = _username(profile_id, False)
        return bool(self._cache[user]) if user in self._cache else None

    def is_known(self, profile_id: str, *, proxy: bool = False) -> bool:
        """Whether the keyring was asked about this secret in this run (so :meth:`peek` knows)."""
        return _username(profile_id, proxy) in self._cache

    def set(self, profile_id: str, secret: str, *, proxy: bool = False) -> None:
        """Save ``secret`` in the OS keyring. Raises :class:`KeyStoreError` when it cannot.

        On failure nothing is kept: the caller decides whether to offer :meth:`set_session`.
        """
        user = _username(profile_id, proxy)
        backend = self._resolve()
        if backend is None:
            raise KeyStoreError(self._reason or NO_KEYRING)
        failure = ""
        try:
            backend.set_password(self._service, user, secret)
        except Exception as exc:  # noqa: BLE001
            failure = self._fail(exc, secret)
        if failure:  # raised outside the handler: the original exception (maybe with the secret) is not chained
            raise KeyStoreError(failure)
        self._reason = ""
        self._cache[user] = secret
        add_secret(secret)
        try:
            self._session.delete_password(self._service, user)  # the saved one is the one to use now
        except PasswordDeleteError:
            pass

    def set_session(self, profile_id: str, secret: str, *, proxy: bool = False) -> None:
        """Keep ``secret`` in memory until the app quits; never written anywhere."""
        add_secret(secret)
        self._session.set_password(self._service, _username(profile_id, proxy), secret)

    def delete(self, profile_id: str, *, proxy: bool = False) -> None:
        """Forget the secret everywhere (memory and keyring). Missing entries are fine.

        Raises :class:`KeyStoreError` when the keyring holds it but refuses to delete it.
        """
        user = _username(profile_id, proxy)
        try:
            self._session.delete_password(self._service, user)
        except PasswordDeleteError:
            pass
        backend = self._resolve()
        if backend is None:
            return
        failure = ""
        try:
            backend.delete_password(self._service, user)
        except PasswordDeleteError:
            pass  # nothing stored
        except Exception as exc:  # noqa: BLE001
            failure = self._fail(exc)
        if failure:
            raise KeyStoreError(failure)
        self._reason = ""
        self._cache[user] = None

    def delete_profile(self, profile_id: str) -> None:
        """Forget both secrets of a deleted profile."""
        self.delete(profile_id)
        self.delete(profile_id, proxy=True)

    def _fail(self, exc: BaseException, secret: str | None = None) -> str:
        from keyring.errors import KeyringLocked, NoKeyringError

        if isinstance(exc, NoKeyringError):
            reason = NO_KEYRING
        elif isinstance(exc, KeyringLocked):
            reason = ("The system keyring is locked or access to it was refused, so keys cannot be "
                      f"saved or read. Unlock it and try again. {UNTIL_QUIT}")
        else:
            kind = "keyring error" if isinstance(exc, KeyringError) else type(exc).__name__
            detail = redact(str(exc), secret)[:200]
            reason = f"The system keyring failed ({kind}: {detail}). {UNTIL_QUIT}"
        self._reason = reason
        return reason


class CachedKeys:
    """A :class:`KeyStore` seen without asking the keyring: what it answered last, and session keys.

    Has the read methods :func:`~chatbot_gui.core.settings.resolve_connection` uses, so the GUI
    thread can resolve a connection without ever waiting for the keyring.
    """

    def __init__(self, store: KeyStore) -> None:
        self._store = store

    def get_with_source(self, profile_id: str, *, proxy: bool = False,
                        keyring: bool = True) -> tuple[str | None, str]:
        return self._store.peek(profile_id, proxy=proxy, keyring=keyring)

    def get(self, profile_id: str, *, proxy: bool = False) -> str | None:
        return self._store.peek(profile_id, proxy=proxy)[0]


@dataclass
class PendingSecrets:
    """Secret changes made in the Settings dialog, held until OK. Its repr shows no secret."""

    keys: dict[str, str] = field(default_factory=dict, repr=False)  # profile id -> new API key
    proxy_passwords: dict[str, str] = field(default_factory=dict, repr=False)  # profile id -> password
    remove_keys: set[str] = field(default_factory=set)  # "Remove key" pressed
    removed_profiles: set[str] = field(default_factory=set)  # deleted profiles: forget both secrets

    def forget_profile(self, profile_id: str) -> None:
        """The profile was deleted in the dialog: drop what was typed for it, delete what is stored."""
        self.keys.pop(profile_id, None)
        self.proxy_passwords.pop(profile_id, None)
        self.remove_keys.discard(profile_id)
        self.removed_profiles.add(profile_id)

    def apply(self, store: KeyStore, proxy_auth: Mapping[str, bool], session_only: bool = False,
              had_proxy_auth: Mapping[str, bool] | None = None) -> dict[str, str]:
        """Write everything to ``store`` (may block: run it off the GUI thread). ``proxy_auth`` maps
        each remaining profile id to whether it uses an authenticated proxy; a stored proxy password
        is deleted when it no longer does (``had_proxy_auth``: whether it did; None: unknown, so the
        keyring is asked).

        Returns, per profile whose key changed, where the key now is: "keyring", "session" or
        "removed". Raises :class:`KeyStoreError` when the keyring refuses and ``session_only`` is False.
        """
        done: dict[str, str] = {}
        for pid in self.removed_profiles:
            store.delete_profile(pid)
        for pid in self.remove_keys:
            if pid in proxy_auth and not self.keys.get(pid):
                store.delete(pid)
                done[pid] = "removed"
        for pid, uses_proxy_auth in proxy_auth.items():
            pending = [(self.keys.get(pid), False)]
            if uses_proxy_auth:
                pending.append((self.proxy_passwords.get(pid), True))
            elif had_proxy_auth is None and store.get(pid, proxy=True) or (had_proxy_auth or {}).get(pid):
                store.delete(pid, proxy=True)
            for secret, proxy in pending:
                if secret and session_only:
                    store.set_session(pid, secret, proxy=proxy)
                elif secret:
                    store.set(pid, secret, proxy=proxy)
                if secret and not proxy:
                    done[pid] = "session" if session_only else "keyring"
        return done

    def touches_keyring(self, proxy_auth: Mapping[str, bool], had_proxy_auth: Mapping[str, bool],
                        session_only: bool = False) -> bool:
        """Whether :meth:`apply` would reach the keyring (else it runs at once, in memory)."""
        if self.removed_profiles or any(pid in proxy_auth for pid in self.remove_keys):
            return True
        if any(had_proxy_auth.get(pid) and not auth for pid, auth in proxy_auth.items()):
            return True
        typed = [v for v in self.keys.values() if v]
        typed += [v for pid, v in self.proxy_passwords.items() if v and proxy_auth.get(pid)]
        return bool(typed) and not session_only


def _username(profile_id: str, proxy: bool) -> str:
    if not profile_id or PROXY_SUFFIX in profile_id:
        raise ValueError("invalid profile id")
    return profile_id + PROXY_SUFFIX if proxy else profile_id
