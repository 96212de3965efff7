"""The conversation: the original script's ``messages`` list, grown into a small model.

A conversation holds the user's and the assistant's turns in order. What is sent to the server is
built from it on each request: the persona's system prompt (when it is not empty), then every turn
that counts as context.

Decision (documented in the README): a reply that was stopped by the user or interrupted by an
error stays on screen, marked, but is *not* sent back to the model as if it were a complete answer,
unless the user keeps it (``Message.kept``). Error text is never a message at all: it lives only in
the transcript view.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from enum import Enum

from chatbot_gui.core.personas import BUILTIN_PERSONAS, DEFAULT_MODEL, Persona


class Status(str, Enum):
    """Where a message stands."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"  # the user pressed Stop
    INTERRUPTED = "interrupted"  # an error or a dropped connection ended it


_ids = itertools.count(1)


@dataclass
class Message:
    """One turn. Lives on the GUI thread; the worker only ever sees a :class:`ChatRequest`."""

    role: str  # "user" or "assistant"
    content: str
    status: Status = Status.COMPLETE
    kept: bool = False
    model: str | None = None
    created_at: float = field(default_factory=time.time)
    id: int = field(default_factory=lambda: next(_ids))
    db_id: int | None = None  # the row in the chat store, once saved

    @property
    def in_context(self) -> bool:
        """Whether this turn is sent to the model with later requests."""
        if self.role == "assistant" and not self.content:
            return False
        return self.status is Status.COMPLETE or self.kept


@dataclass(frozen=True)
class ChatRequest:
    """An immutable snapshot of one request, safe to hand to a worker thread."""

    model: str
    messages: tuple[tuple[str, str], ...]
    temperature: float | None = None
    max_tokens: int | None = None

    def as_openai_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class Conversation:
    """A chat: the persona in use and the turns so far."""

    persona: Persona = BUILTIN_PERSONAS[0]
    messages: list[Message] = field(default_factory=list)
    title: str = ""
    chat_id: int | None = None  # the chat in the store, once its first message is saved

    def add_user(self, text: str) -> Message:
        msg = Message("user", text)
        self.messages.append(msg)
        if not self.title:
            self.title = make_title(text)
        return msg

    def start_reply(self, model: str | None = None) -> Message:
        msg = Message("assistant", "", status=Status.STREAMING, model=model)
        self.messages.append(msg)
        return msg

    def find(self, message_id: int) -> Message | None:
        for msg in reversed(self.messages):
            if msg.id == message_id:
                return msg
        return None

    def context(self) -> list[tuple[str, str]]:
        """The ``messages`` list as the original script sent it: system prompt first, then turns."""
        out: list[tuple[str, str]] = []
        if self.persona.system_prompt.strip():
            out.append(("system", self.persona.system_prompt))
        out.extend((m.role, m.content) for m in self.messages if m.in_context)
        return out

    def build_request(self, model: str | None = None) -> ChatRequest:
        chosen = (model or "").strip() or self.persona.model or DEFAULT_MODEL
        return ChatRequest(
            model=chosen,
            messages=tuple(self.context()),
            temperature=self.persona.temperature,
            max_tokens=self.persona.max_tokens,
        )


def make_title(text: str, limit: int = 60) -> str:
    """A one-line title from the first user message."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"
