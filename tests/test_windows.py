"""Context windows: the built-in table, what servers report, what refusals teach, the overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.windows import (
    OLLAMA_DEFAULT_WINDOW,
    ContextWindows,
    Overflow,
    builtin_window,
    fetch_model_windows,
    ollama_window,
    parse_overflow,
    window_from_entry,
)
from fakeserver import FakeServer


@pytest.mark.parametrize("model, tokens", [
    ("gpt-4o", 128_000), ("gpt-4o-mini-2024-07-18", 128_000), ("openai/gpt-4o", 128_000),
    ("gpt-4.1-nano", 1_047_576), ("gpt-4", 8_192), ("gpt-4-0613", 8_192), ("gpt-4-turbo", 128_000),
    ("gpt-3.5-turbo", 16_385), ("o1", 200_000), ("o1-mini", 128_000), ("o3-mini", 200_000),
    ("gpt-5-nano", 400_000), ("gpt-5.1", 400_000), ("ft:gpt-4o-mini:org::id", 128_000),
    ("anthropic/claude-sonnet-4", 200_000), ("deepseek-chat", 131_072),
    ("o10x", None), ("llama3.2", None), ("local-model", None), ("", None),
])
def test_builtin_table(model: str, tokens: int | None) -> None:
    assert builtin_window(model) == tokens


def test_model_list_entries_of_real_servers() -> None:
    # OpenRouter: context_length (and top_provider.context_length); Groq: context_window; vLLM: max_model_len;
    # LM Studio (/api/v0/models): loaded_context_length wins over max_context_length.
    assert window_from_entry({"id": "x", "context_length": 128000, "top_provider": {"context_length": 64000}}) == 128000
    assert window_from_entry({"id": "x", "top_provider": {"context_length": 64000}}) == 64000
    assert window_from_entry({"id": "x", "context_window": 131072}) == 131072
    assert window_from_entry({"id": "x", "max_model_len": 4096}) == 4096
    assert window_from_entry({"id": "x", "max_context_length": 32768, "loaded_context_length": 4096}) == 4096
    for junk in (None, True, -1, 0, "lots", float("nan"), {}):
        assert window_from_entry({"id": "x", "context_length": junk}) is None


def test_ollama_window_rules() -> None:
    info = {"model_info": {"general.architecture": "llama", "llama.context_length": 131072}}
    assert ollama_window({**info, "parameters": "stop <|eot_id|>\nnum_ctx                        8192\n"}) == 8192
    assert ollama_window(info) == OLLAMA_DEFAULT_WINDOW
    assert ollama_window(info, {"context_length": 32768}) == 32768  # loaded: what it really runs with
    assert ollama_window({"model_info": {"qwen2.context_length": 2048}, "parameters": "num_ctx 8192"}) == 2048


def test_lookup_order_override_learned_server_builtin() -> None:
    windows = ContextWindows(overrides={"gpt-4o": 64_000})
    url = "http://127.0.0.1:1/v1"
    assert windows.lookup(url, "gpt-4o").tokens == 64_000  # type: ignore[union-attr]
    assert windows.lookup(url, "gpt-4o-mini").source == "builtin"  # type: ignore[union-attr]
    assert windows.lookup(url, "local") is None
    windows.report(url, {"local": 8192, "gpt-4o-mini": 100_000})
    assert windows.lookup(url, "local") is not None and windows.lookup(url, "local").source == "server"  # type: ignore[union-attr]
    assert windows.lookup(url, "gpt-4o-mini").tokens == 100_000  # type: ignore[union-attr]
    assert windows.lookup("http://elsewhere/v1", "local") is None, "per server"
    windows.learn(url, "local", 4096)
    assert windows.lookup(url + "/", "local").tokens == 4096  # type: ignore[union-attr]
    restored = ContextWindows(**windows.snapshot())
    assert restored.lookup(url, "local").tokens == 4096  # type: ignore[union-attr]
    windows.set_override("local", 16_384)  # the user raised the server's window: learnt value forgotten
    windows.set_override("local", None)
    assert windows.lookup(url, "local").tokens == 8192  # type: ignore[union-attr]


# -- refusals ---------------------------------------------------------------------------------------------
CORPUS = Path(__file__).resolve().parent / "corpus" / "openai"


def _corpus_body(case: str) -> tuple[int, object]:
    meta = json.loads((CORPUS / f"{case}.meta.json").read_text(encoding="utf-8"))
    return int(meta["status"]), json.loads((CORPUS / meta["body_file"]).read_text(encoding="utf-8"))


def test_recorded_openai_refusal() -> None:
    status, body = _corpus_body("error_400_context_length_exceeded")
    assert parse_overflow(status, body) == Overflow(4097, 3120)


def test_recorded_deepseek_refusal_has_the_wrong_code_but_says_it() -> None:
    status, body = _corpus_body("compat_deepseek_error_400_context_length")
    assert parse_overflow(status, body) == Overflow(131072, 125034)


@pytest.mark.parametrize("case", ["error_400_unsupported_parameter_stop_o1_mini", "error_400_invalid_image_url",
                                  "error_400_missing_required_parameter", "error_429_rate_limit_exceeded_rpm",
                                  "error_404_model_not_found"])
def test_other_recorded_errors_are_not_overflows(case: str) -> None:
    assert parse_overflow(*_corpus_body(case)) is None


@pytest.mark.parametrize("body, expected", [
    # llama.cpp (server.cpp, exceed_context_size_error): fields and message
    ({"error": {"code": 400, "message": "request (4476 tokens) exceeds the available context size (4096 tokens), "
                "try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 4476, "n_ctx": 4096}},
     Overflow(4096, 4476)),
    # older llama.cpp wording: numbers only in the fields
    ({"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 2048}}, Overflow(2048, 5000)),
    # vLLM passes OpenAI's wording on; newer vLLM says "your request has N input tokens"
    ({"object": "error", "message": "This model's maximum context length is 8192 tokens. However, you requested "
      "9000 tokens (8000 in the messages, 1000 in the completion). Please reduce the length of the messages or "
      "completion.", "type": "BadRequestError", "param": None, "code": 400}, Overflow(8192, 8000)),
    ({"object": "error", "message": "'max_tokens' or 'max_completion_tokens' is too large: 1000. This model's "
      "maximum context length is 4096 tokens and your request has 3500 input tokens (1000 > 4096 - 3500).",
      "type": "BadRequestError", "code": 400}, Overflow(4096, 3500)),
    # LiteLLM's proxy
    ({"error": {"message": "litellm.ContextWindowExceededError: litellm.BadRequestError: This model's maximum "
                "context length is 16385 tokens. However, your messages resulted in 17000 tokens.",
                "type": None, "param": None, "code": "400"}}, Overflow(16385, 17000)),
    # OpenAI today: the code, no numbers
    ({"error": {"message": "Your input exceeds the context window of this model. Please adjust your input and "
                "try again.", "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}},
     Overflow(None, None)),
    # LM Studio
    ({"error": "Trying to keep the first 5000 tokens when context the overflows. However, the model is loaded with "
      "context length of only 4096 tokens, which is not enough. Try to load the model with a larger context length, "
      "or provide a shorter input"}, Overflow(4096, None)),
    # Ollama (no numbers) and vLLM's other wording
    ({"error": {"message": "prompt too long; exceeded max context length by 52 tokens"}}, Overflow(None, None)),
    ({"object": "error", "message": "This model's maximum model length is 4096 tokens. Please reduce the length of "
      "the messages.", "type": "BadRequestError", "code": 400}, Overflow(4096, None)),
    # Anthropic's words through OpenRouter
    ({"error": {"message": "prompt is too long: 210000 tokens > 200000 maximum", "code": 400}},
     Overflow(200000, 210000)),
])
def test_refusal_wordings(body: object, expected: Overflow) -> None:
    assert parse_overflow(400, body) == expected


def test_a_reply_length_too_large_alone_is_not_an_overflow_and_other_statuses_are_not() -> None:
    assert parse_overflow(400, {"error": {"message": "max_tokens is too large: 100000. This model supports at "
                                          "most 16384 completion tokens, whereas you provided 100000.",
                                          "type": "invalid_request_error", "param": "max_tokens",
                                          "code": "invalid_value"}}) is None
    assert parse_overflow(429, {"error": {"message": "maximum context length is 4096 tokens"}}) is None
    assert parse_overflow(400, "x") is None and parse_overflow(400, None) is None


# -- asking the server ---------------------------------------------------------------------------------
def test_fetch_windows_from_the_model_list(fake_server: FakeServer) -> None:
    fake_server.models = ["openai/gpt-4o", "meta/llama", "plain"]
    fake_server.model_fields = {"openai/gpt-4o": {"context_length": 128000},
                                "meta/llama": {"context_window": 8192}}
    config = ConnectionConfig(api_key="sk-test", base_url=fake_server.base_url)
    assert fetch_model_windows(config) == {"openai/gpt-4o": 128000, "meta/llama": 8192}
    assert [r.path for r in fake_server.requests] == ["/v1/models"]


def test_fetch_asks_ollama_for_the_model_in_use(fake_server: FakeServer) -> None:
    fake_server.models = ["llama3.2:latest", "qwen3:8b"]
    fake_server.ollama = {
        "llama3.2:latest": {"parameters": "num_ctx 8192", "model_info": {"llama.context_length": 131072}},
        "qwen3:8b": {"model_info": {"qwen3.context_length": 40960}, "loaded_context": 16384},
    }
    config = ConnectionConfig(api_key=None, base_url=fake_server.base_url)
    assert fetch_model_windows(config, model="llama3.2:latest") == {"llama3.2:latest": 8192}
    assert fetch_model_windows(config, model="qwen3:8b") == {"qwen3:8b": 16384}
    show = [r for r in fake_server.requests if r.path == "/api/show"]
    assert [r.json for r in show] == [{"model": "llama3.2:latest"}, {"model": "qwen3:8b"}]
    assert all("authorization" not in r.headers for r in show)


def test_fetch_from_a_server_that_is_not_ollama(fake_server: FakeServer) -> None:
    config = ConnectionConfig(api_key="sk-test", base_url=fake_server.base_url)
    assert fetch_model_windows(config, model="gpt-4o") == {}
    assert [r.path for r in fake_server.requests] == ["/v1/models", "/api/show"]


# -- the settings schema ------------------------------------------------------------------------------
def test_overrides_and_prices_round_trip_through_settings_json(tmp_path: Path) -> None:
    import dataclasses

    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.settings import Settings, SettingsStore
    from chatbot_gui.core.usage import Price, prices_from_json

    store = SettingsStore(AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))
    settings = dataclasses.replace(Settings(), context_windows={"llama3.2": 8192},
                                   model_prices={"gpt-4o": Price(2.0, 8.0, 1.0)})
    store.save(settings)
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["context_windows"] == {"llama3.2": 8192}
    assert doc["model_prices"] == {"gpt-4o": {"input": 2.0, "output": 8.0, "cached_input": 1.0}}
    loaded, notice = store.load()
    assert notice is None
    assert loaded.context_windows == {"llama3.2": 8192}
    assert prices_from_json(doc["model_prices"])["gpt-4o"] == Price(2.0, 8.0, 1.0)
    assert ContextWindows(loaded.context_windows).lookup("http://x/v1", "llama3.2").tokens == 8192  # type: ignore[union-attr]


def test_bad_entries_are_dropped_one_by_one_not_the_whole_file(tmp_path: Path) -> None:
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.settings import SettingsStore
    from chatbot_gui.core.usage import Price

    store = SettingsStore(AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({
        "version": 1, "last_persona": "kept",
        "context_windows": {"good": 4096, "zero": 0, "text": "8192", "neg": -5, "": 100, "inf": 1e300},
        "model_prices": {"m": {"input": 1, "output": 2}, "bad": {"input": None, "output": 2}},
    }), encoding="utf-8")
    loaded, notice = store.load()
    assert notice is None and loaded.last_persona == "kept"
    assert loaded.context_windows == {"good": 4096}
    assert loaded.model_prices == {"m": Price(1.0, 2.0)}
    junk = json.dumps({"version": 1, "context_windows": [1, 2], "model_prices": "cheap"})
    store.path.write_text(junk, encoding="utf-8")
    loaded, _ = store.load()
    assert loaded.context_windows == {} and loaded.model_prices == {}


def test_settings_replace_the_overrides_and_a_changed_one_forgets_what_was_learnt() -> None:
    windows = ContextWindows({"a": 8192, "b": 16384})
    windows.learn("http://h/v1", "a", 2048)
    windows.learn("http://h/v1", "c", 4096)
    windows.set_overrides({"a": 8192, "b": 0, "c": 32768})
    assert windows.lookup("http://h/v1", "a").tokens == 8192  # type: ignore[union-attr]
    assert windows.lookup("http://h/v1", "b") is None
    assert windows.lookup("http://h/v1", "c").tokens == 32768  # type: ignore[union-attr]
    assert windows.snapshot()["learned"] == {"http://h/v1": {"a": 2048}}, "a's override did not change"
    windows.set_overrides({})
    assert windows.lookup("http://h/v1", "c") is None, "the learnt 4096 went with the changed override"
    assert windows.lookup("http://h/v1", "a") is None
