"""Every recorded real response in ``tests/corpus/openai`` replayed through ``stream_chat``.

The expected outcome of each case is written down in :data:`EXPECTED`. For replies, the expected
text and finish reason are also worked out independently from the recorded body (a small SSE
reader below, not the SDK), so the app is checked against the bytes, not against itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.streaming import AbortHandle, stream_chat
from fakeserver import CORPUS_DIR, FakeServer, corpus, corpus_cases, corpus_files
from sse_reference import reference_events

CORPUS_SIZE = 44
CASES = corpus_cases(CORPUS_DIR)
REQUEST = ChatRequest(model="gpt-4o-mini", messages=(("user", "Hello"),))


@dataclass(frozen=True)
class Expected:
    """``status`` of the Outcome; ``kind`` of its error; ``finish`` reason (for replies)."""

    status: str
    kind: str | None = None
    finish: str | None = None


def ok(finish: str | None) -> Expected:
    return Expected("complete", None, finish)


def err(kind: str, finish: str | None = None) -> Expected:
    return Expected("error", kind, finish)


EXPECTED: dict[str, Expected] = {
    # OpenAI streams
    "stream_gpt35_turbo_text_2024_03": ok("stop"),
    "stream_gpt35_turbo_tool_call_no_usage": ok("tool_calls"),
    "stream_gpt4o_mini_text_include_usage": ok("stop"),
    "stream_gpt4o_mini_tool_call_include_usage": ok("tool_calls"),
    "stream_gpt4o_mini_tool_call_obfuscation_2026": ok("tool_calls"),
    "stream_gpt51_include_usage": ok("stop"),
    "stream_gpt51_no_usage_key": ok("stop"),
    "stream_gpt5_moderation_obfuscation": ok("stop"),
    # Whole JSON completions answering a stream=True request (servers that ignore `stream`):
    # the text is delivered in one piece and the reply completes.
    "nonstream_gpt4o_mini_text": ok("stop"),
    "nonstream_gpt4o_mini_tool_calls": ok("tool_calls"),
    "nonstream_gpt4o_refusal": ok("stop"),
    "nonstream_gpt5_nano_reasoning": ok("stop"),
    "nonstream_gpt5_service_tier": ok("stop"),
    # OpenAI errors
    "error_400_context_length_exceeded": err("context_length"),
    "error_400_invalid_image_url": err("bad_request"),
    "error_400_missing_required_parameter": err("bad_request"),
    "error_400_unsupported_parameter_stop_o1_mini": err("unsupported_parameter"),
    "error_401_invalid_api_key": err("auth"),
    "error_401_invalid_api_key_empty_key": err("auth"),
    "error_404_model_deprecated": err("not_found"),
    "error_404_model_not_found": err("not_found"),
    "error_429_insufficient_quota": err("quota"),
    "error_429_rate_limit_exceeded_rpm": err("rate_limit"),
    "error_500_server_error": err("server"),
    "error_502_cloudflare_bad_gateway": err("server"),
    "error_502_cloudflare_html_partial": err("server"),
    "error_503_envoy_upstream_plaintext": err("server"),
    # Azure
    "azure_error_404_deployment_not_found": err("not_found"),
    "azure_nonstream_finish_reason_content_filter": ok("content_filter"),  # no message: no text
    "azure_stream_prompt_filter_first_chunk": ok("stop"),
    # OpenAI-compatible servers
    "compat_deepseek_error_400_context_length": err("context_length"),  # code "invalid_request_error"
    "compat_deepseek_reasoner_stream_reasoning_content": ok("stop"),
    "compat_groq_stream_event_error_no_done": err("stream_error"),
    "compat_groq_stream_tool_call_x_groq_usage": ok("tool_calls"),
    "compat_llamacpp_stream_tail_timings": ok("stop"),
    "compat_ollama_v1_stream_reasoning": ok("stop"),
    "compat_openrouter_error_401_no_auth": err("auth"),
    "compat_openrouter_kimi_tool_call_no_finish_reason": ok(None),  # [DONE] without a finish_reason
    "compat_openrouter_kimi_tool_call_split_id": ok("tool_calls"),
    "compat_openrouter_stream_midstream_error": err("stream_error", finish="length"),
    "compat_openrouter_stream_reasoning_comments": ok("stop"),
    "compat_vllm_2024_stream_length": ok("length"),
    "compat_vllm_crusoe_stream": ok("stop"),
    "compat_zai_glm_stream_reasoning": ok("stop"),
}

#: Which error kinds the user may simply try again after.
RETRYABLE = {"rate_limit": True, "server": True, "stream_error": True, "auth": False, "quota": False,
             "not_found": False, "context_length": False, "unsupported_parameter": False, "bad_request": False}


# ------------------------------------------------------------------------- an independent reading of the bodies


def read_reply(body_path: Path) -> tuple[list[str], str | None, str | None]:
    """(non-empty text pieces, last finish_reason, the in-stream error's message) from a recorded body."""
    text = body_path.read_text(encoding="utf-8")
    if body_path.suffix == ".json":
        choice = json.loads(text)["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content") or message.get("refusal") or ""
        return ([content] if content else []), choice.get("finish_reason"), None
    pieces: list[str] = []
    finish = None
    for event, data in reference_events(text.encode()):
        if data.startswith("[DONE]"):
            break
        payload = json.loads(data)
        if event == "error" or payload.get("error"):
            return pieces, finish, payload["error"]["message"]
        for choice in payload.get("choices", [])[:1]:
            delta = choice.get("delta") or {}
            content = delta.get("content") or delta.get("refusal")
            if content:
                pieces.append(content)
            finish = choice.get("finish_reason") or finish
    return pieces, finish, None


def error_message(body_path: Path) -> str | None:
    try:
        body: Any = json.loads(body_path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return body.get("error", {}).get("message") if isinstance(body, dict) else None


# ------------------------------------------------------------------------- the tests


def test_corpus_is_complete_and_every_case_has_an_expectation() -> None:
    assert len(CASES) == CORPUS_SIZE, f"expected {CORPUS_SIZE} corpus cases in {CORPUS_DIR}, found {len(CASES)}"
    assert set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("case", CASES)
def test_replay(fake_server: FakeServer, case: str) -> None:
    expected = EXPECTED[case]
    body_path, meta = corpus_files(case)
    fake_server.queue(corpus(case))
    pieces: list[str] = []
    key = "sk-corpus-TESTKEY-0123456789"
    config = ConnectionConfig(api_key=key, base_url=fake_server.base_url, read_timeout=10)

    outcome = stream_chat(REQUEST, config, pieces.append, AbortHandle())

    assert len(fake_server.requests) == 1 and fake_server.requests[0].json["stream"] is True
    assert outcome.status == expected.status
    assert outcome.finish_reason == expected.finish
    assert outcome.received_chars == sum(len(p) for p in pieces)
    in_stream_error = None
    if meta["status"] == 200:
        want_pieces, want_finish, in_stream_error = read_reply(body_path)
        assert pieces == want_pieces
        assert outcome.finish_reason == want_finish
        assert (in_stream_error is not None) == (expected.status == "error")
    if expected.kind is None:
        assert outcome.error is None
        return
    info = outcome.error
    assert info is not None
    assert info.kind == expected.kind
    assert info.retryable is RETRYABLE[info.kind]
    assert info.message and key not in info.message and key not in info.detail
    if meta["status"] != 200:
        assert pieces == []
        assert info.status == meta["status"]
        server_message = error_message(body_path)
        if server_message is None:  # HTML or plain text: readable words, no markup
            assert info.detail and "<" not in info.detail
        elif "sk-" in server_message:  # an echoed key is redacted; the words before it stay
            assert info.detail.startswith(server_message.split("sk-")[0])
        else:
            assert info.detail == server_message
    else:
        assert info.detail == in_stream_error  # the server's own words for the in-stream error
    if info.kind == "rate_limit":
        assert info.retry_after is not None and 0 < info.retry_after <= 60
