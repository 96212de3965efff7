"""The Qt-free streaming loop, driven through the real openai SDK against the fake server."""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.errors import MAX_RETRY_AFTER
from chatbot_gui.core.streaming import AbortHandle, Outcome, shared_ssl_context, stream_chat
from fakeserver import FakeServer, Reply, error, raw, sse_event, stream

KEY = "sk-test-Zq8secretKEY4242abcdef"
REQUEST = ChatRequest(
    model="gpt-4o-mini",
    messages=(("system", "You are terse."), ("user", "Hi"), ("assistant", "Hello."), ("user", "Again?")),
)
INF = float("inf")


class Chat:
    """One ``stream_chat`` call: the pieces of text the user would see, and how it ended."""

    def __init__(self, server: FakeServer | None = None, *, base_url: str | None = None,
                 api_key: str = KEY, request: ChatRequest = REQUEST, **config: Any) -> None:
        url = base_url if base_url is not None else server.base_url if server else ""
        self.config = ConnectionConfig(api_key=api_key, base_url=url, **config)
        self.request = request
        self.pieces: list[str] = []
        self.first_text = threading.Event()
        self.abort = AbortHandle()
        self.outcome: Outcome | None = None

    def _on_text(self, text: str) -> None:
        self.pieces.append(text)
        self.first_text.set()

    def run(self) -> Outcome:
        self.outcome = stream_chat(self.request, self.config, self._on_text, self.abort)
        return self.outcome

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def chat(server: FakeServer, reply: Reply | None = None, **kwargs: Any) -> tuple[Outcome, Chat]:
    if reply is not None:
        server.queue(reply)
    c = Chat(server, **kwargs)
    return c.run(), c


def _error_texts(outcome: Outcome) -> str:
    assert outcome.error is not None
    return f"{outcome.error.message}\n{outcome.error.detail}"


# ------------------------------------------------------------------------- normal replies


def test_text_arrives_in_order_and_completes(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["The ", "quick ", "brown ", "fox."]))
    assert c.pieces == ["The ", "quick ", "brown ", "fox."]
    assert outcome == Outcome("complete", "stop", None, len("The quick brown fox."))


def test_request_body_has_model_stream_and_messages_in_order(fake_server: FakeServer) -> None:
    request = dataclasses.replace(REQUEST, temperature=0.25, max_tokens=77)
    chat(fake_server, request=request)
    assert fake_server.wait_for_requests(1)
    sent = fake_server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["accept-encoding"] == "identity"  # compressing proxies buffer event streams
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["stream"] is True
    assert sent.json["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Again?"},
    ]
    assert (sent.json["temperature"], sent.json["max_tokens"]) == (0.25, 77)


def test_optional_parameters_are_left_out_when_unset(fake_server: FakeServer) -> None:
    chat(fake_server)
    assert fake_server.wait_for_requests(1)
    assert "temperature" not in fake_server.requests[0].json
    assert "max_tokens" not in fake_server.requests[0].json


def test_empty_choices_chunks_are_fine(fake_server: FakeServer) -> None:
    azure_first = sse_event({"id": "", "object": "", "created": 0, "model": "", "choices": [],
                             "prompt_filter_results": [{"prompt_index": 0}]})
    body = azure_first + b"".join(stream(["Hi", " there"], usage=True).parts)
    outcome, c = chat(fake_server, raw(200, body, chunk_size=40))
    assert outcome.status == "complete" and outcome.finish_reason == "stop"
    assert c.text == "Hi there"


def test_finish_reason_length_is_reported(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["cut"], finish="length"))
    assert (outcome.status, outcome.finish_reason, c.text) == ("complete", "length", "cut")


def test_finish_reason_without_done_still_completes(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["ok"], done=False))
    assert (outcome.status, outcome.finish_reason, c.text) == ("complete", "stop", "ok")


def test_done_without_finish_reason_completes(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["ok"], finish=None))
    assert (outcome.status, outcome.finish_reason, c.text) == ("complete", None, "ok")


def test_a_server_that_ignores_stream_true_is_understood(fake_server: FakeServer) -> None:
    completion = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole answer."},
                               "finish_reason": "stop"}]}
    outcome, c = chat(fake_server, error(200, completion))
    assert c.pieces == ["Whole answer."]
    assert outcome == Outcome("complete", "stop", None, len("Whole answer."))


def test_crlf_framing_cut_anywhere_reads_the_same(fake_server: FakeServer) -> None:
    body = b"".join(stream(["Grüße ", "世界 ", "😀"]).parts).replace(b"\n", b"\r\n")
    body = b": keep-alive\r\n\r\n" + body
    for size in (1, 7, 64):  # pieces cut through "\r\n" pairs and through multi-byte characters
        outcome, c = chat(fake_server, raw(200, body, chunk_size=size))
        assert c.text == "Grüße 世界 😀", size
        assert outcome == Outcome("complete", "stop", None, len("Grüße 世界 😀"))


def test_done_without_its_blank_line_completes(fake_server: FakeServer) -> None:
    # llama.cpp's server ends a stream with "data: [DONE]\n" (no blank line to dispatch it).
    body = b"".join(stream(["ok"], finish=None, done=False).parts) + b"data: [DONE]\n"
    outcome, c = chat(fake_server, raw(200, body))
    assert (outcome.status, outcome.finish_reason, c.text) == ("complete", None, "ok")


def test_reasoning_is_counted_but_not_shown(fake_server: FakeServer) -> None:
    body = (sse_event({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Let me "}}]})
            + sse_event({"choices": [{"index": 0, "delta": {"reasoning": "think."}}]})
            + b"".join(stream(["Answer."]).parts))
    outcome, c = chat(fake_server, raw(200, body))
    assert c.pieces == ["Answer."]
    assert (outcome.status, outcome.received_chars, outcome.reasoning_chars) == ("complete", 7, len("Let me think."))


# ------------------------------------------------------------------------- broken streams


def test_stream_without_done_or_finish_is_truncated(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["Half ", "a"], finish=None, done=False))
    assert c.text == "Half a"
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind == "truncated"
    assert outcome.received_chars == len("Half a")


def test_done_inside_the_reply_text_is_not_the_end_marker(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["say\ndata: [DONE]"], finish=None, done=False))
    assert c.text == "say\ndata: [DONE]"
    assert outcome.error is not None and outcome.error.kind == "truncated"


def test_disconnect_mid_stream_is_an_error_after_the_text_so_far(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["one ", "two ", "three"], disconnect_after=2))
    assert c.pieces == ["one ", "two "]
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind in {"connection", "truncated"}
    assert outcome.error.retryable
    assert outcome.received_chars == len("one two ")


def test_read_timeout_between_chunks(fake_server: FakeServer) -> None:
    start = time.monotonic()
    outcome, c = chat(fake_server, stream(["before ", "after"], stall_after=1), read_timeout=0.5)
    elapsed = time.monotonic() - start
    assert c.pieces == ["before "]
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind == "timeout"
    assert 0.4 < elapsed < 5


def test_read_timeout_waiting_for_headers(fake_server: FakeServer) -> None:
    outcome, c = chat(fake_server, stream(["x"], stall_before_headers=5), read_timeout=0.3)
    assert c.pieces == []
    assert outcome.error is not None and outcome.error.kind == "timeout"


def test_read_timeout_bounds_each_gap_not_the_whole_reply(fake_server: FakeServer) -> None:
    pieces = [f"w{i} " for i in range(8)]
    start = time.monotonic()
    outcome, c = chat(fake_server, stream(pieces, delay=0.08), read_timeout=0.4)
    assert time.monotonic() - start > 0.4  # the whole reply took longer than the read timeout
    assert outcome.status == "complete"
    assert c.pieces == pieces


def test_garbage_data_line_is_a_clear_error(fake_server: FakeServer) -> None:
    body = b"".join(stream(["fine"]).parts[:2]) + b"data: not json\n\n" + b"data: [DONE]\n\n"
    outcome, c = chat(fake_server, raw(200, body))
    assert c.text == "fine"
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind == "garbage"
    assert "could not read" in outcome.error.message


def test_a_200_html_page_is_not_mistaken_for_an_interrupted_reply(fake_server: FakeServer) -> None:
    page = b"<html><head><title>Sign in</title></head><body><h1>Wi-Fi login required</h1></body></html>"
    outcome, c = chat(fake_server, raw(200, page, headers={"Content-Type": "text/html"}))
    assert c.pieces == []
    assert outcome.error is not None and outcome.error.kind == "garbage"
    assert outcome.error.detail == "Wi-Fi login required"


def test_comments_then_end_of_stream_is_truncated_not_garbage(fake_server: FakeServer) -> None:
    outcome, _ = chat(fake_server, raw(200, b": PROCESSING\n\n: PROCESSING\n\n"))
    assert outcome.error is not None and outcome.error.kind == "truncated"


def test_error_object_in_a_200_json_body(fake_server: FakeServer) -> None:
    outcome, _ = chat(fake_server, error(200, {"error": {"message": "model overloaded", "code": 503}}))
    assert outcome.error is not None and outcome.error.kind == "stream_error"
    assert outcome.error.detail == "model overloaded"


def test_error_event_mid_stream(fake_server: FakeServer) -> None:
    body = b"".join(stream(["partial"]).parts[:2])
    body += b'event: error\ndata: {"error": {"message": "upstream failed", "type": "server_error"}}\n\n'
    outcome, c = chat(fake_server, raw(200, body))
    assert c.text == "partial"
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind == "stream_error"
    assert outcome.error.detail == "upstream failed"


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        pytest.param(b"event: error\ndata: upstream died\n\n", "upstream died", id="event-error-not-json"),
        pytest.param(b'event: error\ndata: {"message": "overloaded"}\n\n', "overloaded", id="event-error-object"),
        pytest.param(b'data: {"error": "quota gone"}\n\n', "quota gone", id="error-string"),
    ],
)
def test_other_shapes_of_in_stream_errors(fake_server: FakeServer, event: bytes, detail: str) -> None:
    outcome, c = chat(fake_server, raw(200, b"".join(stream(["partial"]).parts[:2]) + event))
    assert c.text == "partial"
    assert outcome.error is not None and outcome.error.kind == "stream_error"
    assert outcome.error.detail == detail


# ------------------------------------------------------------------------- stopping


def _abort_when(c: Chat, server: FakeServer, *, after_text: bool) -> tuple[Outcome | None, float]:
    """Run the chat on a worker thread, abort it from this thread once the server is stalled."""
    worker = threading.Thread(target=c.run, name="stream-worker")
    worker.start()
    try:
        assert server.wait_for_requests(1)
        if after_text:
            assert c.first_text.wait(5)
        time.sleep(0.1)  # let the client block in its read
        assert c.outcome is None  # still waiting on the stalled server
        start = time.monotonic()
        c.abort.abort()
        worker.join(5)
        return c.outcome, time.monotonic() - start
    finally:
        c.abort.abort()
        worker.join(5)


@pytest.mark.parametrize(
    ("reply", "after_text"),
    [
        pytest.param(stream(["never"], stall_before=INF), False, id="before-first-chunk"),
        pytest.param(stream(["never"], stall_before_headers=INF), False, id="before-headers"),
        pytest.param(stream(["first ", "never"], stall_after=1), True, id="between-chunks"),
    ],
)
def test_abort_from_another_thread_hangs_up_at_once(fake_server: FakeServer, reply: Reply, after_text: bool) -> None:
    fake_server.queue(reply)
    c = Chat(fake_server)
    outcome, took = _abort_when(c, fake_server, after_text=after_text)
    assert outcome is not None and outcome.status == "stopped"
    assert outcome.error is None
    assert took < 1.0
    assert fake_server.wait_disconnect(1.0)
    assert c.pieces == (["first "] if after_text else [])


def test_abort_before_start_sends_nothing(fake_server: FakeServer) -> None:
    c = Chat(fake_server)
    c.abort.abort()
    assert c.run().status == "stopped"
    assert not fake_server.wait_for_requests(1, timeout=0.2)


def test_text_after_abort_is_not_delivered(fake_server: FakeServer) -> None:
    c = Chat(fake_server)
    fake_server.queue(stream(["a", "b", "c", "d"], delay=0.05))

    def on_text(text: str) -> None:
        c.pieces.append(text)
        c.abort.abort()  # the user presses Stop as soon as the first piece shows

    outcome = stream_chat(c.request, c.config, on_text, c.abort)
    assert outcome.status == "stopped"
    assert c.pieces == ["a"]


# ------------------------------------------------------------------------- connection failures


def test_connection_refused() -> None:
    # A bound socket that never listens: connecting to its port is refused, and nobody can take it.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        outcome = Chat(base_url=f"http://127.0.0.1:{port}/v1").run()
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind == "refused"
    assert outcome.error.retryable


def test_dns_failure() -> None:
    outcome = Chat(base_url="http://nonexistent.invalid/v1").run()  # .invalid never resolves (RFC 2606)
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind == "dns"


# ------------------------------------------------------------------------- HTTP errors


def test_html_502_is_a_server_error_with_readable_detail(fake_server: FakeServer) -> None:
    page = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")
    outcome, _ = chat(fake_server, error(502, page, content_type="text/html"))
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.status, outcome.error.retryable) == ("server", 502, True)
    assert outcome.error.detail == "502 Bad Gateway cloudflare"
    assert "<" not in _error_texts(outcome)


def test_plain_text_503_is_a_server_error_with_its_text(fake_server: FakeServer) -> None:
    outcome, _ = chat(fake_server, error(503, "upstream connect error or disconnect/reset before headers\n",
                                         content_type="text/plain"))
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.status) == ("server", 503)
    assert outcome.error.detail == "upstream connect error or disconnect/reset before headers"
    assert "503" in outcome.error.message


RATE_LIMIT_BODY = {"error": {"message": "Rate limit reached for requests", "type": "requests",
                             "param": None, "code": "rate_limit_exceeded"}}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "3600"}, MAX_RETRY_AFTER),
    ],
)
def test_429_rate_limit_honours_retry_after_within_a_cap(
    fake_server: FakeServer, headers: dict[str, str], expected: float
) -> None:
    outcome, _ = chat(fake_server, error(429, RATE_LIMIT_BODY, headers=headers))
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.retryable) == ("rate_limit", True)
    assert outcome.error.retry_after == expected
    assert len(fake_server.requests) == 1  # the app decides about retrying; the SDK must not


def test_429_insufficient_quota_is_not_retryable(fake_server: FakeServer) -> None:
    body = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                      "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}
    outcome, _ = chat(fake_server, error(429, body, headers={"retry-after": "1"}))
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.retryable, outcome.error.retry_after) == ("quota", False, None)
    assert "billing" in outcome.error.message


# ------------------------------------------------------------------------- the key never shows


@pytest.mark.parametrize("key", [KEY, "local-key-without-sk-prefix-31337"])
@pytest.mark.parametrize(
    "make_reply",
    [
        pytest.param(lambda k: error(401, {"error": {"message": f"Incorrect API key provided: {k}.",
                                                     "type": "invalid_request_error", "code": "invalid_api_key"}}),
                     id="401-json"),
        pytest.param(lambda k: error(401, f"<html><body>bad key {k}</body></html>", content_type="text/html"),
                     id="401-html"),
        pytest.param(lambda k: error(500, f"key {k} rejected", content_type="text/plain"), id="500-text"),
        pytest.param(lambda k: raw(200, b'data: {"error": {"message": "key %s invalid"}}\n\n' % k.encode()),
                     id="in-stream"),
        pytest.param(lambda k: raw(200, b"data: {oops %s\n\n" % k.encode()), id="garbage"),
    ],
)
def test_api_key_never_appears_in_error_text(fake_server: FakeServer, key: str, make_reply: Any) -> None:
    outcome, _ = chat(fake_server, make_reply(key), api_key=key)
    assert fake_server.requests[0].headers["authorization"] == f"Bearer {key}"  # it was sent...
    assert outcome.status == "error" and outcome.error is not None
    for value in dataclasses.astuple(outcome.error):  # ...but never comes back in what the user sees
        assert key not in str(value)
    assert key not in repr(outcome)


# ------------------------------------------------------------------------- HTTPS and the shared SSL context


class TlsServer:
    """A loopback HTTPS server answering every request with one short event stream, then closing."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert, key)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.base_url = f"https://127.0.0.1:{self._sock.getsockname()[1]}/v1"
        self.served = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="TlsServer")
        self._thread.start()

    def _serve(self) -> None:
        body = b"".join(stream(["secure ", "hello"]).parts)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                with self._ctx.wrap_socket(conn, server_side=True) as tls:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += tls.recv(65536)
                    headers, _, rest = data.partition(b"\r\n\r\n")
                    length = int(re.search(rb"(?i)content-length: *(\d+)", headers).group(1))  # type: ignore[union-attr]
                    while len(rest) < length:
                        rest += tls.recv(65536)
                    tls.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                    self.served += 1
            except (ssl.SSLError, OSError):
                conn.close()  # a client that does not trust the certificate hangs up in the handshake

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_server(tls_cert: tuple[Path, Path]) -> Iterator[TlsServer]:
    server = TlsServer(*tls_cert)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def ca_loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every CA bundle an SSL context loads from now on (the slow part of building a context)."""
    loads: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args[0] if args else kwargs.get("cafile"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return loads


def test_https_requests_share_one_verifying_ssl_context(
    tls_server: TlsServer, tls_cert: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ca_loads: list[Any],
) -> None:
    trusted = tmp_path / "ca.pem"  # a path no other test uses: the context for it is built here
    shutil.copy(tls_cert[0], trusted)
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))  # httpx2 honours it; so must the shared context
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    for _ in range(3):
        outcome = Chat(base_url=tls_server.base_url).run()
        assert outcome == Outcome("complete", "stop", None, len("secure hello"))
    assert tls_server.served == 3
    assert ca_loads == [str(trusted)]  # loaded once for three requests, not once per request

    alpn_sets: list[Any] = []
    monkeypatch.setattr(ssl.SSLContext, "set_alpn_protocols", lambda self, p: alpn_sets.append(p))
    assert Chat(base_url=tls_server.base_url).run().status == "complete"
    assert alpn_sets == []  # the shared context is not changed per connection (see streaming.py)


def test_https_to_an_untrusted_certificate_fails(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    outcome = Chat(base_url=tls_server.base_url).run()
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.kind in {"tls", "connection"}
    assert tls_server.served == 0  # verification is on: nothing was sent to an untrusted server


def test_the_shared_ssl_context_is_built_once_by_threads_racing_for_it(
    tls_cert: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ca_loads: list[Any],
) -> None:
    trusted = tmp_path / "race.pem"
    shutil.copy(tls_cert[0], trusted)
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
    start = threading.Barrier(8)
    got: list[Any] = []

    def fetch() -> None:
        start.wait()
        got.append(shared_ssl_context())

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 8 and all(ctx is got[0] for ctx in got)
    assert len(ca_loads) == 1
    assert got[0].verify_mode == ssl.CERT_REQUIRED and got[0].check_hostname
