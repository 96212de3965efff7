"""Text that cannot be encoded as UTF-8 (a JSON-escaped lone surrogate) is stored, not refused: on
real SQLite files, from an imported JSON export and from the recorder's saves."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from chatbot_gui.core.conversation import Conversation, Status
from chatbot_gui.core.export import from_json, to_json
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.recorder import ChatRecorder
from chatbot_gui.core.store import ChatStore

EXPORT = {
    "format": "chatbot-gui.chat", "version": 1, "title": "Bad \ud83d title",
    "created_at": 1.0, "updated_at": 2.0,
    "persona": {"name": "P\udfff", "system_prompt": "Be \ud800 nice"},
    "model": "m\udc00",
    "messages": [
        {"role": "user", "content": "hi \ud800", "status": "complete", "kept": False, "model": None,
         "created_at": 1.0},
        {"role": "assistant", "content": "pair \ud83d\ude00 and lone \udc80", "status": "complete",
         "kept": False, "model": "gpt\ud800", "created_at": 2.0},
    ],
}


def test_an_imported_chat_with_lone_surrogates_is_stored_with_replacement_characters(tmp_path: Path) -> None:
    text = json.dumps(EXPORT)  # ensure_ascii: the surrogates travel as \\ud800 escapes, as in a real file
    assert "\\ud800" in text
    chat = from_json(text)
    assert chat.messages[0].content in ("hi \ud800", "hi \ufffd")  # the reader may clean it already
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        chat_id = store.import_chat(chat)
        loaded = store.load_chat(chat_id)
    finally:
        store.close()
    assert loaded.title == "Bad \ufffd title"
    assert (loaded.persona_name, loaded.system_prompt, loaded.model) == ("P\ufffd", "Be \ufffd nice", "m\ufffd")
    assert [m.content for m in loaded.messages] == ["hi \ufffd", "pair \U0001f600 and lone \ufffd"]
    assert loaded.messages[1].model == "gpt\ufffd"
    to_json(loaded).encode("utf-8")  # and it exports again
    rows = sqlite3.connect(tmp_path / "chats.sqlite3").execute("SELECT content FROM messages").fetchall()
    assert rows == [("hi \ufffd",), ("pair \U0001f600 and lone \ufffd",)]


def test_the_recorder_saves_a_reply_with_a_lone_surrogate(tmp_path: Path) -> None:
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        recorder = ChatRecorder(store)
        conv = Conversation(persona=Persona("P", ""))
        msg = conv.add_user("hi")
        assert recorder.save_user(conv, msg, "m") is None
        reply = conv.start_reply("m\udfff")
        reply.content = "half \ud800"
        assert recorder.save_reply(conv, reply) is None
        reply.content += " whole"
        reply.status = Status.COMPLETE
        reply.model = "served\udc00"
        assert recorder.save_reply(conv, reply) is None
        (user, saved) = store.load_chat(conv.chat_id).messages
    finally:
        store.close()
    assert (saved.content, saved.status, saved.model) == ("half \ufffd whole", Status.COMPLETE, "served\ufffd")
