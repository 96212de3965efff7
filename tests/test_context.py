"""The trimming planner and the token estimate (Qt-free, plain pytest)."""

from __future__ import annotations

import pytest

from chatbot_gui.core.context import (
    DEFAULT_BYTES_PER_TOKEN,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    ContextMode,
    ContextRequest,
    TokenEstimator,
    Turn,
    default_reserve,
    format_tokens,
    plan_context,
    utf8_size,
)
from chatbot_gui.core.windows import ContextWindows

SYSTEM = Turn("system", "You are a helpful assistant.")


def chat(pairs: int, size: int = 396) -> list[Turn]:
    """System prompt + ``pairs`` question/answer pairs, each message ``size`` ASCII bytes (100 tokens
    with the default estimate + 4 overhead = 103 each... see ``cost``)."""
    turns = [SYSTEM]
    for k in range(pairs):
        turns.append(Turn("user", f"q{k:04d}".ljust(size, ".")))
        turns.append(Turn("assistant", f"a{k:04d}".ljust(size, ".")))
    return turns


def cost(turn: Turn) -> float:
    return MESSAGE_OVERHEAD + utf8_size(turn.content) / DEFAULT_BYTES_PER_TOKEN


def test_everything_fits_nothing_dropped() -> None:
    turns = chat(3) + [Turn("user", "newest")]
    plan = plan_context(turns, window=128_000, reserve=4096)
    assert plan.sent == tuple(range(len(turns)))
    assert plan.first_sent is None and plan.dropped == 0 and not plan.trimmed and plan.fits
    assert plan.marker_text() == ""
    assert plan.tokens == round(REPLY_PRIMING + sum(cost(t) for t in turns) + 0.5 - 1e-9)


def test_drops_the_oldest_keeps_system_and_newest_and_reports_the_first_sent() -> None:
    turns = chat(50) + [Turn("user", "newest question")]
    window, reserve = 4096, 512
    plan = plan_context(turns, window=window, reserve=reserve)
    assert plan.trimmed and plan.fits
    assert plan.sent[0] == 0, "the system prompt is always sent"
    assert plan.sent[-1] == len(turns) - 1, "the newest message is always sent"
    first = plan.first_sent
    assert first is not None and turns[first].role == "user", "the kept run opens with a question"
    assert plan.sent == (0,) + tuple(range(first, len(turns)))
    assert plan.dropped == first - 1
    # As many as fit: the sent messages fit the budget, and one more pair would not.
    sent_cost = REPLY_PRIMING + sum(cost(turns[i]) for i in plan.sent)
    assert sent_cost <= window - reserve < sent_cost + cost(turns[first - 1]) + cost(turns[first - 2])
    assert plan.tokens == -(-sent_cost // 1)
    assert plan.marker_text() == "Earlier messages are not sent: the model's limit is 4k tokens"
    assert plan.footer_text() == f"{format_tokens(plan.tokens)} / 4k tokens"
    assert plan.messages(turns)[0] == {"role": "system", "content": SYSTEM.content}


def test_pinned_messages_are_always_sent_in_their_place() -> None:
    turns = chat(50)
    turns[3] = turns[3]._replace(pinned=True)  # an early question
    turns.append(Turn("user", "newest"))
    plan = plan_context(turns, window=2048, reserve=256)
    assert plan.sent[:2] == (0, 3)
    assert plan.first_sent is not None and plan.first_sent > 3
    assert plan.sent[2:] == tuple(range(plan.first_sent, len(turns)))
    assert plan.dropped == plan.first_sent - 2  # everything before the run except system and the pin


def test_cut_between_question_and_answer_drops_the_answer_too() -> None:
    turns = [SYSTEM, Turn("user", "q" * 40), Turn("assistant", "a" * 4000), Turn("user", "b" * 40),
             Turn("assistant", "c" * 40), Turn("user", "newest")]
    plan = plan_context(turns, window=1060, reserve=0)  # the long answer fits, its question would not
    assert plan.sent == (0, 3, 4, 5)
    assert plan.first_sent == 3


def test_minimum_that_does_not_fit_is_still_sent_and_says_so() -> None:
    turns = [SYSTEM, Turn("user", "x" * 40), Turn("assistant", "y"), Turn("user", "z" * 20_000)]
    plan = plan_context(turns, window=1000, reserve=100)
    assert plan.sent == (0, 3) and not plan.fits and plan.first_sent == 3


def test_send_everything_and_unknown_window_send_all() -> None:
    turns = chat(500) + [Turn("user", "newest")]
    for plan in (plan_context(turns, window=4096, reserve=512, mode=ContextMode.EVERYTHING),
                 plan_context(turns, window=None)):
        assert plan.sent == tuple(range(len(turns))) and plan.first_sent is None
    assert not plan_context(turns, window=4096, reserve=512, mode=ContextMode.EVERYTHING).fits
    assert plan_context(turns, window=None).footer_text().endswith("k tokens")


def test_exact_counts_win_over_the_estimate() -> None:
    turns = [SYSTEM, Turn("user", "hi", tokens=1000), Turn("user", "newest")]
    plan = plan_context(turns, window=900, reserve=0)
    assert plan.sent == (0, 2)
    assert plan_context(turns, window=None).tokens == round(REPLY_PRIMING + cost(SYSTEM) + 1000 + cost(turns[2]) + 0.49)


def test_calibration_gives_the_servers_count_back_and_estimates_only_new_text() -> None:
    est = TokenEstimator()
    sent = chat(10)
    assert est.count(sent, "m") != 3000
    assert est.calibrate("m", sent, 3000)
    assert est.count(sent, "m") == 3000
    bpt = est.bytes_per_token("m")
    newer = sent + [Turn("user", "n" * 300)]
    assert est.count(newer, "m") == -(-(3000 + MESSAGE_OVERHEAD + 300 / bpt) // 1)
    assert est.bytes_per_token("other") == DEFAULT_BYTES_PER_TOKEN, "calibration is per model"
    assert TokenEstimator(est.snapshot()).count(sent, "m") == 3000


def test_calibration_ignores_tiny_or_implausible_figures() -> None:
    est = TokenEstimator()
    assert not est.calibrate("m", [Turn("user", "hi")], 12)
    assert not est.calibrate("m", chat(3), 5)  # fewer tokens than the messages' framing
    assert not est.calibrate("m", chat(3), 10**6)  # less than a byte per token
    assert est.bytes_per_token("m") == DEFAULT_BYTES_PER_TOKEN
    assert TokenEstimator({"m": 0.1, "n": "x", "o": 3.0}).snapshot() == {"o": 3.0}  # type: ignore[dict-item]


def test_non_ascii_text_counts_by_utf8_bytes() -> None:
    assert utf8_size("héllo") == 6
    assert utf8_size("日本語") == 9
    assert utf8_size("a\ud800b") == 5  # a lone surrogate neither crashes nor is lost
    assert TokenEstimator().count_text("日本語の文章", "m") == 5  # 18 bytes / 4


@pytest.mark.parametrize("n, text", [(950, "950"), (4096, "4k"), (4097, "4.1k"), (8192, "8k"), (16_385, "16k"),
                                     (38_412, "38k"), (128_000, "128k"), (131_072, "128k"), (200_000, "200k"),
                                     (999_999, "1M"), (1_047_576, "1M"), (2_097_152, "2M")])
def test_format_tokens(n: int, text: str) -> None:
    assert format_tokens(n) == text


def test_default_reserve() -> None:
    assert default_reserve(4096) == 512
    assert default_reserve(1024) == 256
    assert default_reserve(128_000) == 4096
    assert default_reserve(4096, max_tokens=1000) == 1000
    assert default_reserve(None) == 0


# -- the policy for one send: learn from a refusal, retry once -------------------------------------------
def refusal(limit: int, prompt: int) -> dict[str, object]:
    return {"error": {"message": f"This model's maximum context length is {limit} tokens. However, you "
                                 f"requested {prompt} tokens ({prompt} in the messages, 0 in the completion). "
                                 "Please reduce the length of the messages or completion.",
                      "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}


def test_refusal_teaches_the_limit_and_gives_one_smaller_retry() -> None:
    windows, est = ContextWindows(), TokenEstimator()
    turns = chat(40) + [Turn("user", "newest")]
    req = ContextRequest(turns, model="local", base_url="http://h/v1", windows=windows, estimator=est)
    assert req.window is None and not req.plan.trimmed
    server_count = int(req.plan.tokens * 1.3)  # the server's tokenizer is denser than the guess
    retry = req.on_refused(400, refusal(4096, server_count))
    assert retry is not None and retry.trimmed and retry.window == 4096
    assert windows.lookup("http://h/v1/", "local") == windows.lookup("http://h/v1", "local")
    assert windows.lookup("http://h/v1", "local").tokens == 4096  # type: ignore[union-attr]
    assert est.bytes_per_token("local") < DEFAULT_BYTES_PER_TOKEN, "the server's count calibrated the estimate"
    assert retry.tokens <= 4096 - default_reserve(4096)
    assert req.on_refused(400, refusal(4096, 5000)) is None, "only one automatic retry"
    # The next send trims in advance.
    nxt = ContextRequest(turns + [Turn("assistant", "ok"), Turn("user", "more")], model="local",
                         base_url="http://h/v1", windows=windows, estimator=est)
    assert nxt.plan.trimmed and nxt.plan.window == 4096


def test_refusal_without_numbers_retries_with_a_quarter_less() -> None:
    req = ContextRequest(chat(40) + [Turn("user", "newest")], model="m", base_url="http://h/v1",
                         windows=ContextWindows(), estimator=TokenEstimator())
    before = req.plan.tokens
    body = {"error": {"message": "Your input exceeds the context window of this model. Please adjust your input "
                                 "and try again.", "type": "invalid_request_error", "param": "input",
                      "code": "context_length_exceeded"}}
    retry = req.on_refused(400, body)
    assert retry is not None and retry.tokens <= before * 3 // 4


def test_no_retry_for_other_errors_for_send_everything_or_when_nothing_is_left_to_drop() -> None:
    turns = chat(40) + [Turn("user", "newest")]
    make = lambda **kw: ContextRequest(turns, model="m", base_url="http://h/v1",  # noqa: E731
                                       windows=ContextWindows(), estimator=TokenEstimator(), **kw)
    assert make().on_refused(400, {"error": {"message": "Unsupported parameter: 'temperature'",
                                             "code": "unsupported_parameter"}}) is None
    assert make().on_refused(401, refusal(4096, 5000)) is None
    windows = ContextWindows()
    everything = ContextRequest(turns, model="m", base_url="http://h/v1", windows=windows,
                                estimator=TokenEstimator(), mode=ContextMode.EVERYTHING)
    assert everything.on_refused(400, refusal(4096, 5000)) is None
    assert windows.lookup("http://h/v1", "m").tokens == 4096, "the limit is learnt all the same"  # type: ignore[union-attr]
    tiny = ContextRequest([SYSTEM, Turn("user", "x" * 9000)], model="m", base_url="http://h/v1",
                          windows=ContextWindows(), estimator=TokenEstimator())
    assert tiny.on_refused(400, refusal(1024, 2300)) is None


def test_usage_calibrates_for_the_turns_actually_sent() -> None:
    windows, est = ContextWindows({"m": 4096}), TokenEstimator()
    turns = chat(60) + [Turn("user", "newest")]
    req = ContextRequest(turns, model="m", base_url="http://h/v1", windows=windows, estimator=est)
    assert req.plan.trimmed
    assert req.on_usage(4000)
    assert est.count(req.sent_turns(), "m") == 4000


def test_turns_from_a_conversation_keep_ids_for_the_marker() -> None:
    from chatbot_gui.core.context import conversation_turns, footer_text
    from chatbot_gui.core.conversation import Conversation, Status

    conv = Conversation()
    first = conv.add_user("x" * 4000)
    reply = conv.start_reply()
    reply.content, reply.status = "y" * 4000, Status.COMPLETE
    stopped = conv.start_reply()
    stopped.content, stopped.status = "partial", Status.STOPPED  # not part of the context
    newest = conv.add_user("newest")
    turns, ids = conversation_turns(conv)
    assert [t.role for t in turns] == ["system", "user", "assistant", "user"]
    assert ids == [None, first.id, reply.id, newest.id]
    plan = plan_context(turns, window=1024, reserve=256)
    assert plan.first_sent is not None and ids[plan.first_sent] == newest.id
    assert footer_text(plan, "10 tokens used") == f"{plan.footer_text()} · 10 tokens used"
    assert footer_text(None) == ""


def test_refusal_with_a_limit_but_no_count_raises_the_estimate_to_at_least_the_limit() -> None:
    est = TokenEstimator()
    turns = chat(40) + [Turn("user", "newest")]
    req = ContextRequest(turns, model="m", base_url="http://h/v1", windows=ContextWindows({"m": 8192}),
                         estimator=est)
    before = [turns[i] for i in req.plan.sent]
    assert req.plan.trimmed and req.plan.tokens <= 8192 - 1024
    lm_studio = {"error": "Trying to keep the first 9000 tokens when context the overflows. However, the model is "
                          "loaded with context length of only 8192 tokens, which is not enough."}
    retry = req.on_refused(400, lm_studio)
    assert retry is not None and len(retry.sent) < len(before)
    assert est.count(before, "m") == 8192, "what was refused now counts as the limit"
    assert retry.tokens <= 8192 - 1024


def test_context_request_for_a_conversation() -> None:
    from chatbot_gui.core.context import context_request
    from chatbot_gui.core.conversation import Conversation, Status
    from chatbot_gui.core.personas import Persona

    conv = Conversation(persona=Persona("P", "Be brief.", max_tokens=300, temperature=0.5))
    for k in range(30):
        conv.add_user(f"question {k} " + "x" * 400)
        reply = conv.start_reply()
        reply.content, reply.status = f"answer {k} " + "y" * 400, Status.COMPLETE
    conv.add_user("newest")
    windows = ContextWindows({"small": 2048})
    request, ctx = context_request(conv, "small", base_url="http://h/v1", windows=windows,
                                   estimator=TokenEstimator())
    assert request.model == "small" and request.temperature == 0.5 and request.max_tokens == 300
    assert request.messages[0] == ("system", "Be brief.") and request.messages[-1] == ("user", "newest")
    assert ctx.plan.reserve == 300 and ctx.plan.trimmed
    marker = conv.find(ctx.marker_id)  # type: ignore[arg-type]
    assert marker is not None and marker.role == "user" and request.messages[1] == ("user", marker.content)
    everything, ctx2 = context_request(conv, "small", base_url="http://h/v1", windows=windows,
                                       estimator=TokenEstimator(), mode=ContextMode.EVERYTHING)
    assert everything == conv.build_request("small") and ctx2.marker_id is None
