"""The key store: keyring backends, the memory fallback, and that secrets never leak into messages."""

from __future__ import annotations

import pytest
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordSetError
from keyring.testing.backend import BackendBasicTests

from chatbot_gui.core.secrets import (
    SERVICE, KeyStore, KeyStoreError, MemoryKeyring, PendingSecrets, select_backend,
)

SECRET = "sk-secret-test-4f1c9a7e2b"


class TestMemoryKeyring(BackendBasicTests):
    """keyring's own conformance suite for backends."""

    def init_keyring(self) -> MemoryKeyring:
        return MemoryKeyring()


def test_memory_keyring_is_never_picked_by_keyring_autodetection() -> None:
    assert MemoryKeyring.viable is False


class Exploding(MemoryKeyring):
    """A backend that fails the way real ones do; its error text even contains the secret."""

    def __init__(self, exc_type: type[Exception] = PasswordSetError) -> None:
        super().__init__()
        self.exc_type = exc_type

    def get_password(self, service: str, username: str) -> str | None:
        raise self.exc_type("cannot read")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc_type(f"refused to store {password}")


def test_round_trip_uses_the_stable_service_and_one_entry_per_profile() -> None:
    backend = MemoryKeyring()
    keys = KeyStore(backend)
    assert keys.available and keys.unavailable_reason == ""
    keys.set("p1", SECRET)
    keys.set("p1", "proxy-pw", proxy=True)
    keys.set("p2", "sk-other")
    assert backend.get_password(SERVICE, "p1") == SECRET
    assert backend.get_password("chatbot-gui", "p1:proxy") == "proxy-pw"
    assert keys.get_with_source("p1") == (SECRET, "keyring")
    assert keys.get("p1", proxy=True) == "proxy-pw"
    keys.delete("p1")
    assert keys.get("p1") is None and keys.get("p2") == "sk-other"
    assert keys.get("p1", proxy=True) == "proxy-pw"
    keys.delete("p1")  # deleting what is not there is fine
    keys.delete_profile("p2")
    keys.delete_profile("p1")
    assert keys.get("p1", proxy=True) is None and keys.get("p2") is None


def test_profile_ids_that_would_collide_with_proxy_entries_are_refused() -> None:
    keys = KeyStore(MemoryKeyring())
    with pytest.raises(ValueError):
        keys.set("a:proxy", SECRET)
    with pytest.raises(ValueError):
        keys.get("")


def test_fail_backend_means_no_keyring_and_session_keys_work() -> None:
    keys = KeyStore(fail.Keyring())
    assert not keys.available
    assert "No system keyring" in keys.unavailable_reason
    assert "until Chatbot quits" in keys.unavailable_reason
    assert keys.get("p1") is None
    with pytest.raises(KeyStoreError, match="No system keyring"):
        keys.set("p1", SECRET)
    assert keys.get("p1") is None, "a refused key must not be kept anywhere"
    keys.set_session("p1", SECRET)
    assert keys.get_with_source("p1") == (SECRET, "session")
    keys.delete("p1")
    assert keys.get("p1") is None


def test_backend_errors_are_reported_plainly_without_the_secret() -> None:
    keys = KeyStore(Exploding())
    with pytest.raises(KeyStoreError) as caught:
        keys.set("p1", SECRET)
    message = str(caught.value)
    assert SECRET not in message and "keyring failed" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert SECRET not in keys.unavailable_reason
    assert not keys.available


def test_a_locked_keyring_says_so_and_recovers_when_it_works_again() -> None:
    backend = Exploding(KeyringLocked)
    keys = KeyStore(backend)
    assert keys.get("p1") is None
    assert "locked" in keys.unavailable_reason and not keys.available
    # The user unlocks it: the next successful operation clears the notice.
    backend.__class__ = MemoryKeyring
    keys.set("p1", SECRET)
    assert keys.available and keys.get("p1") == SECRET


def test_a_saved_key_replaces_a_session_key() -> None:
    keys = KeyStore(MemoryKeyring())
    keys.set_session("p1", "sk-session")
    assert keys.get_with_source("p1") == ("sk-session", "session")
    keys.set("p1", SECRET)
    assert keys.get_with_source("p1") == (SECRET, "keyring")


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin", "plan9"])
def test_select_backend_gives_a_reason_when_the_platform_keyring_is_unusable(
    platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # No reachable session bus: the Secret Service cannot work (the other platforms' backends
    # refuse to run on Linux at all).
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    backend, reason = select_backend(platform)
    assert backend is None
    assert reason.startswith("No system keyring is available (")


def test_keystore_without_a_backend_selects_the_platform_one_lazily(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    monkeypatch.setattr("sys.platform", "linux")
    keys = KeyStore()
    assert not keys.available
    assert "Secret Service" in keys.unavailable_reason
    with pytest.raises(KeyStoreError):
        keys.set("p1", SECRET)
    assert list(tmp_path.iterdir()) == []


def test_pending_secrets_repr_shows_no_secret() -> None:
    pending = PendingSecrets(keys={"p1": SECRET}, proxy_passwords={"p1": "pw-9z8y7x"})
    assert SECRET not in repr(pending) and "pw-9z8y7x" not in repr(pending)


def test_pending_secrets_apply() -> None:
    keys = KeyStore(MemoryKeyring())
    keys.set("keep", "sk-keep")
    keys.set("gone", "sk-gone")
    keys.set("gone", "pw-gone", proxy=True)
    keys.set("noproxy", "pw-stale", proxy=True)
    keys.set("removed", "sk-removed")
    pending = PendingSecrets(keys={"new": SECRET}, proxy_passwords={"new": "pw-new", "keep": "pw-keep"})
    pending.remove_keys.add("removed")
    pending.forget_profile("gone")
    pending.apply(keys, {"keep": True, "new": True, "noproxy": False, "removed": False})
    assert keys.get("new") == SECRET and keys.get("new", proxy=True) == "pw-new"
    assert keys.get("keep") == "sk-keep" and keys.get("keep", proxy=True) == "pw-keep"
    assert keys.get("gone") is None and keys.get("gone", proxy=True) is None
    assert keys.get("noproxy", proxy=True) is None, "a proxy without a user keeps no password"
    assert keys.get("removed") is None


def test_pending_secrets_apply_session_only() -> None:
    keys = KeyStore(fail.Keyring())
    pending = PendingSecrets(keys={"p1": SECRET})
    with pytest.raises(KeyStoreError):
        pending.apply(keys, {"p1": False})
    pending.apply(keys, {"p1": False}, session_only=True)
    assert keys.get_with_source("p1") == (SECRET, "session")
