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

    __slots__ = ("_pending", "_after_cr", "_started", "_type", "_data")

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the start of a line whose end has not arrived yet
        self._after_cr = False  # the last read ended with "\r": a "\n" opening the next one belongs to it
        self._started = False
        self._type = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk``, in order."""
        if not chunk:
            return []
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
        if not end:
            if chunk:  # (empty when it was just the "\n" of a "\r\n")
                self._pending.append(chunk)  # joined once its line ends: no quadratic copying
            return []
        complete = chunk[:end]
        if self._pending:
            complete = b"".join(self._pending) + complete
            self._pending.clear()
        if end < len(chunk):
            self._pending.append(chunk[end:])
        else:
            self._after_cr = chunk[-1] == 13  # "\r" last: its "\n" may open the next read
        text = self._decode(complete)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # "": the text ends with a line ending
        return self._lines(lines)

    def close(self) -> Event | None:
        """End of input. The event left open (no blank line after it) is not dispatched; it is
        returned, so a caller may look at it, or None when nothing was open."""
        if self._pending:
            line = self._decode(b"".join(self._pending))
            self._pending.clear()
            self._lines([line])
        tail = Event(self._type, "\n".join(self._data)) if self._data else None
        self._type, self._data = "", []
        return tail

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
        for line in lines:
            if not line:  # a blank line: dispatch
                if data:
                    events.append(Event(self._type, "\n".join(data)))
                    data = self._data = []
                self._type = ""
            elif line[0] == ":":
                continue  # a comment (keep-alives, OpenRouter's ": OPENROUTER PROCESSING")
            elif line.startswith("data:"):  # the common case first
                data.append(line[6:] if line[5:6] == " " else line[5:])
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

    __slots__ = ("_decoder", "done", "finish_reason", "chunks", "reasoning_chars", "usage")

    def __init__(self) -> None:
        self._decoder = EventDecoder()
        self.done = False
        self.finish_reason: str | None = None
        self.chunks = 0
        self.reasoning_chars = 0
        self.usage: dict[str, Any] | None = None  # the last ``usage`` object a chunk carried

    def feed(self, data: bytes) -> Iterator[str]:
        """The pieces of reply text in ``data`` (non-empty strings), as they come.

        Raises :class:`InBandError` for an error event, ``ValueError`` (``json.JSONDecodeError``) for
        a data line that is not JSON, or not a JSON object. Text before the failing event is
        yielded first. Nothing after ``[DONE]`` is read.
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
                raise InBandError(data.strip()) from None
            raise
        if not isinstance(payload, dict):
            raise ValueError(f"a stream event is JSON but not an object ({type(payload).__name__})")
        error = payload.get("error")
        if error or event.type == "error":
            raise InBandError(error or payload)
        self.chunks += 1
        usage = payload.get("usage")
        if usage and isinstance(usage, dict):  # include_usage's last chunk (vLLM: on every chunk)
            self.usage = usage
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
        text = delta.get("content") or delta.get("refusal")
        if isinstance(text, str):
            return text
        return _text_parts(text)


def _text_parts(content: Any) -> str:
    """The text of a content given as a list of parts (``[{"type": "text", "text": ...}]``; Mistral
    streams its reasoning models' content that way). Other kinds of parts are not reply text."""
    if not isinstance(content, list):
        return ""
    return "".join(part["text"] for part in content
                   if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str))
