"""Keep a conversation in the chat store as it happens, so nothing is lost.

The user's message is committed before its request goes out; a streaming reply is written as it
grows (the controller calls :meth:`ChatRecorder.save_reply` at least once a second) and at the end.
A failing disk never costs the chat in memory: the recorder returns a message for the user instead
of raising.
"""

from __future__ import annotations

import sqlite3
import threading
from types import MappingProxyType
from typing import Callable

from chatbot_gui.core.conversation import Conversation, Message, Status
from chatbot_gui.core.persona_store import PersonaLibrary
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.store import ChatStore, DeletedMessage, StoredChat, parent_map
from chatbot_gui.core.usage import ReplyUsage

SAVE_FAILED = "This chat could not be saved ({reason}). It stays open here; nothing is lost until you quit."


class ChatRecorder:
    """Writes :class:`Conversation` changes to a :class:`ChatStore` (or nowhere, when it is None)."""

    def __init__(self, store: ChatStore | None) -> None:
        self.store = store
        #: Called with (chat_id) after a write that changes the chat's place in the list.
        self.on_chat_changed: Callable[[int], None] = lambda chat_id: None
        self._writer: ChatStore | None = None
        self._writer_lock = threading.Lock()
        self._closed = False  # write_meta does nothing after close()

    def update_in_background(self, db_id: int, content: str, status: Status,
                             model: str | None = None, usage: ReplyUsage | None = None,
                             reasoning_seconds: float | None = None) -> str | None:
        """Rewrite a saved reply's text and status from a worker thread (the streaming saves and the
        final one, whose search indexing takes ~10-20 ms for a long reply). One write at a time, on
        a second connection; returns a message for the user when it failed."""
        if self.store is None:
            return None
        with self._writer_lock:
            try:
                if self._writer is None:
                    self._writer = ChatStore.attach(self.store.path)
                self._writer.update_message(db_id, content, status, model=model, usage=usage,
                                            reasoning_seconds=reasoning_seconds)
            except (sqlite3.Error, OSError, UnicodeError) as exc:
                return SAVE_FAILED.format(reason=str(exc) or type(exc).__name__)
        return None

    def write_meta(self, key: str, value: str | None) -> None:
        """Store a small value (:meth:`ChatStore.set_meta`) from a worker thread, on the background
        writer's connection. Raises ``sqlite3.Error`` / ``OSError``; nothing after :meth:`close`."""
        if self.store is None:
            return
        with self._writer_lock:
            if self._closed:
                return
            if self._writer is None:
                self._writer = ChatStore.attach(self.store.path)
            self._writer.set_meta(key, value)

    def close(self) -> None:
        """Close the background writer's connection (the store itself is closed by its owner)."""
        with self._writer_lock:
            self._closed = True
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _guard(self, write: Callable[[ChatStore], None]) -> str | None:
        if self.store is None:
            return None
        try:
            write(self.store)
        except (sqlite3.Error, OSError, KeyError, UnicodeError) as exc:
            return SAVE_FAILED.format(reason=str(exc) or type(exc).__name__)
        return None

    @staticmethod
    def _parent_row(conv: Conversation, msg: Message) -> int | None:
        """The store row of the message ``msg`` follows (None: the chat's start).

        A parent that was never saved (an empty reply, a failed write) is skipped: its own parent
        is used, so the saved chat stays a connected tree."""
        parent = conv.find(msg.parent) if msg.parent is not None else None
        while parent is not None and parent.db_id is None:
            parent = conv.find(parent.parent) if parent.parent is not None else None
        return None if parent is None else parent.db_id

    def save_user(self, conv: Conversation, msg: Message, model: str) -> str | None:
        """Commit the user's message (creating the chat on its first message)."""

        def write(store: ChatStore) -> None:
            if conv.chat_id is None:  # its first message: nothing saved comes before it
                extra = {"context_mode": conv.context_mode} if conv.context_mode != "fit" else None
                conv.chat_id, msg.db_id = store.start_chat(conv.title, conv.persona.name, conv.persona.system_prompt,
                                                           model, "user", msg.content, created_at=msg.created_at,
                                                           extra=extra)
            else:
                msg.db_id = store.add_message(conv.chat_id, "user", msg.content, Status.COMPLETE,
                                              created_at=msg.created_at, parent_id=self._parent_row(conv, msg))
            self.on_chat_changed(conv.chat_id)

        return self._guard(write)

    def save_notice(self, conv: Conversation, msg: Message) -> str | None:
        """Commit a notice at its place (only in a chat that is already saved)."""
        if conv.chat_id is None or msg.db_id is not None:
            return None

        def write(store: ChatStore) -> None:
            assert conv.chat_id is not None
            msg.db_id = store.add_message(conv.chat_id, msg.role, msg.content, Status.COMPLETE,
                                          created_at=msg.created_at, parent_id=self._parent_row(conv, msg))
            self.on_chat_changed(conv.chat_id)  # its last update moved: the newest-first list follows

        return self._guard(write)

    def save_reply(self, conv: Conversation, msg: Message) -> str | None:
        """Write the reply as it stands (nothing while it is still empty)."""
        if conv.chat_id is None or not msg.content:
            return None

        def write(store: ChatStore) -> None:
            assert conv.chat_id is not None
            if msg.db_id is None:
                msg.db_id = store.add_message(conv.chat_id, "assistant", msg.content, msg.status,
                                              model=msg.model, created_at=msg.created_at,
                                              parent_id=self._parent_row(conv, msg), usage=msg.usage,
                                              reasoning_seconds=msg.reasoning_seconds)
                self.on_chat_changed(conv.chat_id)
            else:
                store.update_message(msg.db_id, msg.content, msg.status, kept=msg.kept, model=msg.model,
                                     usage=msg.usage, reasoning_seconds=msg.reasoning_seconds)
                self.on_chat_changed(conv.chat_id)

        return self._guard(write)

    def save_selection(self, msg: Message) -> str | None:
        """Remember which version of a message is shown."""
        if msg.db_id is None:
            return None
        db_id = msg.db_id
        return self._guard(lambda store: store.select_message(db_id) and None)

    def delete_message(self, conv: Conversation, msg: Message) -> tuple[str | None, DeletedMessage | None]:
        """Delete ``msg`` from the store: (a message for the user if that failed, what
        :meth:`undelete_message` needs to put it back; None when it was never saved)."""
        if msg.db_id is None:
            return None, None
        db_id = msg.db_id
        deleted: list[DeletedMessage | None] = [None]

        def write(store: ChatStore) -> None:
            deleted[0] = store.delete_message(db_id)

        problem = self._guard(write)
        if problem is None and conv.chat_id is not None:
            self.on_chat_changed(conv.chat_id)
        return problem, deleted[0]

    def undelete_message(self, conv: Conversation, deleted: DeletedMessage) -> tuple[str | None, bool]:
        """Put a deleted message back (Undo): (a message for the user if the write failed, whether it
        is back; False when the saved chat changed since in a way that conflicts)."""
        back = [False]

        def write(store: ChatStore) -> None:
            back[0] = store.undelete_message(deleted)

        problem = self._guard(write)
        if back[0] and conv.chat_id is not None:
            self.on_chat_changed(conv.chat_id)
        return problem, back[0]

    def save_pin(self, msg: Message) -> str | None:
        """Remember that ``msg`` is pinned (or not)."""
        if msg.db_id is None:
            return None
        db_id, pinned = msg.db_id, msg.pinned
        return self._guard(lambda store: store.set_pinned(db_id, pinned) and None)

    def save_context_mode(self, conv: Conversation) -> str | None:
        """Remember the chat's context mode ("fit" is the default and is not stored)."""
        if conv.chat_id is None:
            return None
        chat_id, mode = conv.chat_id, conv.context_mode
        return self._guard(lambda store: store.set_chat_extra(chat_id, "context_mode",
                                                              None if mode == "fit" else mode))

    def save_persona(self, conv: Conversation) -> str | None:
        if conv.chat_id is None:
            return None
        chat_id = conv.chat_id
        return self._guard(lambda store: store.set_chat_persona(chat_id, conv.persona.name,
                                                                conv.persona.system_prompt))


def conversation_from_stored(chat: StoredChat, library: PersonaLibrary | None = None) -> Conversation:
    """The conversation a stored chat holds, with the persona and system prompt it was using."""
    persona = library.find(chat.persona_name) if library is not None else None
    if persona is None or persona.system_prompt != chat.system_prompt:
        persona = Persona(chat.persona_name or "Persona", chat.system_prompt)
    mode = chat.extra.get("context_mode")
    conv = Conversation(persona=persona, title=chat.title, chat_id=chat.id,
                        context_mode="everything" if mode == "everything" else "fit")
    from chatbot_gui.core.context import MESSAGE_OVERHEAD

    parents = parent_map(chat.messages)
    by_row: dict[int, int] = {}
    for stored in chat.messages:
        status = stored.status if stored.status is not Status.STREAMING else Status.INTERRUPTED
        msg = Message(stored.role, stored.content, status=status, kept=stored.kept,
                      model=stored.model, created_at=stored.created_at, db_id=stored.id, pinned=stored.pinned,
                      usage=stored.usage, reasoning_seconds=stored.reasoning_seconds)
        if stored.usage is not None and status is Status.COMPLETE and stored.usage.usage.completion_tokens:
            # Its exact size when sent again, as Reply counted it when it arrived: the same plan after a restart.
            u = stored.usage.usage
            msg.tokens = max(1, u.completion_tokens - u.reasoning_tokens) + MESSAGE_OVERHEAD
        parent_row = parents[stored.id]
        conv.add_loaded(msg, None if parent_row is None else by_row.get(parent_row), stored.selected)
        by_row[stored.id] = msg.id
    conv.relink()
    return conv


def stored_from_conversation(conv: Conversation, model: str | None = None) -> StoredChat:
    """A snapshot of an in-memory conversation in the store's shape (for export without a store)."""
    from chatbot_gui.core.store import StoredMessage

    shown = {m.id for m in conv.messages}
    selected = set(conv.selected.values())
    messages = tuple(
        StoredMessage(m.id, seq, m.role, m.content, m.status, m.kept, m.model, m.created_at,
                      m.parent, m.id in shown or m.id in selected, m.pinned, m.usage, m.reasoning_seconds)
        for seq, m in enumerate(conv.nodes.values(), start=1)
    )
    created = messages[0].created_at if messages else 0.0
    updated = messages[-1].created_at if messages else 0.0
    extra = {"context_mode": conv.context_mode} if conv.context_mode != "fit" else {}
    return StoredChat(conv.chat_id or 0, conv.title, created, updated, conv.persona.name,
                      conv.persona.system_prompt, model, messages, extra=MappingProxyType(extra))
