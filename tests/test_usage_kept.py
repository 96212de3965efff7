"""A reply's token usage is kept with the chat (schema 5): after a restart, after reopening the chat
from the sidebar, in a JSON export and its import, the reply's line and the chat's total read the same.

The figures come from the loopback server (it counts tokens by its rule and sends the usage chunk
when the request asks for ``stream_options.include_usage``), through the real client and window.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from contextlib import closing

import pytest

from chatbot_gui.core.conversation import Conversation, Status
from chatbot_gui.core.export import from_json, to_json, to_markdown, to_text
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.recorder import ChatRecorder, conversation_from_stored
from chatbot_gui.core.store import SCHEMA_VERSION, ChatStore
from chatbot_gui.core.usage import ReplyUsage, Usage
from fakeserver import FakeServer, TokenRule, sse_event, stream

KEY = "fake-test-key-usage"
RULE = TokenRule(bytes_per_token=3.0)
ANSWER = ["Volcanoes form ", "where magma ", "reaches the surface."]


@pytest.fixture
def app(app, fake_server: FakeServer):  # noqa: ANN001, ANN201 - conftest's app, with this module's server
    """conftest's real window (restartable, on the same folders), the server counting tokens by RULE."""
    fake_server.token_rule = RULE
    fake_server.default_reply = stream(ANSWER)

    def start():  # noqa: ANN202
        window, chat = app()
        window.model_combo.setEditText("local-model")
        return window, chat

    return start


def send(qtbot, window, chat, text: str) -> None:
    window.input.setPlainText(text)
    chat.send_from_input()
    qtbot.waitUntil(lambda: not chat.busy, timeout=10000)


def saved_usage(paths: AppPaths) -> list:
    """(prompt, completion, cached, reasoning tokens, priced) of each saved reply, as in the file."""
    with closing(sqlite3.connect(paths.data_dir / "chats.sqlite3")) as db:
        return db.execute("SELECT prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, usage_priced"
                          " FROM messages WHERE role = 'assistant' ORDER BY seq").fetchall()


def used(window) -> str:
    """The footer's usage part ("117 tokens used (~$0.01)"). Its first part, the chat's size against
    the window, is the last request's size while the app runs and the next request's when a chat is
    opened (issue 12's footer, not the usage kept here)."""
    return window.context_label.text().partition(" · ")[2]


def reply_lines(window, chat) -> list[str]:
    return [window.transcript.meta_of(m.id) for m in chat.conversation.messages if m.role == "assistant"]


def test_an_empty_reply_leaves_the_chat_total_as_a_restart_shows_it(qtbot, app, fake_server):
    """Seen (QA): a reply with no text but with usage raised "159 tokens used" to 212, and after
    a restart it read 159 again (an empty reply is not kept, so neither are its tokens)."""
    window, chat = app()
    send(qtbot, window, chat, "Where do volcanoes form?")
    before = used(window)
    fake_server.queue(stream([], usage=True))
    send(qtbot, window, chat, "And?")
    assert used(window) == before
    chat_id = chat.conversation.chat_id
    window.close()
    window2, chat2 = app()
    qtbot.waitUntil(lambda: chat2.conversation.chat_id == chat_id, timeout=5000)
    assert used(window2) == before


def test_reply_tokens_and_chat_total_are_the_same_after_a_restart_and_a_reopen(qtbot, app, paths, fake_server):
    window, chat = app()
    send(qtbot, window, chat, "Where do volcanoes form?")
    send(qtbot, window, chat, "And why?")
    bodies = [r.json for r in fake_server.requests if r.path.endswith("/chat/completions")]
    assert [b["stream_options"] for b in bodies] == [{"include_usage": True}] * 2
    # What the server counted (its rule), as it reported it, is what is saved with each reply.
    answer = "".join(ANSWER)
    expected = [(RULE.prompt(b["messages"]), RULE.text(answer), 0, 0, 0) for b in bodies]
    qtbot.waitUntil(lambda: saved_usage(paths) == expected, timeout=5000)

    lines = reply_lines(window, chat)
    total = sum(e[0] + e[1] for e in expected)
    assert [re.sub(r"\d\d:\d\d", "HH:MM", line) for line in lines] == [
        f"gpt-4o-mini · HH:MM · {e[0] + e[1]:,} tokens" for e in expected]
    footer = window.context_label.text()
    assert footer.endswith(f" · {total:,} tokens used"), footer
    assert "$" not in footer, "no cost for a server that is not OpenAI's"
    chat_id = chat.conversation.chat_id
    assert used(window) == f"{total:,} tokens used"
    window.close()

    window2, chat2 = app()  # the last open chat comes back
    qtbot.waitUntil(lambda: chat2.conversation.chat_id == chat_id, timeout=5000)
    assert reply_lines(window2, chat2) == lines
    assert used(window2) == used(window)

    # Another chat, then this one again from the sidebar (read anew from the store): the same.
    chat2.new_chat()
    assert window2.context_label.text() == ""
    assert window2.history_controller.open_chat(chat_id)
    assert reply_lines(window2, chat2) == lines
    assert used(window2) == f"{total:,} tokens used"

    # Deleting a reply takes its tokens out of the total, now and after a restart alike.
    first = next(m for m in chat2.conversation.messages if m.role == "assistant")
    chat2.delete_message(first.id)
    after_delete = f"{expected[1][0] + expected[1][1]:,} tokens used"
    assert used(window2) == after_delete
    window2.close()
    window3, chat3 = app()
    qtbot.waitUntil(lambda: chat3.conversation.chat_id == chat_id, timeout=5000)
    assert used(window3) == after_delete


def test_reasoning_and_cached_tokens_from_the_server_are_kept(qtbot, app, paths, fake_server):
    answer = stream(["Forty-two."], done=False)
    usage = {"prompt_tokens": 40, "completion_tokens": 90, "total_tokens": 130,
             "prompt_tokens_details": {"cached_tokens": 32},
             "completion_tokens_details": {"reasoning_tokens": 80}}
    extra = (sse_event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
                        "model": "gpt-4o-mini", "choices": [], "usage": usage}), b"data: [DONE]\n\n")
    fake_server.queue(dataclasses.replace(answer, parts=answer.parts + extra))
    window, chat = app()
    send(qtbot, window, chat, "The answer?")
    qtbot.waitUntil(lambda: saved_usage(paths) == [(40, 90, 32, 80, 0)], timeout=5000)
    (line,) = reply_lines(window, chat)
    assert line.endswith(" · 130 tokens")
    window.close()
    window2, chat2 = app()
    qtbot.waitUntil(lambda: bool(chat2.conversation.messages), timeout=5000)
    assert reply_lines(window2, chat2) == [line]
    (reply,) = [m for m in chat2.conversation.messages if m.role == "assistant"]
    assert reply.usage == ReplyUsage(Usage(40, 90, 32, 80), priced=False)


def test_a_chat_priced_at_openai_shows_its_cost_when_opened(qtbot, app, paths):
    """A reply that came from OpenAI's own server is saved as priced: its cost is in the footer
    when the chat is opened again (the loopback server is not OpenAI's, so the chat is written
    the way the recorder writes one)."""
    paths.data_dir.mkdir(parents=True)
    store, _ = ChatStore.open(paths.data_dir / "chats.sqlite3")
    conv = Conversation()
    rec = ChatRecorder(store)
    rec.save_user(conv, conv.add_user("Hello?"), "gpt-4o")
    reply = conv.start_reply("gpt-4o-2024-08-06")
    reply.content, reply.status = "Hi.", Status.COMPLETE
    reply.usage = ReplyUsage(Usage(1000, 1000), priced=True)
    rec.save_reply(conv, reply)
    store.close()
    window, chat = app()
    assert window.history_controller.open_chat(conv.chat_id)
    # gpt-4o: $2.50 in, $10 out per million: 1,000 of each is $0.0125.
    assert used(window) == "2,000 tokens used (~$0.013)", window.context_label.text()
    (line,) = reply_lines(window, chat)
    assert line.endswith(" · 2,000 tokens")


# -- the store, exports and the migration on their own -------------------------------------------
def _chat_with_usage(store: ChatStore) -> int:
    conv = Conversation()
    rec = ChatRecorder(store)
    rec.save_user(conv, conv.add_user("q"), "m")
    reply = conv.start_reply("m")
    reply.content, reply.status = "streaming…", Status.STREAMING
    assert rec.save_reply(conv, reply) is None  # saved while it streams: no usage yet
    reply.content, reply.status = "a", Status.COMPLETE
    reply.usage = ReplyUsage(Usage(12, 30, 4, 20), priced=True)
    assert rec.save_reply(conv, reply) is None
    assert conv.chat_id is not None
    return conv.chat_id


def test_usage_round_trips_through_the_store_and_a_json_export(tmp_path):
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        chat = store.load_chat(_chat_with_usage(store))
        assert [m.usage for m in chat.messages] == [None, ReplyUsage(Usage(12, 30, 4, 20), priced=True)]
        exported = to_json(chat)
        assert json.loads(exported)["messages"][1]["usage"] == {
            "prompt_tokens": 12, "completion_tokens": 30, "cached_tokens": 4, "reasoning_tokens": 20,
            "source": "server", "priced": True}
        assert "usage" not in json.loads(exported)["messages"][0]
        again = store.load_chat(store.import_chat(from_json(exported)))
        assert [m.usage for m in again.messages] == [m.usage for m in chat.messages]
        assert json.loads(to_json(again))["messages"] == json.loads(exported)["messages"]
        conv = conversation_from_stored(again)
        assert conv.messages[1].usage == ReplyUsage(Usage(12, 30, 4, 20), priced=True)
        assert conv.messages[1].tokens == 10 + 4  # its size when sent again: the answer, not its reasoning
        # Text and Markdown show it quietly, beside the model and time.
        assert "── Assistant · " in to_text(chat) and " · 42 tokens ──" in to_text(chat)
        assert " · 42 tokens" in to_markdown(chat)
    finally:
        store.close()


@pytest.mark.parametrize("usage", [
    "a string", 5, [1, 2], {"prompt_tokens": "x"}, {"completion_tokens": -3, "priced": "yes"}, {}])
def test_an_imported_usage_that_is_not_ours_is_refused_or_read_as_none(usage):
    data = {"format": "chatbot-gui.chat", "version": 2, "title": "t", "created_at": 1.0, "updated_at": 1.0,
            "persona": {"name": "P", "system_prompt": ""}, "model": None, "extra": {},
            "messages": [{"id": 1, "parent": None, "role": "assistant", "content": "a", "status": "complete",
                          "created_at": 1.0, "usage": usage}]}
    if not isinstance(usage, dict):
        with pytest.raises(ValueError, match=r"messages\[0\]\.usage must be an object"):
            from_json(json.dumps(data))
        return
    (msg,) = from_json(json.dumps(data)).messages
    if usage.get("completion_tokens") == -3:
        assert msg.usage == ReplyUsage(Usage(0, 0), priced=False)  # counts clamped, "yes" is not true
    elif usage == {"prompt_tokens": "x"}:
        assert msg.usage == ReplyUsage(Usage(0, 0))
    else:
        assert msg.usage is None


def test_stored_counts_another_tool_wrote_badly_read_as_zero(tmp_path):
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        chat_id = _chat_with_usage(store)
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "chats.sqlite3") as db:
        db.execute("UPDATE messages SET completion_tokens = 'many', cached_tokens = -1, reasoning_tokens = 2.5"
                   " WHERE role = 'assistant'")
    store, _ = ChatStore.open(tmp_path / "chats.sqlite3")
    try:
        assert [m.usage for m in store.load_chat(chat_id).messages] == [None, ReplyUsage(Usage(12, 0), priced=True)]
    finally:
        store.close()


# The version-4 schema as that release wrote it, typed out here on purpose (not taken from the code
# under test), with a chat in it: versions, a notice, a pin.
V4_FILE = """
CREATE TABLE chats (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL, updated_at REAL NOT NULL, persona_name TEXT NOT NULL DEFAULT '',
  system_prompt TEXT NOT NULL DEFAULT '', model TEXT, extra TEXT NOT NULL DEFAULT '{}',
  message_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
  role TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL, kept INTEGER NOT NULL DEFAULT 0,
  model TEXT, created_at REAL NOT NULL, updated_at REAL, parent_id INTEGER,
  selected INTEGER NOT NULL DEFAULT 1, pinned INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX messages_chat_seq ON messages(chat_id, seq);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX chats_updated ON chats(updated_at, id);
CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
CREATE VIRTUAL TABLE messages_fts USING fts5(content, content=messages, content_rowid=id, tokenize=trigram);
CREATE VIRTUAL TABLE chats_fts USING fts5(title, content=chats, content_rowid=id, tokenize=trigram);
INSERT INTO chats VALUES (5, 'Four', 1.0, 9.0, 'Helpful assistant', 'Be brief.', 'gpt-4o', '{}', 6);
INSERT INTO messages VALUES (50, 5, 1, 'user', 'first question', 'complete', 0, NULL, 1.0, 1.0, 0, 1, 1);
INSERT INTO messages VALUES (51, 5, 2, 'assistant', 'first answer', 'complete', 0, 'gpt-4o', 2.0, 2.0, 50, 0, 0);
INSERT INTO messages VALUES (52, 5, 3, 'assistant', 'second version', 'complete', 0, 'gpt-4o', 3.0, 3.0, 50, 1, 0);
INSERT INTO messages VALUES (53, 5, 4, 'notice', 'Persona: Terse', 'complete', 0, NULL, 4.0, 4.0, 52, 1, 0);
INSERT INTO messages VALUES (54, 5, 5, 'user', 'next', 'complete', 0, NULL, 5.0, 5.0, 53, 1, 0);
INSERT INTO messages VALUES (55, 5, 6, 'assistant', 'partial', 'stopped', 1, 'gpt-4o', 6.0, 6.0, 54, 1, 0);
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
INSERT INTO chats_fts(chats_fts) VALUES ('rebuild');
INSERT INTO meta VALUES ('last_chat_id', '5');
PRAGMA user_version = 4;
"""


def test_a_version_4_file_is_backed_up_and_migrated_keeping_every_message(tmp_path):
    path = tmp_path / "chats.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(V4_FILE)
    rows = "SELECT id, chat_id, seq, role, content, status, kept, model, created_at, parent_id, selected, pinned" \
           " FROM messages ORDER BY id"
    with sqlite3.connect(path) as db:
        before = db.execute(rows).fetchall()
    store, notice = ChatStore.open(path)
    try:
        assert notice is None
        chat = store.load_chat(5)
        assert [(m.id, m.content, m.selected, m.pinned, m.usage) for m in chat.messages] == [
            (50, "first question", True, True, None), (51, "first answer", False, False, None),
            (52, "second version", True, False, None), (53, "Persona: Terse", True, False, None),
            (54, "next", True, False, None), (55, "partial", True, False, None)]
        assert [h.message_id for h in store.search("second version")] == [52]
        # New replies keep their usage in the migrated file.
        new = store.add_message(5, "assistant", "third", usage=ReplyUsage(Usage(1, 2)))
        assert store.load_chat(5).messages[-1].usage == ReplyUsage(Usage(1, 2))
        assert new > 55
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute(rows + " LIMIT 6").fetchall() == before
    (backup,) = tmp_path.glob("chats.sqlite3.bak-v4-*")
    assert backup.stat().st_mode & 0o077 == 0, "the backup is private, like the history"
    with closing(sqlite3.connect(backup)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (4,)
        assert db.execute(rows).fetchall() == before
    ChatStore.open(path)[0].close()  # a current file is not backed up again
    assert len(list(tmp_path.glob("*.bak-*"))) == 1
