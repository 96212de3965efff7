"""The fake server itself, checked with plain stdlib clients: what goes over the wire is what it promises."""

from __future__ import annotations

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from fakeserver import (
    FakeServer,
    corpus,
    corpus_cases,
    corpus_files,
    error,
    raw,
    split_sse_events,
    stream,
)


def _connect(server: FakeServer, timeout: float = 5) -> http.client.HTTPConnection:
    url = urlsplit(server.base_url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)


def _post(conn: http.client.HTTPConnection, body: dict | None = None) -> http.client.HTTPResponse:
    data = json.dumps(body or {"model": "m", "messages": [], "stream": True}).encode()
    conn.request("POST", "/v1/chat/completions", body=data,
                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"})
    return conn.getresponse()


def _events(body: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body."""
    return [line[len("data: "):] for line in body.decode().split("\n") if line.startswith("data: ")]


def _raw_request(server: FakeServer) -> socket.socket:
    """A hand-made POST on a bare socket (so the test controls exactly when it hangs up)."""
    url = urlsplit(server.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=5)
    body = b'{"model":"m","messages":[],"stream":true}'
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    return sock


def test_base_url_is_loopback_with_v1(fake_server: FakeServer) -> None:
    url = urlsplit(fake_server.base_url)
    assert (url.scheme, url.hostname, url.path) == ("http", "127.0.0.1", "/v1")
    assert url.port and url.port > 0


def test_models_endpoint_lists_the_configured_models(fake_server: FakeServer) -> None:
    fake_server.models = ["alpha", "beta"]
    conn = _connect(fake_server)
    conn.request("GET", "/v1/models")
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    conn.close()
    assert resp.status == 200
    assert payload == {"object": "list", "data": [
        {"id": "alpha", "object": "model", "owned_by": "test"},
        {"id": "beta", "object": "model", "owned_by": "test"},
    ]}


def test_records_every_request_with_lowercase_headers_and_parsed_json(fake_server: FakeServer) -> None:
    conn = _connect(fake_server)
    resp = _post(conn, {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    resp.read()
    conn.request("GET", "/v1/models")
    conn.getresponse().read()
    conn.close()
    assert fake_server.wait_for_requests(2)
    first, second = fake_server.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.headers["authorization"] == "Bearer sk-x"
    assert first.json == {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert json.loads(first.body) == first.json
    assert (second.method, second.path, second.json) == ("GET", "/v1/models", None)


def test_wait_for_requests_times_out_when_nothing_arrives(fake_server: FakeServer) -> None:
    start = time.monotonic()
    assert not fake_server.wait_for_requests(1, timeout=0.2)
    assert time.monotonic() - start < 2


def test_default_reply_is_a_well_formed_sse_stream(fake_server: FakeServer) -> None:
    conn = _connect(fake_server)
    resp = _post(conn)
    body = resp.read()
    conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Type", "").startswith("text/event-stream")
    assert resp.getheader("Transfer-Encoding") == "chunked"
    payloads = _events(body)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Hello! How can I help?"


def test_queued_replies_are_used_in_order_then_the_default(fake_server: FakeServer) -> None:
    fake_server.queue(error(418, {"error": {"message": "teapot"}}), stream(["one"]))
    conn = _connect(fake_server)
    statuses, texts = [], []
    for _ in range(3):
        resp = _post(conn)
        body = resp.read()
        statuses.append(resp.status)
        if resp.status == 200:
            texts.append("".join(json.loads(p)["choices"][0]["delta"].get("content", "")
                                 for p in _events(body)[:-1]))
    conn.close()
    assert statuses == [418, 200, 200]
    assert texts == ["one", "Hello! How can I help?"]


def test_stream_options_shape_the_events(fake_server: FakeServer) -> None:
    fake_server.queue(stream(["a"], usage=True, finish="length", model="m-1"),
                      stream(["a"], finish=None, done=False))
    conn = _connect(fake_server)
    with_usage = _events(_post(conn).read())
    bare = _events(_post(conn).read())
    conn.close()
    usage_chunk = json.loads(with_usage[-2])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] == 1
    assert json.loads(with_usage[-3])["choices"][0]["finish_reason"] == "length"
    assert json.loads(with_usage[0])["model"] == "m-1"
    assert "[DONE]" not in bare
    assert all(json.loads(p)["choices"][0]["finish_reason"] is None for p in bare)


def test_error_reply_sends_status_type_and_exact_length(fake_server: FakeServer) -> None:
    fake_server.queue(error(503, "upstream down", content_type="text/plain", headers={"Retry-After": "3"}))
    conn = _connect(fake_server)
    resp = _post(conn)
    body = resp.read()
    conn.close()
    assert (resp.status, body) == (503, b"upstream down")
    assert resp.getheader("Content-Type") == "text/plain"
    assert resp.getheader("Content-Length") == str(len(body))
    assert resp.getheader("Retry-After") == "3"


def test_raw_reply_is_served_verbatim_in_pieces(fake_server: FakeServer) -> None:
    payload = b"data: {\"x\": 1}\n\n: a comment\n\ndata: [DONE]\n\n"
    fake_server.queue(raw(200, payload, chunk_size=5, delay=0.01))
    conn = _connect(fake_server)
    resp = _post(conn)
    body = resp.read()
    conn.close()
    assert body == payload
    assert resp.getheader("Content-Type", "").startswith("text/event-stream")


def test_stall_before_delays_the_body_but_not_the_headers(fake_server: FakeServer) -> None:
    fake_server.queue(stream(["x"], stall_before=0.3))
    conn = _connect(fake_server)
    start = time.monotonic()
    resp = _post(conn)
    headers_at = time.monotonic() - start
    resp.read()
    body_at = time.monotonic() - start
    conn.close()
    assert headers_at < 0.25
    assert body_at >= 0.3


def test_stall_before_headers_delays_the_status_line(fake_server: FakeServer) -> None:
    fake_server.queue(stream(["x"], stall_before_headers=0.3))
    conn = _connect(fake_server)
    start = time.monotonic()
    resp = _post(conn)
    elapsed = time.monotonic() - start
    resp.read()
    conn.close()
    assert resp.status == 200
    assert elapsed >= 0.3


def test_disconnect_after_cuts_the_body_without_done(fake_server: FakeServer) -> None:
    fake_server.queue(stream(["one", "two", "three"], disconnect_after=1))
    conn = _connect(fake_server)
    resp = _post(conn)
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    conn.close()
    received = info.value.partial.decode()
    assert '"one"' in received
    assert '"two"' not in received and "[DONE]" not in received


@pytest.mark.parametrize("when", ["stall_before", "stall_before_headers", "stall_after"])
def test_client_hanging_up_during_a_stall_is_noticed(fake_server: FakeServer, when: str) -> None:
    kwargs = {"stall_after": 1} if when == "stall_after" else {when: float("inf")}
    fake_server.queue(stream(["a", "b"], **kwargs))
    sock = _raw_request(fake_server)
    assert fake_server.wait_for_requests(1)
    time.sleep(0.1)  # let the handler reach its stall
    assert fake_server.disconnects == 0
    sock.close()
    assert fake_server.wait_disconnect(1.0)
    assert fake_server.disconnects == 1


def test_client_reading_a_whole_reply_is_not_a_disconnect(fake_server: FakeServer) -> None:
    conn = _connect(fake_server)
    _post(conn).read()
    conn.close()
    assert not fake_server.wait_disconnect(0.3)
    assert fake_server.disconnects == 0


def test_close_wakes_stalled_handlers_at_once(fake_server: FakeServer) -> None:
    fake_server.queue(stream(["a"], stall_before=float("inf")), stream(["a"], stall_before_headers=float("inf")))
    socks = [_raw_request(fake_server), _raw_request(fake_server)]
    assert fake_server.wait_for_requests(2)
    start = time.monotonic()
    fake_server.close()
    assert time.monotonic() - start < 1.0
    for sock in socks:  # the connection ends (EOF or reset) instead of hanging
        sock.settimeout(2)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        sock.close()
    assert fake_server.disconnects == 0  # the server hung up, not the client


def test_unknown_path_is_a_json_404(fake_server: FakeServer) -> None:
    conn = _connect(fake_server)
    conn.request("POST", "/v1/embeddings", body=b"{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    conn.close()
    assert resp.status == 404
    assert "/v1/embeddings" in payload["error"]["message"]


def test_split_sse_events_keeps_every_byte() -> None:
    body = b": comment\n\ndata: 1\n\nevent: error\ndata: 2\n\ndata: [DONE]\n"
    parts = split_sse_events(body)
    assert parts == [b": comment\n\n", b"data: 1\n\n", b"event: error\ndata: 2\n\n", b"data: [DONE]\n"]
    assert b"".join(parts) == body


@pytest.mark.parametrize("case", ["stream_gpt4o_mini_text_include_usage", "compat_llamacpp_stream_tail_timings"])
def test_corpus_sse_replay_is_byte_exact_and_chunked(fake_server: FakeServer, case: str) -> None:
    body_path, meta = corpus_files(case)
    fake_server.queue(corpus(case))
    conn = _connect(fake_server)
    resp = _post(conn)
    body = resp.read()
    conn.close()
    assert body == body_path.read_bytes()
    assert resp.status == meta["status"]
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Type", "").startswith("text/event-stream")


def test_corpus_json_replay_recomputes_length_and_repeats_list_headers(fake_server: FakeServer) -> None:
    case = "error_400_unsupported_parameter_stop_o1_mini"
    body_path, meta = corpus_files(case)
    fake_server.queue(corpus(case))
    conn = _connect(fake_server)
    resp = _post(conn)
    body = resp.read()
    conn.close()
    assert resp.status == 400
    assert body == body_path.read_bytes()
    assert resp.getheader("Content-Length") == str(len(body))
    assert resp.getheader("x-request-id") == meta["headers"]["x-request-id"]
    assert len(resp.msg.get_all("Set-Cookie") or []) == len(meta["headers"]["Set-Cookie"]) == 2


def test_corpus_replay_adds_suggested_headers(fake_server: FakeServer) -> None:
    fake_server.queue(corpus("error_503_envoy_upstream_plaintext"))
    conn = _connect(fake_server)
    resp = _post(conn)
    body = resp.read()
    conn.close()
    assert resp.status == 503
    assert resp.getheader("Content-Type") == "text/plain"
    assert body.startswith(b"upstream connect error")


def test_corpus_case_without_content_type_sends_none(fake_server: FakeServer) -> None:
    fake_server.queue(corpus("azure_error_404_deployment_not_found"))
    conn = _connect(fake_server)
    resp = _post(conn)
    resp.read()
    conn.close()
    assert resp.status == 404
    assert resp.getheader("Content-Type") is None
    assert resp.getheader("apim-request-id") == "229984e1-2885-42a2-9668-09b5037db6ea"


def test_corpus_cases_are_discovered() -> None:
    cases = corpus_cases()
    assert "stream_gpt51_include_usage" in cases
    assert all(not c.endswith(".meta") for c in cases)
