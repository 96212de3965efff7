"""The chat history: one SQLite file (``chats.sqlite3``) that several app instances may share.

* WAL, a 5 s busy timeout, short ``BEGIN IMMEDIATE`` transactions: no "database is locked" with two.
* Search: FTS5 ``trigram``, which finds substrings ("stream" in "streaming") and Chinese or Japanese
  words (no spaces around them: ``unicode61`` indexes a CJK sentence as one token). A streaming reply
  is indexed only once it ends, so its once-a-second update rewrites one row.
* Delete is real (the text leaves the tables) and returns a snapshot for undo; a soft-delete flag would
  keep "deleted" text and complicate every query. A corrupt file is set aside, never deleted.
* Versions (schema 3): each message names its parent (the message it follows) and whether it is the
  version shown, so regenerated replies and edited branches are kept; ``seq`` stays the order written.
  Notices ("Persona: …") are rows of role ``notice`` at their place. Schema 4 adds a pin per message,
  schema 5 a reply's usage as the server counted it (four token counts and whether OpenAI's prices
  apply; plain integer columns: cheap to read for a long chat, and summable in SQL), schema 6 how
  long a reply's reasoning took ("Thought for 3 s").
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, cast

from chatbot_gui.core.atomic import set_aside
from chatbot_gui.core.paths import ensure_private_dir, make_private
from chatbot_gui.core.conversation import Status
from chatbot_gui.core.unicode import clean_optional, clean_text
from chatbot_gui.core.usage import ReplyUsage, Usage

#: Marks around matched text in :attr:`SearchHit.snippet`; the UI escapes the rest, then replaces them.
MARK_START, MARK_END = "\x02", "\x03"


class NewerSchemaError(RuntimeError):
    """The history file was written by a newer version of the app; it is left untouched."""


@dataclass(frozen=True)
class ChatSummary:
    """One row of the chat list."""
    id: int
    title: str
    updated_at: float
    message_count: int


@dataclass(frozen=True)
class StoredMessage:
    """One saved turn."""
    id: int
    seq: int
    role: str
    content: str
    status: Status
    kept: bool
    model: str | None
    created_at: float
    #: The id of the message this one follows; None: the chat's first. ``FOLLOWS_PREVIOUS``: the
    #: message before it in ``seq`` order (old exports and callers that know nothing of versions).
    parent_id: int | None = -1
    #: Whether this is the version shown among the messages with the same parent.
    selected: bool = True
    #: Always sent to the model, however long the chat (issue 12).
    pinned: bool = False
    #: A reply's tokens as the server counted them (schema 5); None: not reported, or an older row.
    usage: ReplyUsage | None = None
    #: How long the reply's reasoning took to arrive, in seconds (schema 6); None: it had none, or an older row.
    reasoning_seconds: float | None = None


FOLLOWS_PREVIOUS = -1


def active_path(messages: tuple[StoredMessage, ...] | list[StoredMessage]) -> list[StoredMessage]:
    """The messages shown, in order: from the first through each message's selected child."""
    prev: int | None = None
    resolved: list[tuple[StoredMessage, int | None]] = []
    for m in messages:
        parent = prev if m.parent_id == FOLLOWS_PREVIOUS else m.parent_id
        resolved.append((m, parent))
        prev = m.id
    chosen: dict[int | None, StoredMessage] = {}
    for m, parent in resolved:
        if m.selected or parent not in chosen:
            chosen[parent] = m
    path: list[StoredMessage] = []
    node, seen = chosen.get(None), set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = chosen.get(node.id)
    return path


def versions_of(messages: tuple[StoredMessage, ...] | list[StoredMessage],
                msg: StoredMessage) -> list[StoredMessage]:
    """``msg`` and its alternatives (same parent, same role), in the order written."""
    parents = parent_map(messages)
    return [m for m in messages if m.role == msg.role and parents[m.id] == parents[msg.id]]


def _from_db_parent(value: int | None) -> int | None:
    """A parent_id as stored (0: the chat's start; NULL: follows the row before) as StoredMessage has it."""
    if value is None:
        return FOLLOWS_PREVIOUS
    return None if value == 0 else int(value)


def parent_map(messages: tuple[StoredMessage, ...] | list[StoredMessage]) -> dict[int, int | None]:
    out: dict[int, int | None] = {}
    prev: int | None = None
    for m in messages:
        out[m.id] = prev if m.parent_id == FOLLOWS_PREVIOUS else m.parent_id
        prev = m.id
    return out


@dataclass(frozen=True)
class DeletedMessage:
    """What :meth:`ChatStore.delete_message` took away, for :meth:`ChatStore.undelete_message`: the
    row as it was, and the ``selected`` flags of its children and siblings."""
    columns: tuple[str, ...]
    values: tuple[Any, ...]
    children: tuple[tuple[int, int], ...]
    siblings: tuple[tuple[int, int], ...]

    def value(self, column: str) -> Any:
        return self.values[self.columns.index(column)]


@dataclass(frozen=True)
class StoredChat:
    """A whole saved chat; also what :meth:`ChatStore.delete_chat` returns for undo."""
    id: int
    title: str
    created_at: float
    updated_at: float
    persona_name: str
    system_prompt: str
    model: str | None
    messages: tuple[StoredMessage, ...]
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class SearchHit:
    """A match in a message or a chat title (``message_id`` None). ``rank``: bm25, smaller is better."""
    chat_id: int
    message_id: int | None
    title: str
    snippet: str
    rank: float


_V1 = """
CREATE TABLE chats (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL, updated_at REAL NOT NULL, persona_name TEXT NOT NULL DEFAULT '',
  system_prompt TEXT NOT NULL DEFAULT '', model TEXT, extra TEXT NOT NULL DEFAULT '{}');
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
  role TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL, kept INTEGER NOT NULL DEFAULT 0,
  model TEXT, created_at REAL NOT NULL);
CREATE UNIQUE INDEX messages_chat_seq ON messages(chat_id, seq);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Version 2: search; a message count kept by triggers (fast listing); a per-message write time (another
# instance's live stream is not dead). One update trigger: un-index old text before indexing the new.
_V2 = """
ALTER TABLE chats ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
UPDATE chats SET message_count = (SELECT count(*) FROM messages WHERE chat_id = chats.id);
ALTER TABLE messages ADD COLUMN updated_at REAL;
UPDATE messages SET updated_at = created_at;
CREATE INDEX chats_updated ON chats(updated_at, id);
CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
CREATE VIRTUAL TABLE messages_fts USING fts5(content, content=messages, content_rowid=id, tokenize=trigram);
CREATE VIRTUAL TABLE chats_fts USING fts5(title, content=chats, content_rowid=id, tokenize=trigram);
INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages WHERE status != 'streaming';
INSERT INTO chats_fts(rowid, title) SELECT id, title FROM chats;
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
  UPDATE chats SET message_count = message_count + 1, updated_at = max(updated_at, new.created_at)
    WHERE id = new.chat_id;
  INSERT INTO messages_fts(rowid, content) SELECT new.id, new.content WHERE new.status != 'streaming'; END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
  UPDATE chats SET message_count = message_count - 1 WHERE id = old.chat_id;
  INSERT INTO messages_fts(messages_fts, rowid, content)
    SELECT 'delete', old.id, old.content WHERE old.status != 'streaming'; END;
CREATE TRIGGER messages_au AFTER UPDATE OF content, status ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) SELECT 'delete', old.id, old.content
    WHERE old.status != 'streaming' AND (new.status = 'streaming' OR old.content IS NOT new.content);
  INSERT INTO messages_fts(rowid, content) SELECT new.id, new.content
    WHERE new.status != 'streaming' AND (old.status = 'streaming' OR old.content IS NOT new.content);
  UPDATE chats SET updated_at = max(updated_at, new.updated_at) WHERE id = new.chat_id; END;
CREATE TRIGGER chats_ai AFTER INSERT ON chats BEGIN
  INSERT INTO chats_fts(rowid, title) VALUES (new.id, new.title); END;
CREATE TRIGGER chats_ad AFTER DELETE ON chats BEGIN
  INSERT INTO chats_fts(chats_fts, rowid, title) VALUES ('delete', old.id, old.title); END;
CREATE TRIGGER chats_au AFTER UPDATE OF title ON chats BEGIN
  INSERT INTO chats_fts(chats_fts, rowid, title) VALUES ('delete', old.id, old.title);
  INSERT INTO chats_fts(rowid, title) VALUES (new.id, new.title); END;
"""

# Version 3: versions and branches. Existing chats become a single line (each message follows the one
# before it), every message the version shown. In the file, parent_id 0 is the chat's start and NULL
# (a row some other tool added) means "follows the message before it in seq order".
_V3 = """
ALTER TABLE messages ADD COLUMN parent_id INTEGER;
ALTER TABLE messages ADD COLUMN selected INTEGER NOT NULL DEFAULT 1;
UPDATE messages SET parent_id = coalesce((SELECT p.id FROM messages p WHERE p.chat_id = messages.chat_id
  AND p.seq < messages.seq ORDER BY p.seq DESC LIMIT 1), 0);
"""

# Version 4: a pin on a message (always sent to the model, however long the chat grows).
_V4 = """
ALTER TABLE messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
"""

# Version 5: a reply's usage as the server counted it (NULL prompt_tokens: none), so the tokens under
# a reply and the chat's total survive a restart. usage_priced: the reply came from OpenAI's server.
_V5 = """
ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE messages ADD COLUMN completion_tokens INTEGER;
ALTER TABLE messages ADD COLUMN cached_tokens INTEGER;
ALTER TABLE messages ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE messages ADD COLUMN usage_priced INTEGER;
"""

# Version 6: how long a reply's reasoning (its leading <think> block) took to arrive, in seconds
# (NULL: none, or not measured), so "Thought for 3 s" reads the same after a restart.
_V6 = """
ALTER TABLE messages ADD COLUMN reasoning_seconds REAL;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)  #: ``MIGRATIONS[n]`` takes ``user_version`` n to n + 1
SCHEMA_VERSION = len(MIGRATIONS)

_F = TypeVar("_F", bound=Callable[..., Any])


def _repairs_index(method: _F) -> _F:
    """Run ``method``; if it fails on a damaged search index (the tables are fine), rebuild the index
    and run it once more. A damaged index otherwise fails every search, and any write whose trigger
    touches the broken part of it."""
    @functools.wraps(method)
    def wrapper(self: ChatStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not self._index_damage(exc):
                raise
        self.rebuild_search_index()
        return method(self, *args, **kwargs)
    return cast(_F, wrapper)


_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_CHAT_COLS = "id, title, created_at, updated_at, persona_name, system_prompt, model"


class ChatStore:
    """Saved chats. One instance per thread: a ``sqlite3`` connection is not shared across threads."""

    def __init__(self, db: sqlite3.Connection, path: Path, clock: Callable[[], float]) -> None:
        self._db, self.path, self._clock = db, path, clock
        self.index_rebuilt = 0  # how often the search index was found damaged and rebuilt

    @classmethod
    def open(cls, path: Path, clock: Callable[[], float] = time.time) -> tuple[ChatStore, str | None]:
        """Open, create or migrate the history at ``path``; also return a notice for the user.

        The notice (else None) says where a corrupt file was set aside. A newer app's file
        (:class:`NewerSchemaError`) or one that cannot be opened (locked, permissions) is left as is."""
        path = Path(path)
        ensure_private_dir(path.parent)
        notice = None
        try:
            db = _connect(path)
        except sqlite3.DatabaseError as exc:
            # Only "corrupt" / "not a database" (or our failed quick_check, which has no code): a
            # locked, unreadable or full disk's file is never moved.
            if getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_CORRUPT) & 0xFF not in _CORRUPT_CODES:
                raise
            aside = set_aside(path, clock())
            make_private(aside)
            for suffix in ("-wal", "-shm"):  # named after the set-aside file: SQLite opens them together
                if (side := path.with_name(path.name + suffix)).exists():
                    side.replace(aside.with_name(aside.name + suffix))
                    make_private(aside.with_name(aside.name + suffix))
            notice = (f"Your chat history could not be read ({exc}). It was moved to {aside} "
                      "and a new, empty history was started.")
            db = _connect(path)
        store = cls(db, path, clock)
        try:
            store._migrate()
            if not store.search_index_in_step():
                store.rebuild_search_index()
        except BaseException:
            db.close()
            raise
        return store, notice

    @classmethod
    def attach(cls, path: Path, clock: Callable[[], float] = time.time) -> ChatStore:
        """A second connection to a store already opened (and checked, migrated) by :meth:`open`,
        for writes made off the GUI thread. Usable from any one thread at a time (the caller
        serialises), so it is made with ``check_same_thread=False``."""
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            db.close()
            raise
        return cls(db, Path(path), clock)

    def _migrate(self) -> None:
        # Under the write lock, so two instances starting at once do not both migrate.
        with self._write() as db:
            version = _check_version(db, self.path)
            if version == SCHEMA_VERSION:
                return
            if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                self._backup(version)
            for script in MIGRATIONS[version:]:
                statement = ""  # not executescript(): it would commit our transaction half-way
                for line in script.splitlines(keepends=True):
                    statement += line
                    if sqlite3.complete_statement(statement):
                        db.execute(statement)
                        statement = ""
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _backup(self, version: int) -> Path:
        """Copy the database as it is now to ``<name>.bak-v<version>-<timestamp>``."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._clock()))
        base = f"{self.path.name}.bak-v{version}-{stamp}"
        target, n = self.path.with_name(base), 1
        while target.exists():
            target, n = self.path.with_name(f"{base}-{n + 1}"), n + 1
        _create_private(target)
        # Via a second connection: the backup API cannot read through one that holds the write lock.
        with closing(sqlite3.connect(self.path)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return target

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            # SQLite may have rolled back already (a full disk, an I/O error, RAISE(ROLLBACK)): a
            # second ROLLBACK would fail with "cannot rollback - no transaction is active" and hide
            # the real error, which is what the caller and the user need to see.
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise
        self._db.execute("COMMIT")

    # -- the search index ------------------------------------------------------------------------
    def search_index_in_step(self) -> bool:
        """A quick look (counts, no scan of the text) whether the search index matches the tables."""
        if _check_version(self._db, self.path) < 2:
            return True
        counts = self._db.execute(
            "SELECT (SELECT count(*) FROM messages_fts_docsize),"
            " (SELECT count(*) FROM messages) - (SELECT count(*) FROM messages WHERE status = 'streaming'),"
            " (SELECT count(*) FROM chats_fts_docsize), (SELECT count(*) FROM chats)").fetchone()
        return counts[0] == counts[1] and counts[2] == counts[3]

    def rebuild_search_index(self) -> None:
        """Rebuild both search indexes from the tables (a damaged index, or one out of step).

        Cost grows with the history: ~0.5 s per 1,000 long messages on this machine."""
        with self._write() as db:
            for table in ("messages_fts", "chats_fts"):
                db.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
            # 'rebuild' indexes every row; a streaming reply is indexed only when it ends (the
            # triggers rely on it), so take those out again.
            db.execute("INSERT INTO messages_fts(messages_fts, rowid, content)"
                       " SELECT 'delete', id, content FROM messages WHERE status = 'streaming'")
        self.index_rebuilt += 1

    def _index_damage(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a "malformed" error from the search index while the tables are fine."""
        if not isinstance(exc, sqlite3.DatabaseError) or \
                getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_CORRUPT:
            return False
        try:
            return self._db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        except sqlite3.Error:
            return False

    def close(self) -> None:
        self._db.close()  # idempotent

    @_repairs_index
    def create_chat(self, title: str, persona_name: str, system_prompt: str, model: str | None,
                    extra: Mapping[str, Any] | None = None) -> int:
        """Start a chat; return its id. ``extra``: small JSON settings, never secrets (it is exported)."""
        with self._write() as db:
            return _new_chat_row(db, self._clock(), title, persona_name, system_prompt, model, extra)

    @_repairs_index
    def rename_chat(self, chat_id: int, title: str) -> None:
        """Change a chat's title (it keeps its place in the list); ``KeyError`` if there is none."""
        with self._write() as db:
            if not db.execute("UPDATE chats SET title = ? WHERE id = ?", (_t(title), chat_id)).rowcount:
                raise KeyError(chat_id)

    @_repairs_index
    def set_chat_persona(self, chat_id: int, persona_name: str, system_prompt: str) -> None:
        """Record the persona (and its system prompt) the chat uses from now on."""
        with self._write() as db:
            db.execute("UPDATE chats SET persona_name = ?, system_prompt = ? WHERE id = ?",
                       (_t(persona_name), _t(system_prompt), chat_id))

    def summary(self, chat_id: int) -> ChatSummary:
        """One chat's list entry; ``KeyError`` if there is none."""
        row = self._db.execute("SELECT id, title, updated_at, message_count FROM chats WHERE id = ?",
                               (chat_id,)).fetchone()
        if row is None:
            raise KeyError(chat_id)
        return ChatSummary(*row)

    def row_of(self, chat_id: int) -> int | None:
        """The chat's row in list_chats order (how many chats sort before it); None if there is none."""
        row = self._db.execute(
            "SELECT (SELECT count(*) FROM chats c WHERE (c.updated_at, c.id) > (t.updated_at, t.id))"
            " FROM chats t WHERE t.id = ?", (chat_id,)).fetchone()
        return None if row is None else int(row[0])

    def count_chats_since(self, starts: list[float]) -> tuple[list[int], float | None]:
        """For each time in ``starts`` (descending): how many chats were updated at or after it (the
        chat list's date groups); and the oldest chat's update time (None: no chats)."""
        # ``starts`` descend: count each range [start, previous start) once and add up, so the index
        # entries are walked once in all (not once per group: 40 months of 10,000 chats took ~40 ms).
        counts: list[int] = []
        previous: float | None = None
        for start in starts:
            if previous is None:
                found = self._db.execute("SELECT count(*) FROM chats WHERE updated_at >= ?", (start,))
            else:
                found = self._db.execute("SELECT count(*) FROM chats WHERE updated_at >= ? AND updated_at < ?",
                                         (start, previous))
            counts.append((counts[-1] if counts else 0) + int(found.fetchone()[0]))
            previous = start
        oldest = self._db.execute("SELECT min(updated_at) FROM chats").fetchone()[0]
        return counts, oldest

    def list_chats(self, limit: int | None = None, offset: int = 0) -> list[ChatSummary]:
        """Chats, most recently updated first."""
        rows = self._db.execute(
            "SELECT id, title, updated_at, message_count FROM chats"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset))
        return [ChatSummary(*row) for row in rows]

    def count_chats(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM chats").fetchone()[0])

    def load_chat(self, chat_id: int) -> StoredChat:
        """The whole chat with its messages in order; ``KeyError`` if there is none."""
        row: tuple[int, str, float, float, str, str, str | None, str] | None = self._db.execute(
            f"SELECT {_CHAT_COLS}, extra FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise KeyError(chat_id)
        rows = self._db.execute(f"SELECT id, seq, role, content, status, kept, model, created_at,"
                                f" parent_id, selected, pinned, {_USAGE_COLS}, reasoning_seconds FROM messages"
                                f" WHERE chat_id = ? ORDER BY seq", (chat_id,))
        messages = tuple(StoredMessage(r[0], r[1], r[2], r[3], Status(r[4]), bool(r[5]), r[6], r[7],
                                       _from_db_parent(r[8]), bool(r[9]), bool(r[10]),
                                       None if r[11] is None else _usage_in(r[11:16]), seconds_or_none(r[16]))
                         for r in rows)
        return StoredChat(*row[:7], messages=messages, extra=MappingProxyType(json.loads(row[7] or "{}")))

    @_repairs_index
    def delete_chat(self, chat_id: int) -> StoredChat:
        """Delete a chat and its messages; return the snapshot :meth:`restore_chat` needs for undo."""
        with self._write() as db:
            chat = self.load_chat(chat_id)
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))
        return chat

    def restore_chat(self, chat: StoredChat) -> int:
        """Undo a delete: put the chat back with its ids (new ids if they are taken); return its id."""
        return self._insert_chat(chat, keep_ids=True)

    def import_chat(self, chat: StoredChat) -> int:
        """Add an exported chat as a new one (ids ignored, "streaming" becomes interrupted); return its id."""
        return self._insert_chat(chat, keep_ids=False)

    @_repairs_index
    def _insert_chat(self, chat: StoredChat, keep_ids: bool) -> int:
        with self._write() as db:
            # AUTOINCREMENT never reuses ids, so the message ids are free when the chat id is.
            keep = keep_ids and not db.execute("SELECT 1 FROM chats WHERE id = ?", (chat.id,)).fetchone()
            cur = db.execute(
                f"INSERT INTO chats ({_CHAT_COLS}, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (chat.id if keep else None, _t(chat.title), chat.created_at, chat.updated_at,
                 _t(chat.persona_name), _t(chat.system_prompt), _opt(chat.model), json.dumps(dict(chat.extra))))
            chat_id = int(cur.lastrowid or 0)
            parents = parent_map(chat.messages)
            new_ids: dict[int, int] = {}
            for seq, m in enumerate(chat.messages, start=1):
                parent = parents[m.id]
                cur = db.execute(
                    "INSERT INTO messages (id, chat_id, seq, role, content, status, kept, model, created_at,"
                    f" updated_at, parent_id, selected, pinned, {_USAGE_COLS}, reasoning_seconds)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (m.id if keep else None, chat_id, seq, m.role, _t(m.content),
                     "interrupted" if m.status == "streaming" else Status(m.status).value, int(m.kept),
                     _opt(m.model), m.created_at, m.created_at,
                     0 if parent is None else new_ids.get(parent, 0), int(m.selected), int(m.pinned),
                     *_usage_out(m.usage), seconds_or_none(m.reasoning_seconds)))
                new_ids[m.id] = int(cur.lastrowid or 0)
        return chat_id

    @_repairs_index
    def start_chat(self, title: str, persona_name: str, system_prompt: str, model: str | None,
                   role: str, content: str, created_at: float | None = None,
                   extra: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """A new chat with its first message, in one commit (the user's first send): the rows of
        :meth:`create_chat` then :meth:`add_message`, in half the statements, each of which lets a
        streaming thread take the interpreter while the GUI thread waits. Returns (chat id, message id)."""
        now = self._clock()
        with self._write() as db:
            chat_id = _new_chat_row(db, now, title, persona_name, system_prompt, model, extra)
            message_id = _new_message_row(db, chat_id, 1, role, content, Status.COMPLETE, None,
                                         now if created_at is None else created_at, 0, None)
        return chat_id, message_id

    @_repairs_index
    def add_message(self, chat_id: int, role: str, content: str, status: Status | str = Status.COMPLETE,
                    model: str | None = None, created_at: float | None = None,
                    parent_id: int | None = FOLLOWS_PREVIOUS, usage: ReplyUsage | None = None,
                    reasoning_seconds: float | None = None) -> int:
        """Append a message, committed at once (the user's text is safe before the request goes out).

        ``parent_id``: the message it follows (None: a new start); by default the last one written.
        The new message becomes the version shown among its parent's children. ``usage``: a reply's
        tokens as the server counted them; ``reasoning_seconds``: how long its reasoning took."""
        created = self._clock() if created_at is None else created_at
        with self._write() as db:
            seq, last = db.execute("SELECT coalesce(max(seq), 0) + 1, (SELECT id FROM messages WHERE"
                                   " chat_id = ?1 ORDER BY seq DESC LIMIT 1) FROM messages WHERE chat_id = ?1",
                                   (chat_id,)).fetchone()
            parent = (last or 0) if parent_id == FOLLOWS_PREVIOUS else (parent_id or 0)
            db.execute("UPDATE messages SET selected = 0 WHERE chat_id = ? AND parent_id IS ? AND selected",
                       (chat_id, parent))
            try:
                return _new_message_row(db, chat_id, seq, role, content, status, model, created, parent, usage,
                                        reasoning_seconds)
            except sqlite3.IntegrityError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
                    raise
                raise KeyError(chat_id) from exc  # the foreign key: no such chat

    def set_pinned(self, message_id: int, pinned: bool) -> bool:
        """Pin a message (always sent to the model) or unpin it. False if there is no such message."""
        with self._write() as db:
            return db.execute("UPDATE messages SET pinned = ? WHERE id = ?",
                              (int(pinned), message_id)).rowcount > 0

    def set_chat_extra(self, chat_id: int, name: str, value: Any) -> None:
        """Set one of a chat's small JSON settings (``extra``; None removes it)."""
        with self._write() as db:
            row = db.execute("SELECT extra FROM chats WHERE id = ?", (chat_id,)).fetchone()
            if row is None:
                raise KeyError(chat_id)
            extra = json.loads(row[0] or "{}")
            if value is None:
                extra.pop(name, None)
            else:
                extra[name] = value
            db.execute("UPDATE chats SET extra = ? WHERE id = ?", (json.dumps(extra), chat_id))

    @_repairs_index
    def select_message(self, message_id: int) -> bool:
        """Make ``message_id`` the version shown among its siblings. False if there is no such message."""
        with self._write() as db:
            row = db.execute("SELECT chat_id, parent_id FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE messages SET selected = (id = ?) WHERE chat_id = ? AND parent_id IS ?",
                       (message_id, *row))
        return True

    @_repairs_index
    def delete_message(self, message_id: int) -> DeletedMessage | None:
        """Delete one message; what followed it follows its parent. Returns what
        :meth:`undelete_message` needs to put it back; None if there is no such message."""
        with self._write() as db:
            cur = db.execute("SELECT * FROM messages WHERE id = ?", (message_id,))
            whole = cur.fetchone()
            if whole is None:
                return None
            columns = tuple(d[0] for d in cur.description)
            deleted = dict(zip(columns, whole))
            chat_id, parent, selected = deleted["chat_id"], deleted["parent_id"], deleted["selected"]
            children = db.execute("SELECT id, selected FROM messages WHERE parent_id = ?", (message_id,)).fetchall()
            siblings = db.execute("SELECT id, selected FROM messages WHERE chat_id = ? AND parent_id IS ? AND id != ?",
                                  (chat_id, parent, message_id)).fetchall()
            if selected and children:  # its shown child takes its place among the siblings
                db.execute("UPDATE messages SET selected = 0 WHERE chat_id = ? AND parent_id IS ?",
                           (chat_id, parent))
            else:
                db.execute("UPDATE messages SET selected = 0 WHERE parent_id = ?", (message_id,))
            db.execute("UPDATE messages SET parent_id = ? WHERE parent_id = ?", (parent, message_id))
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            if selected and not children:  # the latest sibling is shown instead
                db.execute("UPDATE messages SET selected = 1 WHERE id = (SELECT id FROM messages WHERE"
                           " chat_id = ? AND parent_id IS ? ORDER BY seq DESC LIMIT 1)", (chat_id, parent))
        return DeletedMessage(columns, tuple(whole), tuple(map(tuple, children)), tuple(map(tuple, siblings)))

    @_repairs_index
    def undelete_message(self, deleted: DeletedMessage) -> bool:
        """Undo :meth:`delete_message`: the row back with its id and place, its children under it
        again, the versions shown as they were. False (nothing changed) when the chat has changed
        since in a way that conflicts: the chat or the message's place is gone or taken, or one of
        its children moved."""
        message_id, chat_id = deleted.value("id"), deleted.value("chat_id")
        parent = deleted.value("parent_id")
        with self._write() as db:
            if not db.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone():
                return False
            if db.execute("SELECT 1 FROM messages WHERE id = ? OR (chat_id = ? AND seq = ?)",
                          (message_id, chat_id, deleted.value("seq"))).fetchone():
                return False
            if parent and not db.execute("SELECT 1 FROM messages WHERE id = ?", (parent,)).fetchone():  # (0: the start)
                return False
            for child, _selected in deleted.children:
                now = db.execute("SELECT parent_id FROM messages WHERE id = ?", (child,)).fetchone()
                if now is None or now[0] != parent:
                    return False
            names = ", ".join(deleted.columns)
            marks = ", ".join("?" * len(deleted.columns))
            db.execute(f"INSERT INTO messages ({names}) VALUES ({marks})", deleted.values)
            for child, selected in deleted.children:
                db.execute("UPDATE messages SET parent_id = ?, selected = ? WHERE id = ?", (message_id, selected, child))
            for sibling, selected in deleted.siblings:
                db.execute("UPDATE messages SET selected = ? WHERE id = ?", (selected, sibling))
        return True

    @_repairs_index
    def update_message(self, message_id: int, content: str, status: Status | str,
                       kept: bool | None = None, model: str | None = None,
                       usage: ReplyUsage | None = None, reasoning_seconds: float | None = None) -> bool:
        """Replace a message's text and status (a streaming reply: about once a second, and at the end).

        ``model`` (when given) replaces the model it was saved with: the one the server reported;
        ``usage`` (when given) the tokens the server counted for it; ``reasoning_seconds`` (when
        given) how long its reasoning took.
        One row write (search indexes it when it stops streaming). False if its chat was deleted."""
        with self._write() as db:
            changed = db.execute(
                "UPDATE messages SET content = ?, status = ?, kept = coalesce(?, kept), model = coalesce(?, model),"
                " reasoning_seconds = coalesce(?, reasoning_seconds), updated_at = ? WHERE id = ?",
                (_t(content), Status(status).value, None if kept is None else int(kept), _opt(model),
                 seconds_or_none(reasoning_seconds), self._clock(), message_id)).rowcount > 0
            if changed and usage is not None:
                db.execute("UPDATE messages SET prompt_tokens = ?, completion_tokens = ?, cached_tokens = ?,"
                           " reasoning_tokens = ?, usage_priced = ? WHERE id = ?", (*_usage_out(usage), message_id))
            return changed

    @_repairs_index
    def mark_interrupted_streams(self, stale_after: float = 0.0) -> int:
        """On start: replies left "streaming" by a killed process become interrupted; return how many.

        ``stale_after``: skip messages written in the last that-many seconds (another instance's stream)."""
        with self._write() as db:
            return db.execute(
                "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'"
                " AND coalesce(updated_at, created_at) <= ?", (self._clock() - stale_after,)).rowcount

    def set_meta(self, key: str, value: str | None) -> None:
        """Remember a small value (e.g. the last open chat id); None forgets it."""
        with self._write() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
            if value is not None:
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    @_repairs_index
    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Chats whose messages or title contain every whitespace-separated term of ``query``, any case.

        One hit per chat (a chat whose title and messages match is listed once): its best-matching
        message, else its title. Plain text (quotes, ``AND``, ``*`` are literal). Terms under 3
        characters ("你好", an emoji, "C#") use ``LIKE`` (ASCII case folding), a scan if all are
        short. Streaming replies are not searched."""
        terms = list(dict.fromkeys(query.split()))
        if not terms or limit <= 0:
            return []
        match = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms if len(t) >= 3)
        likes = ["%" + re.sub(r"([\\%_])", r"\\\1", t) + "%" for t in terms if len(t) < 3]
        best: dict[int, tuple[Any, ...]] = {}
        for fts, table, column, msg_id, chat_id, role in (
            ("messages_fts", "messages", "content", "t.id", "t.chat_id", "t.role"),
            ("chats_fts", "chats", "title", "NULL", "t.id", "NULL")):
            where = [f"t.{column} LIKE ? ESCAPE '\\'"] * len(likes)
            where += ["t.status != 'streaming'"] if table == "messages" else []
            if match:  # each term a quoted phrase: the user's text never becomes FTS5 syntax
                source, rank, order = f"{fts} f JOIN {table} t ON t.id = f.rowid", "f.rank", "f.rank"
                where.insert(0, f"{fts} MATCH ?")
            else:
                source, rank, order = f"{table} t", "0.0", "t.id DESC"
            sql = (f"SELECT {rank}, c.updated_at, c.id, {msg_id}, c.title, t.{column}, {role} FROM {source}"
                   f" JOIN chats c ON c.id = {chat_id} WHERE {' AND '.join(where) or '1'}"
                   f" ORDER BY {order} LIMIT ? OFFSET ?")
            # Best first, in growing pages, until ``limit`` different chats are found: a GROUP BY
            # would rank every match (200 ms instead of 20 for a common word in 10,000 chats).
            found: dict[int, tuple[Any, ...]] = {}
            offset, page = 0, limit * 4
            while len(found) < limit:
                rows = self._db.execute(sql, [*([match] if match else []), *likes, page, offset]).fetchall()
                for row in rows:
                    found.setdefault(row[2], row)  # the chat's best message (or its title)
                if len(rows) < page:
                    break
                offset, page = offset + page, page * 2
            for cid, row in found.items():
                seen = best.get(cid)
                if seen is None:
                    best[cid] = row
                elif row[0] < seen[0]:  # a title that ranks better lifts the chat's message hit
                    best[cid] = (row[0], *seen[1:])
        pattern = re.compile("|".join(map(re.escape, sorted(terms, key=len, reverse=True))), re.I)
        return [SearchHit(chat_id, msg_id, title, _snippet(text, pattern, markdown=role == "assistant"), rank)
                for rank, _, chat_id, msg_id, title, text, role in sorted(best.values(), key=lambda h: (h[0], -h[1]))
                ][:limit]


# Text a server or an imported file sent may hold a lone surrogate, which SQLite refuses to encode
# (UnicodeEncodeError out of a save: the reply was lost and the window stuck). Stored with U+FFFD.
_t = clean_text
_opt = clean_optional


_USAGE_COLS = "prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, usage_priced"


def _new_chat_row(db: sqlite3.Connection, now: float, title: str, persona_name: str, system_prompt: str,
                 model: str | None, extra: Mapping[str, Any] | None) -> int:
    cur = db.execute(
        "INSERT INTO chats (title, created_at, updated_at, persona_name, system_prompt, model, extra)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (_t(title), now, now, _t(persona_name), _t(system_prompt), _opt(model), json.dumps(dict(extra or {}))))
    return int(cur.lastrowid or 0)


def _new_message_row(db: sqlite3.Connection, chat_id: int, seq: int, role: str, content: str, status: Status | str,
                    model: str | None, created: float, parent: int, usage: ReplyUsage | None,
                    reasoning_seconds: float | None = None) -> int:
    """One message row, the version shown among its parent's children (``selected``)."""
    cur = db.execute(
        "INSERT INTO messages (chat_id, seq, role, content, status, model, created_at, updated_at, parent_id,"
        f" selected, {_USAGE_COLS}, reasoning_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
        (chat_id, seq, role, _t(content), Status(status).value, _opt(model), created, created, parent,
         *_usage_out(usage), seconds_or_none(reasoning_seconds)))
    return int(cur.lastrowid or 0)


def seconds_or_none(value: Any) -> float | None:
    """A reasoning time as kept (and as an export is read): a finite number of seconds, at least 0;
    anything else (another tool wrote it, an import) is none."""
    if type(value) is int:
        value = float(value)
    return value if type(value) is float and 0.0 <= value < 1e9 else None


def _usage_out(usage: ReplyUsage | None) -> tuple[int | None, ...]:
    if usage is None:
        return (None,) * 5
    u = usage.usage
    return u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens, int(usage.priced)


def _usage_in(values: tuple[Any, ...]) -> ReplyUsage | None:
    """The usage columns of a row (prompt_tokens not NULL); a count that is not a whole number of
    at least 0 (another tool wrote it) reads as 0. ~1 µs: opening a 10,000-message chat reads 5,000."""
    p, c, ca, r, priced = values
    if not (type(p) is type(c) is type(ca) is type(r) is int and min(p, c, ca, r) >= 0):
        p, c, ca, r = (v if type(v) is int and v >= 0 else 0 for v in (p, c, ca, r))
    return ReplyUsage(Usage(p, c, ca, r), priced=priced == 1)


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is not there, else make it 0600.

    SQLite creates a database with 0644 (under the usual umask) and gives its -wal and -shm files
    the database's mode: made 0600 first, none of them is readable by other users."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
    except FileExistsError:
        make_private(path)


def _connect(path: Path) -> sqlite3.Connection:
    if path.is_file() and path.stat().st_size:  # before SQLite opens it, and deletes its "stale" -wal
        with path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise sqlite3.DatabaseError("file is not a database")
    if not path.is_dir():  # a folder in its place: SQLite's own error says so
        _create_private(path)
        for suffix in ("-wal", "-shm"):
            make_private(path.with_name(path.name + suffix))
    # Autocommit (we issue BEGIN / COMMIT ourselves). Opened (and checked) on a worker thread, then
    # used on the GUI thread only: one thread at a time, so the same-thread check is off.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout = 5000")  # first, so the pragmas below wait for a lock too
        rows = db.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            raise sqlite3.DatabaseError("; ".join(str(r[0]) for r in rows[:3]))
        _check_version(db, path)  # before switching to WAL, which changes the file's header
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten with zeros, not just unlinked: "Delete" means the text is gone
        # from the file (see purge_deleted for the WAL and the search index).
        db.execute("PRAGMA secure_delete = ON")
    except BaseException:
        db.close()
        raise
    return db


def purge_deleted(path: Path) -> None:
    """Wipe what deleted chats left behind in the file at ``path`` (on its own connection, so it can
    run on a worker thread while the window's store stays open).

    ``secure_delete`` zeroes deleted rows, but the search index keeps deleted text's trigrams and
    positions until its segments are merged (``optimize``), and the WAL keeps old page images until
    it is checkpointed and truncated. Costs ~1 s for a 60 MB history; quick for usual ones."""
    with closing(sqlite3.connect(path, isolation_level=None, timeout=5.0)) as db:
        db.execute("PRAGMA secure_delete = ON")
        if int(db.execute("PRAGMA user_version").fetchone()[0]) >= 2:
            db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("messages_fts", "chats_fts"):
                    db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise sqlite3.OperationalError("the history file is busy; deleted text is wiped at the next try")


def _check_version(db: sqlite3.Connection, path: Path) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(f"{path} was written by a newer version of the app (schema {version}; "
                               f"this one knows up to {SCHEMA_VERSION}). It was left unchanged.")
    return version


#: Markdown syntax a reply's search excerpt leaves out (it is read as one line of text): code
#: fences (their code is kept as it is), table rules, heading and quote marks, link and image
#: targets, emphasis and code-span marks. Spans are bounded (an unclosed mark is looked for
#: its end only so far): a long reply of unclosed marks costs linear time, not quadratic.
_MD_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n?(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_MD_LINE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$"
                      r"|^[ \t]{0,3}(?:#{1,6}[ \t]+|(?:>[ \t]?)+)", re.M)
_MD_LINK = re.compile(r"!?\[([^\]\n]{0,500})\]\([^)\s]{0,2000}(?:[ \t]+\"[^\"\n]{0,500}\")?\)")
_MD_CODE = re.compile(r"(`+)(.{1,1000}?)\1", re.S)
_MD_STRONG = re.compile(r"(\*\*|__|~~)(?=\S)(.{1,500}?)(?<=\S)\1", re.S)
_SPACE = re.compile(r"\s")
_MD_EM = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")


def _inline_as_text(text: str) -> str:
    text = _MD_LINK.sub(r"\1", _MD_LINE.sub("", text))
    pieces = _MD_CODE.split(text)  # text, marks, code, marks, code, ..., text
    for i in range(0, len(pieces), 3):
        plain = _MD_EM.sub(r"\1", _MD_STRONG.sub(r"\2", _MD_STRONG.sub(r"\2", pieces[i])))
        pieces[i] = plain.replace("|", " ")
    return "".join(piece for i, piece in enumerate(pieces) if i % 3 != 1)


def _markdown_as_text(text: str) -> str:
    """A reply's Markdown as the words it shows, for a search excerpt (not a renderer: code is
    kept verbatim, and table cells are separated by spaces)."""
    parts, at = [], 0
    for fence in _MD_FENCE.finditer(text):
        parts += [_inline_as_text(text[at:fence.start()]), "\n", fence.group(2), "\n"]
        at = fence.end()
    parts.append(_inline_as_text(text[at:]))
    return "".join(parts)


#: How much of a reply around its first match is read as text for the excerpt (not all of a long one).
_AROUND = 400


def _snippet(text: str, pattern: re.Pattern[str], before: int = 40, width: int = 160,
             markdown: bool = False) -> str:
    """A one-line excerpt around the first match, matches wrapped in MARK_START / MARK_END
    (``markdown``: a reply, shown as its text when the match is in its text, not only its syntax)."""
    more_before = more_after = False
    if markdown:
        found = pattern.search(text)
        at = found.start() if found else 0
        # From the start of a line (a heading's or a quote's mark is seen as one), at most so far back.
        first = max(text.rfind("\n", 0, max(0, at - _AROUND)) + 1, at - 2 * _AROUND, 0)
        last = at + 2 * _AROUND
        shown = _markdown_as_text(text[first:last])
        if pattern.search(shown) or not found:
            more_before, more_after, text = first > 0, last < len(text), shown
    found = pattern.search(text)
    start = max(0, found.start() - before) if found else 0
    if start and not text[start - 1].isspace():  # from the start of a word, not its middle
        space = _SPACE.search(text, start, found.start() if found else len(text))
        start = space.end() if space else start
    piece = pattern.sub(lambda m: MARK_START + m.group(0) + MARK_END, text[start : start + width])
    return (("…" if start or more_before else "") + " ".join(piece.split())
            + ("…" if start + width < len(text) or more_after else ""))
