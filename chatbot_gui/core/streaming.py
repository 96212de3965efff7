"""The streaming loop: send one request through the openai SDK and feed the reply text to a sink.

Qt-free and blocking: it runs on a worker thread. Stopping is cooperative (``should_stop``) *and*
forceful: :class:`AbortHandle` shuts down the request's socket, because on Linux neither closing the
SDK stream nor closing the socket from another thread wakes a blocked ``recv()`` (see PLATFORM.md,
"Stopping a stream"); ``shutdown(SHUT_RDWR)`` does, and the server sees the connection drop.
"""

from __future__ import annotations

import functools
import json
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.errors import ErrorInfo, describe_exception, plain_text, redact
from chatbot_gui.core.params import ParameterPolicy, build_body


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
    """How a request ended. ``status`` is "complete", "stopped" or "error"."""

    status: str
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    received_chars: int = 0


_DONE_RE = re.compile(rb"\ndata: ?\[DONE\]")
_HEAD_BYTES = 512


class _DoneWatcher:
    """Watches the response bytes the SDK reads: notices ``data: [DONE]`` (which the SDK swallows)
    and keeps the first bytes, so a reply that was not a stream at all can be shown for what it was.

    The SDK never sees this object: :func:`_watching_stream_type` wraps it in an ``httpx2.SyncByteStream``.
    Matching only at the start of a line means a reply whose *text* mentions ``[DONE]`` (inside a
    JSON string, where a newline is escaped) does not count.
    """

    def __init__(self) -> None:
        self.saw_done = False
        self.head = b""
        self._tail = b"\n"  # the body's first line counts as starting a line

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < _HEAD_BYTES:
            self.head += chunk[: _HEAD_BYTES - len(self.head)]
        if not self.saw_done:
            window = self._tail + chunk
            if _DONE_RE.search(window):
                self.saw_done = True
            self._tail = window[-16:]


@functools.cache
def _watching_stream_type() -> type:
    """The byte-stream wrapper class, built on first use so importing this module stays light.

    It must subclass ``httpx2.SyncByteStream``: ``Response.iter_raw`` / ``close`` refuse anything else
    ("Attempted to call a sync iterator on an async stream").
    """
    import httpx2

    class _WatchingStream(httpx2.SyncByteStream):
        def __init__(self, inner: Any, watcher: _DoneWatcher) -> None:
            self._inner = inner
            self._watcher = watcher

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                self._watcher.feed(chunk)
                yield chunk

        def close(self) -> None:
            self._inner.close()

    return _WatchingStream


def make_client(config: ConnectionConfig, abort: AbortHandle, watcher_box: list[_DoneWatcher]) -> Any:
    """An ``openai.OpenAI`` on a fresh ``httpx2.Client`` whose sockets the abort handle can reach.

    One client per request: a fresh connection is opened, so the socket is always seen by the
    ``connect_tcp`` trace (a pooled connection would not be). No automatic retries: the app decides.
    """
    import httpx2
    import openai

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                abort.register(sock)

    def on_request(request: Any) -> None:
        request.extensions["trace"] = trace

    def on_response(response: Any) -> None:
        watcher = _DoneWatcher()
        response.stream = _watching_stream_type()(response.stream, watcher)
        watcher_box.append(watcher)

    timeout = httpx2.Timeout(
        connect=config.connect_timeout, read=config.read_timeout, write=30.0, pool=config.connect_timeout
    )
    http_client = httpx2.Client(
        timeout=timeout,
        proxy=config.proxy or None,
        # A compressed event stream would hide `[DONE]` from the watcher, and compressing proxies
        # tend to buffer a stream instead of passing tokens on as they come.
        headers={"Accept-Encoding": "identity"},
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    return openai.OpenAI(
        api_key=config.usable_key or "",
        base_url=config.base_url,
        organization=config.organization,
        project=config.project,
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )


def request_kwargs(request: ChatRequest, policy: ParameterPolicy | None = None) -> dict[str, Any]:
    """The body fields for ``chat.completions.create``.

    With a ``policy`` they come in the form the model accepts (:func:`~.params.build_body`);
    without one, as the request states them.
    """
    if policy is not None:
        return build_body(request, policy)
    kwargs: dict[str, Any] = {"model": request.model, "messages": request.as_openai_messages(), "stream": True}
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
) -> Outcome:
    """Send ``request`` and pass each piece of reply text to ``on_text``. Never raises.

    Chunks with an empty ``choices`` list (usage chunks, Azure's prompt-filter chunk) are normal.
    A stream that ends with neither a ``finish_reason`` nor ``[DONE]`` is reported as interrupted.
    A server that ignores ``stream: true`` and answers with one JSON completion is understood too.
    With a ``policy``, parameters go in the form the model accepts, and a request the server refuses
    for an unsupported parameter it was sent is sent once more without it (the policy remembers).
    """
    received = 0
    finish: str | None = None
    chunks = 0
    is_event_stream = True
    watchers: list[_DoneWatcher] = []
    client = None
    try:
        if abort.aborted:
            return Outcome("stopped")
        client = make_client(config, abort, watchers)
        stream = _create_stream(client, request, policy, abort, watchers)
        try:
            content_type = str(stream.response.headers.get("content-type", "")).lower()
            is_event_stream = "event-stream" in content_type
            if "json" in content_type and not is_event_stream:
                return _from_completion(stream.response, on_text)
            for chunk in stream:
                chunks += 1
                if abort.aborted:
                    return Outcome("stopped", finish, None, received)
                choices = chunk.choices or ()
                if not choices:
                    continue
                choice = choices[0]
                delta = choice.delta
                if delta is not None:
                    text = delta.content or getattr(delta, "refusal", None)
                    if text:
                        received += len(text)
                        on_text(text)
                if choice.finish_reason:
                    finish = choice.finish_reason
        finally:
            stream.close()
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
        if abort.aborted:
            return Outcome("stopped", finish, None, received)
        if not isinstance(exc, Exception):
            raise
        return Outcome("error", finish, describe_exception(exc, config.api_key), received)
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a half-dead connection may fail; nothing to do
                pass
    if abort.aborted:
        return Outcome("stopped", finish, None, received)
    saw_done = any(w.saw_done for w in watchers)
    if finish is None and not saw_done:
        head = b"".join(w.head for w in watchers).strip()
        if chunks == 0 and head and b"data:" not in head and not is_event_stream:
            # A 200 answer that is no event stream at all (an HTML login page, a proxy's notice).
            return Outcome("error", None, ErrorInfo(
                "garbage", "The server's answer was not a chat reply. It may not be an "
                "OpenAI-compatible server, or a proxy or login page answered instead.",
                retryable=False, detail=redact(plain_text(head.decode("utf-8", "replace")), config.api_key),
            ), received)
        return Outcome(
            "error",
            None,
            ErrorInfo(
                "truncated",
                "The server ended the reply early (the stream closed before it was complete).",
                retryable=True,
            ),
            received,
        )
    return Outcome("complete", finish, None, received)


def _create_stream(client: Any, request: ChatRequest, policy: ParameterPolicy | None, abort: AbortHandle,
                   watchers: list[_DoneWatcher]) -> Any:
    """Open the reply stream; with a policy, retry once without a parameter the server refused."""
    body = request_kwargs(request, policy)
    if policy is None:
        return client.chat.completions.create(**body)
    import openai

    try:
        return client.chat.completions.create(**body)
    except openai.APIStatusError as exc:
        param = policy.learn(request.model, body, exc.status_code, exc.body)
        retry = build_body(request, policy)
        if param is None or retry == body or abort.aborted:
            raise
    watchers.clear()  # the refusal's bytes must not count as part of the reply
    try:
        return client.chat.completions.create(**retry)
    except openai.APIStatusError as exc:
        policy.learn(request.model, retry, exc.status_code, exc.body)  # for next time; no second retry
        raise


def _from_completion(response: Any, on_text: Callable[[str], None]) -> Outcome:
    """Handle a whole ``chat.completion`` JSON body sent in answer to a streaming request.

    Some OpenAI-compatible servers ignore ``stream: true``. The reply is still a reply: its text is
    delivered in one piece. An ``error`` object in a 200 body is reported like an in-stream error.
    """
    data = json.loads(response.read())
    if isinstance(data, dict) and data.get("error"):
        raise _in_band_error(response, data["error"])
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise ValueError("the JSON reply has no 'choices'")
    if not choices:
        return Outcome("complete", None, None, 0)
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")  # Azure content_filter replies have no message at all
    text = (message.get("content") or message.get("refusal") or "") if isinstance(message, dict) else ""
    if not isinstance(text, str):
        raise ValueError("the JSON reply's message content is not text")
    if text:
        on_text(text)
    finish = choice.get("finish_reason")
    return Outcome("complete", finish if isinstance(finish, str) else None, None, len(text))


def _in_band_error(response: Any, error: Any) -> Exception:
    import openai

    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message:
        message = "An error occurred"
    return openai.APIError(message, request=response.request, body=error)
