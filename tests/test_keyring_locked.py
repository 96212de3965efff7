"""A real, locked Secret Service: its unlock prompt is dismissed, and the app says so instead of freezing.

The test starts its own D-Bus session bus and gnome-keyring-daemon (private folders, no display, so
the system prompter cannot show and the unlock prompt ends as "dismissed", exactly as when a user
presses Cancel), stores a key, locks the collection, and starts the app against it. keyring's real
SecretService backend raises ``KeyringLocked``; the window must stay alive, say what happened and
offer "Try again"; OK in Settings must say why the key was not saved and offer "until quit".
"""

from __future__ import annotations

import gc
from contextlib import closing
import os
import shutil
import subprocess
import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialogButtonBox

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import SERVICE, KeyStore
from chatbot_gui.core.settings import Profile, Settings, SettingsStore
from chatbot_gui.ui.settings_dialog import SettingsDialog

pytestmark = [
    pytest.mark.keyring_service,
    # keyring's SecretService.get_preferred_collection() opens a D-Bus connection and raises
    # KeyringLocked without closing it (keyring 25, backends/SecretService.py): a library leak the
    # app cannot reach, reported as an unclosed socket when collected.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
STORED = "fake-test-key-locked-away"  # not a real key


@pytest.fixture
def locked_secret_service(tmp_path, monkeypatch):
    """A private Secret Service whose default collection holds our key and is locked."""
    bus_bin, daemon_bin = shutil.which("dbus-daemon"), shutil.which("gnome-keyring-daemon")
    if not (bus_bin and daemon_bin):
        why = "needs dbus-daemon and gnome-keyring-daemon (Debian packages dbus, gnome-keyring)"
        if os.environ.get("CHATBOT_TEST_SECRET_SERVICE"):
            pytest.fail(why)
        pytest.skip(why)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    # A minimal environment, as tests/desktop.py gives its daemons (which start reliably in CI): with a
    # copy of the whole environment the daemon started in CI but never unlocked its keyring.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(tmp_path),
           "XDG_RUNTIME_DIR": str(runtime), "XDG_DATA_HOME": str(tmp_path / "share"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "TMPDIR": str(tmp_path)}
    bus = subprocess.Popen([bus_bin, "--session", "--nofork", "--nopidfile", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    daemon = None
    try:
        address = bus.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon_log = open(tmp_path / "gnome-keyring.log", "wb")  # noqa: SIM115 - closed below
        daemon = subprocess.Popen([daemon_bin, "--foreground", "--unlock", "--components=secrets"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=daemon_log,
                                  env=env)
        daemon_log.close()  # the child has its own copy
        daemon.stdin.write(b"test-keyring-password")
        daemon.stdin.close()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        import secretstorage
        from keyring.backends import SecretService

        # Wait until the daemon has read the password and unlocked its login keyring. A write that
        # arrives before that asks for an unlock prompt, which nobody can answer here, and leaves the
        # collection locked (seen once in CI: "Failed to unlock the collection!").
        # First wait for OUR daemon to own the Secret Service name, asking the bus itself
        # (NameHasOwner starts nothing). Any call to org.freedesktop.secrets before that makes the
        # bus start a second gnome-keyring by D-Bus activation, without our password; ours then
        # exits with "another secret service is running" (seen in .ci/run's full suite).
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        bus_object = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                                 interface="org.freedesktop.DBus")
        deadline = time.monotonic() + 15
        with open_dbus_connection(address) as raw:
            while not raw.send_and_get_reply(
                    new_method_call(bus_object, "NameHasOwner", "s", ("org.freedesktop.secrets",))).body[0]:
                assert daemon.poll() is None, (
                    "gnome-keyring-daemon exited: " + (tmp_path / "gnome-keyring.log").read_text(errors="replace"))
                assert time.monotonic() < deadline, "gnome-keyring-daemon never took the Secret Service name"
                time.sleep(0.05)
        while True:
            try:
                with closing(secretstorage.dbus_init()) as probe:
                    login = secretstorage.Collection(probe, "/org/freedesktop/secrets/collection/login")
                    if not login.is_locked():
                        break
            except Exception:  # noqa: BLE001 - the daemon is still starting
                pass
            if time.monotonic() > deadline:
                # Should not happen since the NameHasOwner wait above (the cause in CI was a second,
                # bus-activated daemon). If it does, there is nothing to lock and this story cannot
                # run: say so with the daemon's own words. The app's locked/failing/blocking keyring
                # paths stay covered by tests/test_app_keys.py with keyring's own errors.
                pytest.skip("the private gnome-keyring did not unlock its login keyring within 15 s "
                            "(a test-rig problem, not the app); it said: "
                            + (tmp_path / "gnome-keyring.log").read_text(errors="replace")[-500:])
            time.sleep(0.05)
        backend = SecretService.Keyring()
        backend.set_password(SERVICE, "p1", STORED)
        conn = secretstorage.dbus_init()
        try:
            collection = secretstorage.get_default_collection(conn)
            collection.lock()
            assert collection.is_locked()
        finally:
            conn.close()
        yield backend
    finally:
        for proc in (daemon, bus):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        if bus.stdout is not None:
            bus.stdout.close()
        gc.collect()  # the library's unclosed D-Bus sockets are reported here, under this test's filters


def test_a_dismissed_unlock_prompt_leaves_a_message_and_try_again(qtbot, tmp_path, locked_secret_service,
                                                                    fake_server) -> None:
    paths = AppPaths(tmp_path / "config", tmp_path / "data")
    SettingsStore(paths).save(Settings(profiles=(Profile("p1", "Local", base_url=fake_server.base_url,
                                                         key_saved=True),), active_profile_id="p1"))
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)

    def never(*args, **kwargs):
        raise AssertionError("the first-start dialog must not open: a key is saved, only locked away")

    try:
        window, chat = create_window({}, paths=paths, keys=KeyStore(locked_secret_service), ask_settings=never)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(window.keyring_retry_button.isVisible, timeout=15000)
        message = window.statusBar().currentMessage()
        assert "locked" in message and "Try again" in message
        assert "key not read" in window.connection_label.text()
        assert chat.config.api_key is None
        assert STORED not in message
        seen = len(ticks)
        qtbot.mouseClick(window.keyring_retry_button, Qt.MouseButton.LeftButton)
        assert not window.keyring_retry_button.isVisible()
        qtbot.waitUntil(window.keyring_retry_button.isVisible, timeout=15000)
        assert "locked" in window.statusBar().currentMessage()
        assert len(ticks) > seen, "the window kept running"

        # Saving a new key in Settings meets the same locked keyring: it says so, offers "until quit".
        dialog = SettingsDialog(window.settings_controller.settings, window.settings_controller.keys, {})
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.keyClicks(dialog.connection.key_edit, "sk-new-key-for-p1-000")
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.saving, timeout=15000)
        assert dialog.isVisible() and "locked" in dialog.error_label.text()
        assert dialog.connection.session_only.isVisible()
        dialog.close()
        chat.shutdown()
    finally:
        timer.stop()
