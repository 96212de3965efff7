"""Request bodies as each model accepts them, asserted on what the loopback server received.

Covers personas reaching the wire (system prompt, model, temperature, reply length), reasoning models'
``max_completion_tokens``, and the one-time fallback when a server refuses a parameter.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest, Conversation
from chatbot_gui.core.params import ParameterPolicy, build_body, is_reasoning_model, rejected_parameter
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.streaming import AbortHandle, Outcome, stream_chat
from fakeserver import FakeServer, corpus, corpus_files, error, raw, stream

KEY = "sk-params-test-4b1d9e0c7a"


def unsupported(param: str | None, message: str, code: str = "unsupported_parameter") -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


NO_TEMPERATURE = unsupported(
    "temperature", "Unsupported value: 'temperature' does not support 0.3 with this model. Only the "
    "default (1) value is supported.", code="unsupported_value")
NO_MAX_TOKENS = unsupported(
    None, "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
    "'max_completion_tokens' instead.")


def send(server: FakeServer, request: ChatRequest, policy: ParameterPolicy | None) -> tuple[Outcome, str]:
    """One request as the app makes it; returns how it ended and the text the user saw."""
    pieces: list[str] = []
    config = ConnectionConfig(api_key=KEY, base_url=server.base_url)
    outcome = stream_chat(request, config, pieces.append, AbortHandle(), policy=policy)
    return outcome, "".join(pieces)


def bodies(server: FakeServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


# -- personas on the wire --------------------------------------------------------------------------
def test_a_persona_sets_system_prompt_model_temperature_and_length(fake_server: FakeServer) -> None:
    persona = Persona("Pirate", "Talk like a pirate. ☠️\nAlways.", model="gpt-4o", temperature=0.3,
                      max_tokens=321)
    chat = Conversation(persona=persona)
    chat.add_user("Hello")
    outcome, text = send(fake_server, chat.build_request(), ParameterPolicy())
    assert (outcome.status, text) == ("complete", "Hello! How can I help?")
    assert bodies(fake_server) == [{
        "model": "gpt-4o", "stream": True, "temperature": 0.3, "max_tokens": 321,
        "messages": [{"role": "system", "content": "Talk like a pirate. ☠️\nAlways."},
                     {"role": "user", "content": "Hello"}],
    }]


def test_an_empty_system_prompt_sends_no_system_message(fake_server: FakeServer) -> None:
    for prompt in ("", "  \n\t"):
        chat = Conversation(persona=Persona("Plain", prompt))
        chat.add_user("Hi")
        send(fake_server, chat.build_request(), ParameterPolicy())
    for body in bodies(fake_server):
        assert body["messages"] == [{"role": "user", "content": "Hi"}]
        assert "temperature" not in body and "max_tokens" not in body and "max_completion_tokens" not in body


def test_a_100_kb_unicode_system_prompt_arrives_whole(fake_server: FakeServer) -> None:
    prompt = ("Ça va\u00a0? 🦜 مرحبا 日本語 — " * 5000)[:100_000]
    chat = Conversation(persona=Persona("Long", prompt))
    chat.add_user("Go")
    assert send(fake_server, chat.build_request(), ParameterPolicy())[0].status == "complete"
    assert bodies(fake_server)[0]["messages"][0] == {"role": "system", "content": prompt}


def test_reasoning_models_get_max_completion_tokens(fake_server: FakeServer) -> None:
    chat = Conversation(persona=Persona("Thinker", "Think.", model="o3-mini", max_tokens=2000))
    chat.add_user("Why?")
    assert send(fake_server, chat.build_request(), ParameterPolicy())[0].status == "complete"
    body = bodies(fake_server)[0]
    assert body["model"] == "o3-mini" and body["max_completion_tokens"] == 2000 and "max_tokens" not in body


@pytest.mark.parametrize("model, expected", [
    ("o1", True), ("o1-mini", True), ("o3-mini-2025-01-31", True), ("o4-mini", True), ("O3", True),
    ("gpt-5", True), ("gpt-5-nano", True), ("gpt-5.1", True), ("ft:o4-mini-2025-04-16:acme::x1", True),
    ("gpt-4o-mini", False), ("gpt-4.1", False), ("o10x", False), ("gpt-50", False), ("llama3", False),
    ("openai/o1", False), ("", False),
])
def test_is_reasoning_model(model: str, expected: bool) -> None:
    assert is_reasoning_model(model) is expected


def test_build_body_follows_what_the_policy_learnt() -> None:
    request = ChatRequest("local-model", (("user", "x"),), temperature=0.5, max_tokens=10)
    policy = ParameterPolicy()
    assert build_body(request, policy)["max_tokens"] == 10
    policy.reject("local-model", "max_tokens")
    assert build_body(request, policy)["max_completion_tokens"] == 10
    policy.reject("local-model", "max_completion_tokens")
    policy.reject("local-model", "temperature")
    policy.reject("local-model", "model")  # never dropped
    assert build_body(request, policy) == {"model": "local-model", "messages": [{"role": "user", "content": "x"}],
                                           "stream": True}
    assert build_body(request, policy) != build_body(request)  # another model's lessons stay separate
    assert policy.snapshot() == {"local-model": ["max_completion_tokens", "max_tokens", "temperature"]}
    assert ParameterPolicy(policy.snapshot()).rejected("local-model") == policy.rejected("local-model")
    o1 = ChatRequest("o1", (("user", "x"),), max_tokens=10)
    policy.reject("o1", "max_completion_tokens")  # a server that knows only max_tokens
    assert build_body(o1, policy)["max_tokens"] == 10


def test_rejected_parameter_reads_param_or_message() -> None:
    sent = {"model": "m", "messages": [], "stream": True, "temperature": 0.3, "max_tokens": 5}
    assert rejected_parameter(400, NO_TEMPERATURE, sent) == "temperature"
    assert rejected_parameter(400, NO_TEMPERATURE["error"], sent) == "temperature"  # the SDK's exc.body shape
    assert rejected_parameter(400, NO_MAX_TOKENS, sent) == "max_tokens"
    assert rejected_parameter(400, unsupported("model", "Unsupported parameter: model"), sent) is None
    assert rejected_parameter(400, unsupported("stop", "Unsupported parameter: 'stop'"), sent) is None
    assert rejected_parameter(500, NO_TEMPERATURE, sent) is None
    assert rejected_parameter(400, {"error": {"message": "temperature is wrong", "code": "invalid"}}, sent) is None


# -- the fallback ----------------------------------------------------------------------------------
def test_a_refused_temperature_is_dropped_once_and_remembered(fake_server: FakeServer) -> None:
    policy = ParameterPolicy()
    request = ChatRequest("o1-mini", (("user", "Hi"),), temperature=0.3)
    fake_server.queue(error(400, NO_TEMPERATURE), stream(["Fine", " then."]))
    outcome, text = send(fake_server, request, policy)
    assert (outcome.status, outcome.error, text) == ("complete", None, "Fine then.")
    first, second = bodies(fake_server)
    assert first["temperature"] == 0.3
    assert "temperature" not in second and second["messages"] == first["messages"]
    assert policy.rejected("o1-mini") == {"temperature"}

    outcome, _ = send(fake_server, request, policy)  # the next request: no 400 first
    assert outcome.status == "complete"
    assert len(bodies(fake_server)) == 3 and "temperature" not in bodies(fake_server)[2]
    assert send(fake_server, ChatRequest("gpt-4o", (("user", "Hi"),), temperature=0.3), policy)[0].status \
        == "complete"
    assert bodies(fake_server)[3]["temperature"] == 0.3  # other models still get it


def test_a_refused_max_tokens_switches_to_max_completion_tokens(fake_server: FakeServer) -> None:
    policy = ParameterPolicy()
    request = ChatRequest("azure-deployment", (("user", "Hi"),), max_tokens=50)
    fake_server.queue(error(400, NO_MAX_TOKENS))
    assert send(fake_server, request, policy)[0].status == "complete"
    assert [("max_tokens" in b, b.get("max_completion_tokens")) for b in bodies(fake_server)] == [
        (True, None), (False, 50)]
    send(fake_server, request, policy)
    assert bodies(fake_server)[2].get("max_completion_tokens") == 50 and len(bodies(fake_server)) == 3


def test_only_one_retry_per_request_but_both_lessons_are_kept(fake_server: FakeServer) -> None:
    policy = ParameterPolicy()
    request = ChatRequest("picky", (("user", "Hi"),), temperature=0.3, max_tokens=50)
    both = unsupported("max_tokens", "Unsupported parameter: 'max_tokens'.")
    fake_server.queue(error(400, NO_TEMPERATURE), error(400, both))
    outcome, text = send(fake_server, request, policy)
    assert outcome.status == "error" and outcome.error is not None
    assert outcome.error.kind == "unsupported_parameter" and text == ""
    assert len(bodies(fake_server)) == 2
    assert policy.rejected("picky") == {"temperature", "max_tokens"}
    fake_server.queue(stream(["ok"]))
    assert send(fake_server, request, policy) == (Outcome("complete", "stop", None, 2), "ok")
    last = bodies(fake_server)[-1]
    assert "temperature" not in last and "max_tokens" not in last and last["max_completion_tokens"] == 50


def test_a_refusal_of_something_not_sent_is_not_retried(fake_server: FakeServer) -> None:
    case = "error_400_unsupported_parameter_stop_o1_mini"
    _, meta = corpus_files(case)
    assert meta["status"] == 400
    policy = ParameterPolicy()
    fake_server.queue(corpus(case))
    outcome, _ = send(fake_server, ChatRequest("o1-mini", (("user", "Hi"),), temperature=1.0), policy)
    assert outcome.status == "error" and outcome.error is not None
    assert outcome.error.kind == "unsupported_parameter" and "'stop'" in outcome.error.detail
    assert len(bodies(fake_server)) == 1 and policy.snapshot() == {}


def test_without_a_policy_nothing_changes(fake_server: FakeServer) -> None:
    request = ChatRequest("o1-mini", (("user", "Hi"),), temperature=0.3, max_tokens=9)
    fake_server.queue(error(400, NO_TEMPERATURE))
    outcome, _ = send(fake_server, request, None)
    assert outcome.status == "error" and outcome.error is not None and outcome.error.kind == "unsupported_parameter"
    assert bodies(fake_server) == [{"model": "o1-mini", "messages": [{"role": "user", "content": "Hi"}],
                                    "stream": True, "temperature": 0.3, "max_tokens": 9}]


def test_the_policy_is_safe_to_share_between_threads() -> None:
    policy = ParameterPolicy()

    def learn(n: int) -> None:
        for i in range(200):
            policy.reject(f"m{i % 7}", f"p{n}")
            policy.rejected(f"m{i % 5}")

    threads = [threading.Thread(target=learn, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert policy.rejected("m3") == {"p0", "p1", "p2", "p3"}


def test_after_a_retry_only_the_second_answer_is_judged(fake_server: FakeServer) -> None:
    login = raw(200, b"<html><body>Please log in</body></html>", headers={"Content-Type": "text/html"})
    fake_server.queue(error(400, NO_TEMPERATURE), login)
    outcome, _ = send(fake_server, ChatRequest("o1", (("user", "Hi"),), temperature=0.3), ParameterPolicy())
    assert outcome.status == "error" and outcome.error is not None and outcome.error.kind == "garbage"
    assert outcome.error.detail == "Please log in"  # the refusal's body is not mixed into it
