"""Versions, branches and notices in the chat store: migration from schema 2, round trips, export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chatbot_gui.core.conversation import Conversation, Status
from chatbot_gui.core.export import from_json, to_json, to_markdown, to_text
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.recorder import ChatRecorder, conversation_from_stored, stored_from_conversation
from chatbot_gui.core.store import MIGRATIONS, SCHEMA_VERSION, ChatStore, active_path


def _v2_file(path: Path) -> None:
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO chats (id, title, created_at, updated_at) VALUES (3, 'Old', 1.0, 4.0)")
    for i, (role, text) in enumerate([("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]):
        db.execute("INSERT INTO messages (id, chat_id, seq, role, content, status, created_at, updated_at)"
                   " VALUES (?, 3, ?, ?, ?, 'complete', ?, ?)", (30 + i, i + 1, role, text, 1.0 + i, 1.0 + i))
    db.commit()
    db.close()


def test_schema_2_is_backed_up_and_becomes_one_line_of_messages(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    _v2_file(path)
    store, notice = ChatStore.open(path)
    try:
        assert notice is None
        chat = store.load_chat(3)
        assert [(m.id, m.parent_id, m.selected) for m in chat.messages] == [
            (30, None, True), (31, 30, True), (32, 31, True), (33, 32, True)]
        assert [m.content for m in active_path(chat.messages)] == ["q1", "a1", "q2", "a2"]
    finally:
        store.close()
    (backup,) = tmp_path.glob("chats.sqlite3.bak-v2-*")
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def _branchy_conversation(store: ChatStore) -> Conversation:
    """q1 → a1 (regenerated: a1' shown), notice, q2 edited into q2' (→ a2'), the old q2 → a2 kept."""
    rec = ChatRecorder(store)
    conv = Conversation(persona=Persona("P", "Be brief."))

    def reply(text: str) -> None:
        msg = conv.start_reply("m")
        msg.content, msg.status = text, Status.COMPLETE
        assert rec.save_reply(conv, msg) is None

    rec.save_user(conv, conv.add_user("q1"), "m")
    reply("a1")
    regen = conv.regenerate(conv.messages[-1].id, "m")
    regen.content, regen.status = "a1 again", Status.COMPLETE
    rec.save_reply(conv, regen)
    rec.save_notice(conv, conv.add_notice("Persona: Sarcastic assistant"))
    rec.save_user(conv, conv.add_user("q2"), "m")
    reply("a2")
    q2 = conv.messages[-2]
    rec.save_user(conv, conv.edit(q2.id, "q2 edited"), "m")
    reply("a2 for the edit")
    return conv


def test_versions_branches_and_notices_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    store, _ = ChatStore.open(path)
    conv = _branchy_conversation(store)
    shown = [m.content for m in conv.messages]
    store.close()

    store, _ = ChatStore.open(path)
    try:
        again = conversation_from_stored(store.load_chat(conv.chat_id))
        assert [m.content for m in again.messages] == shown == [
            "q1", "a1 again", "Persona: Sarcastic assistant", "q2 edited", "a2 for the edit"]
        assert again.messages[2].role == "notice"
        assert again.version_of(again.messages[1].id) == (2, 2)
        assert again.version_of(again.messages[3].id) == (2, 2)
        old_q2 = again.switch_version(again.messages[3].id, -1)
        assert [m.content for m in again.messages][-2:] == ["q2", "a2"]
        # the choice of version is saved too
        ChatRecorder(store).save_selection(old_q2)
        third = conversation_from_stored(store.load_chat(conv.chat_id))
        assert [m.content for m in third.messages][-2:] == ["q2", "a2"]
        # what is sent: the notice never; the shown branch only
        assert third.context() == [("system", "Be brief."), ("user", "q1"), ("assistant", "a1 again"),
                                   ("user", "q2"), ("assistant", "a2")]
    finally:
        store.close()


def test_json_round_trip_and_import_keep_every_version(tmp_path: Path) -> None:
    store, _ = ChatStore.open(tmp_path / "a.sqlite3")
    conv = _branchy_conversation(store)
    exported = to_json(store.load_chat(conv.chat_id))
    store.close()
    other, _ = ChatStore.open(tmp_path / "b.sqlite3")
    try:
        new_id = other.import_chat(from_json(exported))
        back = conversation_from_stored(other.load_chat(new_id))
        assert [m.content for m in back.messages] == [m.content for m in conv.messages]
        assert sorted(m.content for m in back.nodes.values()) == sorted(m.content for m in conv.nodes.values())
        assert to_json(other.load_chat(new_id)).split('"messages"')[1] == exported.split('"messages"')[1]
    finally:
        other.close()
    # an unsaved chat exports its versions too
    assert "a2 for the edit" in to_json(stored_from_conversation(conv))
    assert '"parent": 1' in to_json(stored_from_conversation(conv))


def test_text_and_markdown_show_each_other_version_after_the_one_shown(tmp_path: Path) -> None:
    store, _ = ChatStore.open(tmp_path / "a.sqlite3")
    try:
        chat = store.load_chat(_branchy_conversation(store).chat_id)
    finally:
        store.close()
    text = to_text(chat)
    order = ["\na1 again", "\na1\n", "Persona: Sarcastic assistant", "\nq2 edited", "\nq2\n", "\na2\n"]
    positions = [text.index(piece) for piece in order]
    assert positions == sorted(positions), text
    assert "version 2 of 2" in text and "other version 1 of 2" in text
    md = to_markdown(chat)
    assert "other version 1 of 2" in md and "a2 for the edit" in md and "a1 again" in md


def test_text_and_markdown_tell_a_branchs_replies_from_the_conversation_shown(tmp_path: Path) -> None:
    """Seen (QA): after "You · other version 1 of 2", that version's reply and the shown version's
    next reply had the same plain headings: a reader could not tell which answered which."""
    store, _ = ChatStore.open(tmp_path / "a.sqlite3")
    try:
        chat = store.load_chat(_branchy_conversation(store).chat_id)
    finally:
        store.close()
    for export, heading_of in ((to_text, lambda text, body: text.split(f"\n{body}\n")[0].rsplit("\n", 1)[-1]),
                               (to_markdown, lambda text, body: text.split(f"\n\n{body}\n")[0].rsplit("\n", 1)[-1])):
        text = export(chat)
        assert "branch of other version 1 of 2" in heading_of(text, "a2"), text
        assert "branch" not in heading_of(text, "a2 for the edit"), text
        assert "branch" not in heading_of(text, "q2 edited") and "branch" not in heading_of(text, "a1 again")


def test_the_exports_header_says_its_persona_is_the_latest_when_it_changed_in_the_chat(tmp_path: Path) -> None:
    """Seen: after a mid-chat persona change, the export's header named only the new persona and its
    system prompt, as if it had answered every turn (the notice below said it changed)."""
    store, _ = ChatStore.open(tmp_path / "a.sqlite3")
    try:
        changed = store.load_chat(_branchy_conversation(store).chat_id)  # has "Persona: Sarcastic assistant"
        rec = ChatRecorder(store)
        plain = Conversation(persona=Persona("P", "Be brief."))
        rec.save_user(plain, plain.add_user("q"), "m")
        unchanged = store.load_chat(plain.chat_id)
    finally:
        store.close()
    latest = "Persona: P (the chat's latest; where it changed is noted below)"
    assert latest in to_text(changed).splitlines()
    assert "- **Persona:** P (the chat's latest; where it changed is noted below)" in to_markdown(changed)
    assert "Persona: P" in to_text(unchanged).splitlines() and "latest" not in to_text(unchanged)


def test_delete_message_joins_what_followed_to_what_came_before(tmp_path: Path) -> None:
    store, _ = ChatStore.open(tmp_path / "a.sqlite3")
    try:
        chat_id = store.create_chat("t", "", "", None)
        ids = [store.add_message(chat_id, role, text) for role, text in
               [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]]
        assert store.delete_message(ids[1])
        assert [m.content for m in active_path(store.load_chat(chat_id).messages)] == ["q1", "q2", "a2"]
        assert store.delete_message(ids[3])
        assert [m.content for m in active_path(store.load_chat(chat_id).messages)] == ["q1", "q2"]
        assert not store.delete_message(ids[3])
        assert store.summary(chat_id).message_count == 2
    finally:
        store.close()


def test_a_deleted_message_comes_back_with_its_id_place_versions_and_search(tmp_path: Path) -> None:
    """Undo of a delete: every message of a chat with versions, branches and a notice, deleted and
    put back, leaves the chat's rows, its count and its search results exactly as before."""
    store, _ = ChatStore.open(tmp_path / "a.sqlite3")
    try:
        conv = _branchy_conversation(store)
        chat_id = conv.chat_id

        def rows() -> list[tuple]:
            return store._db.execute("SELECT * FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)).fetchall()

        before, count = rows(), store.summary(chat_id).message_count
        for message_id, *_ in before:
            content = next(r for r in before if r[0] == message_id)
            deleted = store.delete_message(message_id)
            assert deleted is not None and len(rows()) == len(before) - 1
            assert store.undelete_message(deleted)
            assert rows() == before, content
            assert store.summary(chat_id).message_count == count
        assert {h.message_id for h in store.search("a1 again")} == {r[0] for r in before if "a1 again" in r}
        # A change that conflicts (its child deleted too): nothing is put back, nothing changes.
        a2 = next(m for m in conv.nodes.values() if m.content == "a2")
        q2 = conv.find(a2.parent)
        first = store.delete_message(q2.db_id)
        assert store.delete_message(a2.db_id) is not None
        after = rows()
        assert first is not None and not store.undelete_message(first)
        assert rows() == after
    finally:
        store.close()


def test_rows_written_without_a_parent_follow_the_row_before_them(tmp_path: Path) -> None:
    """Another tool (or a bulk import) may insert rows knowing nothing of versions."""
    path = tmp_path / "chats.sqlite3"
    store, _ = ChatStore.open(path)
    try:
        chat_id = store.create_chat("t", "", "", None)
        first = store.add_message(chat_id, "user", "q1")
        with sqlite3.connect(path) as db:
            db.executemany("INSERT INTO messages (chat_id, seq, role, content, status, created_at, updated_at)"
                           " VALUES (?, ?, ?, ?, 'complete', 1.0, 1.0)",
                           [(chat_id, 2, "assistant", "a1"), (chat_id, 3, "user", "q2")])
        chat = store.load_chat(chat_id)
        assert [m.content for m in active_path(chat.messages)] == ["q1", "a1", "q2"]
        assert [m.content for m in conversation_from_stored(chat).messages] == ["q1", "a1", "q2"]
        assert chat.messages[0].id == first and chat.messages[0].parent_id is None
    finally:
        store.close()
