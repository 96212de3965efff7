"""The main window as a person uses it, against the loopback server through the real openai client."""

from __future__ import annotations

import json
import re
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication

from chatbot_gui.app import create_window
from chatbot_gui.core.conversation import Status
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatting import sent_messages, type_and_send, wait_idle
from fakeserver import FakeServer, error, stream

KEY = "sk-test-window-0123456789"


def never_asked(*args, **kwargs):
    raise AssertionError("the Settings dialog must not open when a key is available")


@pytest.fixture
def app_paths(tmp_path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


@pytest.fixture
def chat(qtbot, fake_server: FakeServer, app_paths):
    window, controller = create_window(
        {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
        paths=app_paths, keys=KeyStore(MemoryKeyring()), ask_settings=never_asked,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: controller.config.api_key == KEY)
    yield window, controller
    assert controller.shutdown(3000), "a request thread was left running"


def test_window_has_the_parts_a_user_expects(chat):
    window, _ = chat
    assert window.windowTitle() == "Chatbot"
    # The message list: reachable by keyboard, named for screen readers (selection by mouse and
    # keyboard is tested on the view itself, tests/test_messages_view.py).
    assert window.transcript.focusPolicy() == Qt.FocusPolicy.StrongFocus
    assert window.transcript.accessibleName() == "Conversation"
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()
    assert window.model_combo.isEditable() and window.model_combo.currentText() == "gpt-4o-mini"
    names = [window.persona_combo.itemText(i) for i in range(window.persona_combo.count())]
    assert names == ["Helpful assistant", "Sarcastic assistant", "French assistant"]


def test_enter_sends_and_the_reply_streams_in(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["Hel", "lo ", "there", "!"], delay=0.02))
    type_and_send(qtbot, window, "Hi bot")
    assert window.input.toPlainText() == ""
    qtbot.waitUntil(lambda: controller.busy, timeout=2000)
    assert window.stop_button.isEnabled()
    wait_idle(qtbot, controller)
    assert window.transcript.blocks_of_kind("user") == ["Hi bot"]
    assert window.transcript.blocks_of_kind("assistant") == ["Hello there!"]
    assert sent_messages(fake_server) == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hi bot"},
    ]
    body = fake_server.requests[-1].json
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True
    assert fake_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert window.windowTitle() == "Hi bot — Chatbot"


def test_shift_enter_inserts_a_newline_and_does_not_send(qtbot, chat, fake_server):
    window, controller = chat
    qtbot.keyClicks(window.input, "line one")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.input, "line two")
    assert window.input.toPlainText() == "line one\nline two"
    assert not fake_server.wait_for_requests(1, timeout=0.3)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    wait_idle(qtbot, controller)
    assert sent_messages(fake_server)[-1] == {"role": "user", "content": "line one\nline two"}


def test_enter_while_an_input_method_composes_does_not_send(qtbot, chat, fake_server):
    window, controller = chat
    window.input.setFocus()
    QApplication.sendEvent(window.input, QInputMethodEvent("nihao", []))
    assert window.input.composing
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    assert not fake_server.wait_for_requests(1, timeout=0.3)
    commit = QInputMethodEvent()
    commit.setCommitString("你好")
    QApplication.sendEvent(window.input, commit)
    assert not window.input.composing
    assert window.input.toPlainText() == "你好"
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    wait_idle(qtbot, controller)
    assert sent_messages(fake_server)[-1] == {"role": "user", "content": "你好"}


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t "])
def test_empty_or_blank_input_is_not_sent(qtbot, chat, fake_server, text):
    window, controller = chat
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    window.send_button.click()
    assert not fake_server.wait_for_requests(1, timeout=0.3)
    assert not controller.busy
    assert window.transcript.blocks_of_kind("user") == []


def test_every_request_carries_the_whole_conversation_in_order(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["First answer"]), stream(["Second answer"]))
    type_and_send(qtbot, window, "one")
    wait_idle(qtbot, controller)
    type_and_send(qtbot, window, "two")
    wait_idle(qtbot, controller)
    assert sent_messages(fake_server, -1) == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "two"},
    ]


def test_changing_persona_mid_chat_applies_from_the_next_turn(qtbot, chat, fake_server):
    window, controller = chat
    type_and_send(qtbot, window, "hello")
    wait_idle(qtbot, controller)
    window.persona_combo.setCurrentIndex(2)
    assert "Persona: French assistant" in window.transcript.blocks_of_kind("notice")
    type_and_send(qtbot, window, "again")
    wait_idle(qtbot, controller)
    assert sent_messages(fake_server)[0] == {
        "role": "system",
        "content": "You are a French assistant. You only speak and respond in French.",
    }


def test_model_picker_accepts_free_text(qtbot, chat, fake_server):
    window, controller = chat
    window.model_combo.setEditText("llama3.2:3b")
    type_and_send(qtbot, window, "hi")
    wait_idle(qtbot, controller)
    assert fake_server.requests[-1].json["model"] == "llama3.2:3b"


def test_stop_while_stalled_before_the_first_token_hangs_up_at_once(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["never"], stall_before=float("inf")))
    type_and_send(qtbot, window, "are you there?")
    assert fake_server.wait_for_requests(1, timeout=3)
    started = time.monotonic()
    qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert not controller.busy
    assert fake_server.wait_disconnect(1.0)
    assert time.monotonic() - started < 1.0
    assert window.send_button.isEnabled()
    # Nothing had arrived: no empty assistant turn is kept, the user's message is.
    assert [m.role for m in controller.conversation.messages] == ["user"]
    assert window.transcript.blocks_of_kind("assistant-label") == []
    assert "Stopped before any reply arrived." in window.transcript.blocks_of_kind("notice")


def test_stop_keeps_partial_text_marked_and_drops_later_deltas(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["Partial ", "text"] + ["more"] * 200, delay=0.05))
    type_and_send(qtbot, window, "tell me a story")
    qtbot.waitUntil(lambda: "Partial text" in "".join(window.transcript.blocks_of_kind("assistant")))
    window.stop_button.click()
    shown = window.transcript.toPlainText()
    assert fake_server.wait_disconnect(1.0)
    qtbot.wait(300)
    assert window.transcript.toPlainText() == shown, "text arrived after Stop"
    reply = controller.conversation.messages[-1]
    assert reply.role == "assistant" and reply.status is Status.STOPPED
    assert reply.content.startswith("Partial text")
    assert any("Stopped" in b for b in window.transcript.blocks_of_kind("marker"))
    # The stopped text is not sent back as if it were a complete answer…
    fake_server.queue(stream(["ok"]))
    type_and_send(qtbot, window, "next")
    wait_idle(qtbot, controller)
    # (and the two questions go as one user turn: roles alternate, as strict servers want).
    assert [(m["role"], m["content"]) for m in sent_messages(fake_server)[1:]] == [
        ("user", "tell me a story\n\nnext")]


def test_keeping_a_stopped_reply_sends_it_back(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["Half an answer"], stall_after=1))
    type_and_send(qtbot, window, "q")
    qtbot.waitUntil(lambda: "Half an answer" in window.transcript.toPlainText())
    window.stop_button.click()
    reply = controller.conversation.messages[-1]
    window.transcript.keepRequested.emit(reply.id)  # what clicking "keep it" emits
    assert reply.kept
    type_and_send(qtbot, window, "go on")
    wait_idle(qtbot, controller)
    assert sent_messages(fake_server)[2] == {"role": "assistant", "content": "Half an answer"}


def test_reply_html_is_shown_as_text(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["<b>bold</b> & <script>x()</script>"]))
    type_and_send(qtbot, window, "html please")
    wait_idle(qtbot, controller)
    assert window.transcript.blocks_of_kind("assistant") == ["<b>bold</b> & <script>x()</script>"]


def test_an_error_is_shown_as_an_error_and_never_stored_as_a_reply(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(
        error(500, {"error": {"message": "The server had an error", "type": "server_error", "code": None}}),
        stream(["Recovered"]),
    )
    type_and_send(qtbot, window, "please")
    wait_idle(qtbot, controller)
    errors = window.transcript.blocks_of_kind("error")
    assert errors and "The server had a problem (500)" in errors[0] and "Retry" in errors[0]
    assert window.transcript.blocks_of_kind("assistant") == []  # no empty "Assistant" heading
    assert window.transcript.blocks_of_kind("user") == ["please"]
    assert [m.role for m in controller.conversation.messages] == ["user"]
    window.transcript.retryRequested.emit(0)  # what clicking "Retry" emits
    wait_idle(qtbot, controller)
    assert "Recovered" in window.transcript.blocks_of_kind("assistant")
    assert sent_messages(fake_server) == sent_messages(fake_server, 0)
    assert [m.role for m in controller.conversation.messages] == ["user", "assistant"]


def test_invalid_key_says_so_without_retry(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(error(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}))
    type_and_send(qtbot, window, "hi")
    wait_idle(qtbot, controller)
    (err,) = window.transcript.blocks_of_kind("error")
    assert "did not accept the API key" in err
    assert "Retry" not in err
    assert KEY not in window.transcript.toPlainText()


def test_rate_limit_waits_with_a_visible_countdown_then_retries(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(
        error(429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
              headers={"retry-after": "1"}),
        stream(["After waiting"]),
    )
    type_and_send(qtbot, window, "hi")
    qtbot.waitUntil(lambda: any("Retrying in" in b for b in window.transcript.blocks_of_kind("countdown")))
    qtbot.waitUntil(lambda: "After waiting" in window.transcript.blocks_of_kind("assistant"), timeout=5000)
    wait_idle(qtbot, controller)
    assert len(fake_server.requests) == 2


def test_quota_429_is_about_billing_and_not_retried(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(error(429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                                            "code": "insufficient_quota"}}, headers={"retry-after": "1"}))
    type_and_send(qtbot, window, "hi")
    wait_idle(qtbot, controller)
    (err,) = window.transcript.blocks_of_kind("error")
    assert "billing" in err and "Retry" not in err
    assert not fake_server.wait_for_requests(2, timeout=1.5)


def test_new_chat_starts_empty(qtbot, chat, fake_server):
    window, controller = chat
    type_and_send(qtbot, window, "hello")
    wait_idle(qtbot, controller)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.transcript.toPlainText() == ""
    assert controller.conversation.messages == []
    assert window.windowTitle() == "Chatbot"
    type_and_send(qtbot, window, "fresh")
    wait_idle(qtbot, controller)
    assert [m["role"] for m in sent_messages(fake_server)] == ["system", "user"]


def test_closing_during_a_reply_exits_cleanly_and_quickly(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["slow"] * 100, delay=0.2))
    type_and_send(qtbot, window, "long one")
    qtbot.waitUntil(lambda: "slow" in window.transcript.toPlainText())
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 1.0
    assert controller.running_threads() == []
    assert fake_server.wait_disconnect(1.0)


def test_a_one_megabyte_message_is_sent_whole(qtbot, chat, fake_server):
    window, controller = chat
    big = ("lorem ipsum dolor sit amet " * 40 + "\n") * 960  # ~1 MB in ~1,000 lines
    window.input.setPlainText(big)
    qtbot.keyClick(window.input, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    wait_idle(qtbot, controller, timeout=15000)
    assert sent_messages(fake_server)[-1]["content"] == big


def test_fast_streams_are_coalesced_into_few_repaints(qtbot, chat, fake_server):
    window, controller = chat
    chunks = [f"t{i} " for i in range(3000)]
    fake_server.queue(stream(chunks))
    appends: list[int] = []
    original = window.transcript.append_to
    window.transcript.append_to = lambda mid, text: (appends.append(len(text)), original(mid, text))
    started = time.monotonic()
    type_and_send(qtbot, window, "go fast")
    wait_idle(qtbot, controller, timeout=15000)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert "".join(window.transcript.blocks_of_kind("assistant")) == "".join(chunks)
    # At most one repaint per ~16 ms interval (plus the final flush), far fewer than 3,000 chunks.
    assert len(appends) <= elapsed_ms / 16 + 3
    assert len(appends) < 1000


def test_without_a_key_the_window_says_how_to_provide_one(qtbot, fake_server, app_paths):
    asked: list[bool] = []

    def cancel_first_run(parent, settings, keys, env, first_run=False, personas=None):
        asked.append(first_run)
        return None

    window, controller = create_window({}, paths=app_paths, keys=KeyStore(MemoryKeyring()),
                                       ask_settings=cancel_first_run)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: asked == [True])
    assert any("Open Settings (Ctrl+,)" in n for n in window.transcript.blocks_of_kind("notice"))
    qtbot.keyClicks(window.input, "hello")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    assert window.input.toPlainText() == "hello", "the message must not be lost"
    assert not controller.busy
    controller.shutdown()


def test_a_one_megabyte_single_line_paste_is_laid_out_cheaply_and_sent_exactly(qtbot, chat, fake_server):
    # Qt's word wrapping is quadratic in an unbroken run (a 1 MB line took 47 s to paste and 26 s
    # to show). The input switches to wrap-anywhere; the transcript adds display-only soft breaks.
    from PySide6.QtGui import QTextOption

    window, controller = chat
    blob = "QUJD" * 250_000  # 1 MB of base64-like text, no spaces
    QApplication.clipboard().setText(blob)
    window.input.setFocus()
    window.input.paste()
    assert window.input.wordWrapMode() == QTextOption.WrapMode.WrapAnywhere
    assert window.input.toPlainText() == blob
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    wait_idle(qtbot, controller, timeout=20000)
    assert sent_messages(fake_server)[-1]["content"] == blob, "the message itself is never altered"
    assert controller.conversation.messages[0].content == blob
    assert window.transcript.blocks_of_kind("user") == [blob]
    shown = window.transcript.message_ids()[0]
    assert "\u200b" in window.transcript.shown_text(shown), "laid out with display-only breaks"
    assert window.input.wordWrapMode() == QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere


def test_a_reasoning_model_shows_it_is_thinking_before_the_reply(qtbot, chat, fake_server):
    from fakeserver import raw

    window, controller = chat

    def event(delta: dict, finish=None) -> bytes:
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-reasoner",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    body = (event({"role": "assistant", "reasoning_content": "Let me think about this carefully."})
            + event({"content": "The answer is 42."}) + event({}, "stop") + b"data: [DONE]\n\n")
    split = body.index(b"data: ", 10)  # the reasoning event, then a pause, then the rest
    fake_server.queue(raw(200, body, chunk_size=split, delay=0.6))
    type_and_send(qtbot, window, "Why?")
    view = window.transcript
    reply_id = controller.conversation.messages[-1].id
    qtbot.waitUntil(lambda: bool(view.reasoning_of(reply_id)[1]), timeout=10000)
    assert "thinking" in window.statusBar().currentMessage()
    assert view.blocks_of_kind("assistant") == [""]  # no answer yet: the reasoning is folded above it
    assert view.reasoning_of(reply_id) == ("▸ Thinking…", "Let me think about this carefully.")
    wait_idle(qtbot, controller)
    assert view.blocks_of_kind("assistant") == ["The answer is 42."]
    label, reasoning = view.reasoning_of(reply_id)
    assert re.fullmatch(r"▸ Thought for \d+ s", label) and reasoning == "Let me think about this carefully."
    assert "thinking" not in window.statusBar().currentMessage()
    # Kept with the reply (saved, exported) ...
    reply = controller.conversation.messages[-1]
    assert reply.content == "<think>\nLet me think about this carefully.\n</think>\n\nThe answer is 42."
    stored = controller.recorder.store.load_chat(controller.conversation.chat_id).messages
    assert stored[-1].content == reply.content
    # ... and never sent back to the model.
    fake_server.queue(stream(["ok"]))
    type_and_send(qtbot, window, "And?")
    wait_idle(qtbot, controller)
    assert sent_messages(fake_server)[-2:] == [{"role": "assistant", "content": "The answer is 42."},
                                              {"role": "user", "content": "And?"}]
