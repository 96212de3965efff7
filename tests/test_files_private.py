"""Files stay private and are never lost: modes of folders and files, unreadable settings left alone,
out-of-range numbers in settings clamped. All on real files in a temporary folder (tests run as root,
so modes are checked with ``os.stat``, not by trying to read as another user)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from chatbot_gui.core.atomic import LeftAlone
from chatbot_gui.core.connection import DEFAULT_READ_TIMEOUT
from chatbot_gui.core.export import export_all
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.persona_store import PersonaLibrary, PersonaStore
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Profile, Settings, SettingsStore, first_start_settings, resolve_connection
from chatbot_gui.core.store import ChatStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    # A world-readable parent, like a Debian home folder.
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    return AppPaths(config_dir=home / ".config" / "chatbot-gui", data_dir=home / ".local" / "share" / "chatbot-gui")


def test_config_folder_and_files_are_private(paths: AppPaths) -> None:
    SettingsStore(paths).save(Settings())
    PersonaStore(paths).save(PersonaLibrary())
    assert mode(paths.config_dir) == 0o700
    assert mode(paths.config_dir / "settings.json") == 0o600
    assert mode(paths.config_dir / "personas.json") == 0o600


def test_an_existing_open_folder_is_made_private(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True, mode=0o755)
    os.chmod(paths.config_dir, 0o755)
    SettingsStore(paths).save(Settings())
    assert mode(paths.config_dir) == 0o700


def test_database_wal_and_shm_are_private(paths: AppPaths) -> None:
    umask = os.umask(0o022)  # the usual umask, under which SQLite makes its files 0644
    try:
        store, _ = ChatStore.open(paths.data_dir / "chats.sqlite3")
    finally:
        os.umask(umask)
    chat = store.create_chat("t", "p", "", None)
    store.add_message(chat, "user", "hello")
    try:
        assert mode(paths.data_dir) == 0o700
        for name in ("chats.sqlite3", "chats.sqlite3-wal", "chats.sqlite3-shm"):
            assert (paths.data_dir / name).exists(), name
            assert mode(paths.data_dir / name) == 0o600, name
    finally:
        store.close()


def test_an_old_world_readable_database_is_made_private_at_open(paths: AppPaths) -> None:
    path = paths.data_dir / "chats.sqlite3"
    store, _ = ChatStore.open(path)
    store.close()
    os.chmod(paths.data_dir, 0o755)
    os.chmod(path, 0o644)
    store, _ = ChatStore.open(path)
    try:
        assert mode(path) == 0o600 and mode(paths.data_dir) == 0o700
    finally:
        store.close()


def test_migration_backup_is_private(paths: AppPaths) -> None:
    import sqlite3

    from chatbot_gui.core.store import MIGRATIONS

    paths.data_dir.mkdir(parents=True)
    path = paths.data_dir / "chats.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    old.close()
    os.chmod(path, 0o644)
    store, _ = ChatStore.open(path)
    store.close()
    backups = list(paths.data_dir.glob("chats.sqlite3.bak-v1-*"))
    assert len(backups) == 1
    assert mode(backups[0]) == 0o600


def test_export_all_files_are_private(paths: AppPaths, tmp_path: Path) -> None:
    store, _ = ChatStore.open(paths.data_dir / "chats.sqlite3")
    for n in range(2):
        store.add_message(store.create_chat(f"chat {n}", "p", "", None), "user", "secret text")
    out = tmp_path / "out"
    out.mkdir()
    try:
        written = export_all(store, out, "md")
    finally:
        store.close()
    assert len(written) == 2
    assert all(mode(p) == 0o600 for p in written)


# -- a file that cannot be read is left alone ------------------------------------------------------
def test_an_unreadable_settings_file_is_not_replaced_with_defaults(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    target = paths.config_dir / "settings.json"
    # A link to itself: opening fails with ELOOP, a real "cannot read" that root cannot bypass
    # (chmod 000 does not stop root).
    target.symlink_to("settings.json")
    store = SettingsStore(paths)
    settings, notice = store.load()
    assert settings == Settings()
    assert notice and "Could not read the settings file" in notice and "leaves the file as it is" in notice
    with pytest.raises(LeftAlone) as raised:
        store.save(settings)
    assert "could not be read when Chatbot started" in str(raised.value.strerror)
    assert target.is_symlink() and os.readlink(target) == "settings.json"


def test_a_folder_in_place_of_the_personas_file_is_left_alone(paths: AppPaths) -> None:
    target = paths.config_dir / "personas.json"
    target.mkdir(parents=True)
    (target / "mine.txt").write_text("keep me")
    store = PersonaStore(paths)
    library, notice = store.load()
    assert library == PersonaLibrary()
    assert notice and "Could not read the personas file" in notice
    with pytest.raises(LeftAlone):
        store.save(library)
    assert (target / "mine.txt").read_text() == "keep me"


def test_a_dangling_link_is_not_replaced(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    target = paths.config_dir / "settings.json"
    target.symlink_to(paths.config_dir / "unmounted" / "settings.json")
    store = SettingsStore(paths)
    _, notice = store.load()
    assert notice and "link to a file that does not exist" in notice
    with pytest.raises(LeftAlone):
        store.save(Settings())
    assert target.is_symlink()


def test_a_missing_file_is_still_created(paths: AppPaths) -> None:
    store = SettingsStore(paths)
    assert store.load() == (first_start_settings(), None)  # the defaults, known to have no key saved
    store.save(Settings(last_persona="x"))
    assert store.load()[0].last_persona == "x"


# -- numbers out of range ----------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("Infinity", 3600.0), ("-Infinity", 1.0), ("NaN", DEFAULT_READ_TIMEOUT), ("1e300", 3600.0),
    ("1e400", 3600.0), ("1" + "0" * 400, 3600.0), ("0", 1.0), ("-5", 1.0), ("0.25", 1.0), ("90", 90.0),
])
def test_out_of_range_timeouts_are_clamped(paths: AppPaths, raw: str, expected: float) -> None:
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "settings.json").write_text(
        '{"version": 1, "profiles": [{"id": "default", "name": "OpenAI", "read_timeout": %s}]}' % raw)
    settings, notice = SettingsStore(paths).load()
    assert notice is None
    assert settings.active_profile.read_timeout == expected
    config = resolve_connection(settings, KeyStore(MemoryKeyring()), {})
    assert config.read_timeout == expected
    # What is written back is plain JSON again (no Infinity / NaN).
    SettingsStore(paths).save(settings)
    json.loads((paths.config_dir / "settings.json").read_text(),
               parse_constant=lambda name: pytest.fail(f"{name} written back"))


def test_a_profile_built_with_infinity_still_resolves(paths: AppPaths) -> None:
    settings = Settings(profiles=(Profile("default", "OpenAI", read_timeout=float("inf")),))
    assert resolve_connection(settings, KeyStore(MemoryKeyring()), {}).read_timeout == 3600.0


def test_out_of_range_personas_numbers_set_the_file_aside_with_a_notice(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "personas.json").write_text(
        '{"version": 1, "personas": [{"name": "Hot", "system_prompt": "", "temperature": Infinity}]}')
    library, notice = PersonaStore(paths).load()
    assert library == PersonaLibrary()
    assert notice and "temperature" in notice and "kept as personas.json.corrupt-" in notice
    assert Persona("Hot", "") not in library.personas


def test_the_settings_dialog_opens_on_a_file_with_infinity(qtbot, paths: AppPaths) -> None:
    from chatbot_gui.ui.settings_dialog import SettingsDialog

    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "settings.json").write_text(
        '{"version": 1, "profiles": [{"id": "default", "name": "OpenAI", "read_timeout": Infinity}]}')
    settings, _ = SettingsStore(paths).load()
    dialog = SettingsDialog(settings, KeyStore(MemoryKeyring()), {}, False, None)
    qtbot.addWidget(dialog)
    assert dialog.connection.timeout_spin.value() == 3600
