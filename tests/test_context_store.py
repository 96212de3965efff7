"""Pins and the per-chat context mode are kept: store, restart, export and import (issue 12)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from chatbot_gui.core.conversation import Conversation, Status
from chatbot_gui.core.export import from_json, to_json
from chatbot_gui.core.recorder import ChatRecorder, conversation_from_stored, stored_from_conversation
from chatbot_gui.core.store import SCHEMA_VERSION, ChatStore


def _chat(recorder: ChatRecorder) -> Conversation:
    conv = Conversation()
    for k in range(3):
        msg = conv.add_user(f"question {k}")
        recorder.save_user(conv, msg, "m")
        reply = conv.start_reply("m")
        reply.content, reply.status = f"answer {k}", Status.COMPLETE
        recorder.save_reply(conv, reply)
    return conv


def test_pin_and_mode_survive_a_restart_and_the_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    store, _ = ChatStore.open(path)
    recorder = ChatRecorder(store)
    conv = _chat(recorder)
    pinned = conv.messages[2]
    pinned.pinned = True
    assert recorder.save_pin(pinned) is None
    conv.context_mode = "everything"
    assert recorder.save_context_mode(conv) is None
    store.close()

    store, _ = ChatStore.open(path)
    stored = store.load_chat(conv.chat_id)  # type: ignore[arg-type]
    again = conversation_from_stored(stored)
    assert [m.pinned for m in again.messages] == [False, False, True, False, False, False]
    assert again.context_mode == "everything"

    data = json.loads(to_json(stored))
    assert [m["pinned"] for m in data["messages"]] == [False, False, True, False, False, False]
    assert data["extra"] == {"context_mode": "everything"}
    imported = conversation_from_stored(store.load_chat(store.import_chat(from_json(to_json(stored)))))
    assert [m.pinned for m in imported.messages] == [m.pinned for m in again.messages]
    assert imported.context_mode == "everything"

    again.messages[2].pinned = False
    again.context_mode = "fit"
    recorder = ChatRecorder(store)
    recorder.save_pin(again.messages[2])
    recorder.save_context_mode(again)
    reloaded = conversation_from_stored(store.load_chat(conv.chat_id))  # type: ignore[arg-type]
    assert not any(m.pinned for m in reloaded.messages) and reloaded.context_mode == "fit"
    assert dict(store.load_chat(conv.chat_id).extra) == {}  # type: ignore[arg-type]
    snapshot = stored_from_conversation(again)
    assert snapshot.extra == {} and not any(m.pinned for m in snapshot.messages)
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_new_chat_in_send_everything_mode_is_created_with_it(tmp_path: Path) -> None:
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    conv = Conversation(context_mode="everything")
    ChatRecorder(store).save_user(conv, conv.add_user("hi"), "m")
    assert store.load_chat(conv.chat_id).extra == {"context_mode": "everything"}  # type: ignore[arg-type]
    store.close()
