"""Read a streamed Chat Completions reply: response bytes -> server-sent events -> reply text.

Qt-free and SDK-free, so it is cheap: the openai SDK builds a pydantic ``ChatCompletionChunk`` (and runs
a couple of dozen import statements) for every chunk, which on a fast stream kept the worker thread
holding the GIL ~94% of the time and starved the GUI thread. Here a chunk costs one ``json.loads`` and
a few dictionary look-ups.

:class:`EventDecoder` follows the WHATWG rules for ``text/event-stream``
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end with ``\\n``, ``\\r\\n`` or ``\\r``; ``data:`` lines are joined with ``\\n``; one space after
the colon is dropped; a line starting with ``:`` is a comment; a blank line dispatches the event;
a field name is everything before the first colon (so `` data: x`` is a field called " data", ignored).
An event still open at the end of the input is not dispatched.

:class:`ReplyReader` reads the Chat Completions chunks in those events.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, NamedTuple

from chatbot_gui.core.limits import LimitExceeded, size_text
from chatbot_gui.core.unicode import clean_text


class Event(NamedTuple):
    """One dispatched event. ``type`` is the ``event:`` field, "" when the server sent none."""

    type: str
    data: str


class EventDecoder:
    """Incremental event-stream decoder: :meth:`feed` it bytes as they arrive, in any pieces.

    Bytes are decoded as UTF-8 with replacement characters for invalid sequences (as the standard
    says); a character split between two reads is decoded whole, because only complete lines are
    decoded and a line ending is never part of a multi-byte character.
    """

    __slots__ = ("_pending", "_pending_len", "_after_cr", "_started", "_type", "_data", "_data_len",
                 "max_event_bytes", "_failed")

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._pending: list[bytes] = []  # the start of a line whose end has not arrived yet
        self._pending_len = 0
        self._after_cr = False  # the last read ended with "\r": a "\n" opening the next one belongs to it
        self._started = False
        self._type = ""
        self._data: list[str] = []
        self._data_len = 0
        #: A line, or an event's data, longer than this raises :class:`LimitExceeded` (None: no cap).
        self.max_event_bytes = max_event_bytes
        self._failed: LimitExceeded | None = None  # raised by the next call, after the events before it

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk``, in order.

        Raises :class:`~.limits.LimitExceeded` once a line or an event's data grows past
        ``max_event_bytes``; events completed before that point are returned first (the error then
        comes with the next call)."""
        if self._failed is not None:
            raise self._failed
        if not chunk:
            return []
        if (chunk[:6] == b"data: " and chunk[-2:] == b"\n\n" and chunk.count(b"\n") == 2 and b"\r" not in chunk
                and self._started and not self._pending and not self._data and not self._type
                and not self._after_cr and (self.max_event_bytes is None or len(chunk) <= self.max_event_bytes)):
            # The common case, one whole "data: …" event in one read (servers send one HTTP chunk per
            # event): what the general path below makes of it, with a fraction of the Python per chunk.
            return [Event("", chunk[6:-2].decode("utf-8", "replace"))]
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
        if not end:
            if chunk:  # (empty when it was just the "\n" of a "\r\n")
                self._pending.append(chunk)  # joined once its line ends: no quadratic copying
                self._pending_len += len(chunk)
                try:
                    self._check(self._pending_len)
                except LimitExceeded as exc:
                    return self._fail(exc, [])
            return []
        complete = chunk[:end]
        if self._pending:
            complete = b"".join(self._pending) + complete
            self._pending.clear()
            self._pending_len = 0
        if end < len(chunk):
            self._pending.append(chunk[end:])
            self._pending_len = len(chunk) - end
        else:
            self._after_cr = chunk[-1] == 13  # "\r" last: its "\n" may open the next read
        text = self._decode(complete)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # "": the text ends with a line ending
        events = self._lines(lines)
        if self._pending_len:
            try:
                self._check(self._pending_len)
            except LimitExceeded as exc:
                return self._fail(exc, events)
        return events

    def close(self) -> Event | None:
        """End of input. The event left open (no blank line after it) is not dispatched; it is
        returned, so a caller may look at it, or None when nothing was open."""
        if self._failed is not None:
            raise self._failed
        if self._pending:
            line = self._decode(b"".join(self._pending))
            self._pending.clear()
            self._pending_len = 0
            self._lines([line])
            if self._failed is not None:
                raise self._failed
        tail = Event(self._type, "\n".join(self._data)) if self._data else None
        self._type, self._data, self._data_len = "", [], 0
        return tail

    def _fail(self, exc: LimitExceeded, events: list[Event]) -> list[Event]:
        """Give up on the stream: drop what is buffered, raise now or (with events to hand out first)
        on the next call."""
        self._pending.clear()
        self._pending_len = 0
        self._data = []
        self._data_len = 0
        self._failed = exc
        if not events:
            raise exc
        return events

    def _check(self, size: int) -> None:
        if self.max_event_bytes is not None and size > self.max_event_bytes:
            raise LimitExceeded(f"The server sent a line or event larger than {size_text(self.max_event_bytes)} "
                                "(a real one is a few KB).")

    def _decode(self, data: bytes) -> str:
        text = data.decode("utf-8", "replace")
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):  # a byte order mark at the very start is skipped
                text = text[1:]
        return text

    def _lines(self, lines: list[str]) -> list[Event]:
        events: list[Event] = []
        data = self._data
        cap = self.max_event_bytes
        for line in lines:
            if not line:  # a blank line: dispatch
                if data:
                    events.append(Event(self._type, "\n".join(data)))
                    data = self._data = []
                    self._data_len = 0
                self._type = ""
            elif line[0] == ":":
                continue  # a comment (keep-alives, OpenRouter's ": OPENROUTER PROCESSING")
            elif line.startswith("data:"):  # the common case first
                data.append(line[6:] if line[5:6] == " " else line[5:])
                if cap is not None:  # many data lines and no blank line: one event without an end
                    self._data_len += len(line)
                    if self._data_len > cap:
                        try:
                            self._check(self._data_len)
                        except LimitExceeded as exc:
                            return self._fail(exc, events)
            else:
                name, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    data.append(value)  # "data" with no colon: an empty data line
                elif name == "event":
                    self._type = value
                # "id", "retry" and unknown fields are ignored: nothing here reconnects.
        return events


class InBandError(Exception):
    """An error the server reported inside a 200 stream (``event: error`` or an ``"error"`` object).

    ``body`` is the error as the server sent it: usually a dict with a ``message``, sometimes a string.
    """

    def __init__(self, body: Any) -> None:
        super().__init__("the server reported an error in the stream")
        self.body = body


class ReplyReader:
    """The reply text in a streamed Chat Completions response, one network read at a time.

    After :meth:`feed` and :meth:`close`: ``done`` tells whether ``data: [DONE]`` was seen,
    ``finish_reason`` is the last one a chunk gave, ``chunks`` counts the chunks read (``[DONE]`` and
    empty events not included), ``reasoning_chars`` counts ``reasoning_content`` / ``reasoning`` text
    (DeepSeek, Ollama, OpenRouter, vLLM), which is not part of the reply; ``usage`` is the last
    ``usage`` object a chunk carried (``stream_options.include_usage``), or None.

    Tolerated as normal: ``choices: []`` (usage chunks, Azure's prompt-filter chunk), a missing
    ``delta``, ``null`` content, unknown fields.
    """

    __slots__ = ("_decoder", "done", "finish_reason", "chunks", "reasoning_chars", "model", "other_output",
                 "usage", "keep_reasoning", "_in_think")

    def __init__(self, max_event_bytes: int | None = None, keep_reasoning: bool = False) -> None:
        self._decoder = EventDecoder(max_event_bytes)
        #: Yield the reasoning too, in band, as a leading ``<think>…</think>`` block (the form
        #: DeepSeek-R1 and Qwen use in ``content``), so it is kept with the reply; it is taken out
        #: again before the reply is ever sent back (``ChatRequest.as_openai_messages``).
        self.keep_reasoning = keep_reasoning
        self._in_think = False
        self.done = False
        self.finish_reason: str | None = None
        self.chunks = 0
        self.reasoning_chars = 0
        self.usage: dict[str, Any] | None = None  # the last ``usage`` object a chunk carried
        #: The model the server says answered (the chunks' ``model`` field; a router or an alias may
        #: name another than the one requested), or None when no chunk named one.
        self.model: str | None = None
        #: Whether a chunk carried output that is not text (``tool_calls``, ``function_call``, ``audio``).
        self.other_output = False

    @property
    def thinking(self) -> bool:
        """Whether the reasoning block kept in band is still open (no reply text after it yet)."""
        return self._in_think

    def feed(self, data: bytes) -> Iterator[str]:
        """The pieces of reply text in ``data`` (non-empty strings), as they come.

        Raises :class:`InBandError` for an error event, ``ValueError`` (``json.JSONDecodeError``) for
        a data line that is not JSON, or not a JSON object, :class:`~.limits.LimitExceeded` for a line
        or event beyond the cap. Text before the failing event is yielded first. Nothing after
        ``[DONE]`` is read. Lone surrogates in the text come out as U+FFFD.
        """
        if self.done:
            return
        for event in self._decoder.feed(data):
            if event.data.startswith("[DONE]"):
                self.done = True
                return
            text = self._chunk(event)
            if text:
                yield text

    def close(self) -> None:
        """The end of the body. A last ``data: [DONE]`` without its blank line (llama.cpp's server
        ends that way) still counts as the end marker; any other unfinished event is dropped."""
        tail = self._decoder.close()
        if tail is not None and tail.data.startswith("[DONE]"):
            self.done = True

    def _chunk(self, event: Event) -> str:
        data = event.data
        if not data or data.isspace():
            return ""  # an empty event carries nothing
        try:
            payload = json.loads(data)
        except ValueError:
            if event.type == "error":
                raise InBandError(data.strip()[:4000]) from None
            raise
        except RecursionError:  # "[[[[…": JSON nested deeper than the decoder goes
            raise ValueError("a stream event is JSON nested too deeply to read") from None
        if not isinstance(payload, dict):
            raise ValueError(f"a stream event is JSON but not an object ({type(payload).__name__})")
        error = payload.get("error")
        if error or event.type == "error":
            raise InBandError(error or payload)
        self.chunks += 1
        usage = payload.get("usage")
        if usage and isinstance(usage, dict):  # include_usage's last chunk (vLLM: on every chunk)
            self.usage = usage
        if self.model is None:
            model = payload.get("model")
            if isinstance(model, str) and model.strip():
                self.model = clean_text(model.strip())[:200]
        choices = payload.get("choices")
        if not choices or not isinstance(choices, list):
            return ""
        choice = choices[0]
        if not isinstance(choice, dict):
            return ""
        finish = choice.get("finish_reason")
        if finish and isinstance(finish, str):
            self.finish_reason = finish
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return ""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str):
            self.reasoning_chars += len(reasoning)
            if self.keep_reasoning and reasoning:
                opened = "" if self._in_think else "<think>\n"
                self._in_think = True
                return opened + clean_text(reasoning)
        text = delta.get("content")
        if self._in_think and text and isinstance(text, str):
            self._in_think = False
            return "\n</think>\n\n" + (text if text.isascii() else clean_text(text))
        if text and isinstance(text, str):  # the common case: no more look-ups
            return text if text.isascii() else clean_text(text)
        if not self.other_output and (delta.get("tool_calls") or delta.get("function_call") or delta.get("audio")):
            self.other_output = True
        text = text or delta.get("refusal")
        if isinstance(text, str):
            return clean_text(text)
        return clean_text(text_parts(text))


def text_parts(content: Any) -> str:
    """The text of a content given as a list of parts (``[{"type": "text", "text": ...}]``; Mistral
    streams its reasoning models' content that way). Other kinds of parts are not reply text."""
    if not isinstance(content, list):
        return ""
    return "".join(part["text"] for part in content
                   if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str))
