"""The streaming loop: send one request through the openai SDK and feed the reply text to a sink.

The SDK makes the request (authentication, base URL, headers, timeouts, proxies, errors for an HTTP
error status); the streamed body is read by :mod:`chatbot_gui.core.sse`, not by the SDK's per-chunk
pydantic models, which held the GIL for most of a fast stream and made the GUI stutter.

Qt-free and blocking: it runs on a worker thread. Stopping is cooperative (``should_stop``) *and*
forceful: :class:`AbortHandle` shuts down the request's socket, because on Linux neither closing the
SDK stream nor closing the socket from another thread wakes a blocked ``recv()`` (see docs/platform.md,
"Stopping a stream"); ``shutdown(SHUT_RDWR)`` does, and the server sees the connection drop.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.errors import ErrorInfo, describe_exception, plain_text, redact
from chatbot_gui.core.limits import DEFAULT_LIMITS, LimitExceeded, Limits, duration_text, size_text
from chatbot_gui.core.params import ParameterPolicy, build_body
from chatbot_gui.core.sse import InBandError, ReplyReader, text_parts
from chatbot_gui.core import turnstile
from chatbot_gui.core.unicode import clean_text
from chatbot_gui.core.usage import Usage, parse_usage

#: One INFO line per request (where, which model, how it ended; never text or the key); the message
#: text only at DEBUG (``CHATBOT_DEBUG=1``).
_log = logging.getLogger(__name__)


class AbortHandle:
    """Thread-safe: the worker registers sockets as they open; any thread may call :meth:`abort`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._aborted = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            aborted = self._aborted
        if aborted:
            _shutdown(sock)

    def abort(self) -> None:
        """Hang up now. Never blocks: ``shutdown()`` is a non-blocking system call."""
        with self._lock:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected: nothing to hang up


@dataclass(frozen=True)
class Outcome:
    """How a request ended. ``status`` is "complete", "stopped" or "error".

    ``received_chars`` counts the reply text delivered; ``reasoning_chars`` the reasoning text some
    servers stream alongside it (``reasoning_content`` / ``reasoning``), which is not shown.
    ``model`` is the model the server says answered (None when it named none).
    """

    status: str
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    received_chars: int = 0
    reasoning_chars: int = 0
    model: str | None = field(default=None, compare=False)  # metadata: not part of how it ended
    usage: Usage | None = field(default=None, compare=False)  # the server's token counts, when it sent them


NO_REPLY = ErrorInfo("empty", "The server sent no reply: the answer ended without any text. Some servers do "
                     "this when the conversation is too long for the model.", retryable=True)


_HEAD_BYTES = 512

_ssl_lock = threading.Lock()
_ssl_contexts: dict[tuple[str | None, str | None], Any] = {}


def shared_ssl_context() -> Any:
    """The process's verifying ``ssl.SSLContext``, built on first use and then shared by every client.

    ``httpx2.Client()`` otherwise builds one per client, which loads the CA bundle: ~20-25 ms before
    every request's first byte. It is the context httpx2 would build (``httpx2.create_ssl_context()``,
    which honours ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``); one is kept per value of those two variables,
    so changing them still takes effect. Thread-safe.
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _ssl_lock:
        ctx = _ssl_contexts.get(key)
        if ctx is None:
            import httpx2

            ctx = httpx2.create_ssl_context()
            ctx.__class__ = _shared_context_type()  # same C layout: a plain Python subclass
            ctx.set_alpn_protocols(["http/1.1"])  # what httpcore2 sets for HTTP/1.1 clients
            _ssl_contexts[key] = ctx
    return ctx


@functools.cache
def _shared_context_type() -> type:
    """The ``ssl.SSLContext`` subclass of :func:`shared_ssl_context`, built on first use (keeps ``ssl``
    off the start-up path).

    httpcore2 calls ``set_alpn_protocols()`` on the context for every new connection
    (``httpcore2/_sync/connection.py``), and CPython creates each connection's ``SSL`` object from the
    context with the GIL released (``SSL_new`` in ``Modules/_ssl.c``). Re-setting the list on a shared
    context while another thread connects would free OpenSSL's copy under that thread's feet, so a
    request for the list already set does nothing.
    """
    import ssl

    class _SharedSSLContext(ssl.SSLContext):
        _alpn: tuple[str, ...] | None = None

        def set_alpn_protocols(self, alpn_protocols: Any) -> None:
            wanted = tuple(alpn_protocols)
            if wanted != self._alpn:
                super().set_alpn_protocols(list(wanted))
                self._alpn = wanted

    return _SharedSSLContext


def make_client(config: ConnectionConfig, abort: AbortHandle, limits: Limits = DEFAULT_LIMITS,
                turn: turnstile.Pass | None = None) -> Any:
    """An ``openai.OpenAI`` on a fresh ``httpx2.Client`` whose sockets the abort handle can reach.

    One client per request: a fresh connection is opened, so the socket is always seen by the
    ``connect_tcp`` trace (a pooled connection would not be). No automatic retries: the app decides.
    The SSL context is the shared one (:func:`shared_ssl_context`); proxies, given or from the
    ``*_PROXY`` variables, are httpx2's business as before. Every response body, whoever reads it
    (this module, or the SDK reading an error body or a model list), is held to ``limits``
    (:func:`guard_body`). With a ``turn``, every socket read of the connection lets go of the
    turnstile while it waits (:meth:`~.turnstile.Pass.blocking`).
    """
    import httpx2
    import openai

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                abort.register(sock)
        if turn is not None and event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            _read_outside(info.get("return_value"), turn)

    def on_request(request: Any) -> None:
        request.extensions["trace"] = trace

    def on_response(response: Any) -> None:
        guard_body(response, limits)

    timeout = httpx2.Timeout(
        connect=config.connect_timeout, read=config.read_timeout, write=30.0, pool=config.connect_timeout
    )
    http_client = httpx2.Client(
        timeout=timeout,
        proxy=config.proxy or None,
        verify=shared_ssl_context(),
        # Compressing proxies tend to buffer an event stream instead of passing tokens on as they come.
        headers={"Accept-Encoding": "identity"},
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    client = openai.OpenAI(
        api_key=config.usable_key or "",
        base_url=config.base_url,
        organization=config.organization,
        project=config.project,
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )
    # The SDK fills a missing organization/project from OPENAI_ORG_ID/OPENAI_PROJECT_ID itself, for
    # any server; the config already decided (they go only to OpenAI's own server: issue 9).
    client.organization, client.project = config.organization, config.project
    return client


def _read_outside(stream: Any, turn: turnstile.Pass) -> None:
    """Make ``stream`` (an httpcore2 network stream) let go of ``turn`` while it reads the socket."""
    read = getattr(stream, "read", None)
    if read is None:
        return

    def read_outside(max_bytes: int, timeout: float | None = None) -> bytes:
        return turn.blocking(read, max_bytes, timeout)

    try:
        stream.read = read_outside
    except AttributeError:
        pass  # a stream type without instance attributes: reads then hold the turn (bounded wait)


#: Largest piece a compressed body is inflated in at once.
_INFLATE_STEP = 64 * 1024


def guard_body(response: Any, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
    """Hold ``response``'s body (not read yet) to ``limits``: its size after decompression and the
    time until its end. Reading past either raises :class:`~.limits.LimitExceeded`.

    The request asks for ``Accept-Encoding: identity``, but a server may compress anyway and httpx2
    would then inflate it, however far: a few KB of gzip can become gigabytes. So the body is
    inflated here instead, in bounded steps and counted (gzip and deflate; any other coding is
    refused with a clear error rather than shown as garbage).
    """
    import httpx2

    codings = [c.strip().lower() for c in response.headers.get_list("content-encoding", split_commas=True)]
    codings = [c for c in codings if c and c != "identity"]
    if codings:
        del response.headers["content-encoding"]  # httpx2 must not inflate it too
    if response.status_code >= 400:
        cap = limits.max_error_bytes
    elif "event-stream" in str(response.headers.get("content-type", "")).lower():
        cap = limits.max_stream_bytes
    else:
        cap = limits.max_document_bytes
    response.stream = _limited_stream_type(httpx2.SyncByteStream)(
        response.stream, codings, cap, clock() + limits.max_seconds, limits.max_seconds, clock)


@functools.cache
def _limited_stream_type(base: type) -> type:
    """A ``SyncByteStream`` (``base``: httpx2 checks the type) that inflates and counts what it passes on."""

    class _LimitedStream(base):  # type: ignore[misc, valid-type]
        def __init__(self, inner: Any, codings: list[str], cap: int, deadline: float, seconds: float,
                     clock: Callable[[], float]) -> None:
            self._inner = inner
            self._codings = codings
            self._cap = cap
            self._deadline = deadline
            self._seconds = seconds
            self._clock = clock

        def __iter__(self) -> Iterator[bytes]:
            if len(self._codings) > 1 or (self._codings and self._codings[0] not in ("gzip", "x-gzip", "deflate")):
                raise LimitExceeded(
                    f"The server sent its answer compressed ({', '.join(self._codings)}) although the app "
                    "asked it not to, in a form the app does not read.", kind="garbage")
            inflater = _Inflater(self._codings[0]) if self._codings else None
            total = 0
            for raw_bytes in self._inner:
                if self._clock() > self._deadline:
                    raise LimitExceeded(f"The server was still sending after {duration_text(self._seconds)}.")
                pieces = inflater.feed(raw_bytes) if inflater is not None else (raw_bytes,)
                for piece in pieces:
                    total += len(piece)
                    if total > self._cap:
                        raise LimitExceeded(f"The server's answer grew larger than {size_text(self._cap)}, "
                                            "far more than any real reply.")
                    yield piece

        def close(self) -> None:
            self._inner.close()

    return _LimitedStream


class _Inflater:
    """Inflate gzip or deflate (zlib-wrapped or raw, as servers differ) in pieces of at most
    :data:`_INFLATE_STEP` bytes, so no single call can allocate more than that."""

    def __init__(self, coding: str) -> None:
        self._raw_deflate_tried = coding != "deflate"
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding != "deflate" else zlib.MAX_WBITS)
        self._seen = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._obj.decompress(data, _INFLATE_STEP)
        except zlib.error:
            if self._raw_deflate_tried:
                raise LimitExceeded("The server's compressed answer is damaged.", kind="garbage") from None
            self._raw_deflate_tried = True  # "deflate" without its zlib header (some servers send that)
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self.feed(data)
            return
        self._raw_deflate_tried = True
        while out:
            yield out
            out = self._obj.decompress(self._obj.unconsumed_tail, _INFLATE_STEP)


def request_kwargs(request: ChatRequest, policy: ParameterPolicy | None = None, *,
                   include_usage: bool = False) -> dict[str, Any]:
    """The body fields for ``chat.completions.create``.

    With a ``policy`` they come in the form the model accepts (:func:`~.params.build_body`);
    without one, as the request states them.
    """
    if policy is not None:
        return build_body(request, policy, include_usage=include_usage)
    kwargs: dict[str, Any] = {"model": request.model, "messages": request.as_openai_messages(), "stream": True}
    if include_usage:
        kwargs["stream_options"] = {"include_usage": True}
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_tokens"] = request.max_tokens
    return kwargs


def stream_chat(
    request: ChatRequest,
    config: ConnectionConfig,
    on_text: Callable[[str], None],
    abort: AbortHandle,
    *,
    policy: ParameterPolicy | None = None,
    on_thinking: Callable[[], None] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    on_model: Callable[[str], None] | None = None,
    include_usage: bool = False,
) -> Outcome:
    """Send ``request`` and pass each piece of reply text to ``on_text``. Never raises.

    ``include_usage`` asks for the server's token counts (``stream_options``); the outcome carries
    them (``usage``) when the server sent them, whatever ended the reply.

    See :func:`_stream_chat`. Here: the whole request, from sending it to the last byte, lasts at
    most ``limits.max_seconds``: a watchdog hangs up a server that drips bytes (even its headers,
    which no read timeout catches while each byte comes in time) and the reply ends with an error,
    keeping what arrived.
    """
    timed_out = threading.Event()

    def time_up() -> None:
        timed_out.set()
        abort.abort()

    watchdog = threading.Timer(limits.max_seconds, time_up)
    watchdog.daemon = True
    started = time.monotonic()
    _log_request(request, config)
    watchdog.start()
    reader = ReplyReader(limits.max_event_bytes)
    try:
        outcome = _stream_chat(request, config, on_text, abort, policy=policy, on_thinking=on_thinking,
                               limits=limits, on_model=on_model, include_usage=include_usage, reader=reader)
    finally:
        watchdog.cancel()
    if timed_out.is_set() and outcome.status == "stopped":
        error = describe_exception(LimitExceeded(
            f"The server was still sending after {duration_text(limits.max_seconds)}."))
        outcome = Outcome("error", outcome.finish_reason, error, outcome.received_chars, outcome.reasoning_chars,
                          outcome.model)
    usage = parse_usage(reader.usage)
    if usage is not None:
        outcome = dataclasses.replace(outcome, usage=usage)
    _log_outcome(outcome, time.monotonic() - started)
    return outcome


def _server(config: ConnectionConfig) -> str:
    """Where a request goes, for the log: scheme, host and port only (a URL may carry a password)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(config.base_url)
        return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return "(unreadable address)"


def _log_request(request: ChatRequest, config: ConnectionConfig) -> None:
    _log.info("request to %s: model %s, %d messages", _server(config), request.model, len(request.messages))
    if _log.isEnabledFor(logging.DEBUG):
        for role, content in request.messages:
            _log.debug("  %s: %s", role, redact(content, config.api_key))


def _log_outcome(outcome: Outcome, seconds: float) -> None:
    how = outcome.status if outcome.error is None else f"{outcome.status} ({outcome.error.kind})"
    _log.info("reply %s after %.1f s: %d characters, finish %s, model %s", how, seconds,
              outcome.received_chars, outcome.finish_reason, outcome.model)


def _stream_chat(
    request: ChatRequest,
    config: ConnectionConfig,
    on_text: Callable[[str], None],
    abort: AbortHandle,
    *,
    policy: ParameterPolicy | None = None,
    on_thinking: Callable[[], None] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    on_model: Callable[[str], None] | None = None,
    include_usage: bool = False,
    reader: ReplyReader | None = None,
) -> Outcome:
    """Send ``request`` and pass each piece of reply text to ``on_text``. Never raises.

    ``on_thinking`` is called once when a reasoning model streams its reasoning (``reasoning`` /
    ``reasoning_content``, not shown) before any reply text, so the UI can say it is thinking.
    ``on_model`` is called once with the model the server says is answering, as soon as a chunk
    names it (so a reply stopped early is still saved under it).

    The SDK sends the request and raises for an error status; the body of the reply is read here
    (:class:`~.sse.ReplyReader`), with about a sixth of the CPU the SDK's per-chunk models took, which
    leaves the GUI thread its share of the interpreter. Chunks with an empty ``choices`` list (usage chunks,
    Azure's prompt-filter chunk) are normal. A stream that ends with neither a ``finish_reason`` nor
    ``[DONE]`` is reported as interrupted. A server that ignores ``stream: true`` and answers with one
    JSON completion is understood too. With a ``policy``, parameters go in the form the model accepts,
    and a request the server refuses for an unsupported parameter it was sent is sent once more
    without it (the policy remembers). Whatever the server sends is held to ``limits``: past one, the
    reply ends with a clear error and the text that arrived is kept. A stream that ends without any
    reply text is reported as :data:`NO_REPLY`.
    """
    reader = reader if reader is not None else ReplyReader(limits.max_event_bytes)
    received = 0
    head = b""
    is_event_stream = True
    client = None
    response = None
    # Several replies streaming: their parsing takes turns (core/turnstile.py), socket waits do not.
    turn = turnstile.shared.new_pass() if turnstile.shared is not None else None
    turns = 0
    try:
        if abort.aborted:
            return Outcome("stopped")
        client = make_client(config, abort, limits, turn)
        response = _create_stream(client, request, policy, abort, include_usage)
        try:
            if turn is not None:
                turn.enter()
            content_type = str(response.headers.get("content-type", "")).lower()
            is_event_stream = "event-stream" in content_type
            if "json" in content_type and not is_event_stream:
                return _from_completion(response, on_text, limits)
            for data in response.iter_bytes():
                if abort.aborted:
                    return _stopped(reader, received)
                if len(head) < _HEAD_BYTES:
                    head += data[: _HEAD_BYTES - len(head)]
                for text in reader.feed(data):
                    if abort.aborted:
                        return _stopped(reader, received)
                    if received + len(text) > limits.max_reply_chars:
                        text = text[: max(0, limits.max_reply_chars - received)]
                        if text:
                            received += len(text)
                            on_text(text)
                        raise LimitExceeded(f"The reply grew longer than {size_text(limits.max_reply_chars)} "
                                            "characters, far more than any real reply.")
                    received += len(text)
                    on_text(text)
                    if turn is not None:
                        turns += 1
                        if turns >= turnstile.HANDOVER_EVERY:
                            turns = 0
                            turn.handover()
                if on_model is not None and reader.model is not None:
                    on_model(reader.model)
                    on_model = None
                if on_thinking is not None and reader.reasoning_chars and not received:
                    on_thinking()
                    on_thinking = None
                if reader.done:
                    break  # what follows [DONE] is not read (the SDK stops there too)
            else:
                reader.close()
        finally:
            if turn is not None:
                turn.leave()
            response.close()
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
        if abort.aborted:
            return _stopped(reader, received)
        if not isinstance(exc, Exception):
            raise
        error = describe_exception(_as_sdk_error(exc, response), config.api_key)
        return Outcome("error", reader.finish_reason, error, received, reader.reasoning_chars, reader.model)
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a half-dead connection may fail; nothing to do
                pass
    if abort.aborted:
        return _stopped(reader, received)
    if reader.finish_reason is None and not reader.done:
        head = head.strip()
        if reader.chunks == 0 and head and b"data:" not in head and not is_event_stream:
            # A 200 answer that is no event stream at all (an HTML login page, a proxy's notice).
            return Outcome("error", None, ErrorInfo(
                "garbage", "The server's answer was not a chat reply. It may not be an "
                "OpenAI-compatible server, or a proxy or login page answered instead.",
                retryable=False, detail=redact(plain_text(head.decode("utf-8", "replace")), config.api_key),
            ), received, reader.reasoning_chars)
        if not received and not reader.chunks and not head:
            # 200, then nothing (llama-cpp-python does this when the prompt is too long).
            return Outcome("error", None, NO_REPLY, 0, reader.reasoning_chars, reader.model)
        return Outcome(
            "error",
            None,
            ErrorInfo(
                "truncated",
                "The server ended the reply early (the stream closed before it was complete).",
                retryable=True,
            ),
            received,
            reader.reasoning_chars,
            reader.model,
        )
    if not received and not reader.other_output and reader.finish_reason not in ("length", "content_filter"):
        # "Complete", but not one character of reply: there is nothing to show or save.
        return Outcome("error", reader.finish_reason, NO_REPLY, 0, reader.reasoning_chars, reader.model)
    return Outcome("complete", reader.finish_reason, None, received, reader.reasoning_chars, reader.model)


def _stopped(reader: ReplyReader, received: int) -> Outcome:
    return Outcome("stopped", reader.finish_reason, None, received, reader.reasoning_chars, reader.model)


def _as_sdk_error(exc: Exception, response: Any) -> Exception:
    """What the SDK would have raised for a failure while reading the body, so that
    :func:`~.errors.describe_exception` words it as before: an in-stream error event becomes
    ``openai.APIError``, an httpx2 timeout ``APITimeoutError``, another transport failure
    ``APIConnectionError`` (as ``openai.Stream`` does)."""
    if response is None:
        return exc  # the SDK raised it while sending: it is an SDK error already
    if isinstance(exc, InBandError):
        return _in_band_error(response, exc.body)
    import httpx2
    import openai

    wrapped: Exception
    if isinstance(exc, httpx2.TimeoutException):
        wrapped = openai.APITimeoutError(request=response.request)
    elif isinstance(exc, httpx2.RequestError):
        wrapped = openai.APIConnectionError(request=response.request)
    else:
        return exc
    wrapped.__cause__ = exc
    return wrapped


def _create_stream(client: Any, request: ChatRequest, policy: ParameterPolicy | None,
                   abort: AbortHandle, include_usage: bool = False) -> Any:
    """Send the request; return its ``httpx2.Response`` with the body not read yet.

    With a policy, retry once without a parameter the server refused.
    """
    body = request_kwargs(request, policy, include_usage=include_usage)
    if policy is None:
        return _send(client, body)
    import openai

    try:
        return _send(client, body)
    except openai.APIStatusError as exc:
        param = policy.learn(request.model, body, exc.status_code, exc.body)
        retry = build_body(request, policy, include_usage=include_usage)
        if param is None or retry == body or abort.aborted:
            raise
    try:
        return _send(client, retry)
    except openai.APIStatusError as exc:
        policy.learn(request.model, retry, exc.status_code, exc.body)  # for next time; no second retry
        raise


def _send(client: Any, body: dict[str, Any]) -> Any:
    """One request through the SDK (auth, headers, timeouts, proxies, ``APIStatusError`` & co for an
    error status), its body left unread. The SDK's context manager would only close the response on
    exit; :func:`stream_chat` closes it itself, so it is entered and not kept."""
    manager = client.chat.completions.with_streaming_response.create(**body)
    return manager.__enter__().http_response


def _from_completion(response: Any, on_text: Callable[[str], None], limits: Limits = DEFAULT_LIMITS) -> Outcome:
    """Handle a whole ``chat.completion`` JSON body sent in answer to a streaming request.

    Some OpenAI-compatible servers ignore ``stream: true``. The reply is still a reply: its text is
    delivered in one piece. An ``error`` object in a 200 body is reported like an in-stream error.
    """
    try:
        data = json.loads(response.read())
    except RecursionError:  # "[[[[…": nested deeper than the decoder goes
        raise ValueError("the JSON reply is nested too deeply to read") from None
    if isinstance(data, dict) and data.get("error"):
        raise _in_band_error(response, data["error"])
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise ValueError("the JSON reply has no 'choices'")
    model = data.get("model")
    model = clean_text(model.strip())[:200] if isinstance(model, str) and model.strip() else None
    if not choices:
        return Outcome("error", None, NO_REPLY, 0, 0, model)
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")  # Azure content_filter replies have no message at all
    text = (message.get("content") or message.get("refusal") or "") if isinstance(message, dict) else ""
    if isinstance(text, list):  # a list of parts, as Mistral streams it: read the same way
        text = text_parts(text)
    if not isinstance(text, str):
        raise ValueError("the JSON reply's message content is not text")
    text = clean_text(text)
    if len(text) > limits.max_reply_chars:
        raise LimitExceeded(f"The reply is longer than {size_text(limits.max_reply_chars)} characters, "
                            "far more than any real reply.")
    finish = choice.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    reasoning = (message.get("reasoning_content") or message.get("reasoning")) if isinstance(message, dict) else None
    reasoning_chars = len(reasoning) if isinstance(reasoning, str) else 0
    other = isinstance(message, dict) and bool(message.get("tool_calls") or message.get("function_call")
                                               or message.get("audio"))
    if not text and not other and finish not in ("length", "content_filter"):
        return Outcome("error", finish, NO_REPLY, 0, reasoning_chars, model)
    if text:
        on_text(text)
    return Outcome("complete", finish, None, len(text), reasoning_chars, model, parse_usage(data.get("usage")))


def _in_band_error(response: Any, error: Any) -> Exception:
    import openai

    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message:
        message = "An error occurred"
    return openai.APIError(message, request=response.request, body=error)
