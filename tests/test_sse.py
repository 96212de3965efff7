"""The event-stream decoder and the Chat Completions reply reader (``chatbot_gui.core.sse``).

Network reads cut a stream anywhere: inside a line, between ``\\r`` and ``\\n``, inside a UTF-8
character. Every framing case is therefore also checked fed in every possible split (or many random
ones, with fixed seeds), against a plain whole-body reading of the same rules.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from chatbot_gui.core.sse import Event, EventDecoder, InBandError, ReplyReader
from fakeserver import CORPUS_DIR
from sse_reference import reference_events


def decode(body: bytes, cuts: list[int] | None = None) -> tuple[list[Event], Event | None]:
    """Feed ``body`` cut at the offsets ``cuts``; (the dispatched events, what close() returned)."""
    decoder = EventDecoder()
    events: list[Event] = []
    start = 0
    for cut in [*(cuts or []), len(body)]:
        events += decoder.feed(body[start:cut])
        start = cut
    return events, decoder.close()


def reference(body: bytes) -> list[Event]:
    """The WHATWG rules read straight off the whole body, the simplest way (no incremental state)."""
    return [Event(kind, data) for kind, data in reference_events(body)]


def all_splits(body: bytes) -> list[list[int]]:
    """Every way of cutting ``body`` once or twice."""
    n = len(body)
    return [[i] for i in range(n + 1)] + [[i, j] for i in range(1, n) for j in range(i, n)]


# ------------------------------------------------------------------------- framing


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"data: x\n\n", [Event("", "x")], id="lf"),
        pytest.param(b"data: x\r\n\r\n", [Event("", "x")], id="crlf"),
        pytest.param(b"data: x\r\r", [Event("", "x")], id="cr"),
        pytest.param(b"data: a\r\ndata: b\rdata: c\n\r\n", [Event("", "a\nb\nc")], id="mixed-endings"),
        pytest.param(b"data: one\ndata:two\ndata:  three\ndata\n\n", [Event("", "one\ntwo\n three\n")],
                     id="multi-line-data"),
        pytest.param(b"data:\n\n", [Event("", "")], id="empty-data-is-still-an-event"),
        pytest.param(b": keep-alive\n:\n: OPENROUTER PROCESSING\n\ndata: x\n\n", [Event("", "x")], id="comments"),
        pytest.param(b" data: spaced\nDATA: upper\ndata : named-with-space\n\n", [], id="not-data-fields"),
        pytest.param(b"event: error\ndata: {}\n\ndata: next\n\n", [Event("error", "{}"), Event("", "next")],
                     id="event-type-resets"),
        pytest.param(b"event: error\n\ndata: plain\n\n", [Event("", "plain")], id="event-without-data"),
        pytest.param(b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n", [Event("", "x")], id="other-fields"),
        pytest.param(b"data: a:b: c\n\n", [Event("", "a:b: c")], id="colons-in-value"),
        pytest.param(b"\n\n\r\n\rdata: x\n\n\n\n", [Event("", "x")], id="extra-blank-lines"),
        pytest.param("\ufeffdata: bom\n\n".encode(), [Event("", "bom")], id="leading-bom"),
        pytest.param("data: x\n\n\ufeffdata: y\n\n".encode(), [Event("", "x")], id="later-bom-is-a-field"),
        pytest.param("data: héllo 世界 😀\n\n".encode(), [Event("", "héllo 世界 😀")], id="utf-8"),
        pytest.param(b"data: \xff\xfeok\n\n", [Event("", "\ufffd\ufffdok")], id="invalid-utf-8-replaced"),
        pytest.param(b"data: a\n\ndata: b", [Event("", "a")], id="unterminated-last-line"),
        pytest.param(b"data: a\n\ndata: b\n", [Event("", "a")], id="no-blank-line-at-end"),
    ],
)
def test_framing_in_every_split(body: bytes, expected: list[Event]) -> None:
    assert reference(body) == expected  # the reference agrees with the hand-written answer...
    for cuts in all_splits(body):  # ...and so does the decoder, however the bytes arrive
        events, _ = decode(body, cuts)
        assert events == expected, cuts


def test_crlf_split_between_reads_is_one_line_ending() -> None:
    # Were the "\n" after a read-ending "\r" taken for a second line ending, the blank line would
    # dispatch "a" on its own.
    decoder = EventDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [Event("", "a\nb")]
    assert decoder.feed(b"\n") == []  # belongs to the "\r" before it: not one more blank line


def test_a_character_split_across_reads_is_decoded_whole() -> None:
    body = "data: 😀\n\n".encode()
    emoji_at = body.index(b"\xf0")
    for cut in range(emoji_at + 1, emoji_at + 4):  # inside the four bytes of the emoji
        decoder = EventDecoder()
        assert decoder.feed(body[:cut]) == []
        assert decoder.feed(body[cut:]) == [Event("", "😀")]


def test_the_open_event_at_the_end_is_not_dispatched_but_handed_back() -> None:
    events, tail = decode(b"data: a\n\nevent: error\ndata: b\ndata: c")
    assert events == [Event("", "a")]
    assert tail == Event("error", "b\nc")
    assert decode(b"data: a\n\n")[1] is None
    assert decode(b": only a comment")[1] is None
    assert decode("\ufeffdata: x".encode())[1] == Event("", "x")  # a BOM goes even from a lone last line


def test_a_long_line_in_many_small_reads() -> None:
    value = "x" * 200_000
    body = f"data: {value}\n\n".encode()
    events, _ = decode(body, list(range(100, len(body), 100)))
    assert events == [Event("", value)]


def test_random_streams_in_random_splits_match_the_reference() -> None:
    rng = random.Random(20261125)
    lines = ["data: {\"a\": 1}", "data:x", "data:  y", "data", "data: ü€😀", "event: error", "event:", ": c",
             ":", " data: z", "id: 3", "retry: x", "", "", "", "data: [DONE]", "dat", "data:\u2028"]
    for _ in range(1500):
        parts = [rng.choice(lines) + rng.choice(["\n", "\r\n", "\r"]) for _ in range(rng.randint(0, 14))]
        body = "".join(parts).encode()
        if rng.random() < 0.3:
            body += rng.choice([b"data: tail", b"data: t\xc3", b"\r", b""])
        cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 6))))
        events, _ = decode(body, cuts)
        assert events == reference(body), (body, cuts)


# ------------------------------------------------------------------------- the reply reader


def chunk(content: Any = None, finish: str | None = None, **delta: Any) -> bytes:
    if content is not None:
        delta["content"] = content
    payload = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def read(body: bytes, cuts: list[int] | None = None) -> tuple[list[str], ReplyReader]:
    reader = ReplyReader()
    pieces: list[str] = []
    start = 0
    for cut in [*(cuts or []), len(body)]:
        pieces += reader.feed(body[start:cut])
        start = cut
    reader.close()
    return pieces, reader


def test_reply_text_finish_reason_and_done() -> None:
    body = chunk("", role="assistant") + chunk("Hel") + chunk("lo") + chunk(None, "stop") + b"data: [DONE]\n\n"
    pieces, reader = read(body)
    assert pieces == ["Hel", "lo"]
    assert (reader.finish_reason, reader.done, reader.chunks) == ("stop", True, 4)


def test_what_servers_add_or_leave_out_is_tolerated() -> None:
    body = (
        b'data: {"choices": [], "prompt_filter_results": [{"prompt_index": 0}]}\n\n'  # Azure
        b'data: {"choices": [{"index": 0}]}\n\n'  # no delta
        b'data: {"choices": [{"delta": null}]}\n\n'
        b'data: {"choices": [{"delta": {"content": null, "tool_calls": [{"index": 0}]}}]}\n\n'
        b'data: {"choices": [{"delta": {"content": "ok", "x_future_field": [1, 2]}}], "usage": null}\n\n'
        b'data: {"choices": [{"delta": {"refusal": "I can\'t help with that."}}]}\n\n'
        b'data: {"object": "chat.completion.chunk"}\n\n'  # no choices at all
        b'data: {"choices": ["not an object"]}\n\n'
        b'data: \n\n'  # an empty event
        b'data: {"choices": [], "usage": {"total_tokens": 9}}\n\n'
        b"data: [DONE]\n\n"
    )
    pieces, reader = read(body)
    assert pieces == ["ok", "I can't help with that."]
    assert (reader.finish_reason, reader.done) == (None, True)


def test_reasoning_is_counted_not_shown() -> None:
    body = (chunk(None, reasoning_content="Think") + chunk("", reasoning="ing.") + chunk("Answer")
            + chunk(None, "stop"))
    pieces, reader = read(body)
    assert pieces == ["Answer"]
    assert reader.reasoning_chars == len("Thinking.")


def test_content_given_as_a_list_of_parts() -> None:
    parts = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}, {"type": "text", "text": "Hi"},
             {"type": "text", "text": "!"}, {"type": "image_url"}]
    pieces, _ = read(chunk(parts))
    assert pieces == ["Hi!"]


def test_the_last_finish_reason_wins_and_a_later_null_does_not_erase_it() -> None:
    _, reader = read(chunk("a", "length") + b'data: {"choices": [], "usage": {}}\n\n' + chunk("", None))
    assert reader.finish_reason == "length"


def test_nothing_after_done_is_read() -> None:
    body = chunk("a") + b"data: [DONE]\n\n" + chunk("late") + b"data: {oops\n\n" + b'data: {"error": "x"}\n\n'
    pieces, reader = read(body)
    assert pieces == ["a"] and reader.done


def test_done_without_its_blank_line_at_the_end_still_counts() -> None:
    _, reader = read(chunk("a") + b"data: [DONE]\n")  # llama.cpp's server ends its streams like this
    assert reader.done
    _, reader = read(chunk("a") + b"data: [DONE]")
    assert reader.done


def test_done_inside_the_reply_text_does_not_count() -> None:
    pieces, reader = read(chunk("say\ndata: [DONE]\n\n"))
    assert pieces == ["say\ndata: [DONE]\n\n"]
    assert not reader.done


@pytest.mark.parametrize(
    ("event", "body"),
    [
        pytest.param(b'data: {"error": {"message": "upstream failed", "code": 502}}\n\n',
                     {"message": "upstream failed", "code": 502}, id="error-object"),
        pytest.param(b'event: error\ndata: {"error": {"message": "rate limited"}, "status_code": 429}\n\n',
                     {"message": "rate limited"}, id="event-error-with-error-object"),
        pytest.param(b'event: error\ndata: {"message": "overloaded"}\n\n', {"message": "overloaded"},
                     id="event-error-plain-object"),
        pytest.param(b"event: error\ndata: upstream died\n\n", "upstream died", id="event-error-not-json"),
        pytest.param(b'data: {"error": "boom", "choices": []}\n\n', "boom", id="error-string"),
    ],
)
def test_in_band_errors_come_after_the_text_before_them(event: bytes, body: Any) -> None:
    reader = ReplyReader()
    pieces = reader.feed(chunk("partial") + event + chunk("never"))
    assert next(pieces) == "partial"
    with pytest.raises(InBandError) as caught:
        next(pieces)
    assert caught.value.body == body


def test_a_null_error_field_is_not_an_error() -> None:
    pieces, _ = read(b'data: {"error": null, "choices": [{"delta": {"content": "fine"}}]}\n\n')
    assert pieces == ["fine"]


@pytest.mark.parametrize("data", [b"data: not json", b"data: {oops", b"data: [1, 2]", b'data: "text"', b"data: 42"])
def test_a_data_line_that_is_not_a_json_object_is_an_error(data: bytes) -> None:
    reader = ReplyReader()
    pieces = reader.feed(chunk("fine") + data + b"\n\n")
    assert next(pieces) == "fine"
    with pytest.raises(ValueError):
        next(pieces)


def test_an_html_page_has_no_chunks() -> None:
    page = b"<html>\r\n<head><title>Sign in</title></head>\r\n<body>data here: no</body>\r\n</html>\r\n"
    pieces, reader = read(page)
    assert (pieces, reader.chunks, reader.done, reader.finish_reason) == ([], 0, False, None)


def _corpus_streams() -> list[str]:
    return sorted(p.name for p in CORPUS_DIR.glob("*.sse"))


@pytest.mark.parametrize("name", _corpus_streams())
def test_recorded_streams_read_the_same_however_they_are_cut(name: str) -> None:
    body = (CORPUS_DIR / name).read_bytes()

    def outcome(cuts: list[int]) -> tuple[Any, ...]:
        reader = ReplyReader()
        pieces: list[str] = []
        error = None
        start = 0
        try:
            for cut in [*cuts, len(body)]:
                pieces += reader.feed(body[start:cut])
                start = cut
            reader.close()
        except InBandError as exc:
            error = exc.body
        return pieces, reader.finish_reason, reader.done, reader.chunks, reader.reasoning_chars, error

    whole = outcome([])
    assert whole[3] > 0  # chunks were read
    rng = random.Random(name)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(body)), rng.randint(1, min(60, len(body) - 1))))
        assert outcome(cuts) == whole, cuts
    assert outcome(list(range(1, len(body)))) == whole  # one byte at a time
