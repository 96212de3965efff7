"""Keys go only to the server they were saved for; organization/project ids only to OpenAI.

Two loopback servers on different ports stand for two hosts; each records the Authorization and
OpenAI-Organization/-Project headers it received through the real openai client (GET /models).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from chatbot_gui.core.connection import DEFAULT_BASE_URL
from chatbot_gui.core.models import fetch_models
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.settings import (
    Profile, Settings, SettingsStore, keyring_needed, resolve_connection, same_server, server_label,
)
from fakeserver import FakeServer

STORED = "fake-test-key-stored-for-openai"  # not a real key
ENV_KEY = "fake-test-key-from-environment"  # not a real key


def auth_headers(server: FakeServer) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


def keys_with(pid: str = "default", key: str = STORED) -> KeyStore:
    keys = KeyStore(MemoryKeyring())
    keys.set(pid, key)
    return keys


def ask(settings: Settings, keys: KeyStore, env: dict[str, str]) -> None:
    fetch_models(resolve_connection(settings, keys, env))


def test_openai_base_url_without_a_key_does_not_get_the_stored_openai_key(hosts) -> None:
    first, _ = hosts
    settings = Settings()  # the OpenAI profile, its key in the keyring
    ask(settings, keys_with(), {"OPENAI_BASE_URL": first.base_url})
    assert first.requests, "the request went to OPENAI_BASE_URL"
    assert all(STORED not in h for h in auth_headers(first))
    # With the variable's own key, that key goes there (the two variables belong together).
    ask(settings, keys_with(), {"OPENAI_BASE_URL": first.base_url, "OPENAI_API_KEY": ENV_KEY})
    assert auth_headers(first)[-1] == f"Bearer {ENV_KEY}"


def test_a_profile_whose_server_changed_keeps_its_key_back_until_confirmed(hosts) -> None:
    first, second = hosts
    keys = keys_with("p1")
    was = Profile("p1", "Work", base_url=first.base_url, key_server=first.base_url, key_saved=True)
    ask(Settings(profiles=(was,), active_profile_id="p1"), keys, {})
    assert auth_headers(first) == [f"Bearer {STORED}"]
    moved = dataclasses.replace(was, base_url=second.base_url)
    ask(Settings(profiles=(moved,), active_profile_id="p1"), keys, {})
    assert second.requests and all(STORED not in h for h in auth_headers(second))
    assert resolve_connection(Settings(profiles=(moved,), active_profile_id="p1"), keys, {}).key_source == (
        "other server")
    confirmed = dataclasses.replace(moved, key_server=second.base_url + "/")  # same server, other spelling
    ask(Settings(profiles=(confirmed,), active_profile_id="p1"), keys, {})
    assert auth_headers(second)[-1] == f"Bearer {STORED}"


def test_an_empty_address_never_sends_the_key_to_openai() -> None:
    keys = keys_with()
    emptied = dataclasses.replace(Settings().active_profile, base_url="", key_server=DEFAULT_BASE_URL)
    config = resolve_connection(Settings(profiles=(emptied,)), keys, {"OPENAI_API_KEY": ENV_KEY})
    assert config.api_key is None and config.usable_key is None


def test_organization_and_project_go_only_to_openai(hosts, monkeypatch) -> None:
    first, _ = hosts
    # The SDK itself reads these two from the process environment: they must not reach a third party.
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-from-env")
    env = {"OPENAI_ORG_ID": "org-from-env", "OPENAI_PROJECT_ID": "proj-from-env"}
    local = Profile("p1", "Local", base_url=first.base_url, organization="org-profile", project="proj-profile")
    ask(Settings(profiles=(local,), active_profile_id="p1"), KeyStore(MemoryKeyring()), env)
    ask(Settings(), KeyStore(MemoryKeyring()), {**env, "OPENAI_BASE_URL": first.base_url})
    assert len(first.requests) == 2
    for request in first.requests:
        sent = {k for k in request.headers if k.startswith("openai-")}
        assert not sent & {"openai-organization", "openai-project"}, sent
    openai = resolve_connection(Settings(), KeyStore(MemoryKeyring()), env)
    assert (openai.organization, openai.project) == ("org-from-env", "proj-from-env")
    own = dataclasses.replace(Settings().active_profile, organization="org-profile")
    assert resolve_connection(Settings(profiles=(own,)), KeyStore(MemoryKeyring()), env).organization == "org-profile"


def test_same_server_compares_addresses_not_spellings() -> None:
    assert same_server("https://API.openai.com/v1/", DEFAULT_BASE_URL)
    assert same_server("https://api.openai.com:443/v1", DEFAULT_BASE_URL)
    assert not same_server("http://api.openai.com/v1", DEFAULT_BASE_URL)
    assert not same_server("https://api.openai.com.evil.example/v1", DEFAULT_BASE_URL)
    assert not same_server("", "")
    assert server_label("https://openrouter.ai/api/v1") == "OpenRouter"
    assert server_label("http://localhost:4000") == "localhost:4000"


class CountingKeyring(MemoryKeyring):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        return super().get_password(service, username)


def test_a_profile_with_no_key_saved_does_not_ask_the_keyring(tmp_path: Path) -> None:
    store = SettingsStore(AppPaths(tmp_path / "config", tmp_path / "data"))
    settings, _ = store.load()  # a first start: no file
    assert settings.active_profile.key_saved is False
    assert not keyring_needed(settings.active_profile, {})
    backend = CountingKeyring()
    config = resolve_connection(settings, KeyStore(backend), {})
    assert backend.reads == 0 and config.api_key is None
    store.save(settings)
    assert json.loads(store.path.read_text())["profiles"][0]["key_saved"] is False
    saved = dataclasses.replace(settings.active_profile, key_saved=True)
    assert keyring_needed(saved, {})
    assert not keyring_needed(saved, {"OPENAI_API_KEY": ENV_KEY}), "the environment's key is used instead"


def test_an_older_file_asks_the_keyring_and_names_follow_the_server(tmp_path: Path) -> None:
    store = SettingsStore(AppPaths(tmp_path / "config", tmp_path / "data"))
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "profiles": [
        {"id": "default", "name": "OpenAI", "base_url": "http://localhost:4000"},
        {"id": "p-2", "name": "My LiteLLM", "base_url": "http://localhost:4001"},
    ]}))
    settings, notice = store.load()
    assert notice is None
    default, mine = settings.profiles
    assert default.name == "localhost:4000" and default.follows_server  # said "OpenAI" while on LiteLLM
    assert mine.name == "My LiteLLM" and not mine.follows_server
    assert default.key_saved is None and keyring_needed(default, {})
    assert default.key_address == "http://localhost:4000"  # a key saved before goes where it went before
