"""A real HTTP server on 127.0.0.1 that speaks the Chat Completions protocol, for tests.

Standard library only. The client under test (the real ``openai`` SDK) talks to it over a real socket,
so SSE framing, chunked transfer, empty ``choices``, error bodies, stalls and hang-ups are exercised
exactly as a user meets them. Every request is recorded; a client hanging up while a reply is being
sent or stalled is noticed (a failed write, or EOF seen by ``select`` while waiting).

Usage::

    server = FakeServer()
    server.queue(stream(["Hel", "lo"]), error(429, {...}, headers={"retry-after": "2"}))
    ... ConnectionConfig(api_key="sk-test", base_url=server.base_url) ...
    server.close()

Each ``POST /v1/chat/completions`` takes the next queued :class:`Reply`, or ``default_reply`` when the
queue is empty. ``GET /v1/models`` lists ``models``. Anything else gets a JSON 404.

Token limits: with ``server.token_limit = 4096`` a request longer than that (counted with
``server.token_rule``, a :class:`TokenRule`) is refused the way OpenAI or llama.cpp refuse it
(``limit_style``), and the queue is left as it was; a stream asked for ``stream_options.include_usage``
gets a usage chunk counted by the same rule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import select
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping

#: The recorded real responses, kept in the repository (bytes and metadata as recorded; see its INDEX.md).
CORPUS_DIR = Path(__file__).resolve().parent / "corpus" / "openai"

#: How often a stalled handler re-checks its socket (the close() wake-up is immediate regardless).
_POLL = 0.05
#: How often the accept loop checks for shutdown: close() waits up to this long.
_ACCEPT_POLL = 0.01
_HOP_BY_HOP = {"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it. ``headers`` has lower-case keys."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


@dataclass(frozen=True)
class Reply:
    """How to answer one request. Build one with :func:`stream`, :func:`error`, :func:`raw` or :func:`corpus`.

    ``parts`` are written one after another (``delay`` seconds apart). ``framing`` is "chunked"
    (Transfer-Encoding: chunked, one HTTP chunk per part), "length" (Content-Length) or "close"
    (no length; the connection is closed after the body) or "raw" (the parts are the whole
    response, head included: :func:`raw_response`). ``stall_after`` / ``disconnect_after`` are
    indexes into ``parts``: after that many parts the server stalls until the client hangs up or the
    server closes, or closes the socket abruptly (no terminating chunk).
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    parts: tuple[bytes, ...] = ()
    framing: str = "length"
    delay: float = 0.0
    stall_before_headers: float | None = None
    stall_before: float | None = None
    stall_after: int | None = None
    disconnect_after: int | None = None


# --------------------------------------------------------------------------- reply builders


def sse_event(payload: Mapping[str, Any] | str) -> bytes:
    """One SSE event: ``data: <json>`` and a blank line."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def _chunk(model: str, delta: dict[str, Any], finish: str | None, created: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _header_items(headers: Mapping[str, Any] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, (list, tuple)):
            out.extend((name, str(v)) for v in value)
        elif value is not None:
            out.append((name, str(value)))
    return out


def _merge_headers(base: list[tuple[str, str]], extra: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    extra_items = _header_items(extra)
    overridden = {name.lower() for name, _ in extra_items}
    return tuple([(n, v) for n, v in base if n.lower() not in overridden] + extra_items)


def stream(
    chunks: list[str | dict[str, Any]],
    *,
    delay: float = 0.0,
    finish: str | None = "stop",
    done: bool = True,
    usage: bool = False,
    stall_before: float | None = None,
    stall_before_headers: float | None = None,
    stall_after: int | None = None,
    disconnect_after: int | None = None,
    headers: Mapping[str, Any] | None = None,
    model: str = "gpt-4o-mini",
) -> Reply:
    """A streamed reply: a role chunk, one chunk per string in ``chunks``, a finish chunk, ``[DONE]``.

    ``finish=None`` leaves out the finish chunk, ``done=False`` leaves out ``[DONE]`` (the body still
    ends cleanly). ``usage=True`` adds an include_usage-style chunk with ``"choices": []`` before
    ``[DONE]``. ``stall_after=N`` / ``disconnect_after=N`` count the strings in ``chunks``: the role
    chunk and the first N text chunks are sent, then the server stalls / hangs up.

    A chunk given as a dict is sent as the whole ``delta``: ``{"reasoning_content": "Let me see."}``
    is a reasoning model's reasoning (DeepSeek, vLLM; ``{"reasoning": ...}`` as Ollama and OpenRouter
    send it), which comes before its ``content``.
    """
    created = int(time.time())
    events = [sse_event(_chunk(model, {"role": "assistant", "content": ""}, None, created))]
    events += [sse_event(_chunk(model, dict(c) if isinstance(c, dict) else {"content": c}, None, created))
               for c in chunks]
    if finish is not None:
        events.append(sse_event(_chunk(model, {}, finish, created)))
    if usage:
        n = sum(len(c) for c in chunks if isinstance(c, str))
        events.append(sse_event({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": n + 5},
        }))
    if done:
        events.append(b"data: [DONE]\n\n")
    base = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]
    return Reply(
        status=200,
        headers=_merge_headers(base, headers),
        parts=tuple(events),
        framing="chunked",
        delay=delay,
        stall_before_headers=stall_before_headers,
        stall_before=stall_before,
        stall_after=None if stall_after is None else stall_after + 1,
        disconnect_after=None if disconnect_after is None else disconnect_after + 1,
    )


def error(
    status: int,
    body: dict[str, Any] | str | bytes,
    *,
    headers: Mapping[str, Any] | None = None,
    content_type: str | None = "application/json",
) -> Reply:
    """An error response with a Content-Length body (a dict is sent as JSON)."""
    if isinstance(body, dict):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    base = [("Content-Type", content_type)] if content_type else []
    return Reply(status=status, headers=_merge_headers(base, headers), parts=(data,), framing="length")


def raw(
    status: int,
    body: bytes,
    *,
    headers: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    delay: float = 0.0,
) -> Reply:
    """Serve ``body`` verbatim with a Content-Length, written in ``chunk_size`` pieces ``delay`` apart.

    Content-Type defaults to ``text/event-stream`` (pass ``headers`` to change it).
    """
    size = chunk_size or max(1, len(body))
    parts = tuple(body[i:i + size] for i in range(0, len(body), size)) or (b"",)
    base = [("Content-Type", "text/event-stream; charset=utf-8")]
    return Reply(status=status, headers=_merge_headers(base, headers), parts=parts, framing="length", delay=delay)


def raw_response(data: bytes, *, chunk_size: int | None = None, delay: float = 0.0) -> Reply:
    """Write ``data`` as the whole response (status line and headers included), in ``chunk_size``
    pieces ``delay`` apart, then close: for a server that drips even its headers."""
    size = chunk_size or max(1, len(data))
    parts = tuple(data[i:i + size] for i in range(0, len(data), size))
    return Reply(status=0, parts=parts, framing="raw", delay=delay)


def corpus_files(case: str, corpus_dir: Path = CORPUS_DIR) -> tuple[Path, dict[str, Any]]:
    """The body file and the parsed ``.meta.json`` of one corpus case."""
    meta_path = corpus_dir / f"{case}.meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    bodies = [p for p in corpus_dir.glob(f"{case}.*") if p.name != meta_path.name]
    if len(bodies) != 1:
        raise FileNotFoundError(f"corpus case {case!r}: expected one body file, found {bodies}")
    return bodies[0], meta


def corpus_cases(corpus_dir: Path = CORPUS_DIR) -> list[str]:
    """Every case name in the corpus (one per ``.meta.json``), sorted."""
    return sorted(p.name[: -len(".meta.json")] for p in corpus_dir.glob("*.meta.json"))


def corpus(case: str, corpus_dir: Path = CORPUS_DIR) -> Reply:
    """Replay a recorded response with its status and headers (plus ``headers_suggested_for_replay``).

    SSE bodies go out with chunked transfer, one HTTP chunk per event; other bodies get a recomputed
    Content-Length. Hop-by-hop and length headers from the recording are dropped (the server frames
    the body itself).
    """
    body_path, meta = corpus_files(case, corpus_dir)
    body = body_path.read_bytes()
    headers = _header_items(meta.get("headers"))
    headers += _header_items(meta.get("headers_suggested_for_replay"))
    headers = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP]
    status = int(meta["status"])
    if body_path.suffix == ".sse":
        return Reply(status=status, headers=tuple(headers), parts=tuple(split_sse_events(body)), framing="chunked")
    return Reply(status=status, headers=tuple(headers), parts=(body,), framing="length")


def split_sse_events(body: bytes) -> list[bytes]:
    """Split an SSE body after each blank line, keeping every byte (so the pieces join to ``body``)."""
    parts: list[bytes] = []
    start = 0
    while True:
        end = body.find(b"\n\n", start)
        if end < 0:
            break
        parts.append(body[start:end + 2])
        start = end + 2
    if start < len(body):
        parts.append(body[start:])
    return parts


DEFAULT_REPLY = stream(["Hello", "!", " How can", " I help?"])


# --------------------------------------------------------------------------- token limits


@dataclass(frozen=True)
class TokenRule:
    """The fake server's deterministic token count, which tests can compute too.

    A request's prompt costs 3, plus for each message 4 and one token per ``bytes_per_token`` UTF-8
    bytes of its text, rounded up per message. A reply's text costs one token per ``bytes_per_token``
    bytes, rounded up.
    """

    bytes_per_token: float = 4.0

    def text(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8", "surrogatepass")) / self.bytes_per_token)

    def prompt(self, messages: Any) -> int:
        total = 3
        for msg in messages if isinstance(messages, list) else []:
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(content, list):  # a list of parts: their text counts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            total += 4 + self.text(content if isinstance(content, str) else "")
        return total


def _requested_reply(body: dict[str, Any]) -> int:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value if isinstance(value, int) and value > 0 else 0


def _refuse_if_too_long(owner: FakeServer, body: Any) -> Reply | None:
    """The refusal a server with ``owner.token_limit`` sends for ``body``, or None when it fits.

    "openai": OpenAI's 400 ``context_length_exceeded`` (messages + requested reply length > limit);
    "openai-no-numbers": the same code with today's wording that states no numbers;
    "llamacpp": llama.cpp's 400 ``exceed_context_size_error`` (prompt >= n_ctx).
    """
    if owner.token_limit is None or not isinstance(body, dict):
        return None
    limit = owner.token_limit
    prompt = (owner.token_rule or TokenRule()).prompt(body.get("messages"))
    reply = _requested_reply(body)
    if owner.limit_style == "llamacpp":
        if prompt < limit:
            return None
        return error(400, {"error": {
            "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": prompt, "n_ctx": limit,
            "message": f"request ({prompt} tokens) exceeds the available context size ({limit} tokens), "
                       "try increasing it"}})
    if prompt + reply <= limit:
        return None
    if owner.limit_style == "openai-no-numbers":
        message = "Your input exceeds the context window of this model. Please adjust your input and try again."
    else:
        message = (f"This model's maximum context length is {limit} tokens. However, you requested "
                   f"{prompt + reply} tokens ({prompt} in the messages, {reply} in the completion). "
                   "Please reduce the length of the messages or completion.")
    return error(400, {"error": {"message": message, "type": "invalid_request_error", "param": "messages",
                                 "code": "context_length_exceeded"}})


def _with_usage(owner: FakeServer, body: Any, reply: Reply) -> Reply:
    """``reply`` with an include_usage chunk before ``[DONE]`` counted by the server's rule, when the
    server counts tokens, the request asked (``stream_options.include_usage``) and the reply is a
    stream of ours without a usage chunk."""
    rule = owner.token_rule or (TokenRule() if owner.token_limit is not None else None)
    options = body.get("stream_options") if isinstance(body, dict) else None
    if rule is None or not isinstance(options, dict) or options.get("include_usage") is not True:
        return reply
    if reply.status != 200 or reply.framing != "chunked" or any(b'"usage"' in p for p in reply.parts):
        return reply
    text = []
    for part in reply.parts:
        if part.startswith(b"data: {"):
            chunk = json.loads(part[6:])
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                text.append(content if isinstance(content, str) else "")
    prompt, completion = rule.prompt(body.get("messages")), rule.text("".join(text))
    usage = sse_event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": str(body.get("model")), "choices": [],
                       "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}})
    parts = list(reply.parts)
    at = next((i for i, p in enumerate(parts) if p.startswith(b"data: [DONE]")), len(parts))
    parts.insert(at, usage)
    return dataclasses.replace(reply, parts=tuple(parts))


def _ollama_show(models: dict[str, dict[str, Any]], body: Any) -> Reply:
    name = body.get("model") if isinstance(body, dict) else None
    if name not in models:
        return error(404, {"error": f"model '{name}' not found"})
    shown = {k: v for k, v in models[name].items() if k != "loaded_context"}
    return error(200, {"modelfile": "", "template": "", "details": {"format": "gguf"}, **shown})


def _ollama_ps(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"models": [{"name": name, "model": name, "context_length": info["loaded_context"]}
                       for name, info in models.items() if "loaded_context" in info]}


# --------------------------------------------------------------------------- the server


class _Disconnected(Exception):
    """The client hung up (or the server is closing) while a reply was in progress."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        pass  # keep test output clean

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._track(self.connection, add=False)

    # ----------------------------------------------------------------- routing

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = RecordedRequest(self.command, self.path, headers, body, parsed)
        self.server.owner._record(rec)
        return rec

    def do_GET(self) -> None:
        rec = self._read_request()
        owner = self.server.owner
        if rec.path.split("?")[0].rstrip("/") == "/v1/models" and owner.models_reply is not None:
            self._serve(owner.models_reply)  # a scripted answer (an error, a broken body)
        elif rec.path.split("?")[0].rstrip("/") == "/v1/models":
            data = {"object": "list",
                    "data": [{"id": m, "object": "model", "owned_by": "test", **owner.model_fields.get(m, {})}
                             for m in owner.models]}
            self._serve(error(200, data))  # a JSON body with a Content-Length
        elif owner.ollama is not None and rec.path.rstrip("/") == "/api/ps":
            self._serve(error(200, _ollama_ps(owner.ollama)))
        else:
            self._not_found(rec.path)

    def do_POST(self) -> None:
        rec = self._read_request()
        owner = self.server.owner
        if rec.path.split("?")[0].rstrip("/") == "/v1/chat/completions":
            refusal = _refuse_if_too_long(owner, rec.json)
            self._serve(refusal or _with_usage(owner, rec.json, owner._next_reply()))
        elif owner.ollama is not None and rec.path.rstrip("/") == "/api/show":
            self._serve(_ollama_show(owner.ollama, rec.json))
        else:
            self._not_found(rec.path)

    def _not_found(self, path: str) -> None:
        self._serve(error(404, {"error": {"message": f"Unknown path {path}", "type": "invalid_request_error",
                                          "param": None, "code": "not_found"}}))

    # ----------------------------------------------------------------- serving

    def _serve(self, reply: Reply) -> None:
        owner = self.server.owner
        try:
            self._stall(reply.stall_before_headers)
            if reply.framing != "raw":  # "raw": the parts are the whole response, status line and all
                self._send_head(reply)
            self._stall(reply.stall_before)
            for i, part in enumerate(reply.parts):
                if reply.stall_after is not None and i == reply.stall_after:
                    self._stall(math.inf)
                if reply.disconnect_after is not None and i == reply.disconnect_after:
                    self._hang_up()
                    return
                if i and reply.delay:
                    self._stall(reply.delay)
                self._write_part(part, reply.framing)
            if reply.stall_after is not None and reply.stall_after >= len(reply.parts):
                self._stall(math.inf)
            if reply.framing == "chunked":
                self._write(b"0\r\n\r\n")
            if reply.framing in ("close", "raw"):
                self.close_connection = True
        except _Disconnected:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            owner._note_disconnect()
            self.close_connection = True

    def _send_head(self, reply: Reply) -> None:
        self.send_response_only(reply.status)
        names = {n.lower() for n, _ in reply.headers}
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.framing == "length":
            self.send_header("Content-Length", str(sum(len(p) for p in reply.parts)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    def _write_part(self, part: bytes, framing: str) -> None:
        if framing == "chunked":
            if part:  # an empty chunk would end the body
                self._write(b"%x\r\n%s\r\n" % (len(part), part))
        else:
            self._write(part)

    def _write(self, data: bytes) -> None:
        if self._peer_gone():
            self.server.owner._note_disconnect()
            raise _Disconnected
        self.wfile.write(data)

    def _peer_gone(self) -> bool:
        """True when the client has closed its side (the socket reads EOF or was reset)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (ConnectionResetError, OSError):
            return True

    def _stall(self, seconds: float | None) -> None:
        """Send nothing for ``seconds`` (inf: until the client hangs up or the server closes).

        Raises :class:`_Disconnected` when the client hangs up (counted) or the server closes.
        """
        if not seconds:
            return
        owner = self.server.owner
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self.connection, owner._wake_r], [], [], min(_POLL, remaining))
            except (OSError, ValueError):
                raise _Disconnected from None
            if owner._wake_r in readable:
                raise _Disconnected  # the server is closing: not the client's doing, not counted
            if self.connection in readable and self._peer_gone():
                owner._note_disconnect()
                raise _Disconnected

    def _hang_up(self) -> None:
        """Close abruptly: no terminating chunk, no [DONE]."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, owner: FakeServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client resetting an idle keep-alive connection is normal; anything else is a server bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        self.owner.errors.append(exc if isinstance(exc, BaseException) else RuntimeError("unknown"))
        super().handle_error(request, client_address)


class FakeServer:
    """A Chat Completions server on a random loopback port. Starts on construction; :meth:`close` it.

    Attributes: ``base_url`` ("http://127.0.0.1:PORT/v1"), ``requests`` (every request, in order),
    ``disconnects`` (client hang-ups seen mid-reply), ``models`` (what ``GET /v1/models`` lists),
    ``default_reply`` (used when the queue is empty). Token counting: ``token_rule``, ``token_limit``,
    ``limit_style``; ``model_fields`` (extra ``/v1/models`` fields per model); ``ollama`` (serve
    Ollama's ``/api/show`` and ``/api/ps``).
    """

    def __init__(self, default_reply: Reply | None = None, models: list[str] | None = None) -> None:
        self.default_reply = DEFAULT_REPLY if default_reply is None else default_reply
        self.models = ["gpt-4o-mini", "gpt-4o", "o3-mini"] if models is None else models
        #: When set, ``GET /v1/models`` is answered with this instead of the list.
        self.models_reply: Reply | None = None
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        # Token counting (see "token limits" above): usage in streams that ask for it, and refusals.
        self.token_rule: TokenRule | None = None
        self.token_limit: int | None = None
        self.limit_style = "openai"  # "openai", "openai-no-numbers" or "llamacpp"
        self.model_fields: dict[str, dict[str, Any]] = {}  # extra fields of a /v1/models entry, per model
        self.ollama: dict[str, dict[str, Any]] | None = None  # model -> /api/show answer (+ "loaded_context")
        self.errors: list[BaseException] = []  # exceptions the handlers raised (a bug in this file)
        self._replies: deque[Reply] = deque()
        self._cond = threading.Condition()
        self._disconnected = threading.Event()
        self._connections: set[socket.socket] = set()
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._httpd = _HTTPServer(self)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": _ACCEPT_POLL}, name="FakeServer", daemon=True
        )
        self._thread.start()

    # ----------------------------------------------------------------- test API

    def queue(self, *replies: Reply) -> None:
        """Answer the next chat requests with these replies, in order."""
        with self._cond:
            self._replies.extend(replies)

    def wait_for_requests(self, n: int, timeout: float = 5) -> bool:
        """Wait until at least ``n`` requests have arrived."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= n, timeout)

    def wait_disconnect(self, timeout: float = 5) -> bool:
        """True once a client hung up while a reply was being sent or stalled."""
        return self._disconnected.wait(timeout)

    def close(self) -> None:
        """Stop serving; wake every stalled handler at once and hang up open connections."""
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")  # never read: stays readable, so every select() wakes
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._cond:
            conns = list(self._connections)
        for conn in conns:  # idle keep-alive handlers block in readline(); this wakes them
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            with self._cond:
                if not self._connections:
                    # No handler can still be selecting on the wake pipe: safe to close it.
                    os.close(self._wake_r)
                    os.close(self._wake_w)
                    return
            time.sleep(0.01)
        # A handler is somehow still running: leak two descriptors rather than close an fd it may use.

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- handler side

    def _record(self, rec: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()

    def _next_reply(self) -> Reply:
        with self._cond:
            return self._replies.popleft() if self._replies else self.default_reply

    def _note_disconnect(self) -> None:
        with self._cond:
            self.disconnects += 1
        self._disconnected.set()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
