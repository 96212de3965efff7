"""The real Secret Service (gnome-keyring over D-Bus): what the app stores, ``secret-tool`` can read.

Runs only when CHATBOT_TEST_SECRET_SERVICE is set (CI runs it inside ``dbus-run-session`` with an
unlocked gnome-keyring; see docs/platform.md). When the variable is set, a missing or locked Secret
Service is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from chatbot_gui.core.secrets import SERVICE, KeyStore, select_backend

pytestmark = [
    pytest.mark.keyring_service,
    pytest.mark.skipif(
        not os.environ.get("CHATBOT_TEST_SECRET_SERVICE"),
        reason="set CHATBOT_TEST_SECRET_SERVICE=1 and run inside dbus-run-session with an unlocked "
               "gnome-keyring (docs/platform.md) to test the real Secret Service",
    ),
]


def secret_tool_lookup(username: str) -> str | None:
    """What ``secret-tool`` (libsecret, not Python) finds for our service and ``username``."""
    tool = shutil.which("secret-tool")
    assert tool, "secret-tool is missing (Debian package libsecret-tools)"
    # The environment is passed on as is: secret-tool needs the D-Bus session address. Nothing in
    # it is a secret of the app's: the key is never put in a child process's environment.
    done = subprocess.run([tool, "lookup", "service", SERVICE, "username", username],
                          capture_output=True, text=True, timeout=20, check=False)
    return done.stdout if done.returncode == 0 else None


@pytest.fixture
def profile_id():
    pid = "test-" + uuid.uuid4().hex[:10]
    yield pid
    keys = KeyStore()
    keys.delete_profile(pid)


def test_select_backend_finds_the_secret_service() -> None:
    backend, reason = select_backend()
    assert reason == ""
    assert type(backend).__module__ == "keyring.backends.SecretService"


def test_keys_round_trip_through_the_secret_service(profile_id: str) -> None:
    keys = KeyStore()
    assert keys.available, keys.unavailable_reason
    key = "sk-secret-service-" + uuid.uuid4().hex
    keys.set(profile_id, key)
    keys.set(profile_id, "proxy pw ü", proxy=True)
    assert keys.get_with_source(profile_id) == (key, "keyring")
    assert secret_tool_lookup(profile_id) == key
    assert secret_tool_lookup(f"{profile_id}:proxy") == "proxy pw ü"
    assert KeyStore().get(profile_id) == key, "a fresh store (a new run) finds it"
    keys.delete(profile_id)
    assert keys.get(profile_id) is None
    assert secret_tool_lookup(profile_id) is None
    assert secret_tool_lookup(f"{profile_id}:proxy") == "proxy pw ü"
    keys.delete_profile(profile_id)
    assert secret_tool_lookup(f"{profile_id}:proxy") is None


def test_replacing_a_key_keeps_one_entry(profile_id: str) -> None:
    keys = KeyStore()
    keys.set(profile_id, "sk-first-0000")
    keys.set(profile_id, "sk-second-1111")
    assert secret_tool_lookup(profile_id) == "sk-second-1111"
    keys.delete(profile_id)
    assert secret_tool_lookup(profile_id) is None, "no older entry was left behind"
