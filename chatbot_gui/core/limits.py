"""How much of a server's answer the app will hold, and for how long it will listen.

A real reply is at most a few MB of text, and a real stream ends. A broken or hostile server may send
a line that never ends, a body far larger than any reply, a small compressed body that inflates a
thousandfold, or a byte every minute forever. Every read of a response body goes through these caps
(:func:`chatbot_gui.core.streaming.make_client` installs them), and the streaming loop stops with a
clear error when one is reached, keeping the text that arrived.

Qt-free and SDK-free.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps on one response. The defaults are far above any real reply (a 100,000-token answer is
    ~0.4 M characters of text and ~25 MB of event stream) and far below what would hurt the app
    (the transcript lays out ~1 M characters a second)."""

    #: Reply text kept from one streamed answer (characters).
    max_reply_chars: int = 4 * MB
    #: One event-stream line or event (a real chunk is well under 10 KB).
    max_event_bytes: int = 4 * MB
    #: A streamed (``text/event-stream``) body, counted after decompression.
    max_stream_bytes: int = 512 * MB
    #: A body read whole: a non-streamed completion, a model list (bytes after decompression).
    max_document_bytes: int = 32 * MB
    #: An error body (status 4xx/5xx): servers send a few hundred bytes.
    max_error_bytes: int = 1 * MB
    #: Total time from the response's headers to its end (a reasoning model may think for many
    #: minutes; a server that drips a byte now and then must still end).
    max_seconds: float = 3600.0


DEFAULT_LIMITS = Limits()


class LimitExceeded(Exception):
    """A response went past one of the :class:`Limits`, or came in a form the app refuses to read.

    ``str(exc)`` is a sentence for the user; ``kind`` is the ``ErrorInfo.kind`` it becomes
    ("too_large", or "garbage" for a body compressed in a way the app does not read)."""

    def __init__(self, message: str, kind: str = "too_large") -> None:
        super().__init__(message)
        self.kind = kind


def size_text(n: int) -> str:
    """``n`` bytes or characters the way the user reads it ("8 MB", "512 KB")."""
    if n >= MB:
        return f"{n / MB:g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} bytes"


def duration_text(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} second" + ("" if seconds == 1 else "s")
