"""Whatever a server answers, through the real openai client against the loopback server: other
servers' wording of the same error, empty streams, the model the server reports, lone surrogates,
and the caps that keep a broken or hostile server from eating the app's memory or time."""

from __future__ import annotations

import gzip
import time
import zlib
from typing import Any

import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.errors import OPEN_SETTINGS
from chatbot_gui.core.limits import LimitExceeded, Limits
from chatbot_gui.core.models import fetch_models
from chatbot_gui.core.streaming import AbortHandle, Outcome, stream_chat
from fakeserver import FakeServer, Reply, error, raw, raw_response, sse_event, stream

KEY = "sk-test-answers-0123456789abcdef"
REQUEST = ChatRequest(model="my-alias", messages=(("user", "Hi"),))


def run(server: FakeServer, reply: Reply | None = None, limits: Limits | None = None) -> tuple[Outcome, str]:
    if reply is not None:
        server.queue(reply)
    pieces: list[str] = []
    config = ConnectionConfig(api_key=KEY, base_url=server.base_url)
    kwargs: dict[str, Any] = {} if limits is None else {"limits": limits}
    outcome = stream_chat(REQUEST, config, pieces.append, AbortHandle(), **kwargs)
    return outcome, "".join(pieces)


def chunk(delta: dict[str, Any], finish: str | None = None, model: str = "gpt-4o-mini-2024-07-18") -> bytes:
    return sse_event({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


# ------------------------------------------------------------------ the same situation, other words

LITELLM_400 = {"error": {
    "message": "litellm.BadRequestError: Invalid model name passed in model=gpt-9. Call `/v1/models` to "
               "view available models for your key.\n\nLiteLLM: model group gpt-9 not found. No fallback "
               "was attempted.\n\n\nReceived Model Group=gpt-9\nAvailable Model Group Fallbacks=None",
    "type": "invalid_request_error", "param": None, "code": "400"}}


@pytest.mark.parametrize("status, body", [
    (400, LITELLM_400),
    (400, {"error": {"message": "The model `qwen-9b` does not exist.", "type": "NotFoundError", "code": 400}}),
    (400, {"error": {"message": "model 'llama9' not found, try pulling it first", "type": "api_error"}}),
    (404, {"error": {"message": "model \"llama9\" not found, try pulling it first", "type": "api_error"}}),
    (404, {"error": {"message": "The model `gpt-9` does not exist or you do not have access to it.",
                     "type": "invalid_request_error", "code": "model_not_found"}}),
])
def test_an_unknown_model_is_recognised_in_other_servers_words(fake_server, status, body) -> None:
    outcome, _ = run(fake_server, error(status, body))
    assert outcome.error is not None
    assert outcome.error.kind == "not_found"
    assert outcome.error.message == "The server does not know this model. Choose another model."


@pytest.mark.parametrize("status, body", [
    (400, {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing "
                     "it", "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}}),
    (400, {"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you "
           "requested 5000 tokens (4000 in the messages, 1000 in the completion).",
           "type": "BadRequestError", "param": None, "code": 400}),
    (400, {"object": "error", "message": "The decoder prompt (length 5000) is longer than the maximum model "
           "length of 4096. Make sure that `max_model_len` is no smaller than the number of text tokens.",
           "type": "BadRequestError", "code": 400}),
    (500, {"error": {"message": "prompt too long; exceeded max context length by 904 tokens",
                     "type": "exceed_context_size_error"}}),
    (400, {"error": {"message": "This model's maximum context length is 128000 tokens.",
                     "type": "invalid_request_error", "code": "context_length_exceeded"}}),
])
def test_a_conversation_too_long_is_recognised_in_other_servers_words(fake_server, status, body) -> None:
    outcome, _ = run(fake_server, error(status, body))
    assert outcome.error is not None and outcome.error.kind == "context_length"
    assert "too long for this model" in outcome.error.message


def test_a_context_error_inside_a_200_stream_is_recognised(fake_server) -> None:
    body = chunk({"content": "Hi"}) + sse_event({"error": {"code": 400, "message": "the request exceeds the "
                                                 "available context size", "type": "exceed_context_size_error"}})
    outcome, text = run(fake_server, raw(200, body))
    assert text == "Hi"
    assert outcome.error is not None and outcome.error.kind == "context_length"


def test_a_multi_line_server_message_has_a_one_line_summary_and_its_full_text(fake_server) -> None:
    outcome, _ = run(fake_server, error(400, LITELLM_400))
    info = outcome.error
    assert info is not None
    assert "\n" not in info.summary and len(info.summary) <= 100
    assert info.summary.startswith("litellm.BadRequestError: Invalid model name passed in model=gpt-9.")
    assert info.has_more
    assert "No fallback was attempted." in info.detail and "\n" in info.detail


@pytest.mark.parametrize("message", ["model 'x' not found", "model 'x'\nnot found\n"])
def test_a_short_message_needs_no_details(fake_server, message) -> None:
    outcome, _ = run(fake_server, error(404, {"error": {"message": message}}))
    assert outcome.error is not None and outcome.error.summary == "model 'x' not found"
    assert not outcome.error.has_more


def test_a_refused_key_offers_settings(fake_server) -> None:
    outcome, _ = run(fake_server, error(401, {"error": {"message": "Incorrect API key provided: sk-abc***def.",
                                                        "code": "invalid_api_key"}}))
    assert outcome.error is not None and outcome.error.action == OPEN_SETTINGS
    assert outcome.error.kind == "auth" and not outcome.error.retryable


def test_the_same_error_twice_has_the_same_signature(fake_server) -> None:
    fake_server.queue(error(400, LITELLM_400), error(400, LITELLM_400), error(500, {"error": {"message": "x"}}))
    first, second, other = (run(fake_server)[0].error for _ in range(3))
    assert first is not None and second is not None and other is not None
    assert first.signature == second.signature != other.signature


# ------------------------------------------------------------------ empty answers, reported model


@pytest.mark.parametrize("body", [b"", b"\n\n", b"data: [DONE]\n\n", chunk({"role": "assistant", "content": ""})
                                  + chunk({}, "stop") + b"data: [DONE]\n\n"])
def test_a_200_with_an_empty_stream_says_the_server_sent_no_reply(fake_server, body) -> None:
    outcome, text = run(fake_server, raw(200, body))
    assert text == ""
    assert outcome.status == "error" and outcome.error is not None and outcome.error.kind == "empty"
    assert "sent no reply" in outcome.error.message


def test_a_json_completion_with_no_text_says_the_server_sent_no_reply(fake_server) -> None:
    body = {"object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]}
    outcome, _ = run(fake_server, error(200, body))
    assert outcome.error is not None and outcome.error.kind == "empty"


def test_the_model_the_server_reports_is_returned(fake_server) -> None:
    outcome, text = run(fake_server, stream(["Hi"], model="gpt-4o-mini-2024-07-18"))
    assert text == "Hi" and outcome.status == "complete"
    assert fake_server.requests[-1].json["model"] == "my-alias"
    assert outcome.model == "gpt-4o-mini-2024-07-18"


def test_a_json_reply_whose_content_is_a_list_of_parts_is_read_like_the_stream(fake_server) -> None:
    body = {"object": "chat.completion", "model": "mistral-medium-2505", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                                         {"type": "text", "text": "Bonjour"}, {"type": "text", "text": " !"}]},
        "finish_reason": "stop"}]}
    outcome, text = run(fake_server, error(200, body))
    assert text == "Bonjour !"
    assert outcome.status == "complete" and outcome.model == "mistral-medium-2505"


# ------------------------------------------------------------------ text that is not valid text


def test_a_json_escaped_lone_surrogate_arrives_as_a_replacement_character(fake_server) -> None:
    body = (b'data: {"choices":[{"index":0,"delta":{"content":"bad \\ud800 pair \\ud83d\\ude00 ok"}}]}\n\n'
            + chunk({}, "stop") + b"data: [DONE]\n\n")
    outcome, text = run(fake_server, raw(200, body))
    assert text == "bad \ufffd pair \U0001f600 ok"
    text.encode("utf-8")  # storable
    assert outcome.status == "complete"


def test_a_lone_surrogate_in_a_json_reply_is_replaced_too(fake_server) -> None:
    body = (b'{"object":"chat.completion","model":"m\\udc00","choices":[{"index":0,"message":'
            b'{"role":"assistant","content":"x\\udfffy"},"finish_reason":"stop"}]}')
    outcome, text = run(fake_server, raw(200, body, headers={"Content-Type": "application/json"}))
    assert text == "x\ufffdy" and outcome.model == "m\ufffd"


@pytest.mark.parametrize("body, content_type", [
    (b"data: " + b"[" * 100_000 + b"\n\n", "text/event-stream"),
    (b'{"choices": ' + b"[" * 100_000, "application/json"),
])
def test_json_nested_too_deeply_is_a_clear_error(fake_server, body, content_type) -> None:
    outcome, _ = run(fake_server, raw(200, body, headers={"Content-Type": content_type}))
    assert outcome.error is not None and outcome.error.kind == "garbage"
    assert "nested too deeply" in outcome.error.detail


# ------------------------------------------------------------------ bounded memory and time

SMALL = Limits(max_reply_chars=2000, max_event_bytes=4096, max_stream_bytes=64 * 1024,
               max_document_bytes=32 * 1024, max_error_bytes=8 * 1024, max_seconds=1.0)


def test_a_line_without_an_end_stops_with_a_clear_error_and_keeps_the_text(fake_server) -> None:
    body = chunk({"content": "Kept."}) + b"data: " + b"x" * 50_000
    outcome, text = run(fake_server, raw(200, body, chunk_size=1000), SMALL)
    assert text == "Kept."
    assert outcome.error is not None and outcome.error.kind == "too_large"
    assert "line or event larger than 4 KB" in outcome.error.message
    assert "what arrived is kept" in outcome.error.message


def test_an_event_of_endless_data_lines_is_capped(fake_server) -> None:
    body = chunk({"content": "Kept."}) + b"data: abc\n" * 5000
    outcome, text = run(fake_server, raw(200, body), SMALL)
    assert text == "Kept." and outcome.error is not None and outcome.error.kind == "too_large"


def test_a_reply_far_larger_than_any_real_one_is_cut_at_the_cap(fake_server) -> None:
    outcome, text = run(fake_server, stream(["0123456789" * 10] * 100), SMALL)
    assert len(text) == 2000 and text == ("0123456789" * 10 * 20)
    assert outcome.status == "error" and outcome.received_chars == 2000
    assert outcome.error is not None and outcome.error.kind == "too_large"


def test_a_flood_of_events_without_text_is_capped_by_body_size(fake_server) -> None:
    body = sse_event({"choices": []}) * 10_000  # ~160 KB of nothing
    outcome, _ = run(fake_server, raw(200, body, chunk_size=4096), SMALL)
    assert outcome.error is not None and outcome.error.kind == "too_large"
    assert "larger than 64 KB" in outcome.error.message


def test_a_gzip_bomb_is_not_inflated_past_the_cap(fake_server) -> None:
    inflated = chunk({"content": "Hi"}) + b": " + b"0" * (50 * 1024 * 1024)  # 50 MB of comment line
    bomb = gzip.compress(inflated, 9)
    assert len(bomb) < 100_000
    outcome, text = run(fake_server, raw(200, bomb, headers={"Content-Encoding": "gzip"}), SMALL)
    assert fake_server.requests[-1].headers["accept-encoding"] == "identity"
    assert text == "Hi"
    assert outcome.error is not None and outcome.error.kind == "too_large"


@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
])
def test_a_compressed_stream_from_a_server_that_ignores_identity_is_still_read(fake_server, coding, compress):
    body = b"".join(stream(["Grüße ", "aus ", "Wien"]).parts)
    outcome, text = run(fake_server, raw(200, compress(body), headers={"Content-Encoding": coding}, chunk_size=17))
    assert text == "Grüße aus Wien" and outcome.status == "complete"


def test_an_unreadable_compression_is_a_clear_error(fake_server) -> None:
    outcome, _ = run(fake_server, raw(200, b"\x1b\x00\x00garbage", headers={"Content-Encoding": "br"}))
    assert outcome.error is not None and "compressed (br)" in outcome.error.message


def test_a_server_that_drips_bytes_forever_is_cut_off_by_the_time_cap(fake_server) -> None:
    body = chunk({"content": "Slow"}) + b": keep-alive\n" * 1000
    started = time.monotonic()
    outcome, text = run(fake_server, raw(200, body, chunk_size=13, delay=0.05), SMALL)
    assert time.monotonic() - started < 5
    assert text == "Slow"
    assert outcome.error is not None and outcome.error.kind == "too_large"
    assert "still sending after 1 second." in outcome.error.message
    assert fake_server.wait_disconnect(2)  # and the app hung up


def test_a_server_that_drips_its_headers_is_cut_off_by_the_time_cap(fake_server) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Drip: " + b"a" * 2000
    started = time.monotonic()
    outcome, text = run(fake_server, raw_response(head, chunk_size=10, delay=0.05), SMALL)
    assert time.monotonic() - started < 4
    assert outcome.status == "error" and outcome.error is not None and outcome.error.kind == "too_large"
    assert "still sending after 1 second." in outcome.error.message
    assert fake_server.wait_disconnect(2)


def test_a_huge_error_body_is_not_read_whole(fake_server) -> None:
    outcome, _ = run(fake_server, error(500, b"x" * 200_000, content_type="text/plain"), SMALL)
    assert outcome.error is not None and outcome.error.kind == "too_large"


def test_a_huge_json_reply_is_capped(fake_server) -> None:
    body = {"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "y" * 100_000}, "finish_reason": "stop"}]}
    outcome, text = run(fake_server, error(200, body), SMALL)
    assert text == "" and outcome.error is not None and outcome.error.kind == "too_large"


def test_a_model_list_is_held_to_the_caps_too(fake_server) -> None:
    fake_server.models = [f"model-{i:06d}-" + "z" * 200 for i in range(1000)]  # ~250 KB of JSON
    config = ConnectionConfig(api_key=KEY, base_url=fake_server.base_url)
    assert len(fetch_models(config)) == 1000
    with pytest.raises(LimitExceeded, match="larger than 32 KB"):
        fetch_models(config, limits=SMALL)


def test_default_limits_leave_a_real_long_reply_alone(fake_server) -> None:
    pieces = ["word " * 40] * 2000  # 400,000 characters in 2,000 chunks
    outcome, text = run(fake_server, stream(pieces))
    assert outcome.status == "complete" and len(text) == 400_000


def test_a_model_list_with_a_lone_surrogate_comes_back_storable(fake_server) -> None:
    fake_server.models = ["gpt-4o", "bad\udc80model"]  # json.dumps sends it as "bad\\udc80model"
    config = ConnectionConfig(api_key=KEY, base_url=fake_server.base_url)
    models = fetch_models(config)
    assert models == ["bad\ufffdmodel", "gpt-4o"]
    "".join(models).encode("utf-8")
