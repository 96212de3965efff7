"""Requests really go through the configured proxy (HTTP, CONNECT, SOCKS5, with credentials from the
keyring), and the standard *_PROXY environment variables keep working when none is configured."""

from __future__ import annotations

import importlib.util

import openai
import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.errors import describe_exception
from chatbot_gui.core.models import fetch_models
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Profile, Settings, resolve_connection
from fakeserver import FakeServer
from proxy import LoopbackProxy

PASSWORD = "pr0xy p@ss:w/rd"
needs_socksio = pytest.mark.skipif(importlib.util.find_spec("socksio") is None,
                                   reason="SOCKS proxies need the 'socksio' package")


@pytest.fixture
def proxy():
    with LoopbackProxy() as p:
        yield p


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                 "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def config_through(server: FakeServer, proxy_url: str, user: str = "", password: str | None = None,
                   base_url: str | None = None) -> ConnectionConfig:
    """The config the app would build for a profile with this proxy (password from the keyring)."""
    keys = KeyStore(MemoryKeyring())
    keys.set("p1", "sk-proxy-test")
    if password is not None:
        keys.set("p1", password, proxy=True)
    prof = Profile("p1", "Through a proxy", base_url=base_url or server.base_url,
                   proxy_url_without_password=proxy_url, proxy_user=user, read_timeout=5.0)
    return resolve_connection(Settings(profiles=(prof,), active_profile_id="p1"), keys, {})


def test_http_proxy_forwards_the_request(fake_server: FakeServer, proxy: LoopbackProxy, no_proxy_env) -> None:
    models = fetch_models(config_through(fake_server, proxy.url()))
    assert models == ["gpt-4o", "gpt-4o-mini", "o3-mini"]
    assert [(r.kind, r.target) for r in proxy.records] == [("http", f"{fake_server.base_url}/models")]
    assert fake_server.requests[-1].headers["authorization"] == "Bearer sk-proxy-test"


def test_proxy_credentials_come_from_the_keyring(fake_server: FakeServer, no_proxy_env) -> None:
    with LoopbackProxy(auth=("bob", PASSWORD)) as proxy:
        assert fetch_models(config_through(fake_server, proxy.url(), "bob", PASSWORD))
    assert proxy.records[-1].credentials == ("bob", PASSWORD) and proxy.records[-1].accepted


def test_a_wrong_proxy_password_is_reported_without_the_password(fake_server: FakeServer, no_proxy_env) -> None:
    with LoopbackProxy(auth=("bob", "right")) as proxy:
        config = config_through(fake_server, proxy.url(), "bob", PASSWORD)
        with pytest.raises(openai.APIStatusError) as caught:
            fetch_models(config)
    info = describe_exception(caught.value, config.api_key)
    assert "407" in info.message
    assert PASSWORD not in f"{info.message} {info.detail}"
    assert not fake_server.requests, "nothing may reach the server past a refusing proxy"


def test_https_goes_through_a_connect_tunnel(fake_server: FakeServer, proxy: LoopbackProxy, no_proxy_env) -> None:
    port = fake_server.base_url.split(":")[2].split("/")[0]
    config = config_through(fake_server, proxy.url(), base_url=f"https://127.0.0.1:{port}/v1")
    with pytest.raises(openai.APIConnectionError):
        fetch_models(config)  # the loopback server speaks plain HTTP, so TLS fails *inside* the tunnel
    assert [(r.kind, r.target) for r in proxy.records] == [("connect", f"127.0.0.1:{port}")]


@needs_socksio
def test_socks5_proxy_with_credentials(fake_server: FakeServer, no_proxy_env) -> None:
    with LoopbackProxy(auth=("alice", PASSWORD)) as proxy:
        models = fetch_models(config_through(fake_server, proxy.url("socks5"), "alice", PASSWORD))
    assert models == ["gpt-4o", "gpt-4o-mini", "o3-mini"]
    port = fake_server.base_url.split(":")[2].split("/")[0]
    assert [(r.kind, r.target, r.credentials) for r in proxy.records] == [
        ("socks5", f"127.0.0.1:{port}", ("alice", PASSWORD))
    ]


def test_environment_proxy_is_used_when_none_is_configured(
    fake_server: FakeServer, proxy: LoopbackProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url())
    assert fetch_models(config_through(fake_server, ""))
    assert [r.kind for r in proxy.records] == ["http"]


def test_no_proxy_environment_variable_is_honoured(
    fake_server: FakeServer, proxy: LoopbackProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url())
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    assert fetch_models(config_through(fake_server, ""))
    assert proxy.records == [] and len(fake_server.requests) == 1


def test_a_configured_proxy_wins_over_the_environment(
    fake_server: FakeServer, proxy: LoopbackProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    with LoopbackProxy() as env_proxy:
        no_proxy_env.setenv("HTTP_PROXY", env_proxy.url())
        assert fetch_models(config_through(fake_server, proxy.url()))
    assert env_proxy.records == [] and len(proxy.records) == 1
