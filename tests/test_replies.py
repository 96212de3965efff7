"""Issue 10 stories: replies with identity, one object per request, several chats streaming at once.

Each runs the real window against the loopback server through the real openai client, and asserts
what the user sees or what the server received.
"""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import Qt

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.ui.controller import MAX_STREAMS
from chatbot_gui.ui.sidebar import MarkRole
from chatting import sent_messages as sent, type_and_send, wait_idle as idle
from fakeserver import FakeServer, error, stream

KEY = "sk-test-replies-0123456789"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
RATE_LIMIT = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
SERVER_ERROR = {"error": {"message": "The server had an error", "type": "server_error", "code": None}}


def _never(*args, **kwargs):
    raise AssertionError("no Settings dialog expected")


@pytest.fixture
def paths(tmp_path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


@pytest.fixture
def start(qtbot, fake_server: FakeServer, paths):
    windows = []

    def start_one():
        window, chat = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
                                     paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=_never)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.history_controller.store is not None, timeout=15000)
        windows.append((window, chat))
        return window, chat

    yield start_one
    for window, chat in windows:
        assert chat.shutdown(3000)
        window.close()


def slow(prefix: str, n: int = 30, delay: float = 0.03):
    return stream([f"{prefix}{i} " for i in range(n)], delay=delay)


def whole(prefix: str, n: int = 30) -> str:
    return "".join(f"{prefix}{i} " for i in range(n))


def new_chat(qtbot, window) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)


# -- "Why": each of these failed on the code before the redesign ----------------------------------

def test_a_persona_change_mid_stream_lands_after_the_reply_and_survives_restart(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(slow("w", 20, 0.03))
    type_and_send(qtbot, window, "tell me")
    qtbot.waitUntil(lambda: len("".join(window.transcript.blocks_of_kind("assistant"))) > 6, timeout=15000)
    window.persona_combo.setCurrentIndex(1)  # Sarcastic, while the reply streams
    idle(qtbot, chat)
    assert window.transcript.blocks_of_kind("assistant") == [whole("w", 20)]  # not split by the notice
    text = window.transcript.toPlainText()
    assert text.index(whole("w", 20).strip()) < text.index("Persona: Sarcastic assistant")
    chat_id = chat.conversation.chat_id
    chat.shutdown()
    window.close()

    window2, chat2 = start()
    qtbot.waitUntil(lambda: chat2.conversation.chat_id == chat_id, timeout=15000)
    assert window2.transcript.blocks_of_kind("notice") == ["Persona: Sarcastic assistant"]
    text = window2.transcript.toPlainText()
    assert text.index("tell me") < text.index(whole("w", 20).strip()) < text.index("Persona: Sarcastic")
    # the notice is shown and kept, never sent
    type_and_send(qtbot, window2, "and now?")
    idle(qtbot, chat2)
    assert [m["role"] for m in sent(fake_server)] == ["system", "user", "assistant", "user"]
    assert sent(fake_server)[0]["content"] == "You are a sarcastic assistant."


def test_retry_under_an_old_error_is_not_offered_and_does_nothing(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(error(500, SERVER_ERROR), stream(["Later answer"]))
    type_and_send(qtbot, window, "first")
    idle(qtbot, chat)
    (err,) = window.transcript.blocks_of_kind("error")
    assert "Retry" in err
    old_key = chat.reply_of(chat.conversation).key
    type_and_send(qtbot, window, "second")
    idle(qtbot, chat)
    (err,) = window.transcript.blocks_of_kind("error")
    assert "Retry" not in err  # history, inert
    window.transcript.retryRequested.emit(old_key)  # what a click on the old link would emit
    assert not fake_server.wait_for_requests(3, timeout=0.5)
    assert window.transcript.blocks_of_kind("assistant") == ["Later answer"]


def test_a_successful_retry_replaces_the_error_in_place(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(error(500, SERVER_ERROR), stream(["Recovered"]))
    type_and_send(qtbot, window, "please")
    idle(qtbot, chat)
    assert window.transcript.blocks_of_kind("error")
    window.transcript.retryRequested.emit(chat.reply_of(chat.conversation).key)
    idle(qtbot, chat)
    assert window.transcript.blocks_of_kind("error") == []
    assert window.transcript.blocks_of_kind("assistant") == ["Recovered"]
    assert sent(fake_server) == [SYSTEM, {"role": "user", "content": "please"}]


def test_esc_during_a_429_countdown_cancels_it_and_sends_nothing_more(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(error(429, RATE_LIMIT, headers={"retry-after": "2"}), stream(["too late"]))
    type_and_send(qtbot, window, "hi")
    qtbot.waitUntil(lambda: any("Retrying in" in b for b in window.transcript.blocks_of_kind("countdown")), timeout=15000)
    # during the countdown: Stop works, the status line says what is going on
    assert window.stop_button.isEnabled() and window.stop_action.isEnabled()
    assert "retrying in" in window.statusBar().currentMessage().lower()
    qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert not chat.busy and window.send_button.isEnabled() and not window.stop_button.isEnabled()
    assert not fake_server.wait_for_requests(2, timeout=3.0)  # the retry never fires
    assert window.transcript.blocks_of_kind("countdown") == ["Automatic retry cancelled."]
    (err,) = window.transcript.blocks_of_kind("error")
    assert "Retry" in err  # a normal error, with Retry
    window.transcript.retryRequested.emit(chat.reply_of(chat.conversation).key)
    idle(qtbot, chat)
    assert window.transcript.blocks_of_kind("assistant") == ["too late"]
    assert window.transcript.blocks_of_kind("error") == []


def test_esc_stops_a_retry_in_progress(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(error(429, RATE_LIMIT, headers={"retry-after": "1"}),
                      stream(["never"], stall_before=float("inf")))
    type_and_send(qtbot, window, "hi")
    qtbot.waitUntil(lambda: len(fake_server.requests) == 2, timeout=5000)
    qtbot.waitUntil(lambda: chat.busy_here, timeout=15000)
    assert window.stop_button.isEnabled()
    qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert not chat.busy
    assert fake_server.wait_disconnect(1.0)
    _a_stopped_retry_leaves_the_error_with_a_working_retry(qtbot, window, chat, fake_server, requests=2)


def test_stopping_a_retry_the_user_asked_for_leaves_the_error_with_a_working_retry(qtbot, start, fake_server):
    """Seen: after Stop during a clicked Retry, the error kept its Retry link but clicks sent nothing,
    and "Stopped before any reply arrived" stood under it."""
    window, chat = start()
    fake_server.queue(error(500, SERVER_ERROR), stream(["never"], stall_before=float("inf")))
    type_and_send(qtbot, window, "hi")
    idle(qtbot, chat)
    window.transcript.retryRequested.emit(chat.reply_of(chat.conversation).key)
    qtbot.waitUntil(lambda: len(fake_server.requests) == 2, timeout=5000)
    qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert not chat.busy
    assert fake_server.wait_disconnect(1.0)
    _a_stopped_retry_leaves_the_error_with_a_working_retry(qtbot, window, chat, fake_server, requests=2)


def _a_stopped_retry_leaves_the_error_with_a_working_retry(qtbot, window, chat, fake_server, requests: int):
    assert window.transcript.blocks_of_kind("countdown") == ["Retry stopped."]  # not "Retrying now…"
    assert window.transcript.blocks_of_kind("notice") == []  # not "Stopped before any reply arrived."
    assert window.transcript.blocks_of_kind("assistant") == []
    (err,) = window.transcript.blocks_of_kind("error")
    assert "Retry" in err
    fake_server.queue(stream(["Third time lucky"]))
    window.transcript.retryRequested.emit(chat.reply_of(chat.conversation).key)
    assert fake_server.wait_for_requests(requests + 1, timeout=5.0), "the Retry link works again"
    idle(qtbot, chat)
    assert window.transcript.blocks_of_kind("assistant") == ["Third time lucky"]
    assert window.transcript.blocks_of_kind("error") == [] and window.transcript.blocks_of_kind("countdown") == []


def test_while_one_chat_streams_another_sends_with_its_own_draft_and_buttons(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(slow("a", 40, 0.05), stream(["B answer"]))
    type_and_send(qtbot, window, "chat A")
    qtbot.waitUntil(lambda: len(fake_server.requests) == 1, timeout=15000)
    chat_a = chat.conversation.chat_id
    qtbot.keyClicks(window.input, "draft for A")
    new_chat(qtbot, window)  # Ctrl+N during a stream: a chat where sending works
    assert window.input.toPlainText() == ""
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()
    assert window.statusBar().currentMessage() == "Ready"
    qtbot.waitUntil(lambda: window.sidebar.chat_model.mark_of(chat_a) == "streaming", timeout=15000)
    type_and_send(qtbot, window, "chat B")
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") == ["B answer"], timeout=15000)
    assert sent(fake_server) == [SYSTEM, {"role": "user", "content": "chat B"}]
    chat_b = chat.conversation.chat_id
    window.history_controller.open_chat(chat_a)
    assert window.input.toPlainText() == "draft for A"  # A's draft came back with A, not into B
    assert window.stop_button.isEnabled()
    qtbot.waitUntil(lambda: "Receiving" in window.statusBar().currentMessage())  # A's own status line
    window.history_controller.open_chat(chat_b)
    assert window.input.toPlainText() == "" and not window.stop_button.isEnabled()
    idle(qtbot, chat)
    # A finished while B was shown: marked unread until opened
    assert window.sidebar.chat_model.mark_of(chat_a) == "unread"
    index = window.sidebar.chat_model.index_of(chat_a)
    assert index.data(MarkRole) == "unread"
    window.history_controller.open_chat(chat_a)
    assert window.sidebar.chat_model.mark_of(chat_a) is None
    assert window.transcript.blocks_of_kind("assistant") == [whole("a", 40)]


def test_a_reply_that_failed_in_another_chat_is_marked_failed_not_new(qtbot, start, fake_server):
    """Seen (QA): a reply that failed while another chat was shown got the same green dot and bold
    title as one that arrived: the user could not tell which chat needed a Retry."""
    window, chat = start()
    fake_server.queue(stream([f"a{i} " for i in range(40)], delay=0.03, disconnect_after=20))
    type_and_send(qtbot, window, "chat A")
    qtbot.waitUntil(lambda: len(fake_server.requests) == 1, timeout=15000)
    chat_a = chat.conversation.chat_id
    new_chat(qtbot, window)
    model = window.sidebar.chat_model
    qtbot.waitUntil(lambda: model.mark_of(chat_a) not in (None, "streaming"), timeout=15000)
    assert model.mark_of(chat_a) == "failed"
    index = model.index_of(chat_a)
    assert index.data(MarkRole) == "failed" and "failed" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(Qt.ItemDataRole.DecorationRole).cacheKey() != _dot(window, "unread").cacheKey()
    window.history_controller.open_chat(chat_a)
    assert model.mark_of(chat_a) is None
    (err,) = window.transcript.blocks_of_kind("error")
    assert "Retry" in err


def _dot(window, mark: str):
    from chatbot_gui.ui.sidebar import _mark_icon

    return _mark_icon(mark)


def test_a_draft_typed_in_a_new_chat_comes_back_with_the_next_new_chat(qtbot, start, fake_server):
    """Seen (QA): Ctrl+N, a draft typed, another chat opened, Ctrl+N: the box was empty, the draft lost."""
    window, chat = start()
    fake_server.queue(stream(["A answer"]), stream(["draft answer"]))
    type_and_send(qtbot, window, "chat A")
    idle(qtbot, chat)
    chat_a = chat.conversation.chat_id
    new_chat(qtbot, window)
    qtbot.keyClicks(window.input, "a draft for a new chat")
    window.history_controller.open_chat(chat_a)
    assert window.input.toPlainText() == ""
    new_chat(qtbot, window)
    assert window.input.toPlainText() == "a draft for a new chat"
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    idle(qtbot, chat)
    assert sent(fake_server)[-1] == {"role": "user", "content": "a draft for a new chat"}
    new_chat(qtbot, window)
    assert window.input.toPlainText() == "", "a sent draft does not come back"


def test_three_chats_stream_at_once_and_each_reply_arrives_intact_in_its_own_chat(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(slow("A", 40, 0.02), slow("B", 40, 0.02), slow("C", 40, 0.02))
    ids = []
    for n, name in enumerate("ABC"):
        if n:
            new_chat(qtbot, window)
        type_and_send(qtbot, window, f"question {name}")
        qtbot.waitUntil(lambda: len(fake_server.requests) == n + 1, timeout=15000)
        ids.append(chat.conversation.chat_id)
    qtbot.waitUntil(lambda: len(chat.streaming_chat_ids()) == 3, timeout=3000)  # all at once
    idle(qtbot, chat, 15000)
    assert window.transcript.blocks_of_kind("assistant") == [whole("C", 40)]
    db = sqlite3.connect(window.history_controller.store.path)
    for chat_id, name in zip(ids, "ABC"):
        def rows(chat_id: int = chat_id) -> list[tuple]:
            return db.execute("SELECT role, content, status FROM messages WHERE chat_id = ? ORDER BY seq",
                              (chat_id,)).fetchall()

        expected = [("user", f"question {name}", "complete"), ("assistant", whole(name, 40), "complete")]
        # A reply's last write runs on the task runner after the reply ends (ui/reply.py): on a loaded
        # machine it can land just after `chat.busy` turns false.
        qtbot.waitUntil(lambda: rows() == expected, timeout=5000)
        assert rows() == expected
        window.history_controller.open_chat(chat_id)
        assert window.transcript.blocks_of_kind("assistant") == [whole(name, 40)]
    db.close()


def test_beyond_the_limit_a_clear_message_and_the_text_stays(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(*[stream(["x"], stall_before=float("inf")) for _ in range(MAX_STREAMS)])
    for n in range(MAX_STREAMS):
        if n:
            new_chat(qtbot, window)
        type_and_send(qtbot, window, f"q{n}")
        qtbot.waitUntil(lambda: len(fake_server.requests) == n + 1, timeout=15000)
    new_chat(qtbot, window)
    type_and_send(qtbot, window, "one too many")
    assert window.input.toPlainText() == "one too many"
    assert f"{MAX_STREAMS} replies are already coming" in window.statusBar().currentMessage()
    assert window.statusBar().currentMessage().endswith("then send again. Your message stays in the input box.")
    assert not fake_server.wait_for_requests(MAX_STREAMS + 1, timeout=0.3)


def test_beyond_the_limit_regenerate_is_told_to_try_again_not_about_the_input_box(qtbot, start, fake_server):
    """Seen (QA): Regenerate refused at the limit said "Your message stays in the input box", with
    nothing typed anywhere."""
    window, chat = start()
    fake_server.queue(stream(["done"]), *[stream(["x"], stall_before=float("inf")) for _ in range(MAX_STREAMS)])
    type_and_send(qtbot, window, "finished chat")
    idle(qtbot, chat)
    finished = chat.conversation.chat_id
    for n in range(MAX_STREAMS):
        new_chat(qtbot, window)
        type_and_send(qtbot, window, f"q{n}")
        qtbot.waitUntil(lambda: len(fake_server.requests) == n + 2, timeout=15000)
    assert window.history_controller.open_chat(finished)
    window.regenerate_action.trigger()
    said = window.statusBar().currentMessage()
    assert said.startswith(f"{MAX_STREAMS} replies are already coming") and said.endswith("then try again.")
    assert not fake_server.wait_for_requests(MAX_STREAMS + 2, timeout=0.3)


# -- versions and branches: what is sent, what is kept ---------------------------------------------

def test_regenerate_keeps_the_earlier_reply_and_sends_the_conversation_before_it(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(stream(["one"]), stream(["two"]), stream(["three"]), stream(["after"]))
    type_and_send(qtbot, window, "q1")
    idle(qtbot, chat)
    type_and_send(qtbot, window, "q2")
    idle(qtbot, chat)
    window.regenerate_action.trigger()  # Chat > Regenerate last reply (Ctrl+Shift+R)
    idle(qtbot, chat)
    assert sent(fake_server) == [SYSTEM, {"role": "user", "content": "q1"},
                                 {"role": "assistant", "content": "one"}, {"role": "user", "content": "q2"}]
    assert window.transcript.blocks_of_kind("assistant") == ["one", "three"]
    labels = window.transcript.blocks_of_kind("assistant-label")
    assert labels[-1].endswith("‹ 2/2 ›")
    last = chat.conversation.messages[-1]
    window.transcript.trigger_action(last.id, "previous_version")  # "‹"
    assert window.transcript.blocks_of_kind("assistant") == ["one", "two"]
    type_and_send(qtbot, window, "q3")  # the conversation continues from the version shown
    idle(qtbot, chat)
    assert sent(fake_server)[-3:] == [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "two"},
                                      {"role": "user", "content": "q3"}]
    chat_id = chat.conversation.chat_id
    chat.shutdown()
    window.close()
    window2, chat2 = start()  # versions and the choice survive a restart
    qtbot.waitUntil(lambda: chat2.conversation.chat_id == chat_id, timeout=15000)
    assert window2.transcript.blocks_of_kind("assistant") == ["one", "two", "after"]
    reply = chat2.conversation.messages[3]
    assert chat2.conversation.version_of(reply.id) == (1, 2)
    window2.transcript.trigger_action(reply.id, "next_version")  # "›"
    assert window2.transcript.blocks_of_kind("assistant") == ["one", "three"]


def test_edit_and_resend_continues_from_there_and_keeps_the_old_branch(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(stream(["a1"]), stream(["a2"]), stream(["a2 edited"]))
    type_and_send(qtbot, window, "q1")
    idle(qtbot, chat)
    type_and_send(qtbot, window, "q2")
    idle(qtbot, chat)
    q1 = chat.conversation.messages[0]
    asked = []
    chat.context.ask_edit = lambda text: (asked.append(text), "q1, better")[1]
    window.transcript.trigger_action(q1.id, "edit")  # the message's "Edit" button
    assert asked == ["q1"]
    idle(qtbot, chat)
    assert sent(fake_server) == [SYSTEM, {"role": "user", "content": "q1, better"}]
    assert window.transcript.blocks_of_kind("user") == ["q1, better"]
    assert window.transcript.blocks_of_kind("assistant") == ["a2 edited"]
    window.transcript.trigger_action(chat.conversation.messages[0].id, "previous_version")
    assert window.transcript.blocks_of_kind("user") == ["q1", "q2"]
    assert window.transcript.blocks_of_kind("assistant") == ["a1", "a2"]


def test_delete_a_message_takes_it_out_of_the_chat_and_the_next_request(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(stream(["a1"]), stream(["a2"]), stream(["a3"]))
    type_and_send(qtbot, window, "q1")
    idle(qtbot, chat)
    type_and_send(qtbot, window, "q2")
    idle(qtbot, chat)
    window.transcript.trigger_action(chat.conversation.messages[1].id, "delete")
    assert window.transcript.blocks_of_kind("assistant") == ["a2"]
    type_and_send(qtbot, window, "q3")
    idle(qtbot, chat)
    # q1 and q2 now follow each other: they go as one user turn (roles alternate, as strict servers want).
    assert [(m["role"], m["content"]) for m in sent(fake_server)[1:]] == [
        ("user", "q1\n\nq2"), ("assistant", "a2"), ("user", "q3")]


def test_an_app_notice_is_not_wiped_when_the_last_chat_comes_back(qtbot, start, fake_server, paths):
    window, chat = start()
    type_and_send(qtbot, window, "remember me")
    idle(qtbot, chat)
    chat_id = chat.conversation.chat_id
    chat.shutdown()
    window.close()
    (paths.config_dir / "settings.json").write_text("{ not json")
    window2, chat2 = start()
    qtbot.waitUntil(lambda: chat2.conversation.chat_id == chat_id, timeout=15000)
    assert window2.transcript.blocks_of_kind("user") == ["remember me"]
    assert any("settings" in n.lower() for n in window2.notices()) and window2.banner.isVisible()


def test_a_search_hit_in_an_older_version_shows_that_version(qtbot, start, fake_server):
    window, chat = start()
    fake_server.queue(stream(["the first answer mentions zanzibar"]), stream(["a plain second answer"]))
    type_and_send(qtbot, window, "q")
    idle(qtbot, chat)
    window.regenerate_action.trigger()
    idle(qtbot, chat)
    assert window.transcript.blocks_of_kind("assistant") == ["a plain second answer"]
    (hit,) = window.history_controller.store.search("zanzibar")
    window.history_controller.open_search_result(hit.chat_id, hit.message_id, "zanzibar")
    assert window.transcript.blocks_of_kind("assistant") == ["the first answer mentions zanzibar"]
    assert window.transcript.blocks_of_kind("assistant-label")[0].endswith("‹ 1/2 ›")
