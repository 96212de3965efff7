"""A reasoning model's reasoning as the user sees it, in the real window against the loopback server.

Its label ("▸ Thinking…" while it comes, "▸ Thought for N s" once it is over, also after a restart),
the status line (thinking, then receiving the answer), ``<think>`` tags whatever the chunk boundaries,
and a reply that is only reasoning (nothing to copy, nothing sent back).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from chatting import sent_messages
from fakeserver import stream

KEY = "sk-test-reasoning-0123456789"
THOUGHT = re.compile(r"▸ Thought for \d+ s")
RECEIVING = "Receiving reply… (Esc to stop)"
# (``app`` and ``paths``: the real window on private folders, restartable; see conftest.py)


def send(qtbot, window, chat, text: str, wait: bool = True) -> None:
    window.input.setPlainText(text)
    chat.send_from_input()
    if wait:
        qtbot.waitUntil(lambda: not chat.busy, timeout=15000)


def last_reply(chat):
    return chat.conversation.messages[-1]


def restart(qtbot, app, window, chat):
    chat_id = chat.conversation.chat_id
    assert chat.shutdown(3000)
    window.close()
    window2, chat2 = app()  # the last open chat comes back
    qtbot.waitUntil(lambda: chat2.conversation.chat_id == chat_id, timeout=5000)
    return window2, chat2


def watch(window) -> list[tuple[str, str, str]]:
    """(the answer shown, the reasoning label, the status line) after each piece of text the
    transcript is given while a reply streams."""
    view = window.transcript
    seen: list[tuple[str, str, str]] = []
    original = view.append_to

    def append_to(msg_id: int, text: str) -> None:
        original(msg_id, text)
        seen.append((view.blocks_of_kind("assistant")[-1], view.reasoning_of(msg_id)[0],
                     window.statusBar().currentMessage()))

    view.append_to = append_to
    return seen


def test_a_reply_that_is_only_reasoning_has_thought_and_nothing_to_copy(qtbot, app, fake_server):
    window, chat = app()
    reasoning = ["Let me think. ", "The user says hi. ", "Nothing to add."]
    fake_server.queue(stream([{"reasoning_content": r} for r in reasoning], delay=0.2))
    send(qtbot, window, chat, "hi")
    view = window.transcript
    reply = last_reply(chat)
    label, text = view.reasoning_of(reply.id)
    assert THOUGHT.fullmatch(label), label
    assert text == "".join(reasoning)
    assert view.status_of(reply.id) == "The reply was empty."
    # Nothing to copy: the clipboard keeps what the user had, and the user is told.
    QApplication.clipboard().setText("what the user had")
    assert "copy" not in view.action_labels(reply.id) and "copy_markdown" not in view.action_labels(reply.id)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.current_message() == reply.id
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "what the user had"
    assert window.statusBar().currentMessage() == "Nothing to copy: this reply has no text, only its reasoning."
    # Its reasoning is not sent back, nor an empty turn in its place.
    fake_server.queue(stream(["Hello!"]))
    send(qtbot, window, chat, "hello?")
    sent = sent_messages(fake_server)
    assert [m["role"] for m in sent if m["role"] == "assistant"] == [], sent
    assert "hello?" in sent[-1]["content"] and not any("think" in m["content"].lower() for m in sent), sent

    window2, chat2 = restart(qtbot, app, window, chat)
    view2 = window2.transcript
    first = next(m for m in chat2.conversation.messages if m.role == "assistant")
    assert view2.reasoning_of(first.id) == (label, "".join(reasoning))
    assert view2.status_of(first.id) == "The reply was empty."


def test_the_status_says_receiving_once_the_think_block_ends(qtbot, app, fake_server):
    window, chat = app()
    answer = ["The ", "answer ", "is ", "forty-two."]
    fake_server.queue(stream(["<think>\nI am reasoning about it.", " More reasoning here.", "\n</think>\n\n",
                              *answer], delay=0.4))
    seen = watch(window)
    send(qtbot, window, chat, "What is it?")
    during = [s for s in seen if s[0]]
    assert during, "the answer streamed in"
    assert all(status == RECEIVING for _, _, status in during), during
    assert any("thinking" in status for answer_shown, _, status in seen if not answer_shown), seen
    assert window.transcript.blocks_of_kind("assistant") == ["The answer is forty-two."]


def test_think_tags_split_across_chunks(qtbot, app, fake_server):
    window, chat = app()
    text = "<think>\nFirst I weigh the options, then I pick one.\n</think>\n\nPick the second option."
    fake_server.queue(stream([text[i:i + 8] for i in range(0, len(text), 8)], delay=0.05))
    seen = watch(window)
    send(qtbot, window, chat, "Which one?")
    view = window.transcript
    reply = last_reply(chat)
    assert view.blocks_of_kind("assistant") == ["Pick the second option."]
    label, reasoning = view.reasoning_of(reply.id)
    assert THOUGHT.fullmatch(label) and reasoning == "First I weigh the options, then I pick one.", label
    assert all(shown in ("", "Pick the second option."[:len(shown)]) for shown, _, _ in seen), seen
    assert all(lab in ("", "▸ Thinking…") or THOUGHT.fullmatch(lab) for _, lab, _ in seen), seen

    # The opening tag split: "<th" is never shown as the reply's text.
    fake_server.queue(stream(["<th", "ink>Hmm, ", "a short one.</th", "ink>Yes."], delay=0.3))
    seen.clear()
    send(qtbot, window, chat, "Again?")
    reply = last_reply(chat)
    assert all(shown in ("", "Yes.") for shown, _, _ in seen), seen
    assert view.blocks_of_kind("assistant")[-1] == "Yes."
    label, reasoning = view.reasoning_of(reply.id)
    assert THOUGHT.fullmatch(label) and reasoning == "Hmm, a short one.", label
    assert reply.content == "<think>Hmm, a short one.</think>Yes."


def test_the_reasoning_time_is_the_same_after_a_restart(qtbot, app, paths, fake_server):
    window, chat = app()
    fake_server.queue(stream([{"reasoning_content": "Two plus two "}, {"reasoning_content": "is four."},
                              "It is ", "4."], delay=0.6))
    send(qtbot, window, chat, "2+2?")
    reply = last_reply(chat)
    label, reasoning = window.transcript.reasoning_of(reply.id)
    assert THOUGHT.fullmatch(label) and label != "▸ Thought for 0 s", label
    assert reasoning == "Two plus two is four."

    window2, chat2 = restart(qtbot, app, window, chat)
    reply2 = last_reply(chat2)
    assert window2.transcript.reasoning_of(reply2.id) == (label, "Two plus two is four.")
    assert window2.transcript.blocks_of_kind("assistant") == ["It is 4."]
    with closing(sqlite3.connect(paths.data_dir / "chats.sqlite3")) as db:
        (seconds,), = db.execute("SELECT reasoning_seconds FROM messages WHERE role = 'assistant'").fetchall()
    assert f"▸ Thought for {round(seconds)} s" == label


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


@pytest.mark.parametrize("text", ["<think>\nWeigh it.\n</think>\n\nThe answer.", "  <THINK>a</Think>b",
                                  "<b>bold</b> answer", "<thin and wrong", "<think>never ends </thin"])
def test_think_tags_are_found_whatever_the_chunk_boundaries(text):
    """Every way of cutting the reply in three: the text passed on is the reply, a tag is never
    passed on in part while undecided, and the block opens and ends where ``split_reasoning`` says."""
    from chatbot_gui.core.conversation import ThinkTags
    from chatbot_gui.ui.render.markdown_html import split_reasoning

    whole = split_reasoning(text)
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            tags, out = ThinkTags(), ""
            for piece in (text[:i], text[i:j], text[j:]):
                out += tags.feed(piece)
                if not tags.opened:
                    assert out == "" or tags.state == ThinkTags.ANSWER, (i, j, out)
                if tags.open:
                    assert split_reasoning(out).thinking and not out.lower().endswith(("</", "</t", "</th")), (i, j)
            out += tags.flush()
            assert out == text, (i, j)
            assert tags.opened == (whole.answer != text or whole.thinking), (i, j)
            assert tags.open == whole.thinking, (i, j)
