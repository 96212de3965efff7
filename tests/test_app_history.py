"""Chat history in the running app: kept, listed, switched, searched, deleted, exported, imported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.ui.sidebar import ChatIdRole
from fakeserver import FakeServer, stream

KEY = "sk-history-0123456789abcdef"


class Answers:
    """Answers the history dialogs (file pickers, warnings) the way a person would."""

    def __init__(self) -> None:
        self.save_path: tuple[Path, str] | None = None
        self.folder: tuple[Path, str] | None = None
        self.open_path: Path | None = None
        self.warnings: list[tuple[str, str]] = []
        self.suggested: list[str] = []

    def ask_save_path(self, suggested):
        self.suggested.append(suggested)
        return self.save_path

    def ask_folder_and_format(self):
        return self.folder

    def ask_open_path(self):
        return self.open_path

    def warn(self, title, text):
        self.warnings.append((title, text))


@pytest.fixture
def paths(tmp_path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def app(qtbot, paths, answers, fake_server):
    """Start (and restart) the app on the same folders; every window is shut down at the end."""
    opened = []

    def start():
        window, chat = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
                                     paths=paths, keys=KeyStore(MemoryKeyring()),
                                     ask_settings=_never, history_interaction=answers)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.history_controller.store is not None and chat.config.api_key == KEY)
        opened.append((window, chat))
        return window, chat

    yield start
    for window, chat in opened:
        assert chat.shutdown(3000)
        window.close()


def _never(*args, **kwargs):
    raise AssertionError("no Settings dialog expected")


def send(qtbot, window, chat, text):
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=8000)


def sidebar_titles(window) -> list[str]:
    """The chats' titles in the list, top to bottom (not the date groups' headers)."""
    model = window.sidebar.chat_model
    return [model.index(r, 0).data() for r in range(model.rowCount())
            if model.index(r, 0).data(ChatIdRole) is not None]


def db_rows(paths: AppPaths, sql: str, args=()) -> list[tuple]:
    db = sqlite3.connect(paths.data_dir / "chats.sqlite3")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def test_chats_are_kept_listed_newest_first_and_the_last_one_comes_back(qtbot, app, paths, fake_server):
    window, chat = app()
    fake_server.queue(stream(["Answer one"]), stream(["Answer two"]))
    send(qtbot, window, chat, "first chat")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    send(qtbot, window, chat, "second chat")
    # The row moves a moment after the send (ROWS_DELAY_MS), in an event-loop pass of its own.
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["second chat", "first chat"], timeout=2000)
    model = window.sidebar.chat_model
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["Today", "second chat", "first chat"]
    rows = db_rows(paths, "SELECT role, content, status FROM messages ORDER BY id")
    assert rows == [("user", "first chat", "complete"), ("assistant", "Answer one", "complete"),
                    ("user", "second chat", "complete"), ("assistant", "Answer two", "complete")]
    window.close()
    window2, chat2 = app()
    assert window2.transcript.blocks_of_kind("user") == ["second chat"]
    assert window2.transcript.blocks_of_kind("assistant") == ["Answer two"]
    assert window2.windowTitle() == "second chat — Chatbot"
    # Opening the older chat from the sidebar, and carrying on in it: the request has its history.
    model = window2.sidebar.chat_model
    window2.sidebar.chatActivated.emit(model.summary(2).id)  # row 0 is the "Today" header
    assert window2.transcript.blocks_of_kind("user") == ["first chat"]
    send(qtbot, window2, chat2, "more")
    assert [m["content"] for m in fake_server.requests[-1].json["messages"][1:]] == ["first chat", "Answer one", "more"]


def test_the_users_message_is_committed_before_the_request_goes_out(qtbot, app, paths, fake_server):
    window, chat = app()
    fake_server.queue(stream(["never"], stall_before=float("inf")))
    window.input.setPlainText("safe before sending")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    assert fake_server.wait_for_requests(1, timeout=3)
    assert db_rows(paths, "SELECT content FROM messages") == [("safe before sending",)]
    chat.stop()


def test_a_reply_stays_with_its_chat_while_another_is_shown(qtbot, app, paths, fake_server):
    window, chat = app()
    fake_server.queue(stream([f"word{i} " for i in range(40)], delay=0.03))
    window.input.setPlainText("long answer please")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "word1" in window.transcript.toPlainText())
    first_id = chat.conversation.chat_id
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.transcript.toPlainText() == ""
    qtbot.waitUntil(lambda: not chat.busy, timeout=8000)
    assert "word" not in window.transcript.toPlainText(), "the reply leaked into the new chat"
    full = "".join(f"word{i} " for i in range(40))
    def rows() -> list[tuple]:
        return db_rows(paths, "SELECT content, status FROM messages WHERE chat_id = ? AND role = 'assistant'",
                       (first_id,))

    # The reply's last write runs on the task runner after it ends (ui/reply.py): on a loaded machine it
    # can land just after `chat.busy` turns false (as in test_replies' three-chat story).
    qtbot.waitUntil(lambda: rows() == [(full, "complete")], timeout=5000)
    window.history_controller.open_chat(first_id)
    assert window.transcript.blocks_of_kind("assistant") == [full]


def test_switching_back_while_it_streams_shows_the_reply_growing(qtbot, app, fake_server):
    window, chat = app()
    fake_server.queue(stream([f"w{i} " for i in range(60)], delay=0.03))
    window.input.setPlainText("stream it")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "w2 " in window.transcript.toPlainText())
    first_id = chat.conversation.chat_id
    window.history_controller.new_chat()
    window.history_controller.open_chat(first_id)
    qtbot.waitUntil(lambda: not chat.busy, timeout=8000)
    assert window.transcript.blocks_of_kind("assistant") == ["".join(f"w{i} " for i in range(60))]


def test_rename_and_delete_with_undo(qtbot, app, paths):
    window, chat = app()
    send(qtbot, window, chat, "to be renamed")
    chat_id = chat.conversation.chat_id
    window.sidebar.renameRequested.emit(chat_id, "Renamed chat")
    assert window.windowTitle() == "Renamed chat — Chatbot"
    assert db_rows(paths, "SELECT title FROM chats") == [("Renamed chat",)]
    window.sidebar.deleteRequested.emit(chat_id)
    assert sidebar_titles(window) == [] and window.transcript.toPlainText() == ""
    assert db_rows(paths, "SELECT count(*) FROM chats") == [(0,)]
    assert window.sidebar.undo_bar.isVisible()
    window.sidebar.undo_bar.undo_button.click()
    assert sidebar_titles(window) == ["Renamed chat"]
    assert db_rows(paths, "SELECT count(*) FROM messages") == [(2,)]


def test_undo_of_a_deleted_open_chat_reopens_it_and_the_next_keys_go_to_the_message_box(qtbot, app, paths):
    """Seen: after clicking Undo, the focus fell to the Model field with its text selected, and the
    letters typed next replaced the model; the chat came back in the list but stayed closed."""
    window, chat = app()
    send(qtbot, window, chat, "keep me")
    chat_id = chat.conversation.chat_id
    model = window.current_model()
    window.sidebar.deleteRequested.emit(chat_id)
    assert window.sidebar.undo_bar.isVisible() and chat.conversation.chat_id is None
    button = window.sidebar.undo_bar.undo_button
    button.setFocus()  # a click on it (qtbot's click does not move the focus)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert sidebar_titles(window) == ["keep me"]
    restored = db_rows(paths, "SELECT id FROM chats")[0][0]
    assert chat.conversation.chat_id == restored, "the chat that was open is open again"
    assert [m.content for m in chat.conversation.messages][:1] == ["keep me"]
    qtbot.waitUntil(window.input.hasFocus)
    qtbot.keyClicks(QApplication.focusWidget(), "hi")
    assert window.current_model() == model and window.input.toPlainText() == "hi"


def test_undo_of_a_deleted_chat_that_was_not_open_leaves_the_open_one_and_focuses_the_list(qtbot, app):
    window, chat = app()
    send(qtbot, window, chat, "other chat")
    window.history_controller.new_chat()
    send(qtbot, window, chat, "open chat")
    open_id = chat.conversation.chat_id
    other = next(c for c in window.history_controller.store.list_chats() if c.id != open_id)
    window.sidebar.deleteRequested.emit(other.id)
    button = window.sidebar.undo_bar.undo_button
    button.setFocus()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert chat.conversation.chat_id == open_id
    qtbot.waitUntil(window.sidebar.chat_list.hasFocus)
    assert window.sidebar.chat_list.currentIndex().data() == "other chat"


def test_search_opens_the_chat_and_highlights_the_match(qtbot, app, fake_server):
    window, chat = app()
    fake_server.queue(stream(["The capital is Ouagadougou."]), stream(["Unrelated."]))
    send(qtbot, window, chat, "capital of Burkina Faso?")
    target = chat.conversation.chat_id
    window.history_controller.new_chat()
    send(qtbot, window, chat, "something else")
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.sidebar.search_edit.hasFocus()
    qtbot.keyClicks(window.sidebar.search_edit, "ouagadougou")
    results = window.sidebar.search.results_model
    qtbot.waitUntil(lambda: results.rowCount() > 0)
    hit = results.hit(0)
    assert hit.chat_id == target
    window.sidebar.searchResultActivated.emit(hit.chat_id, hit.message_id or -1, "ouagadougou")
    assert chat.conversation.chat_id == target
    view = window.transcript
    assert view.highlighted() == ["Ouagadougou"]
    shown = [m for m in chat.conversation.messages if "Ouagadougou" in m.content][0]
    assert shown.id in view.visible_ids(), "the match is scrolled into view"


@pytest.mark.parametrize("fmt", ["txt", "md", "json"])
def test_export_writes_the_chat_and_json_imports_back_exactly(qtbot, app, answers, tmp_path, fmt, fake_server):
    window, chat = app()
    fake_server.queue(stream(["Réponse **markdown** <b>ok</b> 你好"]))
    send(qtbot, window, chat, "Question with ünïcode 🎉")
    target = tmp_path / f"out.{fmt}"
    answers.save_path = (target, fmt)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    text = target.read_text(encoding="utf-8")
    assert "Question with ünïcode 🎉" in text and "Réponse **markdown** <b>ok</b> 你好" in text
    assert KEY not in text
    assert answers.suggested and answers.suggested[0].endswith(".txt")
    if fmt == "json":
        assert json.loads(text)["format"] == "chatbot-gui.chat"
        answers.open_path = target
        before = chat.conversation.chat_id
        window.import_action.trigger()
        qtbot.waitUntil(lambda: chat.conversation.chat_id != before)  # imports run off the GUI thread
        assert window.transcript.blocks_of_kind("user") == ["Question with ünïcode 🎉"]
        assert window.transcript.blocks_of_kind("assistant") == ["Réponse **markdown** <b>ok</b> 你好"]
        assert len(sidebar_titles(window)) == 2


def test_a_failed_export_says_why_and_leaves_the_old_file(qtbot, app, answers, tmp_path):
    window, chat = app()
    send(qtbot, window, chat, "export me")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("I am a file")
    answers.save_path = (blocker / "chat.txt", "txt")
    window.export_action.trigger()
    assert answers.warnings and "Could not write" in answers.warnings[0][1]
    assert blocker.read_text() == "I am a file"


def test_importing_a_bad_file_says_so(qtbot, app, answers, tmp_path):
    window, chat = app()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    answers.open_path = bad
    window.import_action.trigger()
    qtbot.waitUntil(lambda: bool(answers.warnings))  # imports run off the GUI thread
    assert "bad.json" in answers.warnings[0][1]
    assert sidebar_titles(window) == []


def test_export_all_writes_one_file_per_chat(qtbot, app, answers, tmp_path):
    window, chat = app()
    send(qtbot, window, chat, "alpha")
    window.history_controller.new_chat()
    send(qtbot, window, chat, "beta")
    folder = tmp_path / "all"
    folder.mkdir()
    answers.folder = (folder, "md")
    window.export_all_action.trigger()
    qtbot.waitUntil(lambda: "Exported 2 chats" in window.statusBar().currentMessage())  # off the GUI thread
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 2 and all(name.endswith(".md") for name in files)


def test_a_corrupt_history_file_is_kept_aside_and_the_user_is_told(qtbot, app, paths):
    paths.data_dir.mkdir(parents=True)
    (paths.data_dir / "chats.sqlite3").write_bytes(b"this is not a database" * 100)
    window, chat = app()
    notices = " ".join(window.notices())
    aside = [p for p in paths.data_dir.iterdir() if p.name != "chats.sqlite3" and "chats.sqlite3" in p.name
             and not p.name.endswith(("-wal", "-shm"))]
    assert aside and aside[0].read_bytes() == b"this is not a database" * 100
    assert aside[0].name in notices
    send(qtbot, window, chat, "works anyway")
    assert db_rows(paths, "SELECT content FROM messages WHERE role = 'user'") == [("works anyway",)]


def test_sending_and_switching_while_a_chat_streams_writes_no_meta_on_the_gui_thread(qtbot, app, paths, fake_server):
    """Issue 10: no blocking write on the GUI thread while a reply streams. Which chat is open is
    remembered from a worker; the sidebar row of a new chat still appears, and the open chat comes back
    after a restart."""
    window, chat = app()
    fake_server.queue(stream(["Answer one"]))
    send(qtbot, window, chat, "first chat")
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["first chat"], timeout=2000)
    statements: list[str] = []
    gui_db = window.history_controller.store._db  # the GUI thread's connection
    gui_db.set_trace_callback(statements.append)
    try:
        fake_server.queue(stream(["slow"] * 40, delay=0.05), stream(["Answer two"]))
        window.input.setPlainText("streams for a while")
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: chat.busy, timeout=2000)
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        window.input.setPlainText("second chat")
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: sidebar_titles(window)[:1] == ["second chat"], timeout=3000)
        second_id = chat.conversation.chat_id
        qtbot.waitUntil(lambda: db_rows(paths, "SELECT value FROM meta WHERE key = 'last_chat_id'")
                        == [(str(second_id),)], timeout=3000)
    finally:
        gui_db.set_trace_callback(None)
    assert [s for s in statements if "meta" in s] == []
    qtbot.waitUntil(lambda: not chat.busy and not chat.running_threads(), timeout=8000)
    window.close()
    window2, _chat2 = app()
    assert window2.transcript.blocks_of_kind("user") == ["second chat"]


def test_an_empty_chat_greets_the_user_and_a_restored_chat_never_flashes_the_greeting(qtbot, app, monkeypatch,
                                                                                       fake_server):
    from chatbot_gui.ui.messages.view import MessagesView

    drawn: list[str] = []
    real = MessagesView._paint_empty_hint

    def paint(view, painter, colors, font):  # noqa: ANN001 - the view's own arguments
        drawn.append(view.empty_hint())
        real(view, painter, colors, font)

    monkeypatch.setattr(MessagesView, "_paint_empty_hint", paint)
    greeting = "What can I help with?"
    window, chat = app()  # the first start: no chat to restore
    window.transcript.viewport().repaint()
    assert window.transcript.empty_hint() == greeting and drawn[-1] == greeting
    assert window.sidebar.empty_text() == "No chats yet.\nThey are kept here."
    fake_server.queue(stream(["Answer one"]))
    send(qtbot, window, chat, "first chat")
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["first chat"])
    assert window.sidebar.empty_text() == ""
    drawn.clear()
    window.transcript.viewport().repaint()
    assert window.transcript.empty_hint() == "" and drawn == []
    assert chat.shutdown(3000)
    window.close()
    # The next start restores that chat: the greeting is never drawn on the way.
    window, chat = app()
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("user") == ["first chat"])
    window.transcript.viewport().repaint()
    assert drawn == []
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # a new chat greets again
    window.transcript.viewport().repaint()
    assert window.transcript.empty_hint() == greeting and drawn == [greeting]


def test_a_deleted_message_can_be_put_back_where_it_was_until_the_chat_moves_on(qtbot, app, fake_server):
    window, chat = app()
    fake_server.queue(stream(["Answer one"]), stream(["Answer two"]), stream(["Answer three"]))
    send(qtbot, window, chat, "question one")
    send(qtbot, window, chat, "question two")
    view = window.transcript
    first = next(m for m in chat.conversation.messages if m.content == "Answer one")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.action_point(first.id, "delete"))
    assert view.blocks_of_kind("assistant") == ["Answer two"]
    # "Message deleted. Undo" where it was: under the question it answered.
    undo = [(row, label) for row, action, label in view.links() if action == "undo"]
    assert len(undo) == 1 and undo[0][1] == "Undo"
    assert view.blocks_of_kind("notice") == ["Message deleted.  Undo"]
    where = view.action_point(undo[0][0], "undo")
    row = view._row(undo[0][0])  # "Undo" on the notice's own line, after its text
    link = next(h for h in row.hits if h.action == "undo").rect
    assert link.top() < row.pieces[0].bottom and link.left() >= row.pieces[0].x + row.pieces[0].doc.idealWidth()
    text = view.toPlainText()
    assert text.index("question one") < text.index("Message deleted.") < text.index("question two")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert view.blocks_of_kind("assistant") == ["Answer one", "Answer two"]
    assert [m.content for m in chat.conversation.messages] == ["question one", "Answer one", "question two",
                                                               "Answer two"]
    assert not any(action == "undo" for _, action, _ in view.links())
    # Back in the store too: the next start shows it.
    assert chat.shutdown(3000)
    window.close()
    window, chat = app()
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") == ["Answer one", "Answer two"])
    # Once the chat moves on (a new message), the offer is gone.
    view = window.transcript
    second = next(m for m in chat.conversation.messages if m.content == "Answer two")
    view.trigger_action(second.id, "delete")
    assert any(action == "undo" for _, action, _ in view.links())
    send(qtbot, window, chat, "question three")
    assert not any(action == "undo" for _, action, _ in view.links())
    assert view.blocks_of_kind("assistant") == ["Answer one", "Answer three"]


def test_deleting_one_version_of_a_reply_says_a_version_was_deleted(qtbot, app, fake_server):
    """Seen (QA): deleting version 1 of 3 said "Message deleted." above the reply still shown (now
    "1/2"), as if the whole message had gone."""
    window, chat = app()
    fake_server.queue(stream(["First take"]), stream(["Second take"]))
    send(qtbot, window, chat, "question")
    window.regenerate_action.trigger()
    qtbot.waitUntil(lambda: not chat.busy, timeout=15000)
    view = window.transcript
    shown = chat.conversation.messages[-1]
    assert shown.content == "Second take" and chat.conversation.version_of(shown.id) == (2, 2)
    view.trigger_action(shown.id, "delete")
    assert view.blocks_of_kind("notice") == ["Version 2 of 2 deleted.  Undo"]
    assert view.blocks_of_kind("assistant") == ["First take"]
    undo = next(row for row, action, _ in view.links() if action == "undo")
    view.trigger_action(undo, "undo")
    assert view.blocks_of_kind("assistant") == ["Second take"]
    assert chat.conversation.version_of(chat.conversation.messages[-1].id) == (2, 2)


def test_a_deleted_chats_undo_stays_while_another_chat_streams_and_goes_when_the_user_sends(qtbot, app,
                                                                                           fake_server):
    """Seen: with a reply streaming in the open chat, the Undo of a chat just deleted vanished
    within half a second (the streaming chat's list row changed), long before its own timeout."""
    window, chat = app()
    fake_server.queue(stream(["B answer"]), stream(["word "] * 150, delay=0.02), stream(["C answer"]))
    send(qtbot, window, chat, "chat B")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    window.input.setPlainText("chat A")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["chat A", "chat B"], timeout=3000)
    b_id = next(window.sidebar.chat_model.index(r, 0).data(ChatIdRole) for r in range(3)
                if window.sidebar.chat_model.index(r, 0).data() == "chat B")
    window.history_controller.delete_chat(b_id)
    assert sidebar_titles(window) == ["chat A"]
    for _ in range(15):  # 1.5 s of chat A streaming and being saved
        qtbot.wait(100)
        assert window.sidebar.undo_bar.isVisible() and chat.busy
    qtbot.waitUntil(lambda: not chat.busy, timeout=10000)
    assert window.sidebar.undo_bar.isVisible()
    send(qtbot, window, chat, "chat A again")  # the user moves on: the offer goes
    assert not window.sidebar.undo_bar.isVisible()


def test_renaming_a_chat_while_another_streams_keeps_the_editor_and_every_typed_letter(qtbot, app, fake_server):
    """Seen: F2 on chat B while chat A streamed: half a second later A's list row moved the current
    row back to A, which committed B's title half typed and closed the editor (the rest of the typing
    went nowhere)."""
    from PySide6.QtWidgets import QAbstractItemView, QApplication

    window, chat = app()
    fake_server.queue(stream(["B answer"]), stream(["word "] * 150, delay=0.02))
    send(qtbot, window, chat, "chat B")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    window.input.setPlainText("chat A")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["chat A", "chat B"], timeout=3000)
    view, model = window.sidebar.chat_list, window.sidebar.chat_model
    b_row = next(model.index(r, 0) for r in range(model.rowCount()) if model.index(r, 0).data() == "chat B")
    view.setFocus()
    view.setCurrentIndex(b_row)
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    editor.selectAll()
    for word in ["Trip ", "plans ", "for ", "June"]:  # typed over 1.5 s of chat A streaming
        qtbot.keyClicks(editor, word)
        qtbot.wait(400)
        assert view.state() == QAbstractItemView.State.EditingState and chat.busy
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Trip plans for June" in sidebar_titles(window))
    # The open chat (A) is the highlighted row again.
    qtbot.waitUntil(lambda: view.currentIndex().data() == "chat A")
    qtbot.waitUntil(lambda: not chat.busy, timeout=10000)


def test_browsing_the_chat_list_by_keyboard_is_not_pulled_back_while_the_open_chat_streams(qtbot, app,
                                                                                           fake_server):
    """Seen: Down, Down in the chat list while the open chat streamed: within half a second the
    highlight jumped back to the open chat (its list row was updated), and again every second."""
    window, chat = app()
    fake_server.queue(stream(["B answer"]), stream(["C answer"]), stream(["word "] * 150, delay=0.02))
    send(qtbot, window, chat, "chat B")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    send(qtbot, window, chat, "chat C")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    window.input.setPlainText("chat A")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["chat A", "chat C", "chat B"], timeout=3000)
    view = window.sidebar.chat_list
    assert view.currentIndex().data() == "chat A"  # the new chat, highlighted once saved
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    for _ in range(15):  # 1.5 s of chat A streaming and being saved
        qtbot.wait(100)
        assert view.currentIndex().data() == "chat B" and chat.busy
    qtbot.keyClick(view, Qt.Key.Key_Return)  # and Enter opens the chat browsed to
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") == ["B answer"])
    qtbot.waitUntil(lambda: not chat.busy, timeout=10000)


def test_renaming_the_open_chat_while_it_streams_keeps_what_is_typed(qtbot, app, fake_server):
    """Seen: F2 on the chat whose reply was streaming: each save of the reply put the old title
    back into the editor ("Trip plans " became "chat A", then "chat AJune")."""
    from PySide6.QtWidgets import QAbstractItemView, QApplication

    window, chat = app()
    fake_server.queue(stream(["word "] * 150, delay=0.02))
    window.input.setPlainText("chat A")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["chat A"], timeout=3000)
    view = window.sidebar.chat_list
    qtbot.keyClick(window.transcript, Qt.Key.Key_F2)  # F2 wherever the focus is: the open chat
    editor = QApplication.focusWidget()
    editor.selectAll()
    typed = ""
    for word in ["Trip ", "plans ", "for ", "June"]:  # over 1.5 s of the reply streaming and being saved
        qtbot.keyClicks(editor, word)
        typed += word
        qtbot.wait(400)
        assert view.state() == QAbstractItemView.State.EditingState and editor.text() == typed and chat.busy
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sidebar_titles(window) == ["Trip plans for June"])
    qtbot.waitUntil(lambda: not chat.busy, timeout=10000)
    assert sidebar_titles(window) == ["Trip plans for June"] and view.currentIndex().data() == "Trip plans for June"
