"""ChatStore against real SQLite files: round trips, listing, search, migration, corruption, concurrency."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatbot_gui.core.conversation import Status
from chatbot_gui.core.store import (
    MARK_END,
    MARK_START,
    SCHEMA_VERSION,
    ChatStore,
    NewerSchemaError,
    StoredChat,
)

T0 = 1_714_572_000.0  # 2024-05-01 14:00 UTC


def make_clock(start: float = T0) -> Callable[[], float]:
    """A clock that moves one second per reading, so "newest" is never a tie."""
    ticks = itertools.count()
    return lambda: start + next(ticks)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chats.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[ChatStore]:
    s, notice = ChatStore.open(db_path, clock=make_clock())
    assert notice is None
    yield s
    s.close()


def reopen(path: Path) -> ChatStore:
    s, notice = ChatStore.open(path, clock=make_clock(T0 + 10_000))
    assert notice is None
    return s


def read_sql(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read the file as a third party would, through its own connection."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def assert_fts_matches_tables(path: Path) -> None:
    """FTS5's own check that both indexes hold exactly the tables' text (rank 1: compare content).

    Only valid while no message is streaming (those are deliberately not indexed yet).
    """
    for table in ("messages_fts", "chats_fts"):
        read_sql(path, f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")


# --- round trips ---------------------------------------------------------------------------------


def test_new_file_is_empty_current_and_in_wal_mode(store: ChatStore, db_path: Path) -> None:
    assert store.list_chats() == [] and store.count_chats() == 0
    assert read_sql(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert read_sql(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert list(db_path.parent.glob("*.bak-*")) == []  # nothing to back up in a new file


def test_chat_and_messages_round_trip_across_reopen(store: ChatStore, db_path: Path) -> None:
    chat_id = store.create_chat("Trip", "Helpful assistant", "You are helpful.", "gpt-4o-mini",
                                extra={"temperature": 0.5})
    user = store.add_message(chat_id, "user", "Plan a trip to Kyoto 🗾", created_at=T0 + 0.25)
    reply = store.add_message(chat_id, "assistant", "", Status.STREAMING, model="gpt-4o")
    assert store.update_message(reply, "Day 1: **Fushimi Inari**", Status.STREAMING)
    assert store.update_message(reply, "Day 1: **Fushimi Inari**\n\nDay 2", Status.STOPPED, kept=True)
    store.close()

    again = reopen(db_path)
    try:
        chat = again.load_chat(chat_id)
    finally:
        again.close()
    assert (chat.title, chat.persona_name, chat.system_prompt, chat.model) == (
        "Trip", "Helpful assistant", "You are helpful.", "gpt-4o-mini")
    assert dict(chat.extra) == {"temperature": 0.5}
    first, second = chat.messages
    assert (first.id, first.seq, first.role, first.content, first.status, first.kept, first.model,
            first.created_at) == (user, 1, "user", "Plan a trip to Kyoto 🗾", Status.COMPLETE, False,
                                  None, T0 + 0.25)
    assert (second.id, second.seq, second.role, second.content, second.status, second.kept,
            second.model) == (reply, 2, "assistant", "Day 1: **Fushimi Inari**\n\nDay 2",
                              Status.STOPPED, True, "gpt-4o")


def test_kept_is_left_alone_when_not_given(store: ChatStore) -> None:
    chat_id = store.create_chat("t", "p", "", None)
    msg = store.add_message(chat_id, "assistant", "a", Status.STOPPED)
    store.update_message(msg, "a", Status.STOPPED, kept=True)
    store.update_message(msg, "ab", Status.STOPPED)
    assert store.load_chat(chat_id).messages[0].kept is True


def test_missing_things_raise_key_error_or_return_false(store: ChatStore) -> None:
    with pytest.raises(KeyError):
        store.load_chat(999)
    with pytest.raises(KeyError):
        store.add_message(999, "user", "hello")
    with pytest.raises(KeyError):
        store.rename_chat(999, "x")
    with pytest.raises(KeyError):
        store.delete_chat(999)
    assert store.update_message(999, "late chunk", Status.STREAMING) is False


def test_list_is_newest_first_by_last_activity(store: ChatStore) -> None:
    a = store.create_chat("A", "p", "", None)
    b = store.create_chat("B", "p", "", None)
    c = store.create_chat("C", "p", "", None)
    assert [s.title for s in store.list_chats()] == ["C", "B", "A"]
    store.add_message(a, "user", "back to A")
    assert [s.title for s in store.list_chats()] == ["A", "C", "B"]
    reply = store.add_message(b, "assistant", "", Status.STREAMING)
    store.update_message(reply, "B streams", Status.STREAMING)
    assert [s.title for s in store.list_chats()] == ["B", "A", "C"]
    store.rename_chat(c, "C renamed")  # renaming is not activity
    summaries = store.list_chats()
    assert [(s.title, s.message_count) for s in summaries] == [("B", 1), ("A", 1), ("C renamed", 0)]
    assert summaries[0].updated_at > summaries[1].updated_at > summaries[2].updated_at
    assert [s.title for s in store.list_chats(limit=2)] == ["B", "A"]
    assert [s.title for s in store.list_chats(limit=2, offset=2)] == ["C renamed"]
    assert store.count_chats() == 3


def test_delete_then_restore_brings_back_the_same_chat(store: ChatStore) -> None:
    keep = store.create_chat("Keep", "p", "", None)
    chat_id = store.create_chat("Recipes", "Chef", "Cook.", "m")
    store.add_message(chat_id, "user", "pancake batter")
    store.add_message(chat_id, "assistant", "flour, eggs, milk")
    before = store.load_chat(chat_id)

    snapshot = store.delete_chat(chat_id)
    assert snapshot == before
    assert [s.id for s in store.list_chats()] == [keep]
    assert store.search("pancake") == [] and store.search("Recipes") == []
    assert read_sql(store.path, "SELECT count(*) FROM messages") == [(0,)]  # the text really left

    assert store.restore_chat(snapshot) == chat_id
    assert store.load_chat(chat_id) == before
    assert [s.id for s in store.list_chats()] == [chat_id, keep]  # back at its old place
    assert [h.message_id for h in store.search("pancake")] == [before.messages[0].id]
    # Restoring twice cannot clash: the copy gets new ids.
    copy_id = store.restore_chat(snapshot)
    assert copy_id != chat_id
    assert [m.content for m in store.load_chat(copy_id).messages] == ["pancake batter",
                                                                       "flour, eggs, milk"]


def test_import_stores_a_streaming_message_as_interrupted(store: ChatStore) -> None:
    chat_id = store.create_chat("t", "p", "", None)
    store.add_message(chat_id, "assistant", "half a rep", Status.STREAMING)
    copy = store.import_chat(store.load_chat(chat_id))
    assert copy != chat_id
    assert store.load_chat(copy).messages[0].status is Status.INTERRUPTED


def test_meta_values_persist(store: ChatStore, db_path: Path) -> None:
    assert store.get_meta("last_chat") is None and store.get_meta("last_chat", "x") == "x"
    store.set_meta("last_chat", "42")
    store.set_meta("last_chat", "43")
    store.close()
    again = reopen(db_path)
    try:
        assert again.get_meta("last_chat") == "43"
        again.set_meta("last_chat", None)
        assert again.get_meta("last_chat") is None
    finally:
        again.close()


def test_mark_interrupted_streams(store: ChatStore, db_path: Path) -> None:
    chat_id = store.create_chat("t", "p", "", None)
    dead = store.add_message(chat_id, "assistant", "the process died mid-sentence", Status.STREAMING)
    done = store.add_message(chat_id, "assistant", "finished", Status.COMPLETE)
    assert store.search("mid-sentence") == []  # streaming text is not indexed yet
    store.close()

    again = reopen(db_path)
    try:
        assert again.mark_interrupted_streams() == 1
        assert again.mark_interrupted_streams() == 0
        statuses = {m.id: m.status for m in again.load_chat(chat_id).messages}
        assert statuses == {dead: Status.INTERRUPTED, done: Status.COMPLETE}
        assert [h.message_id for h in again.search("mid-sentence")] == [dead]
    finally:
        again.close()


def test_mark_interrupted_streams_spares_a_live_stream(store: ChatStore) -> None:
    chat_id = store.create_chat("t", "p", "", None)
    live = store.add_message(chat_id, "assistant", "", Status.STREAMING)
    store.update_message(live, "still coming", Status.STREAMING)  # written "just now"
    assert store.mark_interrupted_streams(stale_after=60) == 0
    assert store.load_chat(chat_id).messages[0].status is Status.STREAMING


# --- search --------------------------------------------------------------------------------------

ODD = 'He said "hi" AND don\'t * or (x) OR NOT NEAR(a b) col:val ^caret -minus 100% snake_case a\\b C#'


@pytest.fixture
def searchable(store: ChatStore) -> tuple[ChatStore, dict[str, int]]:
    chat = store.create_chat("Tokyo travel notes", "p", "", None)
    other = store.create_chat("Cooking", "p", "", None)
    ids = {
        "odd": store.add_message(chat, "user", ODD),
        "cjk": store.add_message(chat, "assistant", "東京の天気は晴れです。你好世界"),
        "emoji": store.add_message(chat, "user", "party time 🎉 with friends"),
        "accent": store.add_message(other, "user", "Une école à Paris; Straße"),
        "stream": store.add_message(other, "assistant", "Streaming replies arrive in chunks"),
    }
    return store, ids


@pytest.mark.parametrize(
    "query",
    ['"', '"hi"', "'", "AND", "OR", "NOT", "*", "(x)", "NEAR(a", "col:val", "^caret", "-minus",
     "100%", "snake_case", "a\\b", "C#"],
)
def test_odd_input_is_searched_literally(searchable: tuple[ChatStore, dict[str, int]], query: str) -> None:
    store, ids = searchable
    assert ids["odd"] in [h.message_id for h in store.search(query)]


@pytest.mark.parametrize("query", ['""', '"unbalanced', "a AND", "(((", "*)", "%_%", "\\", "NEAR(", "{x}", "\x00"])
def test_syntax_like_input_never_raises(searchable: tuple[ChatStore, dict[str, int]], query: str) -> None:
    store, _ = searchable
    assert isinstance(store.search(query), list)


def test_like_wildcards_are_not_wildcards(searchable: tuple[ChatStore, dict[str, int]]) -> None:
    store, ids = searchable
    assert store.search("%") and all(h.message_id == ids["odd"] for h in store.search("%"))
    assert [h.message_id for h in store.search("_")] == [ids["odd"]]  # only "snake_case" has one


@pytest.mark.parametrize(
    ("query", "key"),
    [("東京", "cjk"), ("天気", "cjk"), ("晴れです", "cjk"), ("你好世界", "cjk"), ("世", "cjk"),
     ("🎉", "emoji"), ("time 🎉", "emoji"), ("ÉCOLE", "accent"), ("école", "accent"),
     ("straße", "accent"), ("stream", "stream"), ("STREAM", "stream"), ("eplie", "stream")],
)
def test_unicode_and_substring_search(
    searchable: tuple[ChatStore, dict[str, int]], query: str, key: str
) -> None:
    store, ids = searchable
    assert [h.message_id for h in store.search(query) if h.message_id] == [ids[key]]


def test_every_term_must_match(searchable: tuple[ChatStore, dict[str, int]]) -> None:
    store, ids = searchable
    assert [h.message_id for h in store.search("party friends")] == [ids["emoji"]]
    assert store.search("party Paris") == []
    assert store.search("party zz") == []  # a short term filters too


def test_empty_query_and_limit(searchable: tuple[ChatStore, dict[str, int]]) -> None:
    store, _ = searchable
    assert store.search("") == [] and store.search("  \n\t ") == []
    assert len(store.search("e", limit=2)) == 2
    assert store.search("e", limit=0) == []


def test_title_hits_and_snippets(searchable: tuple[ChatStore, dict[str, int]]) -> None:
    store, ids = searchable
    hits = store.search("tokyo")
    assert [(h.message_id, h.title) for h in hits] == [(None, "Tokyo travel notes")]
    assert hits[0].snippet == f"{MARK_START}Tokyo{MARK_END} travel notes"
    (hit,) = store.search("chunks")
    assert (hit.chat_id, hit.message_id, hit.title) == (store.list_chats()[0].id, ids["stream"],
                                                        "Cooking")
    assert hit.snippet == f"Streaming replies arrive in {MARK_START}chunks{MARK_END}"


@pytest.mark.parametrize(("reply", "query", "shown"), [
    ("Sure. Here is a **short** answer with a list:", "short",
     f"Sure. Here is a {MARK_START}short{MARK_END} answer with a list:"),
    ("## Install it\n\nRun `pip install requests` and see [the docs](https://docs.example.org).", "docs",
     f"…Run pip install requests and see the {MARK_START}docs{MARK_END}."),
    ("> Quoted ~~old~~ *new* text\n\n```python\nprint(__name__)\n```", "print",
     f"Quoted old new text {MARK_START}print{MARK_END}(__name__)"),
    ("| step | cost |\n| --- | --- |\n| read | O(n) |", "read", f"step cost {MARK_START}read{MARK_END} O(n)"),
    # found only in the syntax (a link's address): the excerpt shows the Markdown, so the match shows
    ("See [the site](https://needle.example.org).", "needle",
     f"See [the site](https://{MARK_START}needle{MARK_END}.example.org)."),
])
def test_a_replys_snippet_reads_as_text_not_markdown(store: ChatStore, reply: str, query: str, shown: str) -> None:
    """Seen: searching "short" listed 'Sure. Here is a **short** answer' with the asterisks."""
    chat = store.create_chat("t", "p", "", None)
    store.add_message(chat, "assistant", reply)
    (hit,) = store.search(query)
    assert hit.snippet == shown


def test_a_users_snippet_is_kept_as_typed(store: ChatStore) -> None:
    """A user's message is plain text: what looks like Markdown is what was typed."""
    chat = store.create_chat("t", "p", "", None)
    store.add_message(chat, "user", "why does **kwargs need two stars?")
    (hit,) = store.search("kwargs")
    assert hit.snippet == f"why does **{MARK_START}kwargs{MARK_END} need two stars?"


def test_snippet_of_a_long_message_is_a_window(store: ChatStore) -> None:
    chat = store.create_chat("t", "p", "", None)
    store.add_message(chat, "assistant", "lorem " * 500 + "needle\nin the\n\nhaystack " + "ipsum " * 500)
    (hit,) = store.search("needle")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert f"{MARK_START}needle{MARK_END} in the haystack" in hit.snippet
    assert len(hit.snippet) < 200


def test_search_index_follows_updates_renames_and_deletes(store: ChatStore) -> None:
    chat = store.create_chat("Original title", "p", "", None)
    msg = store.add_message(chat, "assistant", "", Status.STREAMING)
    store.update_message(msg, "first draft about penguins", Status.STREAMING)
    assert store.search("penguins") == []
    store.update_message(msg, "final answer about penguins", Status.COMPLETE)
    assert [h.message_id for h in store.search("penguins")] == [msg]
    store.update_message(msg, "edited: about walruses", Status.COMPLETE)
    assert store.search("penguins") == []
    assert [h.message_id for h in store.search("walruses")] == [msg]

    store.rename_chat(chat, "Arctic animals")
    assert store.search("Original") == []
    assert [(h.chat_id, h.message_id) for h in store.search("Arctic")] == [(chat, None)]
    assert_fts_matches_tables(store.path)

    store.delete_chat(chat)
    assert store.search("walruses") == [] and store.search("Arctic") == []
    assert read_sql(store.path, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'walruses'") \
        == [(0,)]
    assert_fts_matches_tables(store.path)


def test_a_long_streaming_reply_is_indexed_only_when_it_ends(store: ChatStore) -> None:
    chat = store.create_chat("t", "p", "", None)
    msg = store.add_message(chat, "assistant", "", Status.STREAMING)
    text = ""
    for i in range(20):  # ~100 KB, written in growing snapshots as the UI does once a second
        text += f"chunk {i} " + "x" * 5_000 + "\n"
        assert store.update_message(msg, text, Status.STREAMING)
    text += "zebracorn"
    count = "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zebracorn'"
    store.update_message(msg, text, Status.STREAMING)
    assert read_sql(store.path, count) == [(0,)]
    store.update_message(msg, text, Status.COMPLETE)
    assert read_sql(store.path, count) == [(1,)]
    assert store.load_chat(chat).messages[0].content == text


# --- migration, newer files, corrupt files -------------------------------------------------------

# The version-1 schema as the first release wrote it, typed out here on purpose (not taken from the
# code under test), so the test keeps exercising a real old file when the code moves on.
V1_SCHEMA = """
CREATE TABLE chats (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL, updated_at REAL NOT NULL, persona_name TEXT NOT NULL DEFAULT '',
  system_prompt TEXT NOT NULL DEFAULT '', model TEXT, extra TEXT NOT NULL DEFAULT '{}');
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
  role TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL, kept INTEGER NOT NULL DEFAULT 0,
  model TEXT, created_at REAL NOT NULL);
CREATE UNIQUE INDEX messages_chat_seq ON messages(chat_id, seq);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO chats VALUES (7, 'Old chat', 100.0, 200.0, 'Helpful assistant', 'Be brief.', 'gpt-4o', '{}');
INSERT INTO messages VALUES (70, 7, 1, 'user', 'an old question about volcanoes', 'complete', 0, NULL, 150.0);
INSERT INTO messages VALUES (71, 7, 2, 'assistant', 'an old answer', 'stopped', 1, 'gpt-4o', 160.0);
INSERT INTO meta VALUES ('last_chat', '7');
PRAGMA user_version = 1;
"""


def test_old_schema_is_backed_up_then_migrated_with_its_data(db_path: Path) -> None:
    old = sqlite3.connect(db_path)
    old.executescript(V1_SCHEMA)
    old.close()
    original = db_path.read_bytes()

    store, notice = ChatStore.open(db_path, clock=make_clock())
    try:
        assert notice is None
        chat = store.load_chat(7)
        assert [(m.id, m.content, m.status, m.kept) for m in chat.messages] == [
            (70, "an old question about volcanoes", Status.COMPLETE, False),
            (71, "an old answer", Status.STOPPED, True)]
        assert [(s.id, s.title, s.message_count) for s in store.list_chats()] == [(7, "Old chat", 2)]
        assert [h.message_id for h in store.search("volcano")] == [70]  # old text is now indexed
        assert store.get_meta("last_chat") == "7"
        assert store.add_message(7, "user", "new") > 71
    finally:
        store.close()

    (backup,) = db_path.parent.glob("chats.sqlite3.bak-v1-*")
    assert backup.name == "chats.sqlite3.bak-v1-" + backup.name.rsplit("-v1-", 1)[1]
    assert read_sql(backup, "PRAGMA user_version") == [(1,)]
    assert read_sql(backup, "SELECT id, content FROM messages ORDER BY id") == [
        (70, "an old question about volcanoes"), (71, "an old answer")]
    assert len(original) > 0 and read_sql(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]

    reopen(db_path).close()  # a current file is not backed up again
    assert len(list(db_path.parent.glob("*.bak-*"))) == 1


def test_file_from_a_newer_app_is_left_untouched(db_path: Path) -> None:
    newer = sqlite3.connect(db_path)
    newer.execute("CREATE TABLE future (x)")
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    newer.commit()
    newer.close()
    before = db_path.read_bytes()
    with pytest.raises(NewerSchemaError, match="newer version"):
        ChatStore.open(db_path)
    assert db_path.read_bytes() == before
    assert sorted(p.name for p in db_path.parent.iterdir() if "-wal" not in p.name
                  and "-shm" not in p.name) == ["chats.sqlite3"]


def _assert_set_aside(db_path: Path, notice: str | None, original: bytes) -> Path:
    (aside,) = db_path.parent.glob("chats.sqlite3.corrupt-*[0-9]")
    assert aside.read_bytes() == original  # moved, byte for byte, never deleted
    assert notice is not None and str(aside) in notice and "new, empty history" in notice
    return aside


def test_random_bytes_are_set_aside_and_a_fresh_store_works(db_path: Path) -> None:
    garbage = b"definitely not SQLite " + os.urandom(4000)
    db_path.write_bytes(garbage)
    (db_path.parent / "chats.sqlite3-wal").write_bytes(b"stale wal")
    store, notice = ChatStore.open(db_path)
    try:
        aside = _assert_set_aside(db_path, notice, garbage)
        assert (aside.parent / (aside.name + "-wal")).read_bytes() == b"stale wal"  # moved along
        chat = store.create_chat("fresh", "p", "", None)
        store.add_message(chat, "user", "works again")
        assert [h.message_id is not None for h in store.search("works")] == [True]
    finally:
        store.close()
    reopen(db_path).close()  # and it stays healthy


def test_truncated_database_is_set_aside(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    chat = store.create_chat("big", "p", "", None)
    for i in range(300):
        store.add_message(chat, "user", f"message {i} " * 50)
    store.close()  # the last connection checkpoints the WAL into the main file
    whole = db_path.read_bytes()
    half = whole[: len(whole) // 2]
    db_path.write_bytes(half)

    fresh, notice = ChatStore.open(db_path)
    try:
        _assert_set_aside(db_path, notice, half)
        assert fresh.count_chats() == 0
    finally:
        fresh.close()


def test_a_file_that_cannot_be_opened_is_not_moved(tmp_path: Path) -> None:
    folder = tmp_path / "chats.sqlite3"
    folder.mkdir()  # e.g. a permissions or path problem: not corruption
    with pytest.raises(sqlite3.Error):
        ChatStore.open(folder)
    assert folder.is_dir() and list(tmp_path.iterdir()) == [folder]


# --- two writers ---------------------------------------------------------------------------------


def test_two_stores_on_one_file_interleave_without_losing_writes(db_path: Path) -> None:
    first, _ = ChatStore.open(db_path)
    second, _ = ChatStore.open(db_path)
    try:
        chat = first.create_chat("shared", "p", "", None)
        reply = first.add_message(chat, "assistant", "", Status.STREAMING)
        for i in range(50):
            first.add_message(chat, "user", f"first {i}")
            first.update_message(reply, f"streamed {i}", Status.STREAMING)
            second.add_message(chat, "user", f"second {i}")
            assert len(second.load_chat(chat).messages) == 2 * i + 3  # sees the other's commit
        first.update_message(reply, "streamed done", Status.COMPLETE)
        assert_fts_matches_tables(db_path)
        for s in (first, second):
            messages = s.load_chat(chat).messages
            assert [m.seq for m in messages] == list(range(1, 102))
            assert [m.content for m in messages[1::2]] == [f"first {i}" for i in range(50)]
            assert [m.content for m in messages[2::2]] == [f"second {i}" for i in range(50)]
            assert messages[0].content == "streamed done"
            assert s.list_chats()[0].message_count == 101
    finally:
        first.close()
        second.close()


def _write_many(path: str, chat_id: int, tag: str, count: int, barrier: object) -> None:
    """Runs in a child process: its own ChatStore, many small commits."""
    store, _ = ChatStore.open(Path(path))
    try:
        barrier.wait()  # type: ignore[attr-defined]
        own = store.create_chat(f"{tag} own", "p", "", None)
        for i in range(count):
            store.add_message(chat_id, "user", f"{tag} {i}")
            store.add_message(own, "assistant", f"{tag} own {i}")
            if i % 10 == 0:
                store.set_meta(f"{tag}-progress", str(i))
                store.search(tag)
    finally:
        store.close()


def test_two_processes_write_concurrently_without_lost_writes(db_path: Path) -> None:
    store, _ = ChatStore.open(db_path)
    chat = store.create_chat("shared", "p", "", None)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    count = 150
    procs = [ctx.Process(target=_write_many, args=(str(db_path), chat, tag, count, barrier))
             for tag in ("alpha", "beta")]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=90)
        assert [p.exitcode for p in procs] == [0, 0]  # no "database is locked" in either
        messages = store.load_chat(chat).messages
        assert [m.seq for m in messages] == list(range(1, 2 * count + 1))
        for tag in ("alpha", "beta"):
            assert [m.content for m in messages if m.content.startswith(tag)] == [
                f"{tag} {i}" for i in range(count)]
        summaries = {s.title: s.message_count for s in store.list_chats()}
        assert summaries == {"shared": 2 * count, "alpha own": count, "beta own": count}
        assert len(store.search("alpha own")) == 1  # one hit per chat; the FTS check below sees all
        assert_fts_matches_tables(db_path)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
        store.close()


def test_stored_chat_is_immutable(store: ChatStore) -> None:
    chat = store.load_chat(store.create_chat("t", "p", "", None, extra={"a": 1}))
    assert isinstance(chat, StoredChat)
    with pytest.raises(AttributeError):
        chat.title = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        chat.extra["a"] = 2  # type: ignore[index]


def test_persona_changes_and_single_summaries(tmp_path):
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        chat_id = store.create_chat("Title", "Helpful assistant", "You are a helpful assistant.", "gpt-4o-mini")
        store.add_message(chat_id, "user", "hello")
        store.set_chat_persona(chat_id, "French assistant", "Réponds en français.")
        chat = store.load_chat(chat_id)
        assert (chat.persona_name, chat.system_prompt) == ("French assistant", "Réponds en français.")
        summary = store.summary(chat_id)
        assert (summary.id, summary.title, summary.message_count) == (chat_id, "Title", 1)
        assert summary == store.list_chats()[0]
        with pytest.raises(KeyError):
            store.summary(chat_id + 100)
    finally:
        store.close()


def test_row_of_matches_the_list_order(tmp_path):
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3", clock=itertools.count(1000, 0.5).__next__)
    try:
        ids = [store.create_chat(f"chat {i}", "p", "", None) for i in range(30)]
        store.add_message(ids[7], "user", "bump")  # moves chat 7 to the top
        order = [c.id for c in store.list_chats()]
        assert [store.row_of(chat_id) for chat_id in order] == list(range(len(order)))
        assert store.row_of(ids[7]) == 0
        assert store.row_of(10**6) is None
    finally:
        store.close()


def test_a_chat_started_with_its_first_message_in_one_commit_is_stored_as_if_written_in_two(tmp_path: Path) -> None:
    """``start_chat`` (the user's first send) stores what ``create_chat`` + ``add_message`` store:
    the chat, its title in search, the message as the version shown, the order and the counts."""
    one, _ = ChatStore.open(tmp_path / "one.sqlite3", clock=make_clock())
    two, _ = ChatStore.open(tmp_path / "two.sqlite3", clock=make_clock())
    try:
        chat_id, msg_id = one.start_chat("Where do volcanoes form?", "Helpful", "You help.", "gpt-4o-mini",
                                         "user", "Where do volcanoes form?", created_at=T0 - 5,
                                         extra={"context_mode": "everything"})
        other = two.create_chat("Where do volcanoes form?", "Helpful", "You help.", "gpt-4o-mini",
                                extra={"context_mode": "everything"})
        two.add_message(other, "user", "Where do volcanoes form?", Status.COMPLETE, created_at=T0 - 5, parent_id=None)
        a, b = one.load_chat(chat_id), two.load_chat(other)
        assert (chat_id, msg_id) == (a.id, a.messages[0].id)
        assert a == b
        assert one.list_chats(5) == two.list_chats(5)
        assert [h.chat_id for h in one.search("volcanoes")] == [chat_id]
        # and the chat goes on as any other: the next message follows the first
        reply = one.add_message(chat_id, "assistant", "Mostly at plate boundaries.")
        assert [m.id for m in one.load_chat(chat_id).messages] == [msg_id, reply]
    finally:
        one.close()
        two.close()
