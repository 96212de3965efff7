"""The conversation: the original script's ``messages`` list, grown into a small model.

A conversation holds the user's and the assistant's turns in order. What is sent to the server is
built from it on each request: the persona's system prompt (when it is not empty), then every turn
that counts as context.

Every message has a stable id and follows a parent (the message before it when it was written), so
the chat is a tree: a regenerated reply is a second child of the same user message (versions
"2/3"), an edited user message a second child of the message before it (the old branch is kept).
``Conversation.messages`` is the path shown, from the first message down through each message's
selected child. Notices ("Persona: …") are messages of role ``notice`` at their place in the
timeline: shown and saved, never sent.

Decision (documented in the README): a reply that was stopped by the user or interrupted by an
error stays on screen, marked, but is *not* sent back to the model as if it were a complete answer,
unless the user keeps it (``Message.kept``). Error text is never a message at all: it lives only in
the transcript view.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from enum import Enum

from chatbot_gui.core.personas import BUILTIN_PERSONAS, DEFAULT_MODEL, Persona
from chatbot_gui.core.usage import ReplyUsage


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

    role: str  # "user", "assistant" or "notice"
    content: str
    status: Status = Status.COMPLETE
    kept: bool = False
    model: str | None = None
    created_at: float = field(default_factory=time.time)
    id: int = field(default_factory=lambda: next(_ids))
    db_id: int | None = None  # the row in the chat store, once saved
    #: The id of the message this one follows (None: the first of the chat). Fixed once set.
    parent: int | None = None
    #: Always sent, however long the chat grows (issue 12: trimming never drops it).
    pinned: bool = False
    #: Its exact size in tokens when sent again, once a server has said (usage); memory only.
    tokens: int | None = None
    #: A reply's tokens as the server counted them (shown under it, added up for the chat); saved.
    usage: ReplyUsage | None = None
    #: How long a reply's reasoning (its leading <think> block) took to arrive ("Thought for 3 s"); saved.
    reasoning_seconds: float | None = None

    @property
    def in_context(self) -> bool:
        """Whether this turn is sent to the model with later requests."""
        if self.role == NOTICE:
            return False
        if self.role == "assistant" and not has_answer(self.content):
            return False  # (nothing to send: no text, or only its reasoning)
        return self.status is Status.COMPLETE or self.kept


@dataclass(frozen=True)
class ChatRequest:
    """An immutable snapshot of one request, safe to hand to a worker thread."""

    model: str
    messages: tuple[tuple[str, str], ...]
    temperature: float | None = None
    max_tokens: int | None = None

    def as_openai_messages(self) -> list[dict[str, str]]:
        # A reply's reasoning (its leading <think> block) is kept with it but never sent back.
        return [{"role": role, "content": strip_reasoning(content) if role == "assistant" else content}
                for role, content in self.messages]


_THINK = re.compile(r"\A\s*<think>.*?(?:</think>\s*|\Z)", re.DOTALL | re.IGNORECASE)


def has_answer(text: str) -> bool:
    """Whether a reply has text beside its reasoning (a leading <think> block)."""
    if "<think" in text[:64].lower():
        text = strip_reasoning(text)
    return bool(text) and not text.isspace()


def strip_reasoning(text: str) -> str:
    """``text`` without a leading ``<think>…</think>`` block (the reasoning a server streamed)."""
    if "<think" not in text[:64].lower():
        return text
    return _THINK.sub("", text, count=1)


_OPEN_TAG, _CLOSE_TAG = "<think>", "</think>"


class ThinkTags:
    """Follows a streaming reply's leading ``<think>…</think>`` block, whatever the chunk boundaries.

    :meth:`feed` takes each piece of text as it comes and returns what may be shown now: a piece
    that may be the start of a tag ("<th" at the start of the reply, "</thi" at the end of the
    reasoning) is held back until the next piece decides it, so a tag is never shown half-way as
    text, and a tag split across pieces still opens or ends the block. :meth:`flush` gives back what
    is held (the reply ended). As ``split_reasoning`` reads it: a block opens only at the start of the
    reply, after optional whitespace; case does not matter. Once the answer has begun, each piece
    costs one comparison.
    """

    START, OPEN, ANSWER = 0, 1, 2
    __slots__ = ("state", "opened", "_held")

    def __init__(self) -> None:
        self.state = ThinkTags.START
        self.opened = False  # the reply began with a <think> block (it may have ended since)
        self._held = ""

    @property
    def open(self) -> bool:
        """Whether the reply so far is its reasoning (the block opened and has not ended)."""
        return self.state == ThinkTags.OPEN

    def feed(self, text: str) -> str:
        if self.state == ThinkTags.ANSWER:
            return text
        text, self._held = self._held + text, ""
        if self.state == ThinkTags.START:
            start = len(text) - len(text.lstrip())
            head = text[start:start + len(_OPEN_TAG)].lower()
            if head == _OPEN_TAG:
                self.state, self.opened = ThinkTags.OPEN, True
                return text[:start + len(_OPEN_TAG)] + self._reasoning(text[start + len(_OPEN_TAG):])
            if _OPEN_TAG.startswith(head):  # only whitespace, or a tag's beginning, so far
                self._held = text
                return ""
            self.state = ThinkTags.ANSWER
            return text
        return self._reasoning(text)

    def _reasoning(self, text: str) -> str:
        """Text inside the open block: the block ends at ``</think>``; a possible start of it is held."""
        if _CLOSE_TAG in text.lower():
            self.state = ThinkTags.ANSWER
            return text
        lt = text.rfind("<", max(0, len(text) - len(_CLOSE_TAG) + 1))
        if lt >= 0 and _CLOSE_TAG.startswith(text[lt:].lower()):
            self._held = text[lt:]
            return text[:lt]
        return text

    def flush(self) -> str:
        """What is held back (the reply ended: it is text as it stands)."""
        held, self._held = self._held, ""
        return held


NOTICE = "notice"
#: The start of the notice put at the place where a chat's persona changed ("Persona: Pirate").
PERSONA_NOTICE = "Persona: "


def persona_notice(name: str) -> str:
    return f"{PERSONA_NOTICE}{name}"


@dataclass(frozen=True)
class ConversationLinks:
    """A chat's structure at one moment (:meth:`Conversation.links`): equal when nothing was added,
    removed or chosen differently since."""

    nodes: dict[int, Message]
    parents: dict[int, int | None]
    kids: dict[int, list[int]]
    selected: dict[int, int]

    def same_shape(self, other: ConversationLinks) -> bool:
        return (self.parents == other.parents and self.kids == other.kids and self.selected == other.selected
                and self.nodes.keys() == other.nodes.keys())

_keys = itertools.count(1)


@dataclass
class Conversation:
    """A chat: the persona in use, every message written (all versions), and the path shown.

    ``messages`` is the path shown (read it freely; change it only through the methods here)."""

    persona: Persona = BUILTIN_PERSONAS[0]
    messages: list[Message] = field(default_factory=list)
    title: str = ""
    chat_id: int | None = None  # the chat in the store, once its first message is saved
    #: Identifies this chat in memory before (and after) it has a ``chat_id``.
    key: int = field(default_factory=lambda: next(_keys))
    #: "fit" (trim to the model's window, the default) or "everything" (core/context.py).
    context_mode: str = "fit"

    def __post_init__(self) -> None:
        #: Every message by id, all versions and branches, in the order they were written.
        self.nodes: dict[int, Message] = {}
        #: parent id (0: the chat's start) -> the id of the child shown.
        self.selected: dict[int, int] = {}
        #: parent id (0: the chat's start) -> its children's ids, in the order written. An index:
        #: "2/3" for every message shown must not scan the whole chat (2,000 messages open at once).
        self._kids: dict[int, list[int]] = {}
        given, self.messages = list(self.messages), []
        for msg in given:
            self._attach(msg, self.messages[-1].id if self.messages else None)

    # -- building ------------------------------------------------------------------------------
    def _attach(self, msg: Message, parent: int | None) -> Message:
        msg.parent = parent
        self.nodes[msg.id] = msg
        self._kids.setdefault(parent or 0, []).append(msg.id)
        self.selected[parent or 0] = msg.id
        self.messages.append(msg)
        return msg

    def _tail(self) -> int | None:
        return self.messages[-1].id if self.messages else None

    def add_user(self, text: str) -> Message:
        msg = self._attach(Message("user", text), self._tail())
        if not self.title:
            self.title = make_title(text)
        return msg

    def start_reply(self, model: str | None = None) -> Message:
        return self._attach(Message("assistant", "", status=Status.STREAMING, model=model), self._tail())

    def add_notice(self, text: str) -> Message:
        """A notice at the end of the timeline (shown and saved with the chat, never sent)."""
        return self._attach(Message(NOTICE, text), self._tail())

    def add_loaded(self, msg: Message, parent: int | None, selected: bool = True) -> None:
        """Put a message read from the store in the tree (call :meth:`relink` after the last)."""
        msg.parent = parent
        self.nodes[msg.id] = msg
        self._kids.setdefault(parent or 0, []).append(msg.id)
        if selected or (parent or 0) not in self.selected:
            self.selected[parent or 0] = msg.id

    def relink(self) -> None:
        """Recompute the path shown from the selected children."""
        path: list[Message] = []
        node = self.selected.get(0)
        seen: set[int] = set()
        while node is not None and node in self.nodes and node not in seen:
            seen.add(node)
            path.append(self.nodes[node])
            node = self.selected.get(node)
        self.messages = path

    def find(self, message_id: int) -> Message | None:
        return self.nodes.get(message_id)

    def children(self, parent: int | None) -> list[Message]:
        return [self.nodes[i] for i in self._kids.get(parent or 0, ())]

    def versions(self, message_id: int) -> list[Message]:
        """The message and its alternatives (same parent, same role), oldest first."""
        msg = self.nodes.get(message_id)
        if msg is None:
            return []
        return [m for m in self.children(msg.parent) if m.role == msg.role]

    def version_of(self, message_id: int) -> tuple[int, int]:
        """(1-based position, count) of the message among its versions: "2/3"."""
        msg = self.nodes.get(message_id)
        if msg is None:
            return 0, 0
        kids = self._kids.get(msg.parent or 0, ())
        if len(kids) == 1:  # the usual case, in constant time
            return 1, 1
        ids = [m.id for m in self.versions(message_id)]
        return ids.index(message_id) + 1, len(ids)

    def select(self, message_id: int) -> bool:
        """Show ``message_id`` (one of its versions) and, below it, its own selected branch."""
        msg = self.nodes.get(message_id)
        if msg is None:
            return False
        self.selected[msg.parent or 0] = msg.id
        self.relink()
        return True

    def reveal(self, message_id: int) -> bool:
        """Show the branch that holds ``message_id`` (a search hit in a version not shown).

        Returns True when the path shown changed."""
        if message_id not in self.nodes or any(m.id == message_id for m in self.messages):
            return False
        node: Message | None = self.nodes[message_id]
        while node is not None:
            self.selected[node.parent or 0] = node.id
            node = self.nodes.get(node.parent) if node.parent is not None else None
        self.relink()
        return True

    def switch_version(self, message_id: int, step: int) -> Message | None:
        """Show the previous (-1) or next (+1) version of a message; return the one now shown."""
        versions = self.versions(message_id)
        ids = [m.id for m in versions]
        if message_id not in ids:
            return None
        target = versions[max(0, min(len(ids) - 1, ids.index(message_id) + step))]
        self.select(target.id)
        return target

    def regenerate(self, reply_id: int, model: str | None = None) -> Message | None:
        """A new version of an assistant reply: the path ends at its user message, then the new reply.

        The earlier reply stays, reachable as another version. Returns the new (streaming) reply."""
        old = self.nodes.get(reply_id)
        if old is None or old.role != "assistant" or old not in self.messages:
            return None
        return self._branch(old.parent, Message("assistant", "", status=Status.STREAMING, model=model))

    def edit(self, user_id: int, text: str) -> Message | None:
        """A new version of a user message (the old one and what followed it stay as a branch)."""
        old = self.nodes.get(user_id)
        if old is None or old.role != "user" or old not in self.messages:
            return None
        return self._branch(old.parent, Message("user", text))

    def _branch(self, parent: int | None, msg: Message) -> Message:
        cut = next((i for i, m in enumerate(self.messages) if m.id == parent), -1) + 1 if parent else 0
        del self.messages[cut:]
        return self._attach(msg, parent)

    def remove(self, message_id: int) -> Message | None:
        """Delete a message: what followed it now follows its parent. Returns the removed message."""
        msg = self.nodes.pop(message_id, None)
        if msg is None:
            return None
        orphans = self._kids.pop(msg.id, [])
        for child_id in orphans:
            self.nodes[child_id].parent = msg.parent
        siblings = self._kids.setdefault(msg.parent or 0, [])
        siblings.remove(msg.id)
        siblings.extend(orphans)
        siblings.sort()  # ids grow with time: the order written
        key = msg.parent or 0
        if self.selected.get(key) == msg.id:
            follow = self.selected.get(msg.id)
            if follow is None:
                follow = siblings[-1] if siblings else None
            if follow is None:
                self.selected.pop(key, None)
            else:
                self.selected[key] = follow
        self.selected.pop(msg.id, None)
        self.relink()
        return msg

    def links(self) -> ConversationLinks:
        """How the messages hang together now (which exist, their parents, the choices shown): what
        :meth:`restore_links` puts back, to undo a :meth:`remove`."""
        return ConversationLinks(dict(self.nodes), {i: m.parent for i, m in self.nodes.items()},
                                 {k: list(v) for k, v in self._kids.items()}, dict(self.selected))

    def restore_links(self, links: ConversationLinks) -> None:
        """Put the messages back as they hung together when ``links`` was taken."""
        self.nodes = dict(links.nodes)
        for i, parent in links.parents.items():
            self.nodes[i].parent = parent
        self._kids = {k: list(v) for k, v in links.kids.items()}
        self.selected = dict(links.selected)
        self.relink()

    def context(self) -> list[tuple[str, str]]:
        """The ``messages`` list as the original script sent it: system prompt first, then turns."""
        out: list[tuple[str, str]] = []
        if self.persona.system_prompt.strip():
            out.append(("system", self.persona.system_prompt))
        out.extend((m.role, m.content) for m in self.messages if m.in_context)
        return out

    def context_before(self, message_id: int) -> list[tuple[str, str]]:
        """The context as it stood before ``message_id`` (a reply being regenerated, retried)."""
        out: list[tuple[str, str]] = []
        if self.persona.system_prompt.strip():
            out.append(("system", self.persona.system_prompt))
        for m in self.messages:
            if m.id == message_id:
                break
            if m.in_context:
                out.append((m.role, m.content))
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
