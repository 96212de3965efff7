"""Long chats against a loopback server that counts tokens and refuses like real servers do.

Core-level stories: the request goes through the real streaming loop and the real openai SDK to
``tests/fakeserver.py``; the chat is a list of :class:`Turn` as the UI will keep it. The server's
token rule (:class:`fakeserver.TokenRule`) is denser than the client's first guess (3 bytes a token
against 4), so the client must learn from the server to keep up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.context import MESSAGE_OVERHEAD, ContextMode, ContextRequest, TokenEstimator, Turn
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.streaming import AbortHandle, Outcome, stream_chat
from chatbot_gui.core.windows import ContextWindows
from fakeserver import FakeServer, TokenRule, stream

SYSTEM = "You are a helpful assistant. Keep the code word in mind."
PINNED = "The code word is PAPAYA. Never forget it."
ANSWER = ["Here is ", "a considered answer ", "that takes some room in the window. " * 3]


@dataclass
class Chat:
    """A chat as the UI keeps it, sending through ContextRequest + stream_chat."""

    server: FakeServer
    model: str = "local-model"
    mode: ContextMode = ContextMode.FIT
    windows: ContextWindows = field(default_factory=ContextWindows)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)
    turns: list[Turn] = field(default_factory=lambda: [Turn("system", SYSTEM), Turn("user", PINNED, pinned=True),
                                                      Turn("assistant", "Noted.")])
    retries: int = 0
    last: ContextRequest | None = None

    def send(self, text: str) -> Outcome:
        self.turns.append(Turn("user", text))
        ctx = self.last = ContextRequest(list(self.turns), model=self.model, base_url=self.server.base_url,
                                         windows=self.windows, estimator=self.estimator, mode=self.mode)
        outcome, reply = self._request(ctx)
        if outcome.status == "error" and outcome.error is not None:
            retry = ctx.on_refused(outcome.error.status, outcome.error.detail)
            if retry is not None:
                self.retries += 1
                outcome, reply = self._request(ctx)
        if outcome.status == "complete":
            tokens = None
            if outcome.usage is not None:
                ctx.on_usage(outcome.usage.prompt_tokens)
                tokens = outcome.usage.completion_tokens + MESSAGE_OVERHEAD  # exact, as the server resends it
            self.turns.append(Turn("assistant", reply, tokens=tokens))
        return outcome

    def _request(self, ctx: ContextRequest) -> tuple[Outcome, str]:
        messages = tuple((m["role"], m["content"]) for m in ctx.plan.messages(ctx.turns))
        pieces: list[str] = []
        outcome = stream_chat(ChatRequest(self.model, messages), ConnectionConfig(api_key="sk-test",
                              base_url=self.server.base_url), pieces.append, AbortHandle(), include_usage=True)
        return outcome, "".join(pieces)


@pytest.fixture
def limited_server(fake_server: FakeServer) -> FakeServer:
    fake_server.token_limit = 4096
    fake_server.token_rule = TokenRule(bytes_per_token=3.0)
    fake_server.default_reply = stream(ANSWER)
    return fake_server


def question(k: int) -> str:
    return f"Question {k}: " + "tell me more about that, in some detail please. " * 3


def test_300_turns_against_a_4k_server_keep_answering(limited_server: FakeServer) -> None:
    chat = Chat(limited_server)
    for k in range(300):
        outcome = chat.send(question(k))
        assert outcome.status == "complete", f"turn {k}: {outcome.error}"
    assert chat.retries == 1, "the limit is learnt from the first refusal; later sends are trimmed in advance"
    refused = [r for r in limited_server.requests if r.json is not None and
               TokenRule(3.0).prompt(r.json["messages"]) >= 4096]
    assert len(refused) == 1
    assert len(limited_server.requests) == 301
    # Every body: the system prompt, the pinned message, then the newest turns, ending with the question.
    for k, req in enumerate(limited_server.requests[-50:]):
        msgs = req.json["messages"]
        assert msgs[0] == {"role": "system", "content": SYSTEM}
        assert msgs[1] == {"role": "user", "content": PINNED}
        assert msgs[2]["role"] == "user" and msgs[2]["content"].startswith("Question ")
        assert msgs[-1] == {"role": "user", "content": question(250 + k)}
        roles = [m["role"] for m in msgs[2:]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]
        assert req.json["stream_options"] == {"include_usage": True}
    # The window is used well: the last request is close to the limit less the reserve for the reply.
    last = TokenRule(3.0).prompt(limited_server.requests[-1].json["messages"])
    assert 4096 - 512 - 250 < last <= 4096 - 512
    # The marker sits at the first message sent after the pinned one, and says the limit.
    plan = chat.last.plan  # type: ignore[union-attr]
    assert plan.first_sent is not None
    assert chat.turns[plan.first_sent].content == limited_server.requests[-1].json["messages"][2]["content"]
    assert plan.marker_text() == "Earlier messages are not sent: the model's limit is 4k tokens"
    assert plan.footer_text() == f"{last / 1000:.1f}k / 4k tokens".replace(".0k", "k")


def test_send_everything_reproduces_the_servers_refusal(limited_server: FakeServer) -> None:
    chat = Chat(limited_server, mode=ContextMode.EVERYTHING)
    outcomes = [chat.send(question(k)) for k in range(40)]
    failed = [o for o in outcomes if o.status == "error"]
    assert failed and failed[0].error is not None and failed[0].error.kind == "context_length"
    assert "maximum context length is 4096 tokens" in failed[0].error.detail
    assert chat.retries == 0
    assert len(limited_server.requests) == 40
    for k, req in enumerate(limited_server.requests):  # nothing was ever left out
        msgs = req.json["messages"]
        assert msgs[3]["content"] == question(0) and msgs[-1]["content"] == question(k)
        assert len(msgs) == 4 + 2 * min(k, len(outcomes) - len(failed)) + max(0, k - (len(outcomes) - len(failed)))
    assert all(o.status == "error" for o in outcomes[outcomes.index(failed[0]):]), "and it keeps failing"


@pytest.mark.parametrize("style", ["llamacpp", "openai-no-numbers"])
def test_learn_and_retry_fires_once_with_other_servers_wordings(limited_server: FakeServer, style: str) -> None:
    limited_server.limit_style = style
    chat = Chat(limited_server)
    for k in range(60):
        assert chat.send(question(k)).status == "complete"
    assert chat.retries == 1
    if style == "llamacpp":
        assert chat.windows.lookup(limited_server.base_url, "local-model").tokens == 4096  # type: ignore[union-attr]
    statuses = [r.json is not None for r in limited_server.requests]
    assert len(statuses) == 61


def test_usage_arrives_in_the_stream_when_asked(limited_server: FakeServer) -> None:
    pieces: list[str] = []
    request = ChatRequest("m", (("user", "hello there"),))
    config = ConnectionConfig(api_key="sk-test", base_url=limited_server.base_url)
    outcome = stream_chat(request, config, pieces.append, AbortHandle(), include_usage=True)
    rule = TokenRule(3.0)
    assert outcome.usage is not None
    assert outcome.usage.prompt_tokens == rule.prompt([{"role": "user", "content": "hello there"}]) == 3 + 4 + 4
    assert outcome.usage.completion_tokens == rule.text("".join(pieces))
    plain = stream_chat(request, config, pieces.append, AbortHandle())
    assert plain.usage is None and "stream_options" not in limited_server.requests[-1].json


def test_a_refusal_leaves_the_queued_reply_for_the_next_request(limited_server: FakeServer) -> None:
    limited_server.limit_style = "llamacpp"
    limited_server.queue(stream(["queued"]))
    config = ConnectionConfig(api_key="sk-test", base_url=limited_server.base_url)
    big = ChatRequest("m", (("user", "x" * 3 * 4096),))
    refused = stream_chat(big, config, lambda _t: None, AbortHandle())
    assert refused.status == "error" and refused.error is not None
    assert refused.error.kind == "context_length" and refused.error.status == 400
    assert refused.error.detail.startswith("request (4103 tokens) exceeds the available context size (4096 tokens)")
    pieces: list[str] = []
    assert stream_chat(ChatRequest("m", (("user", "hi"),)), config, pieces.append, AbortHandle()).status == "complete"
    assert pieces == ["queued"]


@pytest.mark.parametrize("status, body", [
    # Azure OpenAI with an API version older than stream_options
    (400, {"error": {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error",
                     "param": None, "code": None}}),
    # a pydantic-based server that forbids unknown fields (Mistral's shape)
    (422, {"object": "error", "message": {"detail": [{"type": "extra_forbidden", "loc": ["body", "stream_options"],
                                                       "msg": "Extra inputs are not permitted",
                                                       "input": {"include_usage": True}}]},
           "type": "invalid_request_error", "param": None, "code": None}),
])
def test_a_server_that_refuses_stream_options_is_asked_again_without_it(fake_server: FakeServer, status: int,
                                                                        body: dict[str, object]) -> None:
    from chatbot_gui.core.params import ParameterPolicy
    from fakeserver import error

    fake_server.queue(error(status, body), stream(["fine"]))
    policy = ParameterPolicy()
    config = ConnectionConfig(api_key="sk-test", base_url=fake_server.base_url)
    pieces: list[str] = []
    outcome = stream_chat(ChatRequest("m", (("user", "hi"),)), config, pieces.append, AbortHandle(), policy=policy,
                          include_usage=True)
    assert outcome.status == "complete" and pieces == ["fine"]
    first, second = (r.json for r in fake_server.requests)
    assert first["stream_options"] == {"include_usage": True} and "stream_options" not in second
    assert policy.rejected("m") == {"stream_options"}
    stream_chat(ChatRequest("m", (("user", "hi"),)), config, pieces.append, AbortHandle(), policy=policy,
                include_usage=True)
    assert "stream_options" not in fake_server.requests[-1].json, "remembered for the model"
