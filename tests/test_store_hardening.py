"""The chat store under damage: a broken search index is rebuilt, a failed statement keeps its own
error, deleted text is really gone from the file. Real SQLite files, damaged the way SQLite can be."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chatbot_gui.core.store import ChatStore, purge_deleted

SECRET = "pelican-7f3a-UNIQUE-marmalade"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chats.sqlite3"


def fill(store: ChatStore, chats: int = 3, messages: int = 40) -> list[int]:
    ids = []
    for c in range(chats):
        chat = store.create_chat(f"chat {c}", "p", "", None)
        for i in range(messages):
            store.add_message(chat, "user", f"ordinary zebra words, message {i} of chat {c}")
        ids.append(chat)
    return ids


def damage_search_index(path: Path) -> None:
    """Overwrite some of the FTS5 index's segment blocks, as a bad sector or a stray write would."""
    with sqlite3.connect(path) as db:
        n = db.execute("UPDATE messages_fts_data SET block = x'00ff00ff00ff' WHERE id > 10").rowcount
    assert n > 0


def test_a_damaged_index_fails_search_without_the_repair(db_path: Path) -> None:
    """The damage used below is real: plain SQLite reports it as "malformed"."""
    store, _ = ChatStore.open(db_path)
    fill(store)
    store.close()
    damage_search_index(db_path)
    with sqlite3.connect(db_path) as db, pytest.raises(sqlite3.DatabaseError, match="malformed"):
        db.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'zebra'").fetchall()


def test_a_damaged_index_is_rebuilt_on_the_first_failing_search(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    fill(store)
    store.close()
    damage_search_index(db_path)
    store, notice = ChatStore.open(db_path)  # counts still agree: found by the first search
    try:
        assert notice is None
        hits = store.search("zebra", limit=500)
        assert len(hits) == 3  # one per chat
        assert store.index_rebuilt == 1
        assert store.search("message 37 of chat 2")[0].snippet.replace("\x02", "").replace("\x03", "") \
            .startswith("ordinary zebra words, message 37 of chat 2")
        # Writes and later searches go on normally.
        store.add_message(store.create_chat("new", "p", "", None), "user", "a fresh giraffe")
        assert [h.title for h in store.search("giraffe")] == ["new"]
    finally:
        store.close()
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def test_an_index_out_of_step_with_the_tables_is_rebuilt_at_open(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    fill(store, chats=1, messages=5)
    store.close()
    with sqlite3.connect(db_path) as db:  # rows the index never saw (a tool that wrote around it)
        db.execute("DROP TRIGGER messages_ai")
        db.execute("INSERT INTO messages (chat_id, seq, role, content, status, created_at)"
                   " VALUES (1, 99, 'user', 'an unindexed okapi', 'complete', 0)")
    store, _ = ChatStore.open(db_path)
    try:
        assert store.index_rebuilt == 1
        assert [h.message_id is not None for h in store.search("okapi")] == [True]
    finally:
        store.close()


def test_a_streaming_reply_stays_out_of_a_rebuilt_index(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    chat = store.create_chat("t", "p", "", None)
    mid = store.add_message(chat, "assistant", "half a walrus", status="streaming")
    store.rebuild_search_index()
    assert store.search("walrus") == []
    store.update_message(mid, "a whole walrus", "complete")
    assert len(store.search("walrus")) == 1
    store.close()
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def test_a_failed_statement_keeps_its_own_error_not_cannot_rollback(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    chat = store.create_chat("t", "p", "", None)
    # A trigger that makes SQLite itself roll the transaction back (as a full disk or an I/O error
    # can): a second ROLLBACK then fails with "cannot rollback - no transaction is active".
    with sqlite3.connect(db_path) as other:
        other.execute("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN new.content = 'refused'"
                      " BEGIN SELECT RAISE(ROLLBACK, 'the real reason'); END")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="the real reason"):
            store.add_message(chat, "user", "refused")
        assert store.add_message(chat, "user", "accepted") > 0  # the store still works
    finally:
        store.close()


def test_a_full_disk_error_is_reported_as_such(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    chat = store.create_chat("t", "p", "", None)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")
    try:
        with pytest.raises(sqlite3.DatabaseError, match="full"):
            store.add_message(chat, "user", "x" * 200_000)
    finally:
        store.close()


def _grep(path: Path, needle: str) -> dict[str, int]:
    found = {}
    for suffix in ("", "-wal"):
        file = path.with_name(path.name + suffix)
        if file.exists():
            found[file.name] = file.read_bytes().count(needle.encode())
    return found


def _index_blocks(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as db:
        return [bytes(b) for (b,) in db.execute(
            "SELECT block FROM messages_fts_data WHERE id > 10 UNION ALL SELECT block FROM chats_fts_data"
            " WHERE id > 10 ORDER BY 1")]


def _fresh_index_blocks(path: Path) -> list[bytes]:
    copy = path.with_name("copy.sqlite3")
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        for table in ("messages_fts", "chats_fts"):
            dst.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
            dst.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    dst.close()
    return _index_blocks(copy)


def test_deleted_text_is_gone_from_the_database_file_and_wal(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    fill(store, chats=2, messages=10)
    chat = store.create_chat(f"Plans {SECRET}", "p", "", None)
    store.add_message(chat, "user", f"remember {SECRET} please")
    store.add_message(chat, "assistant", f"I will remember {SECRET}")
    assert sum(_grep(db_path, SECRET).values()) > 0
    store.delete_chat(chat)
    purge_deleted(db_path)
    try:
        assert set(_grep(db_path, SECRET).values()) <= {0}, _grep(db_path, SECRET)
        # Not even the index remembers it (its trigrams carry positions: the text could be pieced
        # together from them): it holds exactly what an index built from the remaining rows holds.
        assert _index_blocks(db_path) == _fresh_index_blocks(db_path)
        # The other chats are untouched and still found.
        assert len(store.search("zebra", limit=100)) == 2
    finally:
        store.close()


def test_a_chat_is_listed_once_when_its_title_and_messages_match(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    try:
        talk = store.create_chat("zebra talk", "p", "", None)
        store.add_message(talk, "user", "tell me about the zebra")
        best = store.add_message(talk, "assistant", "zebra zebra zebra, striped")
        other = store.create_chat("other", "p", "", None)
        store.add_message(other, "user", "a zebra again")
        title_only = store.create_chat("zebra crossing", "p", "", None)
        hits = store.search("zebra")
        assert sorted(h.chat_id for h in hits) == sorted([talk, other, title_only])
        by_chat = {h.chat_id: h for h in hits}
        assert by_chat[talk].message_id == best  # its best message, not the title
        assert by_chat[title_only].message_id is None
        # Short terms (LIKE, no index) too: the newest matching message.
        assert sorted(h.chat_id for h in store.search("ze")) == sorted([talk, other, title_only])
        assert {h.chat_id: h.message_id for h in store.search("ze")}[talk] == best
        assert len(store.search("zebra", limit=2)) == 2
    finally:
        store.close()
