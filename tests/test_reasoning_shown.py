"""How long a reply's reasoning took ("Thought for 3 s") is kept: in the store (schema 6) and in a
JSON export."""

from __future__ import annotations

import sqlite3
from contextlib import closing


def test_a_version_5_file_is_backed_up_and_its_replies_keep_their_reasoning_time_after(tmp_path):
    from chatbot_gui.core.store import MIGRATIONS, SCHEMA_VERSION, ChatStore

    path = tmp_path / "chats.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        for script in MIGRATIONS[:5]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 5")
        db.execute("INSERT INTO chats (id, title, created_at, updated_at) VALUES (7, 'Five', 1.0, 2.0)")
        db.execute("INSERT INTO messages (id, chat_id, seq, role, content, status, created_at, updated_at,"
                   " parent_id, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, usage_priced)"
                   " VALUES (70, 7, 1, 'assistant', '<think>hm</think>ok', 'complete', 1.0, 1.0, 0, 3, 4, 0, 2, 0)")
        db.commit()
    store, notice = ChatStore.open(path)
    try:
        assert notice is None
        (old,) = store.load_chat(7).messages
        assert (old.content, old.usage.usage.reasoning_tokens, old.reasoning_seconds) == ("<think>hm</think>ok", 2, None)
        new = store.add_message(7, "assistant", "<think>a</think>b", reasoning_seconds=2.5)
        store.update_message(new, "<think>a</think>bc", "complete")  # (a later save keeps it)
        assert store.load_chat(7).messages[-1].reasoning_seconds == 2.5
    finally:
        store.close()
    (backup,) = tmp_path.glob("chats.sqlite3.bak-v5-*")
    with closing(sqlite3.connect(backup)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (5,)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_the_reasoning_time_survives_a_json_export_and_import(tmp_path):
    import json

    from chatbot_gui.core.export import from_json, to_json
    from chatbot_gui.core.store import ChatStore

    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        chat_id, _ = store.start_chat("T", "P", "", None, "user", "why?")
        store.add_message(chat_id, "assistant", "<think>so</think>because", reasoning_seconds=4.2)
        text = to_json(store.load_chat(chat_id))
        assert [m.get("reasoning_seconds") for m in json.loads(text)["messages"]] == [None, 4.2]
        again = store.load_chat(store.import_chat(from_json(text)))
        assert [m.reasoning_seconds for m in again.messages] == [None, 4.2]
        # A file with something else there is still read (it is only shown).
        data = json.loads(text)
        data["messages"][1]["reasoning_seconds"] = "long"
        assert from_json(json.dumps(data)).messages[1].reasoning_seconds is None
    finally:
        store.close()
