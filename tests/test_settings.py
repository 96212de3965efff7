"""settings.json (versioned, atomic, unknown fields kept, bad files set aside) and resolve_connection."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from chatbot_gui.core.connection import DEFAULT_BASE_URL
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring, PendingSecrets
from chatbot_gui.core.settings import (
    Profile, Settings, SettingsStore, build_proxy_url, new_profile_id, proxy_problem, resolve_connection,
    settings_problem, split_proxy_url,
)

OLLAMA = "http://localhost:11434/v1"


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))


def two_profiles() -> Settings:
    return Settings(
        profiles=(
            Profile("default", "OpenAI", default_model="gpt-4o", models=("gpt-4o", "gpt-4o-mini")),
            Profile("p-local", "Local Ollama", base_url=OLLAMA, default_model="llama3.2", read_timeout=300.0,
                    proxy_url_without_password="socks5://127.0.0.1:1080", proxy_user="bob"),
        ),
        active_profile_id="p-local",
        window_geometry="AdnQywADAAAAAAAA",
        last_persona="French assistant",
    )


def test_no_file_gives_defaults_without_a_notice(store: SettingsStore) -> None:
    settings, notice = store.load()
    assert notice is None
    assert settings.active_profile.name == "OpenAI"
    assert settings.active_profile.base_url == DEFAULT_BASE_URL == "https://api.openai.com/v1"


def test_round_trip(store: SettingsStore) -> None:
    original = two_profiles()
    store.save(original)
    loaded, notice = store.load()
    assert notice is None
    assert loaded == original
    assert loaded.active_profile.name == "Local Ollama"
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["version"] == 1
    assert doc["profiles"][0]["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["settings.json"], "no temp files left"


def test_unknown_fields_survive_a_round_trip(store: SettingsStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({
        "version": 1, "theme": "dark", "future": {"a": [1, 2]},
        "profiles": [{"id": "default", "name": "OpenAI", "temperature": 0.3}],
    }))
    settings, notice = store.load()
    assert notice is None
    store.save(dataclasses.replace(settings, last_persona="Sarcastic assistant"))
    doc = json.loads(store.path.read_text())
    assert doc["theme"] == "dark" and doc["future"] == {"a": [1, 2]}
    assert doc["profiles"][0]["temperature"] == 0.3
    assert doc["last_persona"] == "Sarcastic assistant"


def test_a_newer_version_is_read_with_a_notice_and_keeps_its_version(store: SettingsStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 2, "profiles": [{"id": "x", "name": "X", "base_url": OLLAMA}]}))
    settings, notice = store.load()
    assert notice and "newer version" in notice
    assert settings.active_profile.base_url == OLLAMA
    store.save(settings)
    assert json.loads(store.path.read_text())["version"] == 2


BAD_FILES = {
    "not json": b"{\"version\": 1, \"profiles\": [",
    "not utf-8": b"\xff\xfe\x00garbage",
    "a list": b"[1, 2]",
    "no version": b'{"profiles": []}',
    "version as text": b'{"version": "1"}',
    "profiles not a list": b'{"version": 1, "profiles": {"id": "x"}}',
    "profile without id": b'{"version": 1, "profiles": [{"name": "x"}]}',
    "id with a colon": b'{"version": 1, "profiles": [{"id": "a:proxy"}]}',
    "timeout as text": b'{"version": 1, "profiles": [{"id": "a", "read_timeout": "60"}]}',
    "models with numbers": b'{"version": 1, "profiles": [{"id": "a", "models": [1]}]}',
    "duplicate ids": b'{"version": 1, "profiles": [{"id": "a"}, {"id": "a"}]}',
    "geometry as number": b'{"version": 1, "window_geometry": 5}',
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_set_aside_never_deleted(store: SettingsStore, content: bytes) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    settings, notice = store.load()
    assert settings == Settings()
    aside = [p for p in store.path.parent.iterdir() if p.name.startswith("settings.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert notice and aside[0].name in notice and "default settings" in notice
    store.save(settings)  # the next save writes a fresh file beside the one set aside
    assert aside[0].read_bytes() == content


def test_missing_active_profile_falls_back_to_the_first(store: SettingsStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "active_profile": "gone",
                                      "profiles": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]}))
    settings, notice = store.load()
    assert notice is None and settings.active_profile.id == "a"


def test_empty_profile_list_gets_the_default_profile(store: SettingsStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text('{"version": 1, "profiles": []}')
    settings, notice = store.load()
    assert notice is None and settings.active_profile.name == "OpenAI"


def test_a_password_typed_into_the_proxy_url_is_never_written(store: SettingsStore) -> None:
    prof = Profile("default", "OpenAI", proxy_url_without_password="http://bob:hunter2-xyz@proxy.local:3128")
    store.save(Settings(profiles=(prof,)))
    text = store.path.read_text()
    assert "hunter2-xyz" not in text
    assert json.loads(text)["profiles"][0]["proxy_url_without_password"] == "http://proxy.local:3128"


def test_with_models_and_with_profile() -> None:
    settings = two_profiles().with_models("default", ["a", "b"])
    assert settings.profile("default").models == ("a", "b")
    added = settings.with_profile(Profile("p-new", "New"))
    assert [p.id for p in added.profiles] == ["default", "p-local", "p-new"]
    assert settings.with_models("nope", ["x"]) is settings


def test_new_profile_ids_are_unique_and_keyring_safe() -> None:
    ids = {new_profile_id()}
    for _ in range(50):
        ids.add(new_profile_id(ids))
    assert len(ids) == 51 and not any(":" in i for i in ids)


# -- proxies -----------------------------------------------------------------------------------
def test_split_and_build_proxy_urls() -> None:
    assert split_proxy_url(" http://b%40b:p%3Ass@Proxy.Local:3128 ") == ("http://proxy.local:3128", "b@b", "p:ss")
    assert split_proxy_url("proxy.local:3128") == ("http://proxy.local:3128", "", "")
    assert split_proxy_url("") == ("", "", "")
    assert build_proxy_url("socks5://127.0.0.1:1080", "b@b", "p:ss/#") == "socks5://b%40b:p%3Ass%2F%23@127.0.0.1:1080"
    assert build_proxy_url("http://h:1", "", "ignored") == "http://h:1"
    assert build_proxy_url("http://h:1", "u", None) == "http://u@h:1"


@pytest.mark.parametrize(("url", "expected"), [
    ("", ""),
    ("http://proxy:3128", ""),
    ("https://proxy:443", ""),
    ("socks5://127.0.0.1:1080", ""),
    ("ftp://proxy:21", "must start with"),
    ("socks5://127.0.0.1", "needs a port"),
    ("http://proxy:99999", "invalid port"),
    ("http://:3128", "no host"),
])
def test_proxy_problem(url: str, expected: str) -> None:
    problem = proxy_problem(url)
    assert (expected in problem) if expected else problem == ""


def test_settings_problem_names_the_profile() -> None:
    bad = Settings(profiles=(Profile("a", "Mine", base_url="localhost:11434"),))
    assert "Mine" in settings_problem(bad) and "http://" in settings_problem(bad)
    assert settings_problem(two_profiles()) == ""


# -- resolve_connection ---------------------------------------------------------------------------
def test_environment_key_overrides_the_stored_key_for_openai() -> None:
    keys = KeyStore(MemoryKeyring())
    keys.set("default", "sk-stored")
    config = resolve_connection(Settings(), keys, {"OPENAI_API_KEY": " sk-from-env \n"})
    assert config.api_key == "sk-from-env" and config.key_source == "environment"
    assert keys.get("default") == "sk-stored", "the environment key is not stored"


def test_environment_key_is_not_sent_to_other_servers() -> None:
    keys = KeyStore(MemoryKeyring())
    settings = two_profiles()
    config = resolve_connection(settings, keys, {"OPENAI_API_KEY": "sk-from-env"})
    assert config.api_key is None and config.key_source == ""
    keys.set("p-local", "sk-local")
    config = resolve_connection(settings, keys, {"OPENAI_API_KEY": "sk-from-env"})
    assert config.api_key == "sk-local" and config.key_source == "keyring"


def test_resolve_connection_sources_and_fields() -> None:
    keys = KeyStore(MemoryKeyring())
    prof = Profile("default", "OpenAI", organization=" org-1 ", project="", read_timeout=45.0)
    settings = Settings(profiles=(prof,))
    config = resolve_connection(settings, keys, {})
    assert config.api_key is None and config.key_source == ""
    assert config.organization == "org-1" and config.project is None and config.read_timeout == 45.0
    assert config.proxy is None
    keys.set_session("default", "sk-session")
    assert resolve_connection(settings, keys, {}).key_source == "session"
    keys.set("default", "sk-keyring")
    config = resolve_connection(settings, keys, {})
    assert (config.api_key, config.key_source) == ("sk-keyring", "keyring")
    assert "sk-keyring" not in repr(config)
    typed = resolve_connection(settings, keys, {}, PendingSecrets(keys={"default": "sk-typed"}))
    assert (typed.api_key, typed.key_source) == ("sk-typed", "typed")
    removed = resolve_connection(settings, keys, {}, PendingSecrets(remove_keys={"default"}))
    assert removed.api_key is None


def test_resolve_connection_builds_the_proxy_url_with_the_keyring_password() -> None:
    keys = KeyStore(MemoryKeyring())
    keys.set("p-local", "p@ss:word", proxy=True)
    config = resolve_connection(two_profiles(), keys, {})
    assert config.proxy == "socks5://bob:p%40ss%3Aword@127.0.0.1:1080"
    assert "p@ss" not in repr(config) and "%40ss" not in repr(config)
    typed = resolve_connection(two_profiles(), keys, {}, PendingSecrets(proxy_passwords={"p-local": "new"}))
    assert typed.proxy == "socks5://bob:new@127.0.0.1:1080"


def test_a_deeply_nested_file_is_set_aside_not_a_crash(tmp_path):
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.settings import Settings, SettingsStore

    paths = AppPaths(tmp_path / "config", tmp_path / "data")
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "settings.json").write_text("[" * 100_000)
    settings, notice = SettingsStore(paths).load()
    assert settings == Settings()
    assert notice and "not valid JSON" in notice and "kept as settings.json.corrupt-" in notice
