"""Property-based fuzzing (Hypothesis) of the SSE reader (core/sse.py) and the streaming loop
(core/streaming.py): random splits, mutations and byte-level garbage never raise anything but the
documented errors, never hang, and never hold more than the caps allow.

Run time is kept modest (about 20 s on the shared 2-core machine): fixed example counts, no
per-example deadline (loopback requests vary under load), derandomized so a run is repeatable.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from typing import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.limits import LimitExceeded, Limits
from chatbot_gui.core.sse import Event, EventDecoder, InBandError, ReplyReader
from chatbot_gui.core.streaming import AbortHandle, stream_chat
from fakeserver import FakeServer, raw, stream
from sse_reference import reference_events

CAP = 2048  # max_event_bytes for the reader under fuzz
FAST = settings(max_examples=500, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -------------------------------------------------------------------- what to feed


def _valid_stream(texts: list[str], crlf: bool, finish: bool, done: bool) -> bytes:
    body = b"".join(stream(texts, finish="stop" if finish else None, done=done).parts)
    return body.replace(b"\n", b"\r\n") if crlf else body


reply_texts = st.lists(st.text(max_size=40), max_size=12)
valid_streams = st.builds(_valid_stream, reply_texts, st.booleans(), st.booleans(), st.booleans())

# Pieces real and broken servers put on the wire, for garbage that looks almost right.
TOKENS = [b"data:", b"data: ", b"event: error\n", b"\n", b"\r\n", b"\r", b"\n\n", b": keep-alive\n",
          b"[DONE]", b"{", b"}", b'"choices":', b'[{"delta":{"content":"x"}}]', b'"error":', b"\xff",
          b"\xe4\xb8", b"\\ud800", b'"', b"null", b"\xef\xbb\xbf", b"id: 1\n", b"retry: 10\n", b"[" * 3000]
garbage = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from(TOKENS), max_size=80).map(b"".join),
    # one event whose data is JSON-ish debris: what a server's broken serializer might send
    st.lists(st.sampled_from(TOKENS), max_size=12).map(lambda ts: b"data: " + b"".join(ts) + b"\n\n"),
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid stream with random bytes flipped, inserted, deleted or the end cut off."""
    body = bytearray(draw(valid_streams))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = draw(st.integers(0, len(body)))
        if op == "flip" and at < len(body):
            body[at] = draw(st.integers(0, 255))
        elif op == "insert":
            body[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del body[at:at + draw(st.integers(1, 8))]
        elif op == "cut":
            del body[at:]
    return bytes(body)


any_body = st.one_of(valid_streams, mutated(), garbage)


def _pieces(body: bytes, cuts: list[int]) -> Iterator[bytes]:
    start = 0
    for cut in sorted(min(c, len(body)) for c in cuts):
        yield body[start:cut]
        start = cut
    yield body[start:]


cuts = st.lists(st.integers(0, 4000), max_size=20)


# -------------------------------------------------------------------- the SSE reader


@FAST
@given(body=any_body, cuts=cuts)
def test_the_event_decoder_reads_any_split_like_the_reference(body: bytes, cuts: list[int]) -> None:
    decoder = EventDecoder()
    events: list[Event] = []
    for piece in _pieces(body, cuts):
        events += decoder.feed(piece)
    decoder.close()
    assert [(e.type, e.data) for e in events] == reference_events(body)


#: Reads as servers make them (one whole event per HTTP chunk, which EventDecoder reads on a fast
#: path) mixed with the pieces that must make it take the general one.
_READS = st.sampled_from([
    b'data: {"a": 1}\n\n', b"data:  two spaces\n\n", b"data: \n\n", b"data: \xff\xfe\n\n", b"event: error\n",
    b"data: open\n", b": comment\n\n", b"data: crlf\r\n\r\n", b"\r", b"\n", b"\xef\xbb\xbf", b"data: x\n\ndata: y\n\n",
    b"id: 1\n", b"data: [DONE]\n\n",
])


@FAST
@given(reads=st.lists(_READS, max_size=12))
def test_whole_events_read_one_at_a_time_read_like_the_reference(reads: list[bytes]) -> None:
    decoder = EventDecoder(max_event_bytes=64)
    events: list[Event] = []
    for piece in reads:
        events += decoder.feed(piece)
    decoder.close()
    assert [(e.type, e.data) for e in events] == reference_events(b"".join(reads))


@FAST
@given(texts=reply_texts, crlf=st.booleans(), cuts=cuts)
def test_a_valid_stream_reads_the_same_however_it_is_cut(texts: list[str], crlf: bool, cuts: list[int]) -> None:
    body = _valid_stream(texts, crlf, finish=True, done=True)
    reader = ReplyReader(CAP)
    got = "".join(t for piece in _pieces(body, cuts) for t in reader.feed(piece))
    reader.close()
    expected = "".join(texts).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    assert got == expected
    assert reader.done and reader.finish_reason == "stop"


@FAST
@given(body=any_body, cuts=cuts, cap=st.sampled_from([48, 256, CAP]))
@example(body=b"data: " + b"[" * 3000 + b"\n\n", cuts=[7], cap=8192)  # nested too deep for json
def test_the_reply_reader_never_raises_anything_undocumented_nor_holds_more_than_the_cap(
        body: bytes, cuts: list[int], cap: int) -> None:
    reader = ReplyReader(cap)
    delivered = 0
    try:
        for piece in _pieces(body, cuts):
            for text in reader.feed(piece):
                assert text and isinstance(text, str)
                text.encode("utf-8")  # never a lone surrogate: always storable
                delivered += len(text)
            decoder = reader._decoder
            assert decoder._pending_len <= cap and decoder._data_len <= cap
            assert sum(map(len, decoder._pending)) == decoder._pending_len
        reader.close()
    except (InBandError, LimitExceeded, ValueError):
        pass  # the documented ways a stream is refused
    assert delivered <= len(body)


@FAST
@given(size=st.integers(CAP + 1, 6 * CAP), step=st.integers(1, 700), newline=st.booleans())
def test_a_line_or_event_without_an_end_stops_at_the_cap(size: int, step: int, newline: bool) -> None:
    body = (b"data: x\n" * (size // 7 + 1)) if newline else (b"data: " + b"y" * size)
    reader = ReplyReader(CAP)
    with pytest.raises(LimitExceeded):
        for piece in _pieces(body, list(range(step, len(body), step))):
            list(reader.feed(piece))
            assert reader._decoder._pending_len <= CAP
        reader.close()


# -------------------------------------------------------------------- the streaming loop

LIMITS = Limits(max_reply_chars=300, max_event_bytes=CAP, max_stream_bytes=16 * 1024,
                max_document_bytes=16 * 1024, max_error_bytes=4096, max_seconds=5.0)
REQUEST = ChatRequest(model="m", messages=(("user", "Hi"),))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One loopback server for every example (Hypothesis runs many examples per test)."""
    s = FakeServer()
    try:
        yield s
    finally:
        s.close()
    assert not s.errors


CONTENT_TYPES = ["text/event-stream", "application/json", "text/plain", "text/html"]


#: How a body goes on the wire: as is, compressed (a server ignoring Accept-Encoding: identity),
#: or labelled compressed without being so (damaged).
ENCODINGS = {
    "identity": (None, lambda b: b),
    "gzip": ("gzip", lambda b: gzip.compress(b, 1)),
    "deflate": ("deflate", zlib.compress),
    "damaged gzip": ("gzip", lambda b: b),
    "br": ("br", lambda b: b),
}


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=st.one_of(any_body, st.builds(lambda n: b"data: " + json.dumps(
           {"choices": [{"delta": {"content": "z" * n}}]}).encode() + b"\n\n", st.integers(0, 2000)),
           st.builds(lambda n: b": " + b"0" * n, st.integers(10_000, 200_000))),
       chunk=st.integers(1, 2048), status=st.sampled_from([200, 200, 200, 400, 500]),
       content_type=st.sampled_from(CONTENT_TYPES), encoding=st.sampled_from(sorted(ENCODINGS)))
def test_the_streaming_loop_never_raises_never_hangs_and_keeps_to_the_caps(
        server: FakeServer, body: bytes, chunk: int, status: int, content_type: str, encoding: str) -> None:
    name, encode = ENCODINGS[encoding]
    headers = {"Content-Type": content_type, "Content-Encoding": name}
    server.queue(raw(status, encode(body), chunk_size=chunk, headers=headers))
    pieces: list[str] = []
    started = time.monotonic()
    outcome = stream_chat(REQUEST, ConnectionConfig(api_key="sk-fuzz-0123456789", base_url=server.base_url),
                          pieces.append, AbortHandle(), limits=LIMITS)
    assert time.monotonic() - started < 10
    text = "".join(pieces)
    text.encode("utf-8")
    assert outcome.status in ("complete", "error")
    assert outcome.received_chars == len(text) <= LIMITS.max_reply_chars
    if outcome.status == "error":
        assert outcome.error is not None and outcome.error.message
        assert outcome.error.kind != "unexpected", outcome.error
        assert "sk-fuzz-0123456789" not in outcome.error.message + outcome.error.detail
    else:
        assert text or outcome.finish_reason in ("length", "content_filter")
